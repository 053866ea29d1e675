"""Quickstart: Astro Deployment API keys from a Pulumi program.

Two keys:

- ``ci``, for a Deployment that already exists, whose ID comes from stack config
  (``deploymentId``);
- ``linked``, for a Deployment created in this same program (only when ``workspaceId``
  is set), so the key depends on the Deployment resource and goes away with it.

Each key's secret is exported as a Pulumi secret: ``pulumi stack output`` masks it
unless asked with ``--show-secrets``, and the state stores it encrypted.
"""

from __future__ import annotations

import pulumi

from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys.testing import BareDeployment


def main() -> None:
    """Declare the keys and export their IDs, secrets and short tokens."""
    config = pulumi.Config()

    ci = DeploymentApiKey(
        "ci",
        deployment_id=config.require("deploymentId"),
        # Keys are immutable: a new description replaces the key (new key first, then the old one goes).
        description=config.get("description") or "CI/CD deploys",
    )
    pulumi.export("key_id", ci.key_id)
    pulumi.export("key_secret", ci.secret)
    pulumi.export("key_short_token", ci.short_token)

    workspace_id = config.get("workspaceId")
    if workspace_id:
        # On the local emulator, a bare Deployment stands in for a real one. With real Astro,
        # declare `deployment = pulumi_astronomer.Deployment(...)` instead and use it the
        # same way: `deployment_id=deployment.id` makes the key wait for the Deployment.
        deployment = BareDeployment("quickstart", workspace_id=workspace_id)
        linked = DeploymentApiKey(
            "linked",
            deployment_id=deployment.id,
            description="Key of a Deployment declared in this program",
            # Astro deletes a Deployment's keys with it: when both go in one run, Pulumi
            # skips deleting the key instead of asking the API for a key already gone.
            opts=pulumi.ResourceOptions(deleted_with=deployment),
        )
        pulumi.export("linked_deployment_id", deployment.id)
        pulumi.export("linked_key_id", linked.key_id)
        pulumi.export("linked_key_secret", linked.secret)
        pulumi.export("linked_key_short_token", linked.short_token)


if __name__ == "__main__":
    main()
