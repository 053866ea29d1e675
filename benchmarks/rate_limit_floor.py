"""Figure 2: ``up`` and ``destroy`` of many keys against the documented rate limits.

The emulator enforces Astro's limits per API token (POST 10/s, DELETE 5/s, GET
25/s); the lifecycle harness runs the program with its default parallelism, as
Pulumi does. With N keys the limits allow no faster than N/10 s for the creates and
N/5 s for the deletes: each figure is the run's time over that floor. Every key must
be created and deleted, no operation may fail, and no 429 may reach the user; the
429s the emulator answered (which the client retried) are counted too.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from lifecycle import LifecycleError, Stack

from pulumi_astrokeys.testing.emulator import Emulator

from ._common import Figure, emulator_process, note, quick, report

TARGET = 1.15
POST_PER_SECOND = 10
DELETE_PER_SECOND = 5
PROJECT = "astrokeys-bench"


def keys_program(deployment_id: str, count: int) -> Any:
    """A Pulumi program declaring ``count`` keys on one Deployment."""

    def program() -> None:
        from pulumi_astrokeys import DeploymentApiKey

        for index in range(count):
            DeploymentApiKey(f"key-{index:04d}", deployment_id=deployment_id)

    return program


def stack_for(emulator: Emulator, program: Any, state_file: Path, **options: Any) -> Stack:
    return Stack(
        program,
        state_file=state_file,
        project=PROJECT,
        stack_name="bench",
        config=emulator.stack_config(),
        secret_config=emulator.secret_stack_config(),
        passphrase="bench-passphrase",
        **options,
    )


def _timed_operation(name: str, operation: Any) -> tuple[float, Any, list[str]]:
    """Run a stack operation; return its time, its result and the errors it surfaced."""
    started = time.monotonic()
    try:
        result = operation()
    except LifecycleError as failure:
        result = failure.result
    elapsed = time.monotonic() - started
    errors = [f"{name}: {error.message}" for error in result.errors]
    return elapsed, result, errors


def run() -> list[Figure]:
    count = 50 if quick() else 200
    with emulator_process(rate_limits=True) as emulator, tempfile.TemporaryDirectory() as tmp:
        stack = stack_for(emulator, keys_program(emulator.deployment_ids[0], count), Path(tmp) / "state.json")
        emulator.clear_requests()

        up_time, up, up_errors = _timed_operation("up", stack.up)
        created = sum(1 for step in up.steps if step.custom and step.op == "create" and step.error is None)
        alive = sum(1 for token in emulator.list_all_tokens() if token["scope"] == "DEPLOYMENT")
        destroy_time, destroyed, destroy_errors = _timed_operation("destroy", stack.destroy)
        deleted = sum(1 for step in destroyed.steps if step.custom and step.op == "delete" and step.error is None)
        left = sum(1 for token in emulator.list_all_tokens() if token["scope"] == "DEPLOYMENT")

        log = emulator.requests()
        answered_429 = {method: sum(1 for e in log if e["method"] == method and e["status"] == 429) for method in ("GET", "POST", "DELETE")}

    errors = up_errors + destroy_errors
    surfaced_429 = sum(1 for error in errors if "429" in error or "rate limit" in error.lower())
    up_floor, destroy_floor = count / POST_PER_SECOND, count / DELETE_PER_SECOND
    figures = [
        report(Figure("rate_limit_floor.up", up_time / up_floor, TARGET, unit="x")),
        report(Figure("rate_limit_floor.destroy", destroy_time / destroy_floor, TARGET, unit="x")),
        report(Figure("rate_limit_floor.failed_operations", len(errors) + (count - created) + (count - deleted), 0)),
        report(Figure("rate_limit_floor.429s_surfaced", surfaced_429, 0)),
        report(Figure("rate_limit_floor.429s_in_emulator_log", sum(answered_429.values()), 0)),
    ]
    note(f"up of {count} keys: {up_time:.1f} s (floor {up_floor:.0f} s), {created} created, {alive} alive after")
    note(f"destroy: {destroy_time:.1f} s (floor {destroy_floor:.0f} s), {deleted} deleted, {left} left after")
    note("429s the emulator answered, by method: " + ", ".join(f"{m} {n}" for m, n in answered_429.items()))
    for error in errors[:5]:
        note(f"error: {error}")
    return figures
