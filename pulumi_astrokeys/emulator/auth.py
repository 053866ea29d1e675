"""Who is calling, and what they may do.

A caller is the API token named by ``Authorization: Bearer <token>``. Missing,
malformed, unknown (including deleted or rotated away) and expired tokens are all
401. A token only reaches its own organization (403 otherwise), and within it:

- ORGANIZATION_OWNER may do everything; other organization roles may read Deployments.
- WORKSPACE_OWNER / WORKSPACE_OPERATOR manage the Deployments of their workspace and
  the Deployment tokens on them (only WORKSPACE_OWNER creates workspace tokens);
  other workspace roles may read the workspace's Deployments.
- A Deployment token may read its own Deployment, list the tokens of that Deployment
  and read the Deployment tokens on it; nothing else (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .credentials import hash_token
from .errors import ApiError
from .store import DeploymentRecord, Store, Token

__all__ = ["Principal", "authenticate", "identify"]

ORGANIZATION_OWNER = "ORGANIZATION_OWNER"
WORKSPACE_OWNER = "WORKSPACE_OWNER"
WORKSPACE_MANAGERS = frozenset({"WORKSPACE_OWNER", "WORKSPACE_OPERATOR"})


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(store: Store, authorization: str | None, now: str) -> Principal:
    """Resolve the ``Authorization`` header to a caller, or raise a 401."""
    if not authorization:
        raise _unauthorized("missing Authorization header")
    value = _bearer(authorization)
    if value is None:
        raise _unauthorized("malformed Authorization header: expected 'Bearer <token>'")
    token = store.find_token_by_hash(hash_token(value))
    if token is None:
        raise _unauthorized("invalid API token")
    if token.end_at is not None and token.end_at <= now:
        raise _unauthorized("API token has expired")
    return Principal(store.touch_token(token, now))


def identify(store: Store, authorization: str | None) -> str | None:
    """The ID of the API token a request presents, if it names one; nothing is checked or
    recorded. The request log names the caller of a request a fault answered before the
    API saw it."""
    value = _bearer(authorization) if authorization else None
    token = store.find_token_by_hash(hash_token(value)) if value else None
    return token.id if token else None


def _bearer(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the API token it presented."""

    token: Token

    @property
    def token_id(self) -> str:
        return self.token.id

    @property
    def organization_id(self) -> str:
        return self.token.organization_id

    def profile(self) -> dict[str, Any]:
        """The caller as a ``BasicSubjectProfile`` (for ``createdBy``/``updatedBy``)."""
        return {"id": self.token.id, "subjectType": "SERVICEKEY", "apiTokenName": self.token.name}

    def _is(self, scope: str, roles: frozenset[str] | None = None) -> bool:
        return self.token.scope == scope and (roles is None or self.token.role in roles)

    @property
    def is_owner(self) -> bool:
        return self._is("ORGANIZATION", frozenset({ORGANIZATION_OWNER}))

    def _manages_workspace(self, workspace_id: str | None) -> bool:
        return self._is("WORKSPACE", WORKSPACE_MANAGERS) and self.token.entity_id == workspace_id

    # Each check raises 403 when the caller may not; a missing thing is the caller's 404.

    def require_organization(self, organization_id: str) -> None:
        if organization_id != self.organization_id:
            raise ApiError(403, "API token does not belong to this organization")

    def require(self, allowed: bool, what: str) -> None:
        if not allowed:
            raise ApiError(403, f"API token is not allowed to {what}")

    def may_read_deployment(self, deployment: DeploymentRecord) -> bool:
        scope, entity = self.token.scope, self.token.entity_id
        if scope == "ORGANIZATION":
            return True
        if scope == "WORKSPACE":
            return entity == deployment.workspace_id
        return entity == deployment.id

    def deployment_list_scope(self) -> tuple[str | None, str | None]:
        """(workspace id, deployment id) a list of Deployments is narrowed to for this caller."""
        if self.token.scope == "WORKSPACE":
            return self.token.entity_id, None
        if self.token.scope == "DEPLOYMENT":
            return None, self.token.entity_id
        return None, None

    def may_manage_deployments_in(self, workspace_id: str) -> bool:
        return self.is_owner or self._manages_workspace(workspace_id)

    def may_manage_token(self, scope: str, entity_id: str, workspace_id: str | None) -> bool:
        """Create, update, rotate or delete a token of ``scope`` on ``entity_id``.

        ``workspace_id`` is the workspace of the token's Deployment, for Deployment tokens.
        """
        if self.is_owner:
            return True
        if scope == "WORKSPACE":
            return self._is("WORKSPACE", frozenset({WORKSPACE_OWNER})) and (
                self.token.entity_id == entity_id
            )
        if scope == "DEPLOYMENT":
            return self._manages_workspace(workspace_id)
        return False

    def may_read_token(self, token: Token, workspace_id: str | None) -> bool:
        if self.may_manage_token(token.scope, token.entity_id, workspace_id):
            return True
        return (
            self.token.scope == "DEPLOYMENT"
            and token.scope == "DEPLOYMENT"
            and token.entity_id == self.token.entity_id
        )

    def may_list_tokens(
        self, workspace_id: str | None, deployment: DeploymentRecord | None, only_organization: bool
    ) -> bool:
        if self.is_owner:
            return True
        if only_organization:
            return False
        if self.token.scope == "WORKSPACE":
            own = self.token.entity_id
            if not self._manages_workspace(own):
                return False
            if workspace_id is not None and workspace_id != own:
                return False
            if deployment is not None and deployment.workspace_id != own:
                return False
            return workspace_id is not None or deployment is not None
        if self.token.scope == "DEPLOYMENT":
            return (
                workspace_id is None
                and deployment is not None
                and deployment.id == self.token.entity_id
            )
        return False

