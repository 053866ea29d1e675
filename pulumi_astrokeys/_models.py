"""Pydantic shapes of the Astro API v1 objects this package reads and writes.

Field names are snake_case in Python and camelCase on the wire, as the official
OpenAPI document spells them. Unknown fields are ignored, so a newer API that adds
fields does not break an older release of this package.
"""

from __future__ import annotations

import re
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.alias_generators import to_camel

from ._clock import parse_time
from ._errors import FieldError

__all__ = [
    "ASTRO_ID_PATTERN",
    "ApiErrorBody",
    "ApiToken",
    "ApiTokenRole",
    "ApiTokensPage",
    "BasicSubjectProfile",
    "DagRole",
    "Deployment",
    "SubjectRoles",
]

DAG_ENTITY_TYPES = frozenset({"DAG", "DAG_TAG"})
"""The ``entityType`` of a role on one DAG (by its ID) or on the DAGs with one tag."""

ASTRO_ID_PATTERN = re.compile(r"^c[a-z0-9]{24}$")
"""Astro IDs are CUIDs: a ``c`` and 24 lowercase letters or digits, e.g. ``clm8q7f6q000008lcgyougpsk``."""


class _ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


class ApiTokenRole(_ApiModel):
    """One role an API token holds on one entity.

    For ``DAG`` and ``DAG_TAG`` roles the entity is the DAG ID or the tag, and
    ``deployment_id`` names the Deployment that holds the DAGs.
    """

    entity_type: str
    entity_id: str
    role: str
    deployment_id: Optional[str] = None


class DagRole(_ApiModel):
    """A DAG role as ``SubjectRoles`` lists it: ``dag_id`` or ``dag_tag``, in one Deployment."""

    deployment_id: str
    role: str
    dag_id: Optional[str] = None
    dag_tag: Optional[str] = None


class SubjectRoles(_ApiModel):
    """The answer to ``POST /tokens/{tokenId}/roles``: every role the token now holds."""

    dag_roles: list[DagRole] = Field(default_factory=list)
    deployment_roles: list[dict[str, str]] = Field(default_factory=list)
    workspace_roles: list[dict[str, str]] = Field(default_factory=list)
    organization_role: Optional[str] = None


class BasicSubjectProfile(_ApiModel):
    """Who made or changed something: a user, or an API token (``subjectType: SERVICEKEY``)."""

    id: str
    subject_type: Optional[str] = None
    api_token_name: Optional[str] = None
    username: Optional[str] = None
    full_name: Optional[str] = None


class ApiToken(_ApiModel):
    """An Astro API token. ``token`` (the secret) is present only in the answer to a create or rotate."""

    id: str
    name: str
    description: str = ""
    scope: str
    kind: str = "STANDARD"
    short_token: str
    start_at: str
    created_at: str
    updated_at: str
    end_at: Optional[str] = None
    expiry_period_in_days: Optional[int] = None
    last_used_at: Optional[str] = None
    last_rotated_at: Optional[str] = None
    created_by: Optional[BasicSubjectProfile] = None
    roles: list[ApiTokenRole] = Field(default_factory=list)
    token: Optional[SecretStr] = None

    @field_validator("created_at", "end_at", "last_rotated_at")
    @classmethod
    def _readable_time(cls, value: Optional[str]) -> Optional[str]:
        # The timestamps the package computes with: checked here, so no later step meets an unreadable one.
        if value is not None and parse_time(value) is None:
            raise ValueError("is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)")
        return value

    @field_validator("created_by", mode="before")
    @classmethod
    def _profile_or_none(cls, value: object) -> object:
        # Audit metadata only: a profile without its ID must not make the token unreadable.
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return value
        return None

    def role_on(self, entity_id: str) -> Optional[str]:
        """The role this token holds on the given entity (a Deployment, Workspace or organization), if any."""
        for role in self.roles:
            if role.entity_id == entity_id and role.entity_type not in DAG_ENTITY_TYPES:
                return role.role
        return None

    def dag_roles_on(self, deployment_id: str) -> list[ApiTokenRole]:
        """The token's roles on DAGs (by ID or by tag) of the given Deployment."""
        return [
            role
            for role in self.roles
            if role.entity_type in DAG_ENTITY_TYPES and role.deployment_id in (None, deployment_id)
        ]

    def is_scoped_to_deployment(self, deployment_id: str) -> bool:
        """Whether this is a Deployment token of the given Deployment."""
        return self.scope == "DEPLOYMENT" and any(
            role.entity_type == "DEPLOYMENT" and role.entity_id == deployment_id for role in self.roles
        )


class ApiTokensPage(_ApiModel):
    """One page of a token listing."""

    tokens: list[ApiToken]
    limit: int
    offset: int
    total_count: int


class Deployment(_ApiModel):
    """The parts of an Astro Deployment this package uses."""

    id: str
    name: str
    organization_id: Optional[str] = None
    workspace_id: Optional[str] = None
    status: Optional[str] = None


class ApiErrorBody(_ApiModel):
    """The body of every error answer: ``{statusCode, message, requestId, fieldErrors?}``."""

    status_code: int
    message: str = ""
    request_id: Optional[str] = None
    field_errors: list[FieldError] = Field(default_factory=list)
