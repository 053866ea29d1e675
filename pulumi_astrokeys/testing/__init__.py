"""Helpers for testing Pulumi programs that use pulumi-astrokeys.

- :class:`Deployment`: a bare Astro Deployment as a Pulumi resource, standing in for
  ``pulumi_astronomer.Deployment`` on the local emulator.

Submodules load on first use, so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .deployment import Deployment, DeploymentProvider

__all__ = ["Deployment", "DeploymentProvider"]

_LAZY = {
    "Deployment": ".deployment",
    "DeploymentProvider": ".deployment",
}


def __getattr__(name: str) -> Any:
    """Load a helper's module only when it is asked for."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
