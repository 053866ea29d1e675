"""The inputs of a Deployment API key: one pydantic shape, checked field by field.

The provider's ``check`` runs at preview, when some inputs are not known yet (a
Deployment still to be created, say). Known values are validated; unknown ones pass
untouched and are validated when the engine calls ``check`` again with them resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Optional

from pulumi.output import Unknown
from pulumi.runtime import rpc
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

from ._models import ASTRO_ID_PATTERN

__all__ = [
    "DEFAULT_ROLE",
    "INPUT_NAMES",
    "InputProblem",
    "KeyInputs",
    "changed_inputs",
    "is_unknown",
    "normalise",
    "secret_is_gone",
    "validate_inputs",
]

DEFAULT_ROLE = "DEPLOYMENT_ADMIN"
# Built-in roles of the other scopes: the API refuses them for a Deployment token.
NOT_DEPLOYMENT_ROLES = frozenset(
    {
        "ORGANIZATION_OWNER",
        "ORGANIZATION_BILLING_ADMIN",
        "ORGANIZATION_OBSERVE_ADMIN",
        "ORGANIZATION_OBSERVE_MEMBER",
        "ORGANIZATION_MEMBER",
        "WORKSPACE_OWNER",
        "WORKSPACE_OPERATOR",
        "WORKSPACE_AUTHOR",
        "WORKSPACE_MEMBER",
        "WORKSPACE_ACCESSOR",
    }
)


class KeyInputs(BaseModel):
    """The validated inputs of one Deployment API key."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    deployment_id: Annotated[StrictStr, Field(pattern=ASTRO_ID_PATTERN.pattern)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    description: Annotated[StrictStr, Field(max_length=500)] = ""
    role: Annotated[StrictStr, Field(min_length=1, max_length=256)] = DEFAULT_ROLE
    expiry_period_in_days: Optional[Annotated[StrictInt, Field(ge=1, le=3650)]] = None
    keepers: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("role")
    @classmethod
    def _deployment_role(cls, value: str) -> str:
        # The API stores a role without surrounding spaces: keeping them would differ from
        # what it echoes and replace the key at every up.
        role = value.strip()
        if not role:
            raise ValueError("must not be blank")
        if role in NOT_DEPLOYMENT_ROLES:
            scope = "an Organization" if role.startswith("ORGANIZATION_") else "a Workspace"
            raise ValueError(f"{role} is {scope} role, which a Deployment API key cannot have")
        return role

    def as_props(self) -> dict[str, Any]:
        """The inputs as the provider stores them (unset optional values left out)."""
        return self.model_dump(exclude_none=True)


INPUT_NAMES: tuple[str, ...] = tuple(KeyInputs.model_fields)
DEFAULTS: Mapping[str, Any] = {
    name: (field.get_default(call_default_factory=True) if not field.is_required() else None)
    for name, field in KeyInputs.model_fields.items()
}

_FIXES: Mapping[str, str] = {
    "deployment_id": "pass the ID of an existing Astro Deployment (25 characters, like clm8q7f6q000008lcgyougpsk), "
    "or `deployment.id` of a Deployment resource",
    "name": "use 1 to 256 characters",
    "description": "use at most 500 characters",
    "role": "use DEPLOYMENT_ADMIN or the name of a custom Deployment role",
    "expiry_period_in_days": "use a whole number of days from 1 to 3650, or leave it unset for a key that never expires",
    "keepers": "use a map of string keys to string values",
}


@dataclass(frozen=True)
class InputProblem:
    """One invalid input: the property and a reason that says how to fix it."""

    property: str
    reason: str


def is_unknown(value: Any) -> bool:
    """Whether a value (or anything inside it) is not known yet at preview."""
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    """Unwrap engine secret markers and turn whole-number floats (protobuf numbers) into ints."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def normalise(props: Mapping[str, Any]) -> dict[str, Any]:
    """The input properties present in ``props``, unwrapped, with ``None`` left out."""
    return {name: _plain(props[name]) for name in INPUT_NAMES if props.get(name) is not None}


def validate_inputs(props: Mapping[str, Any]) -> tuple[dict[str, Any], list[InputProblem]]:
    """Validate the known inputs; return the inputs to keep (defaults filled in) and the problems.

    Unknown values are kept as they are and never reported.
    """
    values = normalise(props)
    unknown = {name: value for name, value in values.items() if is_unknown(value)}
    known = {name: value for name, value in values.items() if name not in unknown}
    problems: list[InputProblem] = []
    try:
        checked = KeyInputs.model_validate(known).as_props()
    except ValidationError as error:
        checked = {}
        for item in error.errors(include_url=False):
            name = str(item["loc"][0]) if item["loc"] else "inputs"
            if name in unknown:
                continue
            message = item["msg"]
            if item["type"] == "value_error":  # this model's own rule: its words, as written
                message = message.removeprefix("Value error, ")
            else:
                message = message.rstrip(".").lower()
            problems.append(InputProblem(name, _reason(name, message, known.get(name))))
        if not problems:
            checked = {name: value for name, value in known.items()}
    if problems:
        return {**known, **unknown}, _first_per_property(problems)
    for name, default in DEFAULTS.items():
        if name not in checked and name not in unknown and default is not None:
            checked[name] = default
    return {**checked, **unknown}, []


def _reason(name: str, message: str, value: Any) -> str:
    if value is None:
        return f"{name} is required: {_FIXES[name]}."
    return f"{name} is invalid ({message}): {_FIXES[name]}."


def _first_per_property(problems: list[InputProblem]) -> list[InputProblem]:
    seen: dict[str, InputProblem] = {}
    for problem in problems:
        seen.setdefault(problem.property, problem)
    return list(seen.values())


def secret_is_gone(olds: Mapping[str, Any]) -> bool:
    """Whether a created key's state has lost its secret: a refresh found the key rotated outside Pulumi.

    Every release stores a secret with each key it creates, so an older state never reads as gone.
    """
    return bool(olds.get("key_id")) and not isinstance(rpc.unwrap_rpc_secret(olds.get("secret")), str)


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The inputs whose new value differs from the old state or is not known yet.

    ``olds`` are the stored outputs, which echo every input. An input missing from the
    old state (written by an older release) counts as its default, so adding an input
    with a default in a new release replaces nothing.
    """
    old, new = normalise(olds), normalise(news)
    changed = []
    for name in INPUT_NAMES:
        new_value = new.get(name, DEFAULTS[name])
        if is_unknown(new_value) or new_value != old.get(name, DEFAULTS[name]):
            changed.append(name)
    return changed
