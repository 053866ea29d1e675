"""The emulator's notion of "now": wall-clock UTC plus an offset tests can advance.

Everything timed in the emulator follows it: token expiry, the ``Date`` header and the
refill of the rate limits, so a test moves time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

__all__ = ["Clock", "format_timestamp", "parse_timestamp"]

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_timestamp(moment: datetime) -> str:
    """Format as the API does: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return moment.astimezone(timezone.utc).strftime(_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Parse a ``YYYY-MM-DDTHH:MM:SSZ`` timestamp into an aware UTC datetime."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=timezone.utc)


class Clock:
    """UTC wall clock that can be moved forward (never back) to test expiry."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The emulator's current time (aware, UTC)."""
        with self._lock:
            offset = self._offset
        return datetime.now(timezone.utc) + offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def monotonic(self) -> float:
        """Seconds on a monotonic scale that :meth:`advance` moves too (the rate limits refill on it)."""
        return time.monotonic() + self.offset_seconds

    @property
    def offset_seconds(self) -> float:
        """How far ahead of the wall clock the emulator runs."""
        with self._lock:
            return self._offset.total_seconds()
