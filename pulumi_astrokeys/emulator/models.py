"""Request bodies, each described once with its limits, and their validation.

The models are strict (a JSON string is not an integer) and ignore unknown
fields, as the real service's JSON binding does. A failed validation becomes a
400 whose ``fieldErrors`` name each offending field by its JSON name.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ApiError, FieldError

__all__ = [
    "CreateApiTokenRequest",
    "ApiTokenRoleRequest",
    "CreateDeploymentRequest",
    "UpdateApiTokenRequest",
    "UpdateApiTokenRolesRequest",
    "parse_body",
    "validate",
]

ORGANIZATION_ROLES = frozenset(
    {
        "ORGANIZATION_OWNER",
        "ORGANIZATION_BILLING_ADMIN",
        "ORGANIZATION_OBSERVE_ADMIN",
        "ORGANIZATION_OBSERVE_MEMBER",
        "ORGANIZATION_MEMBER",
    }
)
WORKSPACE_ROLES = frozenset(
    {"WORKSPACE_OWNER", "WORKSPACE_OPERATOR", "WORKSPACE_AUTHOR", "WORKSPACE_MEMBER", "WORKSPACE_ACCESSOR"}
)
DEPLOYMENT_ADMIN = "DEPLOYMENT_ADMIN"
BUILTIN_ROLES = ORGANIZATION_ROLES | WORKSPACE_ROLES | {DEPLOYMENT_ADMIN}
"""Astro's own roles: no custom role may take one of these names."""

Scope = Literal["DEPLOYMENT", "WORKSPACE", "ORGANIZATION"]
EntityType = Literal["DEPLOYMENT", "WORKSPACE", "ORGANIZATION", "DAG", "DAG_TAG"]
Kind = Literal["STANDARD", "DIRECT_ACCESS"]


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class CreateApiTokenRequest(_Request):
    """``CreateApiTokenRequest``; name and description limits as for update."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    description: Annotated[str, Field(max_length=500)] | None = None
    scope: Scope
    entityId: str | None = None
    role: Annotated[str, Field(min_length=1, max_length=256)]
    kind: Kind | None = None
    tokenExpiryPeriodInDays: Annotated[int, Field(ge=1, le=3650)] | None = None

    def check_role(self, deployment_roles: Collection[str] = ()) -> None:
        """The checks that depend on the scope: entity id present, role fits the scope.

        A Deployment token's role is :data:`DEPLOYMENT_ADMIN` or one of ``deployment_roles``,
        the organization's custom Deployment roles.
        """
        if self.scope in ("DEPLOYMENT", "WORKSPACE") and not self.entityId:
            raise ApiError.bad_request(
                f"entityId is required for {self.scope} scope",
                FieldError("entityId", "required", f"entityId is required for {self.scope} scope"),
            )
        role = self.role.strip()
        if not role:
            raise _role_error("role must not be blank")
        if self.scope == "ORGANIZATION" and role not in ORGANIZATION_ROLES:
            raise _role_error(f"role must be one of {', '.join(sorted(ORGANIZATION_ROLES))}")
        builtin_elsewhere = ORGANIZATION_ROLES | (WORKSPACE_ROLES if self.scope == "DEPLOYMENT" else set())
        if self.scope != "ORGANIZATION" and role in builtin_elsewhere:
            raise _role_error(f"role {role} is not a {self.scope.lower()} role")
        if self.scope == "WORKSPACE" and role == DEPLOYMENT_ADMIN:
            raise _role_error(f"role {role} is not a workspace role")
        if self.scope == "DEPLOYMENT" and role != DEPLOYMENT_ADMIN and role not in deployment_roles:
            custom = ", ".join(sorted(deployment_roles)) or "none"
            raise _role_error(
                f"role {role} is neither {DEPLOYMENT_ADMIN} nor a custom Deployment role of this organization "
                f"(its custom Deployment roles: {custom})"
            )


def _role_error(message: str) -> ApiError:
    return ApiError.bad_request(message, FieldError("role", "oneof", message))


class UpdateApiTokenRequest(_Request):
    """``UpdateApiTokenRequest``: a new name and, optionally, a new description."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    description: Annotated[str, Field(max_length=500)] | None = None


class ApiTokenRoleRequest(_Request):
    """``ApiTokenRole``: a role on one entity; ``deploymentId`` required for ``DAG`` and ``DAG_TAG``."""

    entityType: EntityType
    entityId: Annotated[str, Field(min_length=1)]
    role: Annotated[str, Field(min_length=1, max_length=256)]
    deploymentId: str | None = None


class UpdateApiTokenRolesRequest(_Request):
    """``UpdateApiTokenRolesRequest``: the token's whole new role set, DAG roles included (at least one)."""

    roles: Annotated[list[ApiTokenRoleRequest], Field(min_length=1)]


class DeploymentEnvironmentVariableRequest(_Request):
    key: Annotated[str, Field(min_length=1)]
    isSecret: bool
    value: str | None = None


class CreateDeploymentRequest(_Request):
    """The fields shared by the variants of ``CreateDeploymentRequest`` (by ``type``)."""

    name: Annotated[str, Field(min_length=1, max_length=500)]
    workspaceId: Annotated[str, Field(min_length=1)]
    type: Literal["DEDICATED", "HYBRID", "STANDARD"]
    description: Annotated[str, Field(max_length=1000)] | None = None
    astroRuntimeVersion: str | None = None
    executor: Literal["CELERY", "KUBERNETES", "ASTRO"] | None = None
    clusterId: str | None = None
    cloudProvider: Literal["AWS", "AZURE", "GCP"] | None = None
    region: str | None = None
    contactEmails: list[str] | None = None
    isCicdEnforced: bool | None = None
    isDagDeployEnabled: bool | None = None
    isHighAvailability: bool | None = None
    isDevelopmentMode: bool | None = None
    schedulerSize: Literal["SMALL", "MEDIUM", "LARGE", "EXTRA_LARGE"] | None = None
    defaultTaskPodCpu: str | None = None
    defaultTaskPodMemory: str | None = None
    resourceQuotaCpu: str | None = None
    resourceQuotaMemory: str | None = None
    workloadIdentity: str | None = None
    environmentVariables: list[DeploymentEnvironmentVariableRequest] | None = None

    def check_variant(self) -> None:
        """What the ``HYBRID`` variant forbids: the ASTRO executor."""
        if self.type == "HYBRID" and self.executor == "ASTRO":
            message = "executor must be CELERY or KUBERNETES for a HYBRID Deployment"
            raise ApiError.bad_request(message, FieldError("executor", "oneof", message))


_CODES = {
    "missing": "required",
    "string_too_short": "min",
    "string_too_long": "max",
    "too_short": "min",
    "too_long": "max",
    "greater_than_equal": "min",
    "less_than_equal": "max",
    "literal_error": "oneof",
    "enum": "oneof",
}


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        # Drop pydantic's union-branch labels ("str", "int", ...) from the location.
        loc = [str(part) for part in error["loc"] if not _is_type_label(part)]
        kind = error["type"]
        code = _CODES.get(kind, "type" if kind.endswith("_type") or "parsing" in kind else kind)
        errors.append(FieldError(".".join(loc) or "body", code, error["msg"]))
    return errors


def _is_type_label(part: Any) -> bool:
    return isinstance(part, str) and (
        part in ("str", "int", "bool", "float", "none") or part.startswith(("constrained-", "function-"))
    )


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any) -> M:
    """Validate decoded JSON against a request model, or raise a 400 with field errors."""
    if not isinstance(data, dict):
        raise ApiError.bad_request(
            "request body must be a JSON object",
            FieldError("body", "type", "request body must be a JSON object"),
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = _field_errors(exc)
        raise ApiError(400, "invalid request body: " + "; ".join(
            f"{e.field}: {e.message}" for e in errors
        ), errors) from None


def parse_body(raw: bytes) -> Any:
    """Decode a JSON request body, or raise a 400 naming the body."""
    if not raw.strip():
        raise ApiError.bad_request(
            "request body is required", FieldError("body", "required", "request body is required")
        )
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = f"malformed JSON: {exc}"
        raise ApiError.bad_request(message, FieldError("body", "json", message)) from None
    except RecursionError:
        # The decoder recurses once per level: a body nested past the interpreter's limit is bad input.
        message = "request body is nested too deeply"
        raise ApiError.bad_request(message, FieldError("body", "json", message)) from None
