"""Exceptions raised by pulumi-astrokeys.

The hierarchy, so a caller knows what to catch::

    AstroKeysError
    ├── ConfigurationError          a setting is missing or unsafe (no request was sent)
    ├── AutonamingConflictError     the stack's pulumi:autonaming would replace keys delete-first
    ├── KeyOperationError           a provider step failed; one sentence for the user, from a Failure
    └── AstroAPIError               a request to the Astro API failed
        ├── NetworkError            no answer arrived (connection, timeout)
        │   └── AmbiguousCreateError    a create was sent but its fate is unknown
        ├── DecodingError           a success answer that is not the API's documented JSON
        └── APIStatusError          the API answered with an error status
            ├── InvalidRequestError     400, with the API's field errors
            ├── UnauthorizedError       401
            ├── ForbiddenError          403
            ├── NotFoundError           404
            ├── RateLimitedError        429, with the server's Retry-After
            └── ServerError             5xx

No message, repr or attribute of these exceptions holds an API token or a key's
secret: they carry the method, the path, the status, the API's own message and
its request ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Optional

__all__ = [
    "AmbiguousCreateError",
    "APIStatusError",
    "AstroAPIError",
    "AstroKeysError",
    "ConfigurationError",
    "DecodingError",
    "Failure",
    "FieldError",
    "ForbiddenError",
    "InvalidRequestError",
    "KeyOperationError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "UnauthorizedError",
    "describe_field_errors",
    "describe_reason",
]


class AstroKeysError(Exception):
    """Base class of every error this package raises."""


class ConfigurationError(AstroKeysError):
    """A required setting is missing, malformed or unsafe. Its message says which and how to set it."""


@dataclass(frozen=True)
class Failure:
    """Why a provider step failed, in parts; ``str()`` renders them once, as one sentence.

    ``Could not <action> <subject>: <why>; <fix>.`` When the step undid what it had done,
    ``undone`` says so: ``...: <why>, so <undone>; <fix>.`` When something it made could
    not be undone, ``left`` names it (on Deployment ``left_on``) and the fix follows its
    removal: ``...: <why>; on Deployment <left_on>, <left> was left in place for you to
    check and delete, then <fix>.`` Each part is kept whole, whatever punctuation it holds.
    """

    action: str
    """What the step tried, as a verb: ``create``, ``read``, ``delete``, ``look up``."""
    subject: str
    """What it acted on: ``Deployment API key 'ci' on Deployment clm...``."""
    why: str
    fix: str
    """What to do next, as an instruction: ``run `pulumi up` again``."""
    undone: Optional[str] = None
    left: Optional[str] = None
    left_on: Optional[str] = None

    def leaving(self, left: Optional[str], on: str) -> Failure:
        """This failure, with ``left`` (what could not be removed, in words; ``None``: nothing) on Deployment ``on``."""
        return self if left is None else replace(self, left=left, left_on=on)

    def __str__(self) -> str:
        head = f"Could not {self.action} {self.subject}: {self.why}"
        if self.left is not None:
            where = f"on Deployment {self.left_on}, " if self.left_on else ""
            return f"{head}; {where}{self.left} was left in place for you to check and delete, then {self.fix}."
        if self.undone is not None:
            return f"{head}, so {self.undone}; {self.fix}."
        return f"{head}; {self.fix}."


class KeyOperationError(AstroKeysError):
    """A provider step (create, read, delete, ...) failed.

    The message is one sentence for the person running Pulumi: what failed, on which
    key and Deployment, and what to do. ``failure`` holds its parts, when it was built
    from a :class:`Failure`.
    """

    def __init__(self, failure: Failure | str) -> None:
        super().__init__(str(failure))
        self.failure = failure if isinstance(failure, Failure) else None


class AstroAPIError(AstroKeysError):
    """A request to the Astro API did not succeed."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class NetworkError(AstroAPIError):
    """No answer arrived: the connection failed, was dropped, or timed out."""


class AmbiguousCreateError(NetworkError):
    """A create request was sent but no answer arrived, so the object may or may not exist."""


class DecodingError(AstroAPIError):
    """The API answered with a success status, but not with the JSON it documents (a proxy's
    page, a body cut short). The request may well have taken effect."""


@dataclass(frozen=True)
class FieldError:
    """One failed constraint on one request field, as the API reports it."""

    field: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def describe_field_errors(errors: Sequence[FieldError]) -> str:
    """The API's field errors as one clause: ``name: too long; role: unknown role``."""
    return "; ".join(str(error) for error in errors)


def describe_reason(api_message: str, field_errors: Sequence[FieldError] = ()) -> str:
    """The API's reason for refusing a request, said once: its message, then in brackets the
    field errors that message does not already say (the API often repeats one in the other)."""
    unsaid = [error for error in field_errors if error.message not in api_message]
    parts = [api_message] if api_message else []
    if unsaid:
        parts.append(f"({describe_field_errors(unsaid)})")
    return " ".join(parts)


class APIStatusError(AstroAPIError):
    """The API answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status_code: int,
        api_message: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status_code = status_code
        self.api_message = api_message
        self.request_id = request_id


class InvalidRequestError(APIStatusError):
    """400: the API rejected the request body or parameters."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status_code: int = 400,
        api_message: str = "",
        request_id: str | None = None,
        field_errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(
            message, method=method, path=path, status_code=status_code, api_message=api_message, request_id=request_id
        )
        self.field_errors = tuple(field_errors)


class UnauthorizedError(APIStatusError):
    """401: the API token is missing, unknown, expired or deleted."""


class ForbiddenError(APIStatusError):
    """403: the API token may not act on this resource."""


class NotFoundError(APIStatusError):
    """404: the resource does not exist (or is not visible to this token)."""


class RateLimitedError(APIStatusError):
    """429: too many requests for this API token."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status_code: int = 429,
        api_message: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, method=method, path=path, status_code=status_code, api_message=api_message, request_id=request_id
        )
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the API failed on its side."""
