"""Injected faults: make the next N matching requests fail the way networks do.

Actions:

- ``status``: answer with the given status and the standard error body
  (``Retry-After`` too if asked), without touching any state.
- ``drop``: close the connection before doing anything; the client gets no answer.
- ``commit-then-drop``: do the work (commit), then close without answering.
- ``commit-then-delay``: do the work, then hold the answer for ``delaySeconds``.
- ``delay``: wait ``delaySeconds``, then handle the request normally.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, FieldError
from .ids import new_id

__all__ = ["ACTIONS", "Fault", "FaultRegistry", "parse_fault"]

ACTIONS = ("status", "drop", "commit-then-drop", "commit-then-delay", "delay")


@dataclass
class Fault:
    """One armed fault and how many more requests it will hit."""

    id: str
    method: str
    path: str
    action: str
    remaining: int
    status: int | None = None
    retry_after: int | None = None
    delay_seconds: float = 1.0
    message: str | None = None

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request hits this fault: same method (or ``*``), path regex found."""
        return (self.method in ("*", method.upper())) and self._pattern.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "action": self.action,
            "count": self.remaining,
            "status": self.status,
            "retryAfter": self.retry_after,
            "delaySeconds": self.delay_seconds,
            "message": self.message,
        }


def _field(name: str, message: str) -> ApiError:
    return ApiError.bad_request(message, FieldError(name, "invalid", message))


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _field(name, f"{name} must be a number")
    return float(value)


def parse_fault(body: Any) -> Fault:
    """Validate the JSON of ``POST /_emulator/faults`` into a :class:`Fault`."""
    if not isinstance(body, dict):
        raise _field("body", "the body must be a JSON object")
    method = body.get("method", "*")
    if not isinstance(method, str) or not method:
        raise _field("method", "method must be an HTTP method or *")
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise _field("path", "path must be a regular expression")
    try:
        re.compile(path)
    except re.error as exc:
        raise _field("path", f"path is not a valid regular expression: {exc}") from None
    action = body.get("action", "status")
    if action not in ACTIONS:
        raise _field("action", f"action must be one of {', '.join(ACTIONS)}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise _field("count", "count must be an integer of at least 1")
    status = body.get("status")
    if action == "status":
        status = 503 if status is None else status
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        raise _field("status", "status must be an integer from 400 to 599")
    retry_after = _number(body, "retryAfter")
    if retry_after is not None and (retry_after < 0 or retry_after != int(retry_after)):
        raise _field("retryAfter", "retryAfter must be a whole number of seconds")
    delay = _number(body, "delaySeconds")
    if delay is not None and not 0 <= delay <= 600:
        raise _field("delaySeconds", "delaySeconds must be between 0 and 600")
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise _field("message", "message must be a string")
    return Fault(
        id=new_id(),
        method=method.upper(),
        path=path,
        action=action,
        remaining=count,
        status=status,
        retry_after=None if retry_after is None else int(retry_after),
        delay_seconds=1.0 if delay is None else delay,
        message=message,
    )


class FaultRegistry:
    """The armed faults, in the order they were added; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one hit of the first fault matching the request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
        return count
