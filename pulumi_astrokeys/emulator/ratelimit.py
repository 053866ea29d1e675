"""Per-token rate limits, as Astro documents them: POST 10/s, DELETE 5/s, GET 25/s.

Each (token, method class) pair has a token bucket whose capacity equals its
per-second rate, so a burst of up to one second's worth passes and the rest is
answered with 429 and ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["RateLimiter", "RateLimits"]


@dataclass(frozen=True)
class RateLimits:
    """Requests per second allowed to one API token, by method class."""

    post_per_second: float = 10.0
    delete_per_second: float = 5.0
    get_per_second: float = 25.0
    enabled: bool = True

    def rate_for(self, method: str) -> float:
        """The rate that applies to an HTTP method (writes other than DELETE count as POST)."""
        method = method.upper()
        if method in ("GET", "HEAD", "OPTIONS"):
            return self.get_per_second
        if method == "DELETE":
            return self.delete_per_second
        return self.post_per_second


def method_class(method: str) -> str:
    """The bucket an HTTP method draws from: ``GET``, ``POST`` or ``DELETE``."""
    method = method.upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return "GET"
    return "DELETE" if method == "DELETE" else "POST"


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.stamp = now


class RateLimiter:
    """Token buckets keyed by (API token id, method class); thread-safe."""

    def __init__(self, limits: RateLimits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, token_id: str, method: str) -> int | None:
        """Take one request from the caller's bucket.

        Returns ``None`` if the request may proceed, else the whole seconds (at
        least 1) the caller should wait before retrying.
        """
        if not self.limits.enabled:
            return None
        rate = self.limits.rate_for(method)
        if rate <= 0:
            return None
        capacity = max(rate, 1.0)  # a rate below 1/s still lets one request through
        now = self._monotonic()
        key = (token_id, method_class(method))
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1 - 1e-9:  # tolerate float error in the refill
                bucket.tokens = max(0.0, bucket.tokens - 1)
                return None
            return max(1, math.ceil((1 - bucket.tokens) / rate))

    def reset(self) -> None:
        """Forget every bucket (all callers start full)."""
        with self._lock:
            self._buckets.clear()
