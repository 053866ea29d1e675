"""Helpers for testing Pulumi programs that use pulumi-astrokeys.

- :class:`Deployment`: a bare Astro Deployment as a Pulumi resource, standing in for
  ``pulumi_astronomer.Deployment`` on the local emulator.

The emulator handle (:mod:`.emulator`) and the lifecycle harness (:mod:`.lifecycle`) are
submodules, imported only when asked for.
"""

from __future__ import annotations

from .deployment import Deployment, DeploymentProvider

__all__ = ["Deployment", "DeploymentProvider"]
