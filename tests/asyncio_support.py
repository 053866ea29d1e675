"""Running a coroutine in a test without disturbing the thread's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_private_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on its own loop: ``asyncio.run`` would leave this thread with no
    current loop, which breaks later tests that expect one (Pulumi's mocks do)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()
