import * as pulumi from "@pulumi/pulumi";
import * as astrokeys from "@pulumi-astrokeys/astrokeys";

const config = new pulumi.Config();
const key = new astrokeys.DeploymentApiKey("ci", {
    deploymentId: config.require("deploymentId"),
    description: config.require("description"),
    role: "DEPLOYMENT_ADMIN",
});

export const keyId = key.keyId;
export const secret = key.secret;
