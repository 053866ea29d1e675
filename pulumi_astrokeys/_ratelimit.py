"""Client-side pacing under the Astro API's documented per-token rate limits.

The API allows, per API token, 10 POST, 5 DELETE and 25 GET requests a second and
answers 429 beyond that. Pacing requests below those figures turns a burst of work
(a ``pulumi up`` of many keys) into a slightly slower run instead of a failing one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["DOCUMENTED_LIMITS", "RateLimiter", "fingerprint"]

DOCUMENTED_LIMITS: Mapping[str, float] = {"POST": 10.0, "DELETE": 5.0, "GET": 25.0}
"""Requests per second per API token, by HTTP method, as Astronomer documents them."""

# Pace a little below the documented rate and keep one slot of burst in reserve, so
# network jitter between client and server never tips a request over the server's limit.
_RATE_MARGIN = 0.95


@dataclass
class _Bucket:
    """A token bucket in its GCRA form: the theoretical arrival time of the next request."""

    interval: float
    burst: int
    tat: float = field(default=0.0)

    def reserve(self, now: float) -> float:
        """Take one slot and return how long the caller must wait before using it."""
        tat = max(self.tat, now)
        wait = max(0.0, tat - (self.burst - 1) * self.interval - now)
        self.tat = tat + self.interval
        return wait


class RateLimiter:
    """Paces requests per (API token, method) across every thread of the process."""

    def __init__(
        self,
        limits: Mapping[str, float] = DOCUMENTED_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def wait(self, caller: str, method: str) -> float:
        """Block until a request of ``caller`` (the :func:`fingerprint` of its API token) with this
        method may be sent; return the time waited."""
        rate = self._limits.get(method.upper())
        if not rate:
            return 0.0
        key = (caller, method.upper())
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(
                    interval=1.0 / (rate * _RATE_MARGIN), burst=max(1, int(rate) - 1)
                )
            delay = bucket.reserve(self._clock())
        if delay > 0:
            self._sleep(delay)
        return delay


def fingerprint(api_token: str) -> str:
    """What the limiter keys an API token's buckets by: a digest, so it never holds the token in plain text."""
    return hashlib.sha256(api_token.encode()).hexdigest()[:16]
