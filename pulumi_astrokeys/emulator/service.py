"""What the emulator does, independent of HTTP: seed, create, rotate, delete.

The API handlers and the ``/_emulator`` control surface both go through here, so
a Deployment made by a test helper looks exactly like one made through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .clock import Clock, format_timestamp
from .credentials import hash_token, mint_token
from .ids import new_id
from .models import CreateDeploymentRequest
from .store import DeploymentRecord, Store, Token

__all__ = ["OrganizationInfo", "Service"]

BOOTSTRAP_TOKEN_NAME = "astrokeys-emulator bootstrap"
SEEDED_DEPLOYMENTS = ("development", "production")


@dataclass(frozen=True)
class OrganizationInfo:
    """An organization ready for use: its workspace, Deployments and an owner token value."""

    organization_id: str
    workspace_id: str
    deployment_ids: list[str]
    api_token: str

    def __repr__(self) -> str:
        return (
            f"OrganizationInfo(organization_id={self.organization_id!r}, "
            f"workspace_id={self.workspace_id!r}, deployment_ids={self.deployment_ids!r}, "
            "api_token='***')"
        )


class Service:
    """Domain operations over the store, timed by the emulator's clock."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def now(self) -> str:
        return format_timestamp(self.clock.now())

    # -- seeding --------------------------------------------------------------

    def _seed_user(self) -> dict[str, Any]:
        user_id = self.store.get_meta("seed_user_id")
        if user_id is None:
            user_id = new_id()
            self.store.set_meta("seed_user_id", user_id)
        return {
            "id": user_id,
            "subjectType": "USER",
            "username": "owner@emulator.local",
            "fullName": "Emulator Owner",
        }

    def start_primary(self, keep_token: str | None = None) -> OrganizationInfo:
        """Seed a fresh database (or reuse a seeded one) and give this start's owner token.

        The organization, workspace and Deployments persist across starts. The database
        stores only the hash of the owner token's value, so it cannot give the value back:
        ``keep_token`` is the value the caller kept from the previous start. When it is
        still the owner token's value it stays valid; otherwise (none kept, or not that
        token's) the owner token keeps its id but gets a new value, and the previous
        value stops working.
        """
        org_id = self.store.get_meta("primary_organization_id")
        if org_id is None:
            org = self.store.create_organization("Emulator Organization", self.now())
            workspace = self.store.create_workspace(org.id, "Emulator Workspace", self.now())
            self.store.set_meta("primary_workspace_id", workspace.id)
            self.store.set_meta("primary_organization_id", org.id)
            org_id = org.id
        workspace_id = self.store.get_meta("primary_workspace_id")
        assert workspace_id is not None
        return self._ready(org_id, workspace_id, keep_token)

    def create_organization(self, name: str) -> OrganizationInfo:
        """Another organization with its own workspace, Deployments and owner token."""
        org = self.store.create_organization(name, self.now())
        workspace = self.store.create_workspace(org.id, f"{name} Workspace", self.now())
        return self._ready(org.id, workspace.id)

    def _ready(self, organization_id: str, workspace_id: str, keep_token: str | None = None) -> OrganizationInfo:
        creator = self._seed_user()
        page = self.store.list_deployments(organization_id, workspace_ids=[workspace_id])
        ids = [d.id for d in page.items]
        # The bootstrap promises two Deployments; top up if some were deleted.
        for name in SEEDED_DEPLOYMENTS[len(ids) :]:
            request = CreateDeploymentRequest(name=name, workspaceId=workspace_id, type="STANDARD")
            ids.append(self.create_deployment(organization_id, request, creator).id)
        return OrganizationInfo(
            organization_id=organization_id,
            workspace_id=workspace_id,
            deployment_ids=ids,
            api_token=self._owner_token(organization_id, creator, keep_token),
        )

    def _owner_token(self, organization_id: str, creator: dict[str, Any], keep_token: str | None) -> str:
        key = f"bootstrap_token:{organization_id}"
        token_id = self.store.get_meta(key)
        if token_id is not None and keep_token:
            kept = self.store.find_token_by_hash(hash_token(keep_token))
            if kept is not None and kept.id == token_id:
                return keep_token
        if token_id is not None:
            rotated = self.rotate_token(organization_id, token_id, creator)
            if rotated is not None:
                return rotated[1]
        token, value = self.create_token(
            organization_id,
            name=BOOTSTRAP_TOKEN_NAME,
            description="Organization owner token of the local Astro API emulator",
            scope="ORGANIZATION",
            entity_id=organization_id,
            role="ORGANIZATION_OWNER",
            kind="STANDARD",
            expiry_days=None,
            actor=creator,
        )
        self.store.set_meta(key, token.id)
        return value

    # -- deployments ----------------------------------------------------------

    def create_deployment(
        self, organization_id: str, request: CreateDeploymentRequest, actor: dict[str, Any]
    ) -> DeploymentRecord:
        """Store a new Deployment from a validated request (its workspace must exist)."""
        workspace = self.store.get_workspace(organization_id, request.workspaceId)
        if workspace is None:
            raise LookupError(request.workspaceId)
        now = self.now()
        deployment = DeploymentRecord(
            id=new_id(),
            organization_id=organization_id,
            workspace_id=workspace.id,
            workspace_name=workspace.name,
            name=request.name,
            spec=request.model_dump(exclude_none=True),
            created_at=now,
            updated_at=now,
            created_by=actor,
            updated_by=actor,
        )
        self.store.insert_deployment(deployment)
        return deployment

    # -- tokens ---------------------------------------------------------------

    def create_token(
        self,
        organization_id: str,
        *,
        name: str,
        description: str,
        scope: str,
        entity_id: str,
        role: str,
        kind: str,
        expiry_days: int | None,
        actor: dict[str, Any],
    ) -> tuple[Token, str]:
        """Mint and store a token; returns it with its value (the only time it exists)."""
        minted = mint_token()
        moment = self.clock.now()
        now = format_timestamp(moment)
        token = Token(
            id=new_id(),
            organization_id=organization_id,
            name=name,
            description=description,
            scope=scope,
            entity_id=entity_id,
            role=role,
            kind=kind,
            short_token=minted.short_token,
            start_at=now,
            end_at=None
            if expiry_days is None
            else format_timestamp(moment + timedelta(days=expiry_days)),
            expiry_days=expiry_days,
            created_at=now,
            updated_at=now,
            last_used_at=None,
            last_rotated_at=None,
            created_by=actor,
            updated_by=actor,
        )
        self.store.insert_token(token, minted.hash)
        return token, minted.value

    def rotate_token(
        self, organization_id: str, token_id: str, actor: dict[str, Any]
    ) -> tuple[Token, str] | None:
        """Give a token a new value and restart its expiry period; ``None`` if missing."""
        current = self.store.get_token(organization_id, token_id)
        if current is None:
            return None
        minted = mint_token()
        moment = self.clock.now()
        end_at = (
            None
            if current.expiry_days is None
            else format_timestamp(moment + timedelta(days=current.expiry_days))
        )
        token = self.store.rotate_token(
            organization_id,
            token_id,
            token_hash=minted.hash,
            short_token=minted.short_token,
            now=format_timestamp(moment),
            end_at=end_at,
            updated_by=actor,
        )
        return None if token is None else (token, minted.value)
