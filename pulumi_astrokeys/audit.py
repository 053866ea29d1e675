"""Audit the Deployment API keys of some Deployments: what exists, who made it, what needs care.

The logic behind ``astrokeys audit`` (see :mod:`pulumi_astrokeys.cli`), usable from Python::

    from pulumi_astrokeys.audit import audit, read_stack_keys

    stack = read_stack_keys(json.load(open("stack.json")))    # `pulumi stack export` output
    report = audit(client, stack=stack, expiring_within_days=14)
    report.exit_code()

For every Deployment API key on the Deployments looked at, a :class:`KeyAudit` says whether
the stack manages it and lists its :data:`FINDINGS`. An **orphan** is a key the stack's own
API token created, named like one of the stack's keys, on one of its Deployments, that the
state does not hold: what an interrupted ``pulumi up`` leaves behind. The stack's API token
is known by the ``createdBy`` Astro records on the keys the state does hold (or given
explicitly). :func:`delete_orphans` deletes those and nothing else.

Nothing here reads, decrypts or prints a secret: a stack export's encrypted values are
skipped, and the Astro API never returns a key's value after its creation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional

from ._errors import AstroKeysError, NotFoundError
from ._models import ASTRO_ID_PATTERN
from ._schema import TYPE_TOKEN
from .lookups import DeploymentApiKeyInfo

if TYPE_CHECKING:
    from ._client import AstroClient
    from ._models import ApiToken

__all__ = [
    "DEFAULT_EXPIRING_WITHIN_DAYS",
    "EXIT_ERROR",
    "EXIT_EXPIRING",
    "EXIT_OK",
    "EXIT_ORPHANS",
    "EXIT_USAGE",
    "FINDINGS",
    "KEY_RESOURCE_TYPE",
    "AuditError",
    "AuditReport",
    "KeyAudit",
    "StackKey",
    "StackKeys",
    "audit",
    "delete_orphans",
    "merge_stacks",
    "read_stack_keys",
]

KEY_RESOURCE_TYPE = TYPE_TOKEN
"""The type of a :class:`~pulumi_astrokeys.DeploymentApiKey` in a stack's state."""

DEFAULT_EXPIRING_WITHIN_DAYS = 30

EXPIRED = "expired"
EXPIRING = "expiring"
NEVER_USED = "never-used"
UNMANAGED = "unmanaged"
ORPHAN = "orphan"
FINDINGS: tuple[str, ...] = (EXPIRED, EXPIRING, NEVER_USED, UNMANAGED, ORPHAN)
"""What the audit can say about a key:

- ``expired``: past its ``endAt``; it no longer authenticates.
- ``expiring``: its ``endAt`` falls within the window (``--expiring-within DAYS``).
- ``never-used``: Astro has no ``lastUsedAt`` for it.
- ``unmanaged``: a stack's state was given and does not hold the key (and it is no orphan).
- ``orphan``: created by the stack's API token, named like one of the stack's keys, not in its state.
"""

EXIT_OK = 0
"""Nothing that fails the audit."""
EXIT_ERROR = 1
"""The audit could not run: bad input, missing settings, or the API refused."""
EXIT_USAGE = 2
"""The command line itself was wrong."""
EXIT_EXPIRING = 4
"""A key has expired or expires within the window. Added to :data:`EXIT_ORPHANS` when both apply."""
EXIT_ORPHANS = 8
"""An orphan exists (one that ``--delete-orphans`` deleted no longer counts)."""

_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value in a state file


class AuditError(AstroKeysError):
    """The audit cannot run as asked. The message names the input at fault and how to fix it."""


# -- the stack's state -----------------------------------------------------------------


@dataclass(frozen=True)
class StackKey:
    """One ``DeploymentApiKey`` recorded in a stack's state. No secret is read into it."""

    urn: str
    key_id: str
    deployment_id: str
    name: Optional[str]
    organization_id: Optional[str]


@dataclass(frozen=True)
class StackKeys:
    """The keys of one or more stacks' states, and the key names of creates still pending."""

    keys: tuple[StackKey, ...] = ()
    pending_names: frozenset[tuple[str, str]] = frozenset()
    """``(deployment_id, name)`` of keys whose create an interrupted ``pulumi up`` left pending."""
    known_ids: frozenset[str] = frozenset()
    """Every key ID the states mention, pending operations included."""

    def __add__(self, other: StackKeys) -> StackKeys:
        return StackKeys(
            self.keys + other.keys,
            self.pending_names | other.pending_names,
            self.known_ids | other.known_ids,
        )

    @property
    def deployment_ids(self) -> list[str]:
        """The Deployments of the keys, in the order the state lists them."""
        seen: dict[str, None] = {}
        for key in self.keys:
            seen.setdefault(key.deployment_id)
        for deployment_id, _ in sorted(self.pending_names):
            seen.setdefault(deployment_id)
        return list(seen)

    def names_on(self, deployment_id: str) -> set[str]:
        """The names the stack gives its keys on one Deployment (pending creates included)."""
        names = {k.name for k in self.keys if k.deployment_id == deployment_id and k.name}
        return names | {name for dep, name in self.pending_names if dep == deployment_id}


def read_stack_keys(document: Any, source: str = "the stack state") -> StackKeys:
    """The ``DeploymentApiKey`` resources of a parsed ``pulumi stack export`` document.

    Also accepts a checkpoint file as a file backend keeps it (``checkpoint.latest``).
    Secret values (encrypted objects) are skipped, never decrypted. Raises :class:`AuditError`
    naming the missing field when the document is not a stack's state.
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
    resources = deployment.get("resources") or []
    if not isinstance(resources, list):
        raise AuditError(f"{source}: `deployment.resources` is not a list; pass the output of `pulumi stack export`")

    keys: list[StackKey] = []
    known: set[str] = set()
    for index, resource in enumerate(resources):
        if not isinstance(resource, Mapping) or resource.get("type") != KEY_RESOURCE_TYPE:
            continue
        where = f"{source}: resource {resource.get('urn') or index}"
        outputs = _mapping(resource.get("outputs"))
        key_id = _plain(resource.get("id")) or _plain(outputs.get("key_id"))
        deployment_id = _plain(outputs.get("deployment_id")) or _plain(_inputs(resource).get("deployment_id"))
        if not key_id:
            continue  # never created (nothing in Astro can be its key)
        if not deployment_id or not ASTRO_ID_PATTERN.match(deployment_id):
            raise AuditError(
                f"{where} has no readable `outputs.deployment_id`; run `pulumi refresh` and export the stack again"
            )
        known.add(key_id)
        keys.append(
            StackKey(
                urn=str(resource.get("urn") or ""),
                key_id=key_id,
                deployment_id=deployment_id,
                name=_plain(outputs.get("name")),
                organization_id=_plain(outputs.get("organization_id")),
            )
        )

    pending: set[tuple[str, str]] = set()
    for operation in deployment.get("pending_operations") or []:
        resource = operation.get("resource") if isinstance(operation, Mapping) else None
        if not isinstance(resource, Mapping) or resource.get("type") != KEY_RESOURCE_TYPE:
            continue
        key_id = _plain(resource.get("id"))
        if key_id:
            known.add(key_id)
        inputs = _inputs(resource)
        name, deployment_id = _plain(inputs.get("name")), _plain(inputs.get("deployment_id"))
        if name and deployment_id and ASTRO_ID_PATTERN.match(deployment_id):
            pending.add((deployment_id, name))
    return StackKeys(tuple(keys), frozenset(pending), frozenset(known))


def _inputs(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(resource.get("inputs"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _plain(value: Any) -> Optional[str]:
    """A plain, non-empty string from the state; a secret (an encrypted object) reads as nothing."""
    if isinstance(value, str) and value:
        return value
    return None


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyAudit:
    """One Deployment API key as the audit saw it."""

    key: DeploymentApiKeyInfo
    managed: Optional[bool]
    """Whether the stack's state holds the key; ``None`` when no state was given."""
    resource_urn: Optional[str]
    findings: tuple[str, ...]
    days_left: Optional[float]
    """Days until the key expires (negative once expired), ``None`` when it never expires."""
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
    stack_creators: tuple[str, ...] = ()
    """The subject IDs taken as the stack's API token when looking for orphans."""
    orphan_check: str = ""
    """Why orphans could not be looked for, or ``""`` when they were."""
    missing: tuple[StackKey, ...] = ()
    """Keys the state holds that Astro no longer has (``pulumi refresh`` drops them)."""
    gone_deployments: tuple[str, ...] = ()
    """Deployments of the stack's keys that no longer exist."""

    def with_findings(self, finding: str) -> list[KeyAudit]:
        """The keys that have one finding."""
        return [k for k in self.keys if finding in k.findings]

    @property
    def orphans(self) -> list[KeyAudit]:
        return self.with_findings(ORPHAN)

    def exit_code(self) -> int:
        """:data:`EXIT_OK`, or :data:`EXIT_EXPIRING` plus :data:`EXIT_ORPHANS` for what applies."""
        code = EXIT_OK
        if any(EXPIRED in k.findings or EXPIRING in k.findings for k in self.keys if not k.deleted):
            code |= EXIT_EXPIRING
        if any(k.is_orphan and not k.deleted for k in self.keys):
            code |= EXIT_ORPHANS
        return code

    def summary(self) -> dict[str, int]:
        """How many keys have each finding; ``deletedOrphans`` counts what :func:`delete_orphans` removed."""
        counts = {"keys": len(self.keys)}
        for finding, label in zip(FINDINGS, ("expired", "expiring", "neverUsed", "unmanaged", "orphans")):
            counts[label] = len(self.with_findings(finding))
        counts["deletedOrphans"] = sum(1 for k in self.keys if k.deleted)
        counts["missingFromAstro"] = len(self.missing)
        return counts

    def to_json(self) -> dict[str, Any]:
        """The whole report as the ``--json`` output prints it."""
        stack = None
        if self.stack_given:
            stack = {
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

    ``created_by`` names the subject IDs of the stack's API token for the orphan check; by
    default they are the creators Astro records on the keys the state holds. ``now``
    defaults to the API server's time. Reads only; raises :class:`AuditError` for bad input
    and :class:`~pulumi_astrokeys.AstroAPIError` when the API refuses.
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

    by_id = {key.key_id: key for key in stack_keys.keys}
    stack_given = stack is not None
    creators = list(dict.fromkeys(s.strip() for s in created_by))
    if stack_given and not creators:
        creators = list(
            dict.fromkeys(
                token.created_by.id
                for listed in tokens.values()
                for token in listed
                if token.id in by_id and token.created_by is not None
            )
        )
    orphan_check = ""
    if not stack_given:
        orphan_check = "no stack state given"
    elif not creators:
        orphan_check = (
            "no key of the state is left in Astro to tell which API token the stack uses; "
            "give its ID with --created-by"
        )

    audits: list[KeyAudit] = []
    seen: set[str] = set()
    for deployment_id in all_ids:
        names = stack_keys.names_on(deployment_id)
        for token in tokens.get(deployment_id, []):
            seen.add(token.id)
            info = DeploymentApiKeyInfo.from_token(token, deployment_id)
            managed = (token.id in stack_keys.known_ids) if stack_given else None
            orphan = (
                stack_given
                and not managed
                and not orphan_check
                and token.name in names
                and token.created_by is not None
                and token.created_by.id in creators
            )
            audits.append(_audit_key(info, managed, by_id.get(token.id), orphan, at, expiring_within_days))
    missing = tuple(key for key in stack_keys.keys if key.key_id not in seen)
    return AuditReport(
        audited_at=_timestamp(at),
        organization_id=organization_id,
        deployment_ids=tuple(all_ids),
        expiring_within_days=expiring_within_days,
        keys=tuple(audits),
        stack_given=stack_given,
        stack_creators=tuple(creators),
        orphan_check=orphan_check,
        missing=missing,
        gone_deployments=tuple(gone),
    )


def _audit_key(
    info: DeploymentApiKeyInfo,
    managed: Optional[bool],
    stack_key: Optional[StackKey],
    orphan: bool,
    now: datetime,
    window_days: float,
) -> KeyAudit:
    findings: list[str] = []
    days_left = None
    if info.end_at is not None:
        days_left = (_parse_timestamp(info.end_at) - now) / timedelta(days=1)
        if days_left <= 0:
            findings.append(EXPIRED)
        elif days_left <= window_days:
            findings.append(EXPIRING)
    if info.last_used_at is None:
        findings.append(NEVER_USED)
    if orphan:
        findings.append(ORPHAN)
    elif managed is False:
        findings.append(UNMANAGED)
    return KeyAudit(
        key=info,
        managed=managed,
        resource_urn=stack_key.urn if stack_key else None,
        findings=tuple(findings),
        days_left=days_left,
    )


def delete_orphans(client: AstroClient, report: AuditReport) -> AuditReport:
    """Delete the report's orphans, and nothing else; return the report with each marked.

    Each orphan is read again first and deleted only if it is still a Deployment API key
    of the same Deployment, with the same name and creator. A key already gone counts as
    deleted; one the API refuses to delete keeps its error in ``delete_error``.
    """
    from ._errors import AstroAPIError

    updated: list[KeyAudit] = []
    for entry in report.keys:
        if not entry.is_orphan or entry.deleted:
            updated.append(entry)
            continue
        key = entry.key
        try:
            current = client.get_token(key.key_id)
            if not (
                current.is_scoped_to_deployment(key.deployment_id)
                and current.name == key.name
                and current.created_by is not None
                and key.created_by is not None
                and current.created_by.id == key.created_by.id
            ):
                updated.append(replace(entry, delete_error="changed since it was listed; not deleted"))
                continue
            client.delete_token(key.key_id)
        except NotFoundError:
            pass  # already gone
        except AstroAPIError as error:
            updated.append(replace(entry, delete_error=str(error)))
            continue
        updated.append(replace(entry, deleted=True))
    return replace(report, keys=tuple(updated))


def _parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_stacks(stacks: Iterable[StackKeys]) -> Optional[StackKeys]:
    """Several stacks' keys as one, or ``None`` when there are none."""
    merged: Optional[StackKeys] = None
    for stack in stacks:
        merged = stack if merged is None else merged + stack
    return merged
