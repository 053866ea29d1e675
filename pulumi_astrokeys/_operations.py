"""What each provider step does against the Astro API: create, read and delete a key.

Kept apart from :mod:`pulumi_astrokeys.provider` so the provider stays a thin adapter
to Pulumi's interface and these steps can be read (and called) on their own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from pulumi.dynamic import CreateResult, ReadResult
from pulumi.runtime import rpc
from pydantic import ValidationError

from ._client import AstroClient
from ._errors import (
    AmbiguousCreateError,
    AstroAPIError,
    KeyOperationError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from ._inputs import KeyInputs, normalise
from ._messages import describe_key, failure_sentence
from ._models import ApiToken

__all__ = ["create_key", "delete_key", "key_outputs", "read_key"]

logger = logging.getLogger("pulumi_astrokeys")

# A token's createdAt has whole seconds and the server clock is estimated from whole-second
# Date headers: look this far before an attempt for tokens it may have created.
_CLOCK_SLACK = timedelta(seconds=2)
_CREATE_ATTEMPTS = 2
# Rounds of removing what an unanswered create made, each with the client's own retries.
_CLEANUP_ATTEMPTS = 3


class _AnsweredCreates:
    """IDs of tokens whose create this process saw answered; never mistaken for strays."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, token_id: str) -> None:
        with self._lock:
            self._ids.add(token_id)

    def __contains__(self, token_id: object) -> bool:
        with self._lock:
            return token_id in self._ids


_answered = _AnsweredCreates()


def create_key(client: AstroClient, props: Mapping[str, Any]) -> CreateResult:
    """Create the Deployment token. Transactional: on any failure no token is left behind."""
    inputs = _validated(props)
    key = describe_key(inputs.name, inputs.deployment_id)
    _require_deployment(client, inputs, key)
    token = _create_token(client, inputs, key)
    try:
        if token.token is None:
            raise KeyOperationError(f"Could not create {key}: the Astro API answered without the token's value")
        outputs = key_outputs(
            token,
            deployment_id=inputs.deployment_id,
            organization_id=client.settings.organization_id,
            keepers=inputs.keepers,
            secret=token.token.get_secret_value(),
        )
        return CreateResult(token.id, outputs)
    except BaseException:
        _discard(client, token.id)
        raise


def read_key(client: AstroClient, key_id: str, props: Mapping[str, Any]) -> ReadResult:
    """Read the key's metadata; carry its secret over from ``props``. A gone key reads as an empty ID."""
    old = normalise(props)
    key = describe_key(old.get("name"), old.get("deployment_id"), key_id)
    try:
        token = client.get_token(key_id)
    except NotFoundError:
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
    outputs = key_outputs(
        token,
        deployment_id=deployment_id,
        organization_id=client.settings.organization_id,
        keepers=old.get("keepers") or {},
        secret=secret if isinstance(secret, str) else None,
    )
    return ReadResult(token.id, outputs)


def delete_key(client: AstroClient, key_id: str, props: Mapping[str, Any]) -> None:
    """Delete the token. A key already gone (by hand, or with its Deployment) counts as deleted."""
    old = normalise(props)
    key = describe_key(old.get("name"), old.get("deployment_id"), key_id)
    try:
        client.delete_token(key_id)
    except NotFoundError:
        logger.info("%s was already gone", key)
    except AstroAPIError as error:
        raise KeyOperationError(failure_sentence("delete", key, error)) from None


def key_outputs(
    token: ApiToken,
    *,
    deployment_id: str,
    organization_id: str,
    keepers: Mapping[str, str],
    secret: Optional[str],
) -> dict[str, Any]:
    """The resource's output properties; the secret is marked secret on the wire."""
    return {
        "key_id": token.id,
        "secret": rpc.wrap_rpc_secret(secret) if secret is not None else None,
        "short_token": token.short_token,
        "deployment_id": deployment_id,
        "organization_id": organization_id,
        "name": token.name,
        "description": token.description,
        "role": token.role_on(deployment_id),
        "expiry_period_in_days": token.expiry_period_in_days,
        "keepers": dict(keepers),
        "created_at": token.created_at,
        "start_at": token.start_at,
        "end_at": token.end_at,
    }


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


def _create_token(client: AstroClient, inputs: KeyInputs, key: str) -> ApiToken:
    """Create the token; if the API's answer is lost, remove what the attempt made and try once more.

    A token whose create answer never arrived has a secret nobody will ever see again, so
    it must not outlive the attempt: the tokens of the Deployment with the same name,
    created since the attempt began, are deleted before the next try.
    """
    last_error: Optional[AstroAPIError] = None
    for _ in range(_CREATE_ATTEMPTS):
        since = client.server_time() - _CLOCK_SLACK
        try:
            token = client.create_deployment_token(
                inputs.deployment_id,
                name=inputs.name,
                description=inputs.description or None,
                role=inputs.role,
                expiry_period_in_days=inputs.expiry_period_in_days,
            )
        except (AmbiguousCreateError, ServerError) as error:
            last_error = error
            logger.warning("%s: the create's outcome is unknown (%s); removing what it may have made", key, error)
            _remove_strays(client, inputs, since, key)
            continue
        except AstroAPIError as error:
            raise KeyOperationError(failure_sentence("create", key, error)) from None
        _answered.add(token.id)
        return token
    assert last_error is not None
    raise KeyOperationError(
        f"Could not create {key}: the Astro API did not confirm the create after {_CREATE_ATTEMPTS} attempts "
        f"({last_error}); no stray token was left behind, so run `pulumi up` again"
    )


def _remove_strays(client: AstroClient, inputs: KeyInputs, since: datetime, key: str) -> None:
    """Delete the tokens an unanswered create may have made; a passing server error does not stop it.

    Each stray's secret is lost, so a stray left behind is a live credential nobody can
    see or will delete: the listing and the deletes, both idempotent, are tried again
    after the errors the client gives up on but that pass (a 500, a run of dropped
    connections or 429s).
    """
    for attempt in range(1, _CLEANUP_ATTEMPTS + 1):
        try:
            strays = [
                token
                for token in client.list_deployment_tokens(inputs.deployment_id)
                if token.name == inputs.name and _parse_time(token.created_at) >= since and token.id not in _answered
            ]
            for stray in strays:
                logger.warning("%s: deleting token %s left by an unanswered create", key, stray.id)
                try:
                    client.delete_token(stray.id)
                except NotFoundError:
                    pass
            return
        except NotFoundError:
            return
        except AstroAPIError as error:
            if attempt < _CLEANUP_ATTEMPTS and isinstance(error, (ServerError, NetworkError, RateLimitedError)):
                logger.warning("%s: checking for tokens the lost create made failed (%s); trying again", key, error)
                continue
            raise KeyOperationError(
                f"Could not create {key}: the create's answer was lost and the tokens it may have made could not "
                f"be checked ({error}); look for tokens named {inputs.name!r} created after "
                f"{since:%Y-%m-%dT%H:%M:%SZ} on that Deployment, delete them, and run `pulumi up` again."
            ) from None


def _discard(client: AstroClient, token_id: str) -> None:
    """Delete a token created by a step that then failed (best effort; the step's error wins)."""
    try:
        client.delete_token(token_id)
    except NotFoundError:
        pass
    except AstroAPIError as error:
        logger.error("Could not delete token %s after a failed create: %s", token_id, error)


def _deployment_of(token: ApiToken) -> Optional[str]:
    for role in token.roles:
        if role.entity_type == "DEPLOYMENT":
            return role.entity_id
    return None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
