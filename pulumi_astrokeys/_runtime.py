"""What one process shares: the pacing of every client, and the providers' one client.

Astro counts requests per API token, however many clients send them, so every client of
the process paces on one :class:`~pulumi_astrokeys._ratelimit.RateLimiter` unless given
its own. A provider process (Pulumi starts one per operation) runs its calls on several
threads; they share one client, built from the stack config the engine hands to
``configure`` (or the environment) at first use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from ._ratelimit import DOCUMENTED_LIMITS, RateLimiter

if TYPE_CHECKING:
    from ._client import AstroClient

__all__ = ["Runtime", "runtime"]


class Runtime:
    """The process's rate limiter, and the client its providers share."""

    def __init__(self) -> None:
        self.rate_limiter = RateLimiter(DOCUMENTED_LIMITS)
        self.config: dict[str, Any] = {}
        self._client: Optional[AstroClient] = None
        self._lock = threading.Lock()

    def client(self) -> AstroClient:
        """The providers' client, built from the latest config at first use."""
        with self._lock:
            if self._client is None:
                from ._client import AstroClient

                self._client = AstroClient.from_config(self.config, rate_limits=self.rate_limiter)
            return self._client

    def exit_grace(self) -> float:
        """How long a provider whose engine is gone waits for its calls: three request timeouts
        (the request in flight, then a clean-up's listing and delete)."""
        from ._errors import AstroKeysError

        try:
            timeout = self.client().request_timeout
        except AstroKeysError:
            timeout = None
        return 3 * (timeout or 30.0)

    def configure(self, config: Mapping[str, Any]) -> None:
        """Take new stack config; the next call builds a client from it."""
        with self._lock:
            self.config = {key: value for key, value in config.items() if value is not None}
            previous, self._client = self._client, None
        if previous is not None:
            previous.close()


runtime = Runtime()
"""The one runtime of this process."""
