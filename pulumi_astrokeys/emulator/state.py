"""Everything a running emulator holds, passed to the routes as one object."""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import Clock
from .faults import FaultRegistry
from .ratelimit import RateLimiter
from .requestlog import RequestLog
from .service import Service
from .store import Store

__all__ = ["EmulatorState", "RequestContext", "CONTEXT_KEY"]

CONTEXT_KEY = "astrokeys.request"
"""The ASGI scope key under which each request's :class:`RequestContext` lives."""


@dataclass
class RequestContext:
    """Per-request facts the outer middleware logs: its id, the caller's token id, and the id
    of the token a create made."""

    request_id: str
    token_id: str | None = None
    made_id: str | None = None


@dataclass
class EmulatorState:
    """The store and the in-memory controls (clock, limits, faults, request log)."""

    store: Store
    clock: Clock
    service: Service
    limiter: RateLimiter
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    requests: RequestLog = field(default_factory=RequestLog)
    organization_id: str = ""
    workspace_id: str = ""
