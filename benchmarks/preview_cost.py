"""``pulumi preview`` of unchanged keys: no API request, the SDK's own floor, a flat cost per key.

Four stacks on the real Pulumi CLI, every resource already created and unchanged in
the program:

- 500 keys, and the same program of 500 no-op dynamic resources
  (:class:`benchmarks.noop.NoopKey`: same inputs and outputs, a provider whose ``check``
  and ``diff`` return at once). The no-op preview is what the Pulumi SDK and engine
  cost by themselves, so the keys' preview over it is what this package adds;
- 100 and 1,000 keys: the cost per key at 1,000 over that at 100 says whether the
  preview's cost grows with the number of keys and no faster.

A preview runs ``check`` and ``diff`` only, so the emulator must see no request at all.
The four previews take turns, in an order that rotates each round, so a change in the
machine's load hits all alike; each figure is the median of its per-round ratios.

Seeding: a real ``pulumi up`` creates the first resource of each stack; the others are
created over plain HTTP (rate limits off: seconds, not the minutes the limits would
ask) and put into the state as copies of the first one with their own ID, name and
secret, through ``pulumi stack export`` and ``pulumi stack import``. The first preview
of each stack checks the copies are faithful: every resource must come out unchanged.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from pulumi_astrokeys.testing.emulator import Emulator

from ._common import Figure, emulator_process, median, note, quick, report
from ._stacks import bench_stack, keys_program, seed, shaped_program, timed

TARGET_OVER_NOOP = 1.2
TARGET_PER_KEY_GROWTH = 1.2


def sizes() -> tuple[int, int, int]:
    """(keys beside the no-op program, small, large)."""
    return (50, 10, 50) if quick() else (500, 100, 1000)


class _Growing:
    """A program whose size is set after its first ``up`` (one resource, then the seeded count)."""

    def __init__(self, make: Callable[[int], Callable[[], None]]) -> None:
        self.make = make
        self.count = 1

    def __call__(self) -> None:
        self.make(self.count)()


def _key_stack(emulator: Emulator, deployment_id: str, count: int, work_dir: Path) -> auto.Stack:
    program = _Growing(lambda n: keys_program(deployment_id, n))
    stack = bench_stack(program, work_dir, emulator)
    _must_succeed(timed(stack.up), "seeding up")
    copies: list[dict[str, Any]] = []
    with emulator.client() as client:
        for index in range(1, count):
            name = f"key-{index:04d}"
            body = {"name": name, "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN"}
            token = client.post("/tokens", json=body).raise_for_status().json()
            copies.append(
                {
                    "name": name,
                    "key_id": token["id"],
                    "secret": token["token"],
                    "short_token": token["shortToken"],
                    "created_at": token["createdAt"],
                    "start_at": token["startAt"],
                }
            )
    seed(stack, copies)
    program.count = count
    return stack


def _noop_stack(deployment_id: str, count: int, work_dir: Path) -> auto.Stack:
    program = _Growing(lambda n: shaped_program("NoopKey", deployment_id, n))
    stack = bench_stack(program, work_dir)
    _must_succeed(timed(stack.up), "seeding up")
    seed(stack, ({"name": f"key-{i:04d}", "key_id": f"noop-key-{i:04d}"} for i in range(1, count)))
    program.count = count
    return stack


def _must_succeed(outcome: Any, what: str) -> None:
    if outcome.errors:
        raise RuntimeError(f"{what} failed: {outcome.errors[:3]}")


def _preview(stack: auto.Stack, count: int) -> float:
    """One preview's time; every resource must come out unchanged."""
    outcome = timed(stack.preview)
    _must_succeed(outcome, "preview")
    expected = {"same": count + 1}  # and the stack itself
    assert outcome.changes == expected, f"the seeded resources are not unchanged: {outcome.changes}, expected {expected}"
    return outcome.seconds


def run() -> list[Figure]:
    beside, small, large = sizes()
    repeats = 1 if quick() else 5
    with emulator_process(rate_limits=False) as emulator, tempfile.TemporaryDirectory() as tmp:
        deployment_id = emulator.deployment_ids[0]
        stacks: dict[int, auto.Stack] = {}
        for count in dict.fromkeys((beside, small, large)):  # a size asked twice (quick mode) is one stack
            stacks[count] = _key_stack(emulator, deployment_id, count, Path(tmp) / f"keys-{count}")
        runs = {
            "keys": (stacks[beside], beside),
            "noop": (_noop_stack(deployment_id, beside, Path(tmp) / "noop"), beside),
            "small": (stacks[small], small),
            "large": (stacks[large], large),
        }
        order = list(runs)
        if not quick():  # a first preview of each warms the caches (every preview checks the seeding)
            for name in order:
                _preview(*runs[name])
        emulator.clear_requests()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for repeat in range(repeats):
            rotated = order[repeat % len(order) :] + order[: repeat % len(order)]
            timed_now: dict[int, float] = {}  # a stack that plays two parts is previewed once a round
            for name in rotated:
                stack, count = runs[name]
                key = id(stack)
                if key not in timed_now:
                    timed_now[key] = _preview(stack, count)
                times[name].append(timed_now[key])
        requests = len(emulator.requests())

    over_noop = median([k / n for k, n in zip(times["keys"], times["noop"])])
    per_key = median([(big / large) / (little / small) for big, little in zip(times["large"], times["small"])])
    figures = [
        report(Figure("preview_of_unchanged_keys.api_requests", requests, 0)),
        report(Figure(f"preview_{beside}_keys_over_{beside}_noop_dynamic_resources", over_noop, TARGET_OVER_NOOP, unit="x")),
        report(Figure(f"preview_cost_per_key_{large}_over_{small}_keys", per_key, TARGET_PER_KEY_GROWTH, unit="x")),
    ]
    ms = {name: median(samples) for name, samples in times.items()}
    note(
        f"preview of {beside} keys {ms['keys']:.2f} s, of {beside} no-op resources {ms['noop']:.2f} s; "
        f"of {small} keys {ms['small']:.2f} s ({ms['small'] / small * 1000:.1f} ms a key), of {large} keys "
        f"{ms['large']:.2f} s ({ms['large'] / large * 1000:.1f} ms a key) (medians of {repeats} rounds; "
        "each figure is the median of the per-round ratios)"
    )
    note(f"API requests counted over every timed preview ({', '.join(f'{c} keys' for c in dict.fromkeys((small, beside, large)))})")
    return figures
