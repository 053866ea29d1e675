"""What an operation reports: its steps, the stack outputs and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

from .props import UNKNOWN, Secret, mask, reveal

#: Step operations, named as Pulumi names them in its display and event stream.
OP_CREATE = "create"
OP_SAME = "same"
OP_UPDATE = "update"
OP_REPLACE = "replace"
OP_DELETE = "delete"
OP_READ = "read"
OP_DISCARD = "discard"
#: The deletion of the resource a create-before-delete replacement replaced.
OP_DELETE_REPLACED = "delete-replaced"
OPS = (OP_CREATE, OP_SAME, OP_UPDATE, OP_REPLACE, OP_DELETE, OP_DELETE_REPLACED, OP_READ, OP_DISCARD)


@dataclass
class Step:
    """One resource's outcome in an operation.

    ``op`` is one of :data:`OPS`. For a replacement ``replaces`` lists the properties
    that forced it and ``delete_before_replace`` tells the order used. ``error`` is
    the provider's message if the step failed (``error_detail`` holds the full text).
    """

    op: str
    urn: str
    type: str
    custom: bool = True
    replaces: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    provider_delete_skipped: bool = False
    error: Optional[str] = None
    error_detail: Optional[str] = None

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class OperationError:
    """A failure: a step's provider error, an engine rule (e.g. protect) or the program's own error."""

    message: str
    urn: Optional[str] = None
    kind: str = "step"  # "step" | "program" | "engine"
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.urn}: " if self.urn else ""
        return f"{where}{self.message}"


class StackOutputs(Mapping[str, Any]):
    """Stack outputs. Secret values show as ``[secret]`` in repr/str and in ``[]`` access
    returns the :class:`Secret` wrapper; :meth:`plain` reveals them, like
    ``pulumi stack output --show-secrets``."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def is_secret(self, key: str) -> bool:
        return isinstance(self._values.get(key), Secret)

    def is_unknown(self, key: str) -> bool:
        return self._values.get(key) is UNKNOWN

    def plain(self, key: Optional[str] = None) -> Any:
        """The revealed value of one output (or all of them as a dict)."""
        if key is None:
            return reveal(self._values)
        return reveal(self._values[key])

    def masked(self) -> dict[str, Any]:
        return mask(self._values)

    def __repr__(self) -> str:
        return f"StackOutputs({self.masked()!r})"

    __str__ = __repr__


@dataclass
class OperationResult:
    """The result of ``preview``/``up``/``refresh``/``destroy``."""

    operation: str
    steps: list[Step] = field(default_factory=list)
    outputs: StackOutputs = field(default_factory=lambda: StackOutputs({}))
    errors: list[OperationError] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def step(self, name: str, op: Optional[str] = None) -> Step:
        """The step for the resource named ``name``: its main step, or the one with operation ``op``.

        A replacement's later removal of the old resource is its own step
        (``delete-replaced``); ask for it with ``op="delete-replaced"``.
        """
        matches = [
            s
            for s in self.steps
            if s.name == name and (s.op == op if op is not None else s.op != OP_DELETE_REPLACED)
        ]
        if not matches:
            raise KeyError(f"no {op or ''} step for resource {name!r} in {self.operation}")
        return matches[0]

    def ops(self, custom_only: bool = True) -> dict[str, str]:
        """``{resource name: op}`` for each resource's main step (custom resources only by default)."""
        return {
            s.name: s.op
            for s in self.steps
            if (s.custom or not custom_only) and s.op != OP_DELETE_REPLACED
        }

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.steps:
            counts[s.op] = counts.get(s.op, 0) + 1
        return counts

    def error_message(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    def full_error_text(self) -> str:
        """Every error with its full, unabridged detail (provider tracebacks included)."""
        parts = []
        for e in self.errors:
            parts.append(str(e))
            if e.detail and e.detail.strip() != e.message.strip():
                parts.append(e.detail)
        return "\n".join(parts)


class LifecycleError(Exception):
    """An operation failed. ``result`` is the partial :class:`OperationResult`."""

    def __init__(self, result: OperationResult) -> None:
        self.result = result
        super().__init__(f"{result.operation} failed:\n{result.error_message()}")

    @property
    def errors(self) -> list[OperationError]:
        return self.result.errors
