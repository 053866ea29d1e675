"""Helpers for testing Pulumi programs that use pulumi-astrokeys.

- :class:`BareDeployment`: a bare Astro Deployment as a Pulumi resource, standing in for
  ``pulumi_astronomer.Deployment`` on the local emulator.

The emulator handle (:mod:`.emulator`), Automation API stacks wired to it (:mod:`.stacks`)
and the pytest fixtures built on both (:mod:`.pytest_plugin`, which a suite opts into with
``pytest_plugins = ["pulumi_astrokeys.testing.pytest_plugin"]``) are submodules, imported
only when asked for.
"""

from __future__ import annotations

from .deployment import BareDeployment, BareDeploymentArgs, BareDeploymentProvider

__all__ = ["BareDeployment", "BareDeploymentArgs", "BareDeploymentProvider"]
