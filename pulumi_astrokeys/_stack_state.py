"""A stack's state as ``astrokeys audit`` reads it: its keys, its lookups, its pending creates, whose it is.

The input is ``pulumi stack export`` output (or a file backend's checkpoint), from a file
or standard input: bounded in size, decoded strictly, and any shape that is not a
stack's state is one sentence (:class:`AuditError`), never a traceback. Secret values
(encrypted objects) are skipped, never decrypted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ._errors import AstroKeysError
from ._models import ASTRO_ID_PATTERN
from ._ownership import KeyOwner
from ._schema import TYPE_TOKEN

__all__ = [
    "MAX_STATE_BYTES",
    "AuditError",
    "LookedUpKey",
    "PendingCreate",
    "StackKey",
    "StackKeys",
    "parse_stack_document",
    "read_stack_keys",
]

MAX_STATE_BYTES = 128 * 1024 * 1024
"""The largest stack export the audit reads (128 MiB); a bigger input is refused, not read."""


class AuditError(AstroKeysError):
    """The audit cannot run as asked. The message names the input at fault and how to fix it."""


@dataclass(frozen=True)
class StackKey:
    """One ``DeploymentApiKey`` recorded in a stack's state. No secret is read into it."""

    urn: str
    key_id: str
    deployment_id: str
    name: Optional[str]
    organization_id: Optional[str]


@dataclass(frozen=True)
class LookedUpKey:
    """A key a stack only reads (``DeploymentApiKey.get``): it is not the stack's key."""

    urn: str
    key_id: str


@dataclass(frozen=True)
class PendingCreate:
    """A create the engine recorded as begun and never saw finish (an interrupted ``pulumi up``)."""

    urn: str
    deployment_id: str
    name: str
    description: Optional[str]
    """``None`` when the state keeps it secret (or lacks it)."""
    role: Optional[str]

    def could_have_made(self, deployment_id: str, name: str, description: str, role: Optional[str]) -> bool:
        """Whether a token with these fields fits this create's inputs (a secret input fits anything)."""
        return (
            self.deployment_id == deployment_id
            and self.name == name
            and self.description in (None, description)
            and (self.role is None or role is None or self.role == role)
        )


@dataclass(frozen=True)
class StackKeys:
    """The keys of one or more stacks' states, what they look up, their pending creates, and whose they are."""

    keys: tuple[StackKey, ...] = ()
    pending: tuple[PendingCreate, ...] = ()
    known_ids: frozenset[str] = frozenset()
    """Every key ID the states hold as the stack's own (pending operations included)."""
    lookups: tuple[LookedUpKey, ...] = ()
    stacks: frozenset[tuple[str, str]] = frozenset()
    """``(project, stack)`` of each state, from its URNs: whose create markers prove an orphan."""

    def __add__(self, other: StackKeys) -> StackKeys:
        return StackKeys(
            self.keys + other.keys,
            self.pending + other.pending,
            self.known_ids | other.known_ids,
            self.lookups + other.lookups,
            self.stacks | other.stacks,
        )

    @property
    def deployment_ids(self) -> list[str]:
        """The Deployments of the stack's keys and pending creates (never of its lookups), in state order."""
        seen: dict[str, None] = {}
        for key in self.keys:
            seen.setdefault(key.deployment_id)
        for create in self.pending:
            seen.setdefault(create.deployment_id)
        return list(seen)

    def owns(self, owner: KeyOwner) -> bool:
        """Whether a create marker's owner is one of these stacks."""
        return (owner.project, owner.stack) in self.stacks

    def lookup_of(self, key_id: str) -> Optional[LookedUpKey]:
        return next((lookup for lookup in self.lookups if lookup.key_id == key_id), None)


def parse_stack_document(data: bytes | str, source: str) -> Any:
    """The JSON of a stack export, or :class:`AuditError` saying what is wrong with it."""
    if len(data) > MAX_STATE_BYTES:
        raise AuditError(
            f"{source} is larger than {MAX_STATE_BYTES // (1024 * 1024)} MiB, which no stack export is; "
            "pass the output of `pulumi stack export`"
        )
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AuditError(
                f"{source} is not UTF-8 text (byte {error.start}); pass the output of `pulumi stack export`"
            ) from None
    if not data.strip():
        raise AuditError(f"{source} is empty; pass the output of `pulumi stack export`")
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise AuditError(
            f"{source} is not JSON (line {error.lineno}, column {error.colno}); "
            "pass the output of `pulumi stack export`"
        ) from None
    except RecursionError:
        raise AuditError(f"{source} nests JSON too deeply for a stack export; pass the output of `pulumi stack export`") from None


def read_stack_keys(document: Any, source: str = "the stack state") -> StackKeys:
    """The ``DeploymentApiKey`` resources of a parsed ``pulumi stack export`` document.

    Also accepts a checkpoint file as a file backend keeps it (``checkpoint.latest``).
    Lookups (``DeploymentApiKey.get``, ``external`` in the state) are kept apart from the
    stack's keys. Raises :class:`AuditError` naming the field when the document is not a
    stack's state.
    """
    if not isinstance(document, Mapping):
        raise AuditError(f"{source} is not a stack export: expected a JSON object from `pulumi stack export`")
    deployment = document.get("deployment")
    if deployment is None and isinstance(document.get("checkpoint"), Mapping):
        deployment = document["checkpoint"].get("latest") or {}
    if not isinstance(deployment, Mapping):
        raise AuditError(
            f"{source} has no `deployment` object: pass the output of `pulumi stack export` "
            "(for example `pulumi stack export --file stack.json`)"
        )
    resources = _list(deployment, "resources", source)
    operations = _list(deployment, "pending_operations", source)

    stacks: set[tuple[str, str]] = set()
    keys: list[StackKey] = []
    lookups: list[LookedUpKey] = []
    known: set[str] = set()
    for index, resource in enumerate(resources):
        if not isinstance(resource, Mapping):
            raise AuditError(f"{source}: `deployment.resources[{index}]` is not an object; pass `pulumi stack export` output")
        _note_stack(resource.get("urn"), stacks)
        if resource.get("type") != TYPE_TOKEN:
            continue
        urn = str(resource.get("urn") or index)
        outputs = _mapping(resource.get("outputs"))
        key_id = _plain_string(resource.get("id")) or _plain_string(outputs.get("key_id"))
        if not key_id:
            continue  # never created (nothing in Astro can be its key)
        if resource.get("external") is True:
            lookups.append(LookedUpKey(urn, key_id))
            continue
        deployment_id = _plain_string(outputs.get("deployment_id")) or _plain_string(_mapping(resource.get("inputs")).get("deployment_id"))
        if not deployment_id or not ASTRO_ID_PATTERN.match(deployment_id):
            raise AuditError(
                f"{source}: resource {urn} has no readable `outputs.deployment_id`; run `pulumi refresh` and export "
                "the stack again"
            )
        known.add(key_id)
        keys.append(
            StackKey(
                urn=urn,
                key_id=key_id,
                deployment_id=deployment_id,
                name=_plain_string(outputs.get("name")),
                organization_id=_plain_string(outputs.get("organization_id")),
            )
        )

    pending: list[PendingCreate] = []
    for index, operation in enumerate(operations):
        if not isinstance(operation, Mapping):
            raise AuditError(
                f"{source}: `deployment.pending_operations[{index}]` is not an object; pass `pulumi stack export` output"
            )
        resource = operation.get("resource")
        if not isinstance(resource, Mapping):
            continue
        _note_stack(resource.get("urn"), stacks)
        if resource.get("type") != TYPE_TOKEN:
            continue
        key_id = _plain_string(resource.get("id"))
        if key_id:
            known.add(key_id)
        inputs = _mapping(resource.get("inputs"))
        name, deployment_id = _plain_string(inputs.get("name")), _plain_string(inputs.get("deployment_id"))
        if operation.get("type") == "creating" and name and deployment_id and ASTRO_ID_PATTERN.match(deployment_id):
            description = inputs.get("description", "")
            pending.append(
                PendingCreate(
                    urn=str(resource.get("urn") or ""),
                    deployment_id=deployment_id,
                    name=name,
                    description=description if isinstance(description, str) else None,
                    role=_plain_string(inputs.get("role")),
                )
            )
    return StackKeys(tuple(keys), tuple(pending), frozenset(known), tuple(lookups), frozenset(stacks))


def _note_stack(urn: Any, stacks: set[tuple[str, str]]) -> None:
    owner = KeyOwner.from_urn(urn) if isinstance(urn, str) else None
    if owner is not None:
        stacks.add((owner.project, owner.stack))


def _list(deployment: Mapping[str, Any], field: str, source: str) -> list[Any]:
    value = deployment.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AuditError(f"{source}: `deployment.{field}` is not a list; pass the output of `pulumi stack export`")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _plain_string(value: Any) -> Optional[str]:
    """A plain, non-empty string from the state; a secret (an encrypted object) reads as nothing."""
    if isinstance(value, str) and value:
        return value
    return None
