"""A call that runs while the emulator holds one of its requests, and what the test does meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from pulumi_astrokeys.testing.emulator import Emulator

T = TypeVar("T")


def call_while_held(
    emulator: Emulator,
    hold: str,
    call: Callable[[], T],
    meanwhile: Callable[[], object] = lambda: None,
    *,
    release: bool = True,
) -> Future[T]:
    """Start ``call`` in a thread; once the ``hold`` fault keeps its request, run ``meanwhile``,
    then release the hold (unless told not to) and wait for the call to end. Its future."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call)
        emulator.wait_until_held(hold)
        meanwhile()
        if release:
            emulator.release(hold)
    return future
