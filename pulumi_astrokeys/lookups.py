"""Program-side lookups: a Deployment's API keys, metadata only (never a secret).

These run in the Pulumi program itself (not through the engine), with the same
settings as the provider: arguments, then stack config ``astrokeys:*``, then the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import pulumi

if TYPE_CHECKING:
    from ._models import ApiToken

__all__ = [
    "CreatedBy",
    "DeploymentApiKeyInfo",
    "list_deployment_api_keys",
    "list_deployment_api_keys_output",
]


@dataclass(frozen=True)
class CreatedBy:
    """Who created a key, as the Astro API records it (its ``BasicSubjectProfile``).

    ``subject_type`` is ``SERVICEKEY`` when an API token created the key (then
    ``api_token_name`` is that token's name and ``id`` its ID) and ``USER`` for a person.
    """

    id: str
    subject_type: Optional[str] = None
    api_token_name: Optional[str] = None
    username: Optional[str] = None
    full_name: Optional[str] = None

    @property
    def display_name(self) -> str:
        """A short label for tables: the API token's name or the user's name, else the ID."""
        return self.api_token_name or self.username or self.full_name or self.id


@dataclass(frozen=True)
class DeploymentApiKeyInfo:
    """What the Astro API tells about one Deployment API key. There is no secret here."""

    key_id: str
    deployment_id: str
    name: str
    description: str
    role: Optional[str]
    short_token: str
    created_at: str
    start_at: str
    end_at: Optional[str]
    expiry_period_in_days: Optional[int]
    last_used_at: Optional[str] = None
    """When the key last authenticated a request, ``YYYY-MM-DDTHH:MM:SSZ``; ``None``: never (as far as Astro knows)."""
    created_by: Optional[CreatedBy] = None
    """Who created the key; ``None`` when the API does not say."""
    kind: str = "STANDARD"
    """The token kind: ``STANDARD`` or ``DIRECT_ACCESS``."""

    @classmethod
    def from_token(cls, token: ApiToken, deployment_id: str) -> DeploymentApiKeyInfo:
        """Build the info from an API token object."""
        return cls(
            key_id=token.id,
            deployment_id=deployment_id,
            name=token.name,
            description=token.description,
            role=token.role_on(deployment_id),
            short_token=token.short_token,
            created_at=token.created_at,
            start_at=token.start_at,
            end_at=token.end_at,
            expiry_period_in_days=token.expiry_period_in_days,
            last_used_at=token.last_used_at,
            created_by=None if token.created_by is None else CreatedBy(**token.created_by.model_dump()),
            kind=token.kind,
        )


def list_deployment_api_keys(
    deployment_id: str,
    *,
    host: Optional[str] = None,
    api_token: Optional[str] = None,
    organization_id: Optional[str] = None,
) -> list[DeploymentApiKeyInfo]:
    """List the Deployment API keys of one Deployment, oldest first.

    Raises :class:`~pulumi_astrokeys.ConfigurationError` when credentials are missing and
    :class:`~pulumi_astrokeys.AstroAPIError` subclasses when the API refuses.
    """
    from ._client import AstroClient
    from ._settings import CONFIG_KEYS

    config = {key: value for key in CONFIG_KEYS if (value := pulumi.runtime.get_config(key)) is not None}
    with AstroClient.from_config(config, host=host, api_token=api_token, organization_id=organization_id) as client:
        tokens = client.list_deployment_tokens(deployment_id)
    return [DeploymentApiKeyInfo.from_token(token, deployment_id) for token in tokens]


def list_deployment_api_keys_output(
    deployment_id: pulumi.Input[str],
    *,
    host: Optional[str] = None,
    api_token: Optional[pulumi.Input[str]] = None,
    organization_id: Optional[str] = None,
) -> pulumi.Output[list[DeploymentApiKeyInfo]]:
    """Like :func:`list_deployment_api_keys`, for a Deployment ID that is a Pulumi input or output.

    During a preview where the ID is not known yet, the result is unknown too.
    """
    return pulumi.Output.all(deployment_id, api_token).apply(
        lambda args: list_deployment_api_keys(
            args[0], host=host, api_token=args[1], organization_id=organization_id
        )
    )
