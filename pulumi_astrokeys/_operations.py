"""What each provider step does against the Astro API: create, read and delete a key.

Kept apart from :mod:`pulumi_astrokeys.provider` so the provider stays a thin adapter
to Pulumi's interface and these steps can be read (and called) on their own.

**Which tokens a create made.** Each create attempt sends a marker of its own as the
token's description (:class:`~._ownership.CreateMarker`: :data:`CREATE_MARKER_PREFIX`,
32 random hex digits and the stack and resource it is for); once the answer is in hand,
one last request sets the description the user asked for. So a token whose create
answer was lost still carries its attempt's marker, and the clean-up deletes exactly
those tokens: never a key of the same name that another program, stack or resource
created at the same moment (Astro allows duplicate names). The price is that one extra
request per key created (``POST /tokens/{id}``, counted against the API's POST limit of
10 a second), and a window of one round trip in which the Astro UI shows the marker as
the key's description.

**The hand-over.** The description request is the create's last write: the token is
handed to Pulumi only if its answer came before the commit bound on Astro's clock and
the engine that asked is still there (:mod:`._ownership`, :mod:`._engine`); otherwise
the create deletes the token and fails. So ``astrokeys audit`` can prove a marker's
token abandoned from Astro's clock alone.

**DAG roles.** A key with ``dag_roles`` gets them from one more request,
``POST /tokens/{id}/roles`` (the whole role set: the key's Deployment role and each DAG
role), before the description, inside the same transactional create: if Astro refuses
them, the new token is deleted and the create fails naming ``dag_roles``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from typing import Any, Optional

from pulumi.dynamic import CreateResult, ReadResult
from pulumi.runtime import rpc
from pydantic import ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from ._client import AstroClient
from ._clock import now as clock_now
from ._clock import parse_time
from ._engine import engine_gone
from ._errors import (
    AmbiguousCreateError,
    APIStatusError,
    AstroAPIError,
    KeyOperationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from ._inputs import IN_PLACE_INPUTS, KeyInputs, changed_inputs, normalise
from ._messages import describe_key, failure_sentence
from ._models import ApiToken, ApiTokenRole
from ._ownership import CREATE_MARKER_PREFIX, CreateMarker, KeyOwner, handover_deadline, is_create_marker

__all__ = [
    "CREATE_MARKER_PREFIX",
    "create_key",
    "delete_key",
    "is_create_marker",
    "key_outputs",
    "missing_key_error",
    "read_key",
    "update_in_place",
]

logger = logging.getLogger("pulumi_astrokeys")

_CREATE_ATTEMPTS = 2
# The clean-up of lost creates tries again after errors that pass, backing off, for this long at most.
_SWEEP_BUDGET = 60.0
# A lost create may still commit after the client gave up on it: the clean-up looks this long
# after giving up (the request timeout, at most this many seconds). Later commits are left to an audit.
_LATE_COMMIT_GRACE = 5.0


def create_key(
    client: AstroClient, props: Mapping[str, Any], *, owner: KeyOwner | str | None = None
) -> CreateResult:
    """Create the Deployment token. Transactional: on any failure no token of this create is left behind.

    ``owner`` is whose key it is, written into each attempt's create marker: a
    :class:`~._ownership.KeyOwner` (project, stack, resource name) or the resource's URN.
    Without one (or with a URN that names none) the marker names no owner, and an
    abandoned token of this create is left to a person. Costs one request more than the
    create itself (see the module docstring).
    """
    inputs = _validated(props)
    key = describe_key(inputs.name, inputs.deployment_id)
    if isinstance(owner, str):
        owner = KeyOwner.from_urn(owner)
    _require_deployment(client, inputs, key)
    token = _create_token(client, inputs, key, owner)
    try:
        if token.token is None:
            raise KeyOperationError(f"Could not create {key}: the Astro API answered without the token's value")
        outputs = key_outputs(
            token,
            inputs,
            organization_id=client.settings.organization_id,
            secret=token.token.get_secret_value(),
        )
        return CreateResult(token.id, outputs)
    except KeyOperationError as error:
        if not _discard(client, token.id, key):
            raise _failure(key, inputs, str(error), f"token {token.id}") from None
        raise
    except BaseException:
        _discard(client, token.id, key)
        raise


def read_key(client: AstroClient, key_id: str, props: Mapping[str, Any], *, managed: bool = True) -> ReadResult:
    """Read the key's metadata; carry its secret over from ``props``. A gone key reads as an empty ID.

    A key whose value was rotated outside Pulumi keeps no secret: the one in the state no
    longer works, and a key without one is replaced at the next ``pulumi up``. An expired
    key stays, with fresh metadata; for a ``managed`` key (not a lookup) one line says that
    the next ``pulumi up`` replaces it.
    """
    old = normalise(props)
    key = describe_key(old.get("name"), old.get("deployment_id"), key_id)
    _require_same_organization(client, props, "read", key)
    try:
        token = client.get_token(key_id)
    except NotFoundError:
        if props:  # a stored key's refresh; a read by ID alone (import, lookup) is refused by its caller
            logger.info("%s no longer exists; it leaves the state", key)
        return ReadResult("", {})
    except AstroAPIError as error:
        raise KeyOperationError(failure_sentence("read", key, error)) from None
    deployment_id = old.get("deployment_id") or _deployment_of(token)
    if token.scope != "DEPLOYMENT" or deployment_id is None or not token.is_scoped_to_deployment(deployment_id):
        raise KeyOperationError(
            f"Could not read {key}: API token {key_id} is not a Deployment API key of that Deployment "
            f"(its scope is {token.scope}); pass the ID of a Deployment API key"
        )
    secret = rpc.unwrap_rpc_secret(props.get("secret"))
    if isinstance(secret, str) and _rotated(token, rpc.unwrap_rpc_secret(props.get("short_token"))):
        logger.warning(
            "%s was rotated outside Pulumi (at %s): the secret in the state no longer works, so the next "
            "`pulumi up` replaces the key",
            key,
            token.last_rotated_at or "an unknown time",
        )
        secret = None
    outputs = key_outputs(
        token,
        None,
        deployment_id=deployment_id,
        organization_id=client.settings.organization_id,
        stored=old,
        secret=secret if isinstance(secret, str) else None,
    )
    end_at = parse_time(token.end_at)
    if managed and end_at is not None and clock_now() >= end_at:
        logger.warning("%s expired at %s; it stays in the state, and the next `pulumi up` replaces it", key, token.end_at)
    return ReadResult(token.id, outputs)


def missing_key_error(client: AstroClient, key_id: str, action: str, fix: str) -> KeyOperationError:
    """The one sentence for a key ID that names no key of the configured organization: ``Could not
    {action} Deployment API key {key_id}: ...; {fix}``."""
    return KeyOperationError(
        f"Could not {action} Deployment API key {key_id}: organization {client.settings.organization_id} "
        f"has no such key (it was deleted, or the ID is wrong); {fix}."
    )


def update_in_place(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """The stored outputs with the new :data:`IN_PLACE_INPUTS` recorded: the only update a key has (no API call).

    Any other change replaces the key, so an update asked for anything else raises
    :class:`KeyOperationError` without changing anything.
    """
    if changed_inputs(olds, news):
        raise KeyOperationError(
            "Deployment API keys are immutable and cannot be updated in place; nothing was changed. "
            "Run `pulumi refresh` and then `pulumi up`, which replaces the key instead."
        )
    outs = {name: value for name, value in olds.items() if name != "__provider"}
    for name in IN_PLACE_INPUTS:
        outs[name] = normalise(news).get(name)
    secret = rpc.unwrap_rpc_secret(outs.get("secret"))
    outs["secret"] = rpc.wrap_rpc_secret(secret) if isinstance(secret, str) else None
    return outs


def delete_key(client: AstroClient, key_id: str, props: Mapping[str, Any]) -> None:
    """Delete the token. A key already gone (by hand, or with its Deployment) counts as deleted."""
    old = normalise(props)
    key = describe_key(old.get("name"), old.get("deployment_id"), key_id)
    _require_same_organization(client, props, "delete", key)
    try:
        client.delete_token(key_id)
    except NotFoundError:
        logger.info("%s was already gone", key)
    except AstroAPIError as error:
        raise KeyOperationError(failure_sentence("delete", key, error)) from None


def key_outputs(
    token: ApiToken,
    inputs: Optional[KeyInputs],
    *,
    organization_id: str,
    secret: Optional[str],
    deployment_id: Optional[str] = None,
    stored: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The resource's output properties; the secret is marked secret on the wire.

    After a create (``inputs`` given) the inputs are echoed as the user wrote them, not as
    the API stored them, so nothing the API normalises shows as a change at the next
    ``up``. After a read, the API's values win, except where they differ from ``stored``
    only by surrounding spaces.
    """
    if inputs is not None:
        deployment_id = inputs.deployment_id
        described: dict[str, Any] = {
            "name": inputs.name,
            "description": inputs.description,
            "role": inputs.role,
            "expiry_period_in_days": inputs.expiry_period_in_days,
            "keepers": dict(inputs.keepers),
            "kind": inputs.kind,
            "dag_roles": [role.model_dump(exclude_none=True) for role in inputs.dag_roles],
            "rotate_before_days": inputs.rotate_before_days,
        }
    else:
        assert deployment_id is not None
        old = stored or {}
        described = {
            "name": _unless_only_spaces_differ(token.name, old.get("name")),
            "description": _unless_only_spaces_differ(token.description, old.get("description")),
            "role": _unless_only_spaces_differ(token.role_on(deployment_id), old.get("role")),
            "expiry_period_in_days": token.expiry_period_in_days,
            "keepers": dict(old.get("keepers") or {}),
            "kind": token.kind,
            "dag_roles": _dag_roles_of(token, deployment_id),
            # Not the API's: when Pulumi replaces the key, as the program said.
            "rotate_before_days": old.get("rotate_before_days"),
        }
    return {
        "key_id": token.id,
        "secret": rpc.wrap_rpc_secret(secret) if secret is not None else None,
        "short_token": token.short_token,
        "deployment_id": deployment_id,
        "organization_id": organization_id,
        **described,
        "created_at": token.created_at,
        "start_at": token.start_at,
        "end_at": token.end_at,
    }


def _dag_roles_of(token: ApiToken, deployment_id: str) -> list[dict[str, str]]:
    """The token's DAG roles on its Deployment, shaped and ordered as the ``dag_roles`` input is."""
    roles = [
        {"dag_id" if role.entity_type == "DAG" else "dag_tag": role.entity_id, "role": role.role}
        for role in token.dag_roles_on(deployment_id)
    ]
    return sorted(roles, key=lambda r: ("DAG" if "dag_id" in r else "DAG_TAG", r.get("dag_id") or r["dag_tag"], r["role"]))


def _roles_request(inputs: KeyInputs) -> list[ApiTokenRole]:
    """The whole role set of a new key with ``dag_roles``: its Deployment role, then each DAG role."""
    roles = [ApiTokenRole(entity_type="DEPLOYMENT", entity_id=inputs.deployment_id, role=inputs.role)]
    for dag_role in inputs.dag_roles:
        entity_type, entity_id = dag_role.target
        roles.append(
            ApiTokenRole(
                entity_type=entity_type, entity_id=entity_id, role=dag_role.role, deployment_id=inputs.deployment_id
            )
        )
    return roles


def _unless_only_spaces_differ(current: Optional[str], stored: Any) -> Optional[str]:
    if isinstance(stored, str) and current is not None and current.strip() == stored.strip():
        return stored
    return current


def _rotated(token: ApiToken, stored_short_token: Any) -> bool:
    """Whether the token's value changed since the state's secret was minted (a rotate outside Pulumi)."""
    if isinstance(stored_short_token, str) and stored_short_token and token.short_token != stored_short_token:
        return True
    # Pulumi never rotates a key, so a rotation after the key's creation was made elsewhere.
    return token.last_rotated_at is not None and _parse_time(token.last_rotated_at) > _parse_time(token.created_at)


def _require_same_organization(client: AstroClient, props: Mapping[str, Any], action: str, key: str) -> None:
    """Refuse to act on a key under another organization's settings, where it would read as gone."""
    stored = rpc.unwrap_rpc_secret(props.get("organization_id"))
    configured = client.settings.organization_id
    if isinstance(stored, str) and stored and stored != configured:
        raise KeyOperationError(
            f"Could not {action} {key}: it belongs to organization {stored}, but the provider is configured for "
            f"organization {configured}, where the key cannot be seen; set astrokeys:organizationId "
            f"(ASTRO_ORGANIZATION_ID) to {stored}, with an API token of that organization, and run the same "
            f"command again"
        )


def _validated(props: Mapping[str, Any]) -> KeyInputs:
    try:
        return KeyInputs.model_validate(normalise(props))
    except ValidationError as error:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        raise KeyOperationError(
            f"Could not create {describe_key(props.get('name'), props.get('deployment_id'))}: "
            f"invalid input {fields}; run `pulumi preview` to see how to fix it"
        ) from None


def _require_deployment(client: AstroClient, inputs: KeyInputs, key: str) -> None:
    try:
        client.get_deployment(inputs.deployment_id)
    except NotFoundError:
        raise KeyOperationError(
            f"Could not create {key}: Deployment {inputs.deployment_id} was not found in organization "
            f"{client.settings.organization_id}; check deployment_id and astrokeys:organizationId "
            f"(ASTRO_ORGANIZATION_ID)"
        ) from None
    except AstroAPIError as error:
        raise KeyOperationError(failure_sentence("create", key, error)) from None


def _create_token(client: AstroClient, inputs: KeyInputs, key: str, owner: Optional[KeyOwner]) -> ApiToken:
    """Create the token, marked as this attempt's; if the answer is lost, try once more.

    A token whose create answer never arrived has a secret nobody will ever see again, so
    it must not outlive the create: once a later attempt succeeds or the last one fails,
    the tokens carrying the lost attempts' markers are deleted, and no other token.
    """
    lost: list[str] = []
    gave_up_at = 0.0
    last_error: Optional[AstroAPIError] = None
    for _ in range(_CREATE_ATTEMPTS):
        if engine_gone():
            break
        marker = CreateMarker.new(owner).text
        try:
            token = client.create_deployment_token(
                inputs.deployment_id,
                name=inputs.name,
                description=marker,
                role=inputs.role,
                expiry_period_in_days=inputs.expiry_period_in_days,
                kind=inputs.kind,
            )
        except (AmbiguousCreateError, ServerError) as error:
            lost.append(marker)
            gave_up_at, last_error = time.monotonic(), error
            logger.warning("%s: the create's outcome is unknown (%s); it is tried again", key, error)
            continue
        except AstroAPIError as error:
            left = _clean_up(client, inputs, key, lost, gave_up_at)
            raise _failure(key, inputs, failure_sentence("create", key, error), left) from None
        step = "its dag_roles"
        try:
            # The description is the last write: a token still marked was never handed over.
            if inputs.dag_roles:
                _persistently(client, partial(client.set_token_roles, token.id, _roles_request(inputs)))
            step = "its description"
            refusal = _handover_refusal(client, token)
            if refusal is None:
                _persistently(
                    client, partial(client.update_token, token.id, name=inputs.name, description=inputs.description)
                )
                refusal = _handover_refusal(client, token)
        except AstroAPIError as error:
            left = _clean_up(client, inputs, key, lost, gave_up_at, made=token.id)
            deleted = ", so it was deleted" if left is None else ""
            reason = f"the token was created but could not be given {step} ({error}){deleted}"
            fix = "correct dag_roles and run `pulumi up` again" if step == "its dag_roles" else "run `pulumi up` again"
            raise _failure(key, inputs, f"Could not create {key}: {reason}; {fix}.", left) from None
        except BaseException:
            _clean_up(client, inputs, key, lost, gave_up_at, made=token.id)
            raise
        if refusal is not None:
            left = _clean_up(client, inputs, key, lost, gave_up_at, made=token.id)
            deleted = ", so it was deleted" if left is None else ""
            sentence = f"Could not create {key}: the token was created but {refusal}{deleted}; run `pulumi up` again."
            raise _failure(key, inputs, sentence, left)
        left = _clean_up(client, inputs, key, lost, gave_up_at)
        if left is not None:
            # Success would hide a live token nobody holds the secret of: fail, and undo this one too.
            left = _clean_up(client, inputs, key, [], 0.0, made=token.id) or left
            reason = f"an earlier attempt's answer was lost ({last_error}) and what it made could not be removed"
            raise _failure(key, inputs, f"Could not create {key}: {reason}; run `pulumi up` again.", left)
        return token
    left = _clean_up(client, inputs, key, lost, gave_up_at)
    if engine_gone():
        raise _failure(
            key,
            inputs,
            f"Could not create {key}: the Pulumi engine that asked for it is gone, so no attempt is made "
            "for it any more; run `pulumi up` again.",
            left,
        )
    raise _failure(
        key,
        inputs,
        f"Could not create {key}: the Astro API did not confirm the create after {_CREATE_ATTEMPTS} attempts "
        f"({last_error}); the tokens these attempts made were deleted, so run `pulumi up` again.",
        left,
    )


def _handover_refusal(client: AstroClient, token: ApiToken) -> Optional[str]:
    """Why the create must not hand ``token`` over now (in words), or ``None`` when it may.

    Never once its engine is gone (nobody would receive the secret), nor past the commit
    bound on Astro's clock, after which ``astrokeys audit`` may count the token as abandoned.
    """
    if engine_gone():
        return "the Pulumi engine that asked for it is gone"
    deadline = handover_deadline(token.created_at)
    if deadline is not None and client.server_time() >= deadline:
        return (
            f"Astro's clock passed {deadline:%Y-%m-%dT%H:%M:%SZ} before its description was set (past that, "
            "astrokeys audit counts such a token as abandoned)"
        )
    return None


def _failure(key: str, inputs: KeyInputs, sentence: str, left: Optional[str]) -> KeyOperationError:
    """The create's failure sentence, saying what was left in place if anything was."""
    if left is None:
        return KeyOperationError(sentence)
    reason = sentence.rstrip(".").rsplit("; ", 1)[0]
    return KeyOperationError(
        f"{reason}; on Deployment {inputs.deployment_id}, {left} was left in place for you to check and delete, "
        f"then run `pulumi up` again."
    )


def _clean_up(
    client: AstroClient,
    inputs: KeyInputs,
    key: str,
    lost: Sequence[str],
    gave_up_at: float,
    *,
    made: Optional[str] = None,
) -> Optional[str]:
    """Delete the token this create ``made`` but cannot hand over and those its ``lost`` attempts made.

    Returns what could not be deleted, in words, or ``None`` when nothing is left.
    """
    left = []
    if made is not None and not _discard(client, made, key):
        left.append(f"token {made}")
    strays = _sweep(client, inputs, lost, gave_up_at, key)
    if strays is not None:
        left.append(strays)
    return " and ".join(left) or None


def _sweep(client: AstroClient, inputs: KeyInputs, markers: Sequence[str], gave_up_at: float, key: str) -> Optional[str]:
    """Delete the tokens that carry one of ``markers``: made by creates whose answer was lost, and by nothing else.

    Waits until a lost create that is still under way on the server has likely committed,
    then lists the Deployment's tokens. The listing and the deletes (both idempotent) are
    tried again after errors that pass (5xx, dropped connections, 429), backing off, for
    a bounded time. Returns what is left, in words, or ``None``.
    """
    if not markers:
        return None
    grace = min(client.request_timeout or _LATE_COMMIT_GRACE, _LATE_COMMIT_GRACE)
    time.sleep(max(0.0, gave_up_at + grace - time.monotonic()))
    left: list[str] = []

    def sweep_once() -> None:
        left.clear()
        strays = [t for t in client.list_deployment_tokens(inputs.deployment_id) if t.description in markers]
        left.extend(t.id for t in strays)
        for stray in strays:
            logger.warning("%s: deleting token %s left by an unanswered create", key, stray.id)
            try:
                client.delete_token(stray.id)
            except NotFoundError:
                pass
            left.remove(stray.id)

    try:
        _persistently(client, sweep_once)
    except NotFoundError:
        return None  # the Deployment is gone, and its tokens with it
    except AstroAPIError as error:
        logger.error("%s: removing what a lost create made failed for good: %s", key, error)
        if left:
            return f"token{'s' if len(left) > 1 else ''} {', '.join(left)} (made by a create whose answer was lost)"
        return (
            f"any token whose description is {' or '.join(repr(m) for m in markers)} (made by a create whose "
            f"answer was lost; the check failed: {error})"
        )
    return None


def _persistently(client: AstroClient, step: Callable[[], object]) -> None:
    """Run an idempotent clean-up step; after an error that may pass, back off and run it again.

    The client already retries what it safely can; this outlasts what it gives up on (a
    5xx, a run of dropped connections, an answer that is not the API's JSON, a 429 whose
    Retry-After exceeds its patience), for :data:`_SWEEP_BUDGET` seconds at most. A
    definite refusal (another 4xx) is raised at once.
    """
    started = time.monotonic()

    def passes(error: BaseException) -> bool:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return time.monotonic() - started + error.retry_after < _SWEEP_BUDGET
        if isinstance(error, APIStatusError):
            return isinstance(error, (ServerError, RateLimitedError))
        return isinstance(error, AstroAPIError)

    retrying = Retrying(
        stop=stop_after_delay(_SWEEP_BUDGET),
        wait=lambda state: _sweep_wait(client, state, _SWEEP_BUDGET - (time.monotonic() - started)),
        retry=retry_if_exception(passes),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            step()


def _sweep_wait(client: AstroClient, state: RetryCallState, budget_left: float) -> float:
    policy = client.retry_policy
    backoff = min(policy.max_backoff, max(policy.initial_backoff, 0.01) * (2 ** (state.attempt_number - 1)))
    wait = random.uniform(backoff / 2, backoff)
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        wait = max(wait, error.retry_after)
    logger.warning("removing what a lost create made failed (%s); trying again in %.2f s", error, wait)
    return max(0.0, min(wait, budget_left))


def _discard(client: AstroClient, token_id: str, key: str) -> bool:
    """Delete a token this create made but cannot hand over; whether it is gone."""
    try:
        _persistently(client, lambda: client.delete_token(token_id))
    except NotFoundError:
        pass
    except AstroAPIError as error:
        logger.error("%s: could not delete token %s, which this create made (%s)", key, token_id, error)
        return False
    return True


def _deployment_of(token: ApiToken) -> Optional[str]:
    for role in token.roles:
        if role.entity_type == "DEPLOYMENT":
            return role.entity_id
    return None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
