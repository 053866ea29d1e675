"""The request log of the Astro paths: what was asked, who asked, what was answered.

Entries hold the caller's token *id*, never a token value or header.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RequestLog", "RequestRecord"]


@dataclass(frozen=True)
class RequestRecord:
    """One logged request. ``status`` is ``None`` when no answer was sent."""

    seq: int
    method: str
    path: str
    query: str
    status: int | None
    tokenId: str | None
    fault: str | None
    at: str
    requestId: str
    madeId: str | None = None
    """The id of the API token the request created (``POST .../tokens``), if it did."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """An in-memory, bounded, ordered log; thread-safe."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: deque[RequestRecord] = deque(maxlen=max_entries)
        self._seq = 0
        self._lock = threading.Lock()

    def append(self, **fields: Any) -> RequestRecord:
        with self._lock:
            self._seq += 1
            record = RequestRecord(seq=self._seq, **fields)
            self._entries.append(record)
        return record

    def entries(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
