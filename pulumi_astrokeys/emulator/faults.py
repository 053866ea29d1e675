"""Injected faults: make the next N matching requests fail the way networks do.

Two ways to arm them: a :class:`Fault` hits the next ``count`` matching requests;
:class:`Chaos` hits each matching request at random with a given probability,
choosing among weighted faults (a seeded generator, so a campaign can be replayed).
An armed fault takes precedence over chaos.

Actions:

- ``status``: answer with the given status and the standard error body
  (``Retry-After`` too if asked), without touching any state.
- ``drop``: close the connection before doing anything; the client gets no answer.
- ``commit-then-drop``: do the work (commit), then close without answering.
- ``commit-then-delay``: do the work, then hold the answer for ``delaySeconds``.
- ``commit-then-garble``: do the work, then answer its status with the body cut to
  its first half (the JSON no longer parses), as a proxy or a broken upstream may.
- ``delay``: wait ``delaySeconds``, then handle the request normally (a client that
  has gone by then makes the work fail, as it would read a body that never comes).
- ``delay-then-commit``: read the request, wait ``delaySeconds``, then do the work
  even if the client has gone: a request the server commits after the client gave up.
- ``hold``: read the request and keep it until the test releases the fault
  (``POST /_emulator/faults/{id}/release``), then do the work even if the client has
  gone; ``delaySeconds`` (default 600) bounds the wait. Released with ``{"drop": true}``,
  the held requests are dropped instead: nothing is done, no answer sent. A test sees the request arrive
  (``GET /_emulator/faults/{id}``: ``arrived``, ``held``), so it can act at that exact
  moment (kill the client, move the clock) instead of racing a delay.
- ``commit-then-hold``: do the work, then hold the answer back until released.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, FieldError
from .ids import new_id

__all__ = ["ACTIONS", "Chaos", "Fault", "FaultRegistry", "parse_chaos", "parse_fault"]

ACTIONS = (
    "status",
    "drop",
    "commit-then-drop",
    "commit-then-delay",
    "commit-then-garble",
    "delay",
    "delay-then-commit",
    "hold",
    "commit-then-hold",
)
HOLDS = frozenset({"hold", "commit-then-hold"})
"""The actions that keep a request until the test releases their fault."""
_LONGEST_HOLD = 600.0


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
    arrived: int = 0
    """Requests this fault has hit so far."""
    held: int = 0
    """Requests a hold keeps right now."""
    released: threading.Event = field(default_factory=threading.Event)
    dropped: bool = False
    """Released with ``drop``: the held requests end unanswered (a hold's undone)."""

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
            "arrived": self.arrived,
            "held": self.held,
            "released": self.released.is_set(),
            "dropped": self.dropped,
        }

    @property
    def kind(self) -> str:
        """What the fault does, as chaos counts it: ``429``, ``429 retry-after 0``, ``drop``, ..."""
        if self.action != "status":
            return self.action
        kind = str(self.status or 503)
        return kind if self.retry_after is None else f"{kind} retry-after {self.retry_after}"


@dataclass
class Chaos:
    """Random faults: each matching request fails with ``probability``, one of ``faults`` by weight."""

    probability: float
    faults: list[Fault]
    weights: list[float]
    seed: int
    methods: frozenset[str] = frozenset({"*"})
    path: str = ""
    considered: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    active: bool = True
    paused: int = 0
    """Pauses held now (:meth:`FaultRegistry.pause_chaos`): while any is, no request is drawn for."""

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)
        self._random = random.Random(self.seed)

    def pick(self, method: str, path: str) -> Fault | None:
        """Draw for one request (the caller holds the registry's lock)."""
        if not self.active or self.paused or not ("*" in self.methods or method.upper() in self.methods):
            return None
        if self._pattern.search(path) is None:
            return None
        self.considered += 1
        if self._random.random() >= self.probability:
            return None
        fault = self._random.choices(self.faults, weights=self.weights)[0]
        self.injected[fault.kind] += 1
        return fault

    def to_json(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "paused": self.paused,
            "probability": self.probability,
            "seed": self.seed,
            "methods": sorted(self.methods),
            "path": self.path,
            "actions": [
                {**_without(f.to_json(), "id", "method", "path", "count"), "weight": w, "kind": f.kind}
                for f, w in zip(self.faults, self.weights)
            ],
            "considered": self.considered,
            "injected": dict(sorted(self.injected.items())),
            "total": sum(self.injected.values()),
        }


def _without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in names}


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
        delay_seconds=(_LONGEST_HOLD if action in HOLDS else 1.0) if delay is None else delay,
        message=message,
    )


def parse_chaos(body: Any) -> Chaos:
    """Validate the JSON of ``POST /_emulator/chaos`` into a :class:`Chaos`.

    ``{"probability": 0.2, "seed": 1, "actions": [429, {"action": "drop", "weight": 2}, ...],
    "methods": ["POST"], "path": "/tokens"}``: an action is a status code or a fault's
    JSON (as for ``/_emulator/faults``, without method, path or count) with a ``weight``.
    """
    if not isinstance(body, dict):
        raise _field("body", "the body must be a JSON object")
    probability = _number(body, "probability")
    if probability is None or not 0 <= probability <= 1:
        raise _field("probability", "probability must be a number from 0 to 1")
    seed = body.get("seed")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _field("seed", "seed must be an integer")
    methods = body.get("methods", ["*"])
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) and m for m in methods):
        raise _field("methods", "methods must be a list of HTTP methods or *")
    path = body.get("path", "")
    if not isinstance(path, str):
        raise _field("path", "path must be a regular expression")
    try:
        re.compile(path)
    except re.error as exc:
        raise _field("path", f"path is not a valid regular expression: {exc}") from None
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise _field("actions", "actions must be a non-empty list of statuses or faults")
    faults: list[Fault] = []
    weights: list[float] = []
    for index, spec in enumerate(actions):
        spec = {"status": spec} if isinstance(spec, int) and not isinstance(spec, bool) else spec
        if not isinstance(spec, dict):
            raise _field(f"actions[{index}]", "each action must be a status code or an object")
        spec = dict(spec)
        if spec.get("action") in HOLDS:
            raise _field(f"actions[{index}]", "a hold waits for a release that chaos never sends; arm it as a fault")
        weight = _number(spec, "weight")
        spec.pop("weight", None)
        if weight is not None and weight <= 0:
            raise _field(f"actions[{index}].weight", "weight must be a positive number")
        try:
            faults.append(parse_fault({**spec, "method": "*", "path": path or ".", "count": 1}))
        except ApiError as error:
            raise _field(f"actions[{index}]", error.message) from None
        weights.append(1.0 if weight is None else weight)
    return Chaos(
        probability=probability,
        faults=faults,
        weights=weights,
        seed=seed,
        methods=frozenset(m.upper() for m in methods),
        path=path,
    )


class FaultRegistry:
    """The armed faults, in the order they were added, and the chaos, if any; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._holds: dict[str, Fault] = {}
        self._chaos: Chaos | None = None
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
            if fault.action in HOLDS:
                self._holds[fault.id] = fault  # stays readable and releasable once its count is spent
        return fault

    def hold(self, fault_id: str) -> Fault | None:
        """A hold fault by id, armed or spent; ``None`` when there is none (or it was cleared)."""
        with self._lock:
            return self._holds.get(fault_id)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one hit of the first fault matching the request, else draw from the chaos."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    fault.arrived += 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            return self._chaos.pick(method, path) if self._chaos is not None else None

    def set_chaos(self, chaos: Chaos) -> dict[str, Any]:
        """Start (or replace) the chaos; its counts start at zero."""
        with self._lock:
            self._chaos = chaos
            return chaos.to_json()

    def stop_chaos(self) -> dict[str, Any]:
        """Stop the chaos; its final counts stay readable."""
        with self._lock:
            if self._chaos is not None:
                self._chaos.active = False
            return self._chaos_json()

    def pause_chaos(self) -> dict[str, Any] | None:
        """Hold one pause of the chaos: no request meets it until every pause is let go.

        Pauses are counted, so callers that pause it at once (a test's parallel workers, each
        rerunning a step with faults off) do not resume it under one another. ``None`` without chaos.
        """
        with self._lock:
            if self._chaos is None:
                return None
            self._chaos.paused += 1
            return self._chaos.to_json()

    def resume_chaos(self) -> dict[str, Any] | None:
        """Let go of one pause; ``None`` when no pause is held."""
        with self._lock:
            if self._chaos is None or not self._chaos.paused:
                return None
            self._chaos.paused -= 1
            return self._chaos.to_json()

    def chaos(self) -> dict[str, Any]:
        """The chaos settings and what it injected so far, by kind."""
        with self._lock:
            return self._chaos_json()

    def _chaos_json(self) -> dict[str, Any]:
        if self._chaos is None:
            return {"active": False, "considered": 0, "injected": {}, "total": 0}
        return self._chaos.to_json()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> int:
        """Disarm every fault; requests still held are let go."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            for fault in self._holds.values():
                fault.released.set()
            self._holds.clear()
        return count
