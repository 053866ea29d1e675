"""An Astro Deployment API key through the packaged provider, from its generated Python SDK."""

import pulumi
import pulumi_astrokeys_sdk as astrokeys

config = pulumi.Config()
key = astrokeys.DeploymentApiKey(
    "ci",
    deployment_id=config.require("deploymentId"),
    description=config.require("description"),
    role="DEPLOYMENT_ADMIN",
)

pulumi.export("keyId", key.key_id)
pulumi.export("secret", key.secret)
