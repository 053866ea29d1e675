"""Hand an Astro Deployment API key to CI secret stores, secret end to end.

The key's secret goes straight from the key resource into the stores, never through
plain text: it is a Pulumi secret on the key, stays one through the stores' inputs, and
is encrypted in the state. The program exports no secret at all.

- GitHub Actions (``githubRepository`` set): a repository secret holding the key
  (``ASTRO_API_TOKEN`` by default, the name the Astro CLI reads) and a repository
  variable with the Deployment ID, which is not secret.
- HashiCorp Vault (``vaultPath`` set): a KV version 2 secret at ``<vaultMount>/<vaultPath>``
  holding the key, its ID and the Deployment ID.

Rotating (``pulumi config set rotation 2``, then ``pulumi up``) creates the new key,
updates both stores to it, and only then deletes the old key: pipelines are never left
with a secret that no longer works.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github
import pulumi_vault as vault

from pulumi_astrokeys import DeploymentApiKey

DEFAULT_GITHUB_SECRET_NAME = "ASTRO_API_TOKEN"
"""The secret name the Astro CLI reads its API token from."""
GITHUB_VARIABLE_NAME = "ASTRO_DEPLOYMENT_ID"
DEFAULT_VAULT_MOUNT = "secret"
"""Where a Vault server mounts its KV version 2 engine by default."""


def main() -> None:
    """Declare the key and the stores that receive it."""
    config = pulumi.Config()
    deployment_id = config.require("deploymentId")
    github_repository = config.get("githubRepository")
    vault_path = config.get("vaultPath")
    if not github_repository and not vault_path:
        raise pulumi.RunError(
            "Nothing to hand the key to: set `pulumi config set githubRepository <repo>`, "
            "`pulumi config set vaultPath <path>`, or both."
        )

    key = DeploymentApiKey(
        "ci",
        deployment_id=deployment_id,
        description="CI/CD deploys, handed to the CI secret stores",
        keepers={"rotation": config.get("rotation") or "1"},
    )
    pulumi.export("key_id", key.key_id)
    pulumi.export("key_short_token", key.short_token)

    if github_repository:
        secret_name = config.get("githubSecretName") or DEFAULT_GITHUB_SECRET_NAME
        # The repository's owner comes from the GitHub provider's config (`github:owner`).
        github.ActionsSecret(
            "astro-api-token",
            repository=github_repository,
            secret_name=secret_name,
            # `value` is what pulumi-github 6.x calls the plain-text value it encrypts for
            # GitHub (`plaintext_value` is its deprecated name).
            value=key.secret,
        )
        github.ActionsVariable(
            "astro-deployment-id",
            repository=github_repository,
            variable_name=GITHUB_VARIABLE_NAME,
            value=deployment_id,
        )
        pulumi.export("github_secret", f"{github_repository}/{secret_name}")
        pulumi.export("github_variable", f"{github_repository}/{GITHUB_VARIABLE_NAME}")

    if vault_path:
        mount = config.get("vaultMount") or DEFAULT_VAULT_MOUNT
        vault.kv.SecretV2(
            "astro-api-token",
            mount=mount,
            name=vault_path,
            # json_dumps keeps the secret a secret: the whole document is one.
            data_json=pulumi.Output.json_dumps(
                {
                    "ASTRO_API_TOKEN": key.secret,
                    "key_id": key.key_id,
                    "deployment_id": deployment_id,
                }
            ),
        )
        pulumi.export("vault_secret", f"{mount}/{vault_path}")


if __name__ == "__main__":
    main()
