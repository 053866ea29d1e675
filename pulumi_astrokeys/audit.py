"""Audit the Deployment API keys of some Deployments: what exists, whose it is, what needs care.

The logic behind ``astrokeys audit`` (see :mod:`pulumi_astrokeys.cli`), usable from Python::

    from pulumi_astrokeys.audit import audit, read_stack_keys

    stack = read_stack_keys(json.load(open("stack.json")))    # `pulumi stack export` output
    report = audit(client, stack=stack, expiring_within_days=14)
    report.exit_code()

For every Deployment API key on the Deployments looked at, a :class:`KeyAudit` says whether
the stack manages it and lists its :data:`FINDINGS`. An **orphan** is a token whose
description is still the create marker of one of the given stacks
(:mod:`pulumi_astrokeys._ownership`) and whose create is over for good on Astro's clock
(``createdAt`` + the commit bound has passed): its secret was never handed to anyone,
and no create can hand it over any more. That proof is the only ground for a delete:
:func:`delete_orphans` re-reads each orphan, proves it again, and deletes nothing else.
A name, a creator, a time or a key missing from the state proves nothing (two stacks can
share an API token, a Deployment and key names, a state can be older than what Astro
shows, a key can be kept on purpose with ``retain_on_delete``), so what only looks like
an interrupted create is a **suspect**, listed with its evidence for a person to decide
(:func:`delete_key` deletes one named key, re-read first).

Nothing here reads, decrypts or prints a secret: a stack export's encrypted values are
skipped, and the Astro API never returns a key's value after its creation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional

from ._clock import parse_time
from ._errors import NotFoundError
from ._models import ASTRO_ID_PATTERN
from ._ownership import CreateMarker, abandoned_from
from ._schema import TYPE_TOKEN
from ._stack_state import (
    MAX_STATE_BYTES,
    AuditError,
    LookedUpKey,
    PendingCreate,
    StackKey,
    StackKeys,
    parse_stack_document,
    read_stack_keys,
)
from .lookups import DeploymentApiKeyInfo

if TYPE_CHECKING:
    from ._client import AstroClient
    from ._models import ApiToken

__all__ = [
    "DEFAULT_EXPIRING_WITHIN_DAYS",
    "EXIT_ERROR",
    "EXIT_EXPIRING",
    "EXIT_IN_FLIGHT",
    "EXIT_OK",
    "EXIT_ORPHANS",
    "EXIT_USAGE",
    "FINDINGS",
    "KEY_RESOURCE_TYPE",
    "MAX_STATE_BYTES",
    "AuditError",
    "AuditReport",
    "KeyAudit",
    "KeyDeletion",
    "LookedUpKey",
    "PendingCreate",
    "StackKey",
    "StackKeys",
    "audit",
    "delete_key",
    "delete_orphans",
    "merge_stacks",
    "parse_stack_document",
    "read_stack_keys",
]

KEY_RESOURCE_TYPE = TYPE_TOKEN
"""The type of a :class:`~pulumi_astrokeys.DeploymentApiKey` in a stack's state."""

DEFAULT_EXPIRING_WITHIN_DAYS = 30

EXPIRED = "expired"
EXPIRING = "expiring"
NEVER_USED = "never-used"
UNMANAGED = "unmanaged"
LOOKED_UP = "looked-up"
ORPHAN = "orphan"
IN_FLIGHT = "in-flight"
SUSPECT = "suspect"
FINDINGS: tuple[str, ...] = (EXPIRED, EXPIRING, NEVER_USED, UNMANAGED, LOOKED_UP, ORPHAN, IN_FLIGHT, SUSPECT)
"""What the audit can say about a key:

- ``expired``: past its ``endAt``; it no longer authenticates.
- ``expiring``: its ``endAt`` falls within the window (``--expiring-within DAYS``).
- ``never-used``: Astro has no ``lastUsedAt`` for it.
- ``unmanaged``: a stack's state was given and does not hold the key, and nothing says more.
- ``looked-up``: the stack reads the key with ``DeploymentApiKey.get``; it is not the stack's.
- ``orphan``: its description is still a create marker of the given stack, and Astro's clock
  is past its ``createdAt`` + the commit bound: an abandoned create. Deleted by ``--delete-orphans``.
- ``in-flight``: the same marker, but within the bound: the create may still be under way.
- ``suspect``: it looks like an interrupted create (a pending create of the stack with its
  name and inputs, or a marker that names no stack) without proof; for a person to decide.
"""

EXIT_OK = 0
"""Nothing that fails the audit."""
EXIT_ERROR = 1
"""The audit could not run: bad input, missing settings, or the API refused."""
EXIT_USAGE = 2
"""The command line itself was wrong."""
EXIT_EXPIRING = 4
"""A key has expired or expires within the window. Added to the others when several apply."""
EXIT_ORPHANS = 8
"""An orphan or a suspect is left (an orphan ``--delete-orphans`` deleted no longer counts)."""
EXIT_IN_FLIGHT = 16
"""A create of the given stack may still be under way: run the audit again after the time it names."""


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyAudit:
    """One Deployment API key as the audit saw it."""

    key: DeploymentApiKeyInfo
    managed: Optional[bool]
    """Whether the stack's state holds the key; ``None`` when no state was given."""
    resource_urn: Optional[str]
    """The URN of the state's resource for the key: its managed key, or its lookup."""
    findings: tuple[str, ...]
    days_left: Optional[float]
    """Days until the key expires (negative once expired), ``None`` when it never expires."""
    marker: Optional[CreateMarker] = None
    """The create marker its description still is, if it is one."""
    abandoned_at: Optional[datetime] = None
    """For a marker: when, on Astro's clock, no create can hand the token over any more."""
    reason: str = ""
    """Why it is an orphan, in flight, a suspect or looked up, in one sentence."""
    pending_urn: Optional[str] = None
    """A suspect's evidence: the URN of the state's pending create whose inputs it fits."""
    deleted: bool = False
    """Deleted by :func:`delete_orphans`."""
    delete_error: Optional[str] = None

    @property
    def is_orphan(self) -> bool:
        return ORPHAN in self.findings

    def to_json(self) -> dict[str, Any]:
        """The key as the ``--json`` output shows it (camelCase, as the Astro API spells fields)."""
        key = self.key
        created_by = None
        if key.created_by is not None:
            profile = {
                "id": key.created_by.id,
                "subjectType": key.created_by.subject_type,
                "apiTokenName": key.created_by.api_token_name,
                "username": key.created_by.username,
                "fullName": key.created_by.full_name,
            }
            created_by = {k: v for k, v in profile.items() if v is not None}
        marker = None
        if self.marker is not None:
            owner = self.marker.owner
            marker = {
                "stack": owner.stack_name if owner else None,
                "resource": owner.name if owner else None,
                "abandonedAt": _timestamp(self.abandoned_at) if self.abandoned_at else None,
            }
        body: dict[str, Any] = {
            "deploymentId": key.deployment_id,
            "keyId": key.key_id,
            "name": key.name,
            "managed": self.managed,
            "resourceUrn": self.resource_urn,
            "createdBy": created_by,
            "createdAt": key.created_at,
            "endAt": key.end_at,
            "expiryPeriodInDays": key.expiry_period_in_days,
            "daysLeft": None if self.days_left is None else round(self.days_left, 2),
            "lastUsedAt": key.last_used_at,
            "kind": key.kind,
            "role": key.role,
            "findings": list(self.findings),
            "createMarker": marker,
            "reason": self.reason or None,
            "pendingCreate": self.pending_urn,
            "deleted": self.deleted,
        }
        if self.delete_error is not None:
            body["deleteError"] = self.delete_error
        return body


@dataclass(frozen=True)
class AuditReport:
    """What :func:`audit` found. :meth:`exit_code` turns it into the command's exit status."""

    audited_at: str
    organization_id: str
    deployment_ids: tuple[str, ...]
    expiring_within_days: float
    keys: tuple[KeyAudit, ...]
    stack_given: bool
    stacks: tuple[str, ...] = ()
    """The given stacks, ``project/stack``: whose create markers prove an orphan."""
    stack_creators: tuple[str, ...] = ()
    """``--created-by``: the API tokens an orphan must also have been created by (none: any)."""
    orphan_check: str = ""
    """Why orphans could not be looked for, or ``""`` when they were."""
    missing: tuple[StackKey, ...] = ()
    """Keys the state holds that Astro no longer has (``pulumi refresh`` drops them), or an old export."""
    gone_deployments: tuple[str, ...] = ()
    """Deployments of the stack's keys that no longer exist."""

    def with_findings(self, finding: str) -> list[KeyAudit]:
        """The keys that have one finding."""
        return [k for k in self.keys if finding in k.findings]

    @property
    def orphans(self) -> list[KeyAudit]:
        return self.with_findings(ORPHAN)

    def exit_code(self) -> int:
        """:data:`EXIT_OK`, or the sum of :data:`EXIT_EXPIRING`, :data:`EXIT_ORPHANS` and
        :data:`EXIT_IN_FLIGHT` for what applies."""
        code = EXIT_OK
        live = [k for k in self.keys if not k.deleted]
        if any(EXPIRED in k.findings or EXPIRING in k.findings for k in live):
            code |= EXIT_EXPIRING
        if any(ORPHAN in k.findings or SUSPECT in k.findings for k in live):
            code |= EXIT_ORPHANS
        if any(IN_FLIGHT in k.findings for k in live):
            code |= EXIT_IN_FLIGHT
        return code

    def summary(self) -> dict[str, int]:
        """How many keys have each finding; ``deletedOrphans`` counts what :func:`delete_orphans` removed."""
        counts = {"keys": len(self.keys)}
        labels = ("expired", "expiring", "neverUsed", "unmanaged", "lookedUp", "orphans", "inFlight", "suspects")
        for finding, label in zip(FINDINGS, labels):
            counts[label] = len(self.with_findings(finding))
        counts["deletedOrphans"] = sum(1 for k in self.keys if k.deleted)
        counts["missingFromAstro"] = len(self.missing)
        return counts

    def to_json(self) -> dict[str, Any]:
        """The whole report as the ``--json`` output prints it."""
        stack = None
        if self.stack_given:
            stack = {
                "stacks": list(self.stacks),
                "creators": list(self.stack_creators),
                "orphanCheck": self.orphan_check or "done",
                "missingFromAstro": [
                    {"resourceUrn": k.urn, "keyId": k.key_id, "name": k.name, "deploymentId": k.deployment_id}
                    for k in self.missing
                ],
                "goneDeployments": list(self.gone_deployments),
            }
        return {
            "auditedAt": self.audited_at,
            "organizationId": self.organization_id,
            "deploymentIds": list(self.deployment_ids),
            "expiringWithinDays": self.expiring_within_days,
            "stack": stack,
            "keys": [k.to_json() for k in self.keys],
            "summary": self.summary(),
            "exitCode": self.exit_code(),
        }


# -- the audit -------------------------------------------------------------------------------


def audit(
    client: AstroClient,
    deployment_ids: Sequence[str] = (),
    *,
    stack: Optional[StackKeys] = None,
    expiring_within_days: float = DEFAULT_EXPIRING_WITHIN_DAYS,
    created_by: Sequence[str] = (),
    now: Optional[datetime] = None,
) -> AuditReport:
    """Audit every Deployment API key of the given Deployments and of the stack's keys.

    ``created_by`` narrows the orphans to keys those API tokens created (an orphan of
    another creator is a suspect). ``now`` defaults to the API server's time: the audit
    never trusts this machine's clock. Reads only; raises :class:`AuditError` for bad
    input and :class:`~pulumi_astrokeys.AstroAPIError` when the API refuses.
    """
    if not deployment_ids and stack is None:
        raise AuditError(
            "Nothing to audit: give Deployment IDs, or a stack's state with --stack FILE "
            "(`pulumi stack export` output; `-` reads it from standard input)"
        )
    if not (isinstance(expiring_within_days, (int, float)) and math.isfinite(expiring_within_days)):
        raise AuditError("expiring_within_days must be a number of days, 0 or more")
    if expiring_within_days < 0:
        raise AuditError(f"expiring_within_days is {expiring_within_days}: it must be 0 or more")
    for deployment_id in deployment_ids:
        if not ASTRO_ID_PATTERN.match(deployment_id):
            raise AuditError(
                f"Deployment ID {deployment_id!r} is not an Astro ID: it is `c` and 24 lowercase letters or "
                "digits, like clm8q7f6q000008lcgyougpsk (copy it from the Astro UI or `astro deployment list`)"
            )
    for subject in created_by:
        if not subject.strip():
            raise AuditError("created_by holds an empty ID: give the ID of the API token that runs the stack")
    organization_id = client.settings.organization_id
    stack_keys = stack or StackKeys()
    for key in stack_keys.keys:
        if key.organization_id and key.organization_id != organization_id:
            raise AuditError(
                f"The stack's key {key.name or key.key_id} ({key.urn}) belongs to organization "
                f"{key.organization_id}, but the audit is set to organization {organization_id}: "
                f"set ASTRO_ORGANIZATION_ID={key.organization_id}"
            )

    explicit = list(dict.fromkeys(deployment_ids))
    all_ids = list(dict.fromkeys([*explicit, *stack_keys.deployment_ids]))
    tokens: dict[str, list[ApiToken]] = {}
    gone: list[str] = []
    for deployment_id in all_ids:
        try:
            tokens[deployment_id] = client.list_deployment_tokens(deployment_id)
        except NotFoundError:
            if deployment_id in explicit:
                raise AuditError(
                    f"Deployment {deployment_id} was not found in organization {organization_id}: "
                    "check the ID, and ASTRO_ORGANIZATION_ID"
                ) from None
            gone.append(deployment_id)  # deleted with its keys; the state still lists them
    at = now or client.server_time()

    stack_given = stack is not None
    orphan_check = ""
    if not stack_given:
        orphan_check = "no stack state given"
    elif not stack_keys.stacks:
        orphan_check = "the state names no stack (it has no resources): no create marker can be proven its"
    classifier = _Classifier(stack_keys if stack_given else None, frozenset(s.strip() for s in created_by), at)
    audits: list[KeyAudit] = []
    seen: set[str] = set()
    for deployment_id in all_ids:
        for token in tokens.get(deployment_id, []):
            seen.add(token.id)
            info = DeploymentApiKeyInfo.from_token(token, deployment_id)
            audits.append(classifier.classify(info, token, expiring_within_days))
    missing = tuple(key for key in stack_keys.keys if key.key_id not in seen and key.deployment_id not in gone)
    return AuditReport(
        audited_at=_timestamp(at),
        organization_id=organization_id,
        deployment_ids=tuple(all_ids),
        expiring_within_days=expiring_within_days,
        keys=tuple(audits),
        stack_given=stack_given,
        stacks=tuple(sorted(f"{project}/{name}" for project, name in stack_keys.stacks)),
        stack_creators=tuple(dict.fromkeys(s.strip() for s in created_by)),
        orphan_check=orphan_check,
        missing=missing,
        gone_deployments=tuple(gone),
    )


@dataclass(frozen=True)
class _Classifier:
    """What one token is to the given stacks: managed, looked up, orphan, in flight, suspect, unmanaged."""

    stack: Optional[StackKeys]
    creators: frozenset[str]
    now: datetime

    def classify(self, info: DeploymentApiKeyInfo, token: ApiToken, window_days: float) -> KeyAudit:
        findings = _time_findings(info, self.now, window_days)
        days_left = _days_left(info.end_at, self.now)
        marker = CreateMarker.parse(token.description)
        abandoned_at = abandoned_from(token.created_at) if marker is not None else None
        base = KeyAudit(info, None, None, (), days_left, marker=marker, abandoned_at=abandoned_at)
        stack = self.stack
        if stack is None:
            return replace(base, findings=tuple(findings))
        by_id = {key.key_id: key for key in stack.keys}
        if token.id in stack.known_ids:
            urn = by_id[token.id].urn if token.id in by_id else None
            return replace(base, managed=True, resource_urn=urn, findings=tuple(findings))
        base = replace(base, managed=False)
        lookup = stack.lookup_of(token.id)
        if lookup is not None:
            reason = f"the stack reads it with DeploymentApiKey.get ({lookup.urn}): a lookup is not the stack's key"
            return replace(base, resource_urn=lookup.urn, findings=(*findings, LOOKED_UP), reason=reason)
        verdict, reason, pending = self._ownership(info, token, marker, abandoned_at, stack)
        return replace(base, findings=(*findings, verdict), reason=reason, pending_urn=pending)

    def _ownership(
        self,
        info: DeploymentApiKeyInfo,
        token: ApiToken,
        marker: Optional[CreateMarker],
        abandoned_at: Optional[datetime],
        stack: StackKeys,
    ) -> tuple[str, str, Optional[str]]:
        pending = next(
            (
                create
                for create in stack.pending
                if create.could_have_made(info.deployment_id, info.name, token.description, info.role)
                or (marker is not None and marker.owner is not None and create.urn.endswith("::" + marker.owner.name))
            ),
            None,
        )
        pending_urn = pending.urn if pending is not None else None
        if marker is not None and marker.owner is not None and stack.owns(marker.owner):
            of = f"a create of stack {marker.owner.stack_name} (resource {marker.owner.name})"
            if abandoned_at is None:
                return SUSPECT, f"its description is the marker of {of}, but its createdAt is unreadable", pending_urn
            if self.now < abandoned_at:
                return (
                    IN_FLIGHT,
                    f"its description is the marker of {of}, which may still be under way until "
                    f"{_timestamp(abandoned_at)} on Astro's clock; run the audit again after that",
                    pending_urn,
                )
            creator = info.created_by.id if info.created_by is not None else None
            if self.creators and creator not in self.creators:
                return (
                    SUSPECT,
                    f"its description is the marker of {of}, abandoned, but it was created by {creator}, "
                    "not by --created-by",
                    pending_urn,
                )
            return ORPHAN, f"its description is the marker of {of}, abandoned for good", pending_urn
        if marker is not None and marker.owner is None:
            return (
                SUSPECT,
                "its description is a create marker that names no stack (an earlier release's, or of a create "
                "given no owner), so nothing proves whose it is",
                pending_urn,
            )
        if marker is not None and marker.owner is not None:
            return (
                UNMANAGED,
                f"its description is the marker of a create of another stack, {marker.owner.stack_name}: "
                "that stack's audit decides",
                None,
            )
        if pending is not None:
            return (
                SUSPECT,
                f"it fits the inputs of the state's pending create {pending.urn}, but it carries no create "
                "marker, so nothing proves that create made it",
                pending.urn,
            )
        return UNMANAGED, "", None


def _time_findings(info: DeploymentApiKeyInfo, now: datetime, window_days: float) -> list[str]:
    findings: list[str] = []
    days_left = _days_left(info.end_at, now)
    if days_left is not None:
        if days_left <= 0:
            findings.append(EXPIRED)
        elif days_left <= window_days:
            findings.append(EXPIRING)
    if info.last_used_at is None:
        findings.append(NEVER_USED)
    return findings


def delete_orphans(client: AstroClient, report: AuditReport) -> AuditReport:
    """Delete the report's orphans, and nothing else; return the report with each marked.

    Each orphan is read again and proven again first: still a Deployment API key of the
    same Deployment, its description still the same create marker, and Astro's clock, as
    the ``Date`` of that very answer gives it, past its ``createdAt`` + the commit bound.
    A key already gone counts as deleted; one that no longer proves an orphan, or that
    the API refuses to delete, keeps the reason in ``delete_error``.
    """
    from ._errors import AstroAPIError

    updated: list[KeyAudit] = []
    for entry in report.keys:
        if not entry.is_orphan or entry.deleted or entry.marker is None:
            updated.append(entry)
            continue
        key = entry.key
        try:
            current = client.get_token(key.key_id)
            abandoned_at = abandoned_from(current.created_at)
            if not (
                current.is_scoped_to_deployment(key.deployment_id)
                and current.description == entry.marker.text
                and current.created_at == key.created_at
            ):
                updated.append(replace(entry, delete_error="changed since it was listed; not deleted"))
                continue
            if abandoned_at is None or client.server_time() < abandoned_at:
                updated.append(replace(entry, delete_error="Astro's clock is not past its commit bound; not deleted"))
                continue
            client.delete_token(key.key_id)
        except NotFoundError:
            pass  # already gone
        except AstroAPIError as error:
            updated.append(replace(entry, delete_error=str(error)))
            continue
        updated.append(replace(entry, deleted=True))
    return replace(report, keys=tuple(updated))


@dataclass(frozen=True)
class KeyDeletion:
    """What :func:`delete_key` did: ``deleted``, or the key was ``already_gone``."""

    key_id: str
    name: str
    deployment_id: str
    already_gone: bool


def delete_key(
    client: AstroClient, key_id: str, *, deployment_id: str, name: str, stack: Optional[StackKeys] = None
) -> KeyDeletion:
    """Delete one key a person named, after reading it again: for the suspects the audit leaves to a person.

    The key must still be a Deployment API key of ``deployment_id`` named ``name`` (a
    mistyped ID deletes nothing), and not a key ``stack`` manages (that one goes with
    ``pulumi up`` or ``pulumi destroy``). Raises :class:`AuditError` naming what differs.
    """
    from ._errors import AstroAPIError

    if not ASTRO_ID_PATTERN.match(key_id):
        raise AuditError(f"key ID {key_id!r} is not an Astro ID: copy it from the audit's table")
    if stack is not None and key_id in stack.known_ids:
        raise AuditError(
            f"key {key_id} is managed by the given stack: remove it from the program and run `pulumi up` "
            "(or `pulumi destroy`), which deletes it and updates the state"
        )
    try:
        current = client.get_token(key_id)
    except NotFoundError:
        return KeyDeletion(key_id, name, deployment_id, already_gone=True)
    except AstroAPIError as error:
        raise AuditError(f"could not read key {key_id}: {error}") from None
    if not current.is_scoped_to_deployment(deployment_id):
        raise AuditError(
            f"key {key_id} is not a Deployment API key of Deployment {deployment_id}; nothing was deleted"
        )
    if current.name != name:
        raise AuditError(f"key {key_id} is named {current.name!r}, not {name!r}; nothing was deleted")
    try:
        client.delete_token(key_id)
    except NotFoundError:
        return KeyDeletion(key_id, name, deployment_id, already_gone=True)
    except AstroAPIError as error:
        raise AuditError(f"could not delete key {key_id}: {error}") from None
    return KeyDeletion(key_id, name, deployment_id, already_gone=False)


def _days_left(end_at: Optional[str], now: datetime) -> Optional[float]:
    """Days from ``now`` to ``end_at`` (negative once past); ``None`` for a key that never expires."""
    end = parse_time(end_at)
    return None if end is None else (end - now) / timedelta(days=1)


def _timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_stacks(stacks: Iterable[StackKeys]) -> Optional[StackKeys]:
    """Several stacks' keys as one, or ``None`` when there are none."""
    merged: Optional[StackKeys] = None
    for stack in stacks:
        merged = stack if merged is None else merged + stack
    return merged
