"""The emulator's notion of "now": wall-clock UTC plus an offset tests can advance."""

from __future__ import annotations

import threading
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

    @property
    def offset_seconds(self) -> float:
        """How far ahead of the wall clock the emulator runs."""
        with self._lock:
            return self._offset.total_seconds()
