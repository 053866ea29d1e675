"""Errors as the Astro API reports them: ``{statusCode, message, requestId}``.

Handlers raise :class:`ApiError`; the app turns it into the JSON body of the
spec's ``Error`` schema. A 400 always carries ``fieldErrors`` (``FieldValidationError``
entries), so a client can name the offending field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["ApiError", "FieldError", "error_body", "json_bytes"]

_DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class FieldError:
    """One failed validation constraint (the spec's ``FieldValidationError``)."""

    field: str
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(eq=False)
class ApiError(Exception):
    """An error answer: status, message, field errors and extra headers."""

    status: int
    message: str = ""
    field_errors: list[FieldError] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message:
            self.message = default_message(self.status)
        super().__init__(self.status, self.message)

    @classmethod
    def bad_request(cls, message: str, *errors: FieldError) -> ApiError:
        """A 400 with its field errors (a generic one for ``body`` if none given)."""
        return cls(400, message, list(errors) or [FieldError("body", "invalid", message)])


def default_message(status: int) -> str:
    """The reason phrase used when a handler gives no message."""
    return _DEFAULT_MESSAGES.get(status, "Error")


def error_body(
    status: int,
    message: str,
    request_id: str,
    field_errors: list[FieldError] | None = None,
) -> dict[str, Any]:
    """The JSON body of an error answer."""
    body: dict[str, Any] = {"statusCode": status, "message": message, "requestId": request_id}
    if status == 400:
        errors = field_errors or [FieldError("body", "invalid", message)]
        body["fieldErrors"] = [error.to_json() for error in errors]
    elif field_errors:
        body["fieldErrors"] = [error.to_json() for error in field_errors]
    return body


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as the answer bodies are sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
