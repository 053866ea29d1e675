"""The parts of the error messages for the person running Pulumi.

Each :class:`~._errors.Failure` says what failed, on which key and Deployment, why
(with the API's request ID, for support), and what to do next. None contains a secret.
"""

from __future__ import annotations

from ._errors import (
    APIStatusError,
    AstroAPIError,
    Failure,
    ForbiddenError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    describe_reason,
)

__all__ = ["api_failure", "describe_key"]

# The API's name of a field it refuses, where the resource's input has another name.
_INPUT_OF_FIELD = {"tokenExpiryPeriodInDays": "expiry_period_in_days", "entityId": "deployment_id"}
_ROLE_FIX = (
    "set role to DEPLOYMENT_ADMIN or the exact name of one of your organization's custom Deployment roles, "
    "and run `pulumi up` again"
)


def describe_key(name: object, deployment_id: object, key_id: object = None) -> str:
    """``Deployment API key 'ci' (clm...) on Deployment clm...``, with whatever is known."""
    label = f"Deployment API key {name!r}" if name else "Deployment API key"
    if key_id:
        label += f" ({key_id})"
    if deployment_id:
        label += f" on Deployment {deployment_id}"
    return label


def api_failure(action: str, key: str, error: AstroAPIError) -> Failure:
    """A step's failure on an API error: ``Could not <action> <key>: <why>; <what to do>.``"""
    return Failure(action, key, _why(error), _next_step(error))


def _why(error: AstroAPIError) -> str:
    if isinstance(error, APIStatusError):
        field_errors = error.field_errors if isinstance(error, InvalidRequestError) else ()
        reason = describe_reason(error.api_message, field_errors)
        detail = f"{error.status_code} {reason}" if reason else f"{error.status_code}"
        if error.request_id:
            detail += f", requestId {error.request_id}"
        answered = f"the Astro API answered {error.method} {error.path} with {detail}"
        if isinstance(error, RateLimitedError):
            return f"{answered}, and kept refusing after retries"
        if isinstance(error, ServerError):
            return f"{answered}, a failure on its side"
        return answered
    return f"{error}"


def _next_step(error: AstroAPIError) -> str:
    if isinstance(error, UnauthorizedError):
        return (
            "set a valid, unexpired API token with `pulumi config set --secret astrokeys:apiToken <token>` "
            "or ASTRO_API_TOKEN (`pulumi refresh` and `pulumi destroy` use the token recorded by the last "
            "`pulumi up`: after changing it, run `pulumi up` first or add --run-program)"
        )
    if isinstance(error, ForbiddenError):
        return (
            "use an Organization or Workspace API token whose role may manage this Deployment's API tokens, "
            "and check astrokeys:organizationId"
        )
    if isinstance(error, InvalidRequestError):
        fields = sorted({_INPUT_OF_FIELD.get(e.field, e.field) for e in error.field_errors})
        if fields == ["role"]:
            return _ROLE_FIX
        if fields:
            return f"correct {', '.join(fields)} and run `pulumi up` again"
        return "correct the input the API names and run `pulumi up` again"
    if isinstance(error, NotFoundError):
        return "check the IDs and astrokeys:organizationId, then run `pulumi refresh`"
    if isinstance(error, RateLimitedError):
        return "wait a minute and run again, or lower `pulumi up --parallel`"
    if isinstance(error, ServerError):
        return "run the same command again in a moment"
    if isinstance(error, NetworkError):
        return "check the network and astrokeys:host (ASTRO_API_HOST), then run the same command again"
    return "run the same command again; if it keeps failing, quote the requestId to Astronomer support"
