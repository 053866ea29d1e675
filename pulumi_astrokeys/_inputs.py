"""The inputs of a Deployment API key: one pydantic shape, checked field by field.

The provider's ``check`` runs at preview, when some inputs are not known yet (a
Deployment still to be created, say). Known values are validated; unknown ones pass
untouched and are validated when the engine calls ``check`` again with them resolved.

The diff rule lives here too: every input but :data:`IN_PLACE_INPUTS` describes the key
itself, so a change replaces it; ``rotate_before_days`` only says when to replace it, so
a change of it is recorded in place. And a key that has expired, or whose
``rotate_before_days`` margin has begun, is replaced whatever its inputs
(:func:`rotation_due`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Optional

from pulumi.output import Unknown
from pulumi.runtime import rpc
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._clock import parse_time
from ._models import ASTRO_ID_PATTERN
from ._ownership import CREATE_MARKER_PREFIX, is_create_marker
from ._schema import (
    ADOPTED_OUTPUT,
    DAG_ROLE_BOUNDS,
    DEFAULT_KIND,
    DEFAULT_ROLE,
    IN_PLACE_INPUTS,
    INPUT_BOUNDS,
    INPUT_DEFAULTS,
    INPUT_NAMES,
    KINDS,
)

if TYPE_CHECKING:
    from ._client import AstroClient

__all__ = [
    "DEFAULT_KIND",
    "DEFAULT_ROLE",
    "INPUT_NAMES",
    "IN_PLACE_INPUTS",
    "DagRoleInput",
    "InputProblem",
    "KeyInputs",
    "changed_in_place",
    "changed_inputs",
    "is_unknown",
    "key_diff",
    "input_values",
    "rotation_due",
    "secret_is_gone",
    "validate_inputs",
]

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


class DagRoleInput(BaseModel):
    """One DAG-level role of a key: on one DAG (``dag_id``) or on every DAG with a tag (``dag_tag``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dag_id: Optional[Annotated[StrictStr, Field(**DAG_ROLE_BOUNDS["dag_id"].constraints())]] = None
    dag_tag: Optional[Annotated[StrictStr, Field(**DAG_ROLE_BOUNDS["dag_tag"].constraints())]] = None
    role: Annotated[StrictStr, Field(**DAG_ROLE_BOUNDS["role"].constraints())]

    @field_validator("role")
    @classmethod
    def _dag_role(cls, value: str) -> str:
        role = value.strip()
        if not role:
            raise ValueError("role must not be blank")
        if role == DEFAULT_ROLE or role in NOT_DEPLOYMENT_ROLES:
            raise ValueError(f"{role} is not a DAG role")
        return role

    @model_validator(mode="after")
    def _one_target(self) -> DagRoleInput:
        if (self.dag_id is None) == (self.dag_tag is None):
            raise ValueError("give exactly one of dag_id and dag_tag")
        return self

    @property
    def target(self) -> tuple[str, str]:
        """``("DAG", dag_id)`` or ``("DAG_TAG", dag_tag)``: the entity the role is on."""
        return ("DAG", self.dag_id) if self.dag_id is not None else ("DAG_TAG", str(self.dag_tag))


class KeyInputs(BaseModel):
    """The validated inputs of one Deployment API key."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    deployment_id: Annotated[StrictStr, Field(pattern=ASTRO_ID_PATTERN.pattern)]
    name: Annotated[StrictStr, Field(**INPUT_BOUNDS["name"].constraints())]
    description: Annotated[StrictStr, Field(**INPUT_BOUNDS["description"].constraints())] = INPUT_DEFAULTS[
        "description"
    ]
    role: Annotated[StrictStr, Field(**INPUT_BOUNDS["role"].constraints())] = DEFAULT_ROLE
    expiry_period_in_days: Optional[Annotated[StrictInt, Field(**INPUT_BOUNDS["expiry_period_in_days"].constraints())]] = (
        None
    )
    keepers: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    kind: StrictStr = DEFAULT_KIND
    dag_roles: list[DagRoleInput] = Field(default_factory=list)
    rotate_before_days: Optional[Annotated[StrictInt, Field(**INPUT_BOUNDS["rotate_before_days"].constraints())]] = None

    @field_validator("dag_roles")
    @classmethod
    def _one_role_per_dag(cls, value: list[DagRoleInput]) -> list[DagRoleInput]:
        # A set in the API: sorted here, so the order they are written in never replaces a key.
        seen: set[tuple[str, str]] = set()
        for role in value:
            if role.target in seen:
                entity, name = role.target
                raise ValueError(f"{'DAG' if entity == 'DAG' else 'DAG tag'} {name!r} is given more than one role")
            seen.add(role.target)
        return sorted(value, key=lambda role: (*role.target, role.role))

    @field_validator("rotate_before_days")
    @classmethod
    def _within_expiry(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
        context = info.context or {}
        if value is None or "expiry_period_in_days" in context.get("unknown", ()):
            return value
        expiry = info.data.get("expiry_period_in_days")
        if expiry is None:
            if "expiry_period_in_days" in context.get("given", ()):
                return value  # expiry_period_in_days is invalid itself, and says so
            raise ValueError("it needs expiry_period_in_days: a key that never expires is never due")
        if value >= expiry:
            raise ValueError(f"{value} days is not less than expiry_period_in_days ({expiry})")
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"{value!r} is not a token kind")
        return value

    @field_validator("description")
    @classmethod
    def _not_a_marker(cls, value: str) -> str:
        if is_create_marker(value):
            raise ValueError(f"it begins {CREATE_MARKER_PREFIX.strip()!r}, which marks a create that never finished")
        return value

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


if tuple(KeyInputs.model_fields) != INPUT_NAMES:  # the schema is written once, in _schema
    raise TypeError(f"KeyInputs declares {tuple(KeyInputs.model_fields)}, the schema {INPUT_NAMES}")

_FIXES: Mapping[str, str] = {
    "deployment_id": "pass the ID of an existing Astro Deployment (25 characters, like clm8q7f6q000008lcgyougpsk), "
    "or `deployment.id` of a Deployment resource",
    "name": f"use {INPUT_BOUNDS['name'].describe()}",
    "description": f"use {INPUT_BOUNDS['description'].describe()}, and not the words that mark an unfinished create",
    "role": f"use DEPLOYMENT_ADMIN or the name of a custom Deployment role ({INPUT_BOUNDS['role'].describe()})",
    "expiry_period_in_days": f"use a whole number of days from {INPUT_BOUNDS['expiry_period_in_days'].describe()}, "
    "or leave it unset for a key that never expires",
    "keepers": "use a map of string keys to string values",
    "kind": "use STANDARD (the default) or DIRECT_ACCESS",
    "dag_roles": "give a list of roles, each with a role (DAG_VIEWER, DAG_AUTHOR or a custom DAG role) and exactly "
    "one of dag_id and dag_tag, one role per DAG or tag",
    "rotate_before_days": "use a whole number of days from 1 to one less than expiry_period_in_days, and set "
    "expiry_period_in_days too",
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


def _unwrapped(value: Any) -> Any:
    """Unwrap engine secret markers and turn whole-number floats (protobuf numbers) into ints."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _unwrapped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unwrapped(v) for v in value]
    return value


def input_values(props: Mapping[str, Any]) -> dict[str, Any]:
    """The input properties present in ``props``, unwrapped, with ``None`` left out."""
    return {name: _unwrapped(props[name]) for name in INPUT_NAMES if props.get(name) is not None}


def validate_inputs(props: Mapping[str, Any]) -> tuple[dict[str, Any], list[InputProblem]]:
    """Validate the known inputs; return the inputs to keep (defaults filled in) and the problems.

    Unknown values are kept as they are and never reported.
    """
    values = input_values(props)
    unknown = {name: value for name, value in values.items() if is_unknown(value)}
    known = {name: value for name, value in values.items() if name not in unknown}
    problems: list[InputProblem] = []
    try:
        checked = KeyInputs.model_validate(known, context={"unknown": set(unknown), "given": set(known)}).as_props()
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
                message = message.rstrip(".")
                message = message[:1].lower() + message[1:]
            where = _where(item["loc"][1:])
            if where:
                message = f"{where}: {message}"
            problems.append(InputProblem(name, _reason(name, message, known.get(name))))
        if not problems:
            checked = {name: value for name, value in known.items()}
    if problems:
        return {**known, **unknown}, _first_per_property(problems)
    for name, default in INPUT_DEFAULTS.items():
        if name not in checked and name not in unknown and default is not None:
            checked[name] = copy.copy(default)  # the schema's {} and [] are shared: hand out copies
    return {**checked, **unknown}, []


def _where(loc: tuple[Any, ...]) -> str:
    """A nested location as a program writes it: ``[0].dag_id`` (pydantic's union labels left out)."""
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif isinstance(part, str) and not part.startswith(("function-", "constrained-")) and part not in ("str", "int"):
            parts.append(f".{part}" if parts else part)
    return "".join(parts)


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
    A key adopted by ``pulumi import`` never had one in the state (:data:`ADOPTED_OUTPUT`).
    """
    if olds.get(ADOPTED_OUTPUT) is True:
        return False
    return bool(olds.get("key_id")) and not isinstance(rpc.unwrap_rpc_secret(olds.get("secret")), str)


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any], names: tuple[str, ...]) -> list[str]:
    old, new = input_values(olds), input_values(news)
    changed = []
    for name in names:
        new_value = new.get(name, INPUT_DEFAULTS.get(name))
        if is_unknown(new_value) or new_value != old.get(name, INPUT_DEFAULTS.get(name)):
            changed.append(name)
    return changed


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The inputs that replace the key: those whose new value differs from the old state or is not known yet.

    ``olds`` are the stored outputs, which echo every input. An input missing from the
    old state (written by an older release) counts as its default, so adding an input
    with a default in a new release replaces nothing. :data:`IN_PLACE_INPUTS` are left out.
    """
    return _changed(olds, news, tuple(name for name in INPUT_NAMES if name not in IN_PLACE_INPUTS))


def changed_in_place(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The :data:`IN_PLACE_INPUTS` that changed: recorded in the state by an update, no API call."""
    return _changed(olds, news, tuple(name for name in INPUT_NAMES if name in IN_PLACE_INPUTS))


def rotation_due(olds: Mapping[str, Any], news: Mapping[str, Any], now: datetime) -> bool:
    """Whether the stored key must be replaced because of its age, by the clock ``now``.

    True once the key's stored ``end_at`` has passed (an expired key no longer works),
    or once ``now`` is within the new ``rotate_before_days`` of it: a scheduled ``pulumi
    up`` then makes the new key while the old one still works. A key without ``end_at``
    never expires; an unknown ``rotate_before_days`` counts as unset.
    """
    end_at = parse_time(rpc.unwrap_rpc_secret(olds.get("end_at")))
    if end_at is None:
        return False
    margin = _unwrapped(news.get("rotate_before_days"))
    if isinstance(margin, int) and not isinstance(margin, bool) and margin > 0:
        return now >= end_at - timedelta(days=margin)
    return now >= end_at


def key_diff(
    olds: Mapping[str, Any], news: Mapping[str, Any], *, key_id: str, client: Callable[[], AstroClient]
) -> tuple[list[str], list[str]]:
    """What a ``pulumi up`` does to a stored key: the properties that replace it, and the inputs
    recorded in place (an update of the state only, no API call).

    Any changed or unknown input replaces the key (:func:`changed_inputs`). So does a key
    whose secret a refresh found dead (rotated outside Pulumi): ``secret`` is then the
    property that forces the replacement. Otherwise time alone may replace it, once its stored
    ``end_at`` has passed or is within ``rotate_before_days`` (``end_at`` forces it), by this
    machine's clock and confirmed by Astro's (:func:`~._expiry.time_replaces`, the one
    judgement that may ask ``client`` anything). A change of :data:`IN_PLACE_INPUTS` alone is
    recorded in place.
    """
    from ._expiry import time_replaces
    from ._messages import describe_key

    replaces = changed_inputs(olds, news)
    if secret_is_gone(olds):
        replaces.append("secret")
    key = describe_key(olds.get("name"), olds.get("deployment_id"), key_id)
    if not replaces and time_replaces(client, key_id, key, olds, news):
        replaces.append("end_at")
    return replaces, changed_in_place(olds, news)
