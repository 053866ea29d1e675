"""Figure 3: a preview of unchanged keys calls no API, and its time grows linearly.

Two stacks hold a small and a large number of keys (100 and 1,000; 20 and 200 in
quick mode), all already created and unchanged in the program. A preview runs Check
and Diff only, so the emulator must see no request at all, and the large preview may
take at most (large/small) + 1 times the small one (11 for 1,000 against 100). The
two sizes take turns; the figure is the median of the paired ratios.

Seeding: one key is created by a real ``up``; the others are created over plain
HTTP (no client pacing, so seeding 1,000 keys takes seconds, not the minutes the
rate limits would ask) and written into the state as copies of that first key's
state with their own ID, name and secret. The first preview of each stack checks
the copies are faithful: every key must come out unchanged.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from lifecycle import Secret, Stack
from lifecycle.state import ResourceState, StateFile

from pulumi_astrokeys.testing.emulator import Emulator

from ._common import Figure, emulator_process, median, note, quick, report
from .rate_limit_floor import PROJECT, keys_program, stack_for

REPEATS_FULL, REPEATS_QUICK = 5, 3
STACK_TYPE = "pulumi:pulumi:Stack"


def _seed(emulator: Emulator, deployment_id: str, count: int, state_file: Path) -> None:
    """Leave ``count`` created keys in ``state_file``, as ``pulumi up`` would have."""
    stack = stack_for(emulator, keys_program(deployment_id, 1), state_file)
    stack.up()
    resources = StateFile(state_file, "bench-passphrase", PROJECT, "bench").load()
    (template,) = [r for r in resources if r.custom]
    with emulator.client() as client:
        for index in range(1, count):
            name = f"key-{index:04d}"
            response = client.post(
                "/tokens",
                json={"name": name, "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN"},
            )
            token = response.raise_for_status().json()
            copy = _copy_of(template, name, token)
            resources.append(copy)
    StateFile(state_file, "bench-passphrase", PROJECT, "bench").save(resources)


def _copy_of(template: ResourceState, name: str, token: dict[str, str]) -> ResourceState:
    copy = template.copy()
    copy.urn = template.urn.rsplit("::", 1)[0] + "::" + name
    copy.id = token["id"]
    copy.inputs["name"] = name
    copy.outputs.update(
        key_id=token["id"],
        name=name,
        secret=Secret(token["token"]),
        short_token=token["shortToken"],
        created_at=token["createdAt"],
        start_at=token["startAt"],
    )
    return copy


def _timed_preview(stack: Stack, count: int) -> float:
    """One preview's time; every key must come out unchanged."""
    started = time.monotonic()
    result = stack.preview()
    elapsed = time.monotonic() - started
    keys = [step.op for step in result.steps if step.type != STACK_TYPE]
    assert set(keys) == {"same"} and len(keys) == count, f"the seeded keys are not unchanged: {set(keys)}, {len(keys)} of {count}"
    return elapsed


def run() -> list[Figure]:
    small, large = (20, 200) if quick() else (100, 1000)
    repeats = REPEATS_QUICK if quick() else REPEATS_FULL
    times: dict[int, list[float]] = {small: [], large: []}
    with emulator_process(rate_limits=False) as emulator, tempfile.TemporaryDirectory() as tmp:
        stacks = {}
        for count, deployment_id in zip((small, large), emulator.deployment_ids):
            state_file = Path(tmp) / f"{count}.json"
            _seed(emulator, deployment_id, count, state_file)
            stacks[count] = stack_for(emulator, keys_program(deployment_id, count), state_file)
        emulator.clear_requests()
        # Small and large take turns, so a change in the machine's load hits both alike.
        for repeat in range(repeats):
            for count in (small, large) if repeat % 2 == 0 else (large, small):
                times[count].append(_timed_preview(stacks[count], count))
        requests = len(emulator.requests())

    growth = median([big / little for big, little in zip(times[large], times[small])])
    figures = [
        report(Figure("preview_cost.api_requests", requests, 0)),
        report(Figure(f"preview_cost.growth_{small}_to_{large}", growth, large / small + 1, unit="x")),
    ]
    note(
        f"preview of {small} unchanged keys: {median(times[small]):.2f} s, of {large}: {median(times[large]):.2f} s "
        f"(medians of {repeats}; the figure is the median of the paired ratios)"
    )
    return figures
