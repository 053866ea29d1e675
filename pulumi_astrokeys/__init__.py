"""pulumi-astrokeys: Astronomer (Astro) Deployment API keys as immutable Pulumi resources.

>>> from pulumi_astrokeys import DeploymentApiKey
>>> key = DeploymentApiKey("ci", deployment_id=deployment.id, description="CI/CD deploys")

Importing the package stays light (the provider process starts on every Pulumi
operation): the API client and its models load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._autonaming import AutonamingConflictError
from ._errors import (
    AmbiguousCreateError,
    APIStatusError,
    AstroAPIError,
    AstroKeysError,
    ConfigurationError,
    DecodingError,
    FieldError,
    ForbiddenError,
    InvalidRequestError,
    KeyOperationError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from ._version import __version__
from .lookups import CreatedBy, DeploymentApiKeyInfo, list_deployment_api_keys, list_deployment_api_keys_output
from .resource import DagRoleArgs, DeploymentApiKey, DeploymentApiKeyArgs

if TYPE_CHECKING:
    from ._client import AstroClient, RetryPolicy
    from ._settings import AstroSettings

__all__ = [
    "APIStatusError",
    "AmbiguousCreateError",
    "AstroAPIError",
    "AstroClient",
    "AstroKeysError",
    "AstroSettings",
    "AutonamingConflictError",
    "ConfigurationError",
    "CreatedBy",
    "DagRoleArgs",
    "DecodingError",
    "DeploymentApiKey",
    "DeploymentApiKeyArgs",
    "DeploymentApiKeyInfo",
    "FieldError",
    "ForbiddenError",
    "InvalidRequestError",
    "KeyOperationError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "UnauthorizedError",
    "__version__",
    "list_deployment_api_keys",
    "list_deployment_api_keys_output",
]

_LAZY = {
    "AstroClient": "._client",
    "RetryPolicy": "._client",
    "AstroSettings": "._settings",
}


def __getattr__(name: str) -> Any:
    """Load the client and settings (httpx, pydantic) only when a program asks for them."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the lazily loaded ones included."""
    return sorted(set(globals()) | set(__all__))
