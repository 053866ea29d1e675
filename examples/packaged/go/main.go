package main

import (
	"github.com/pulumi-astrokeys/pulumi-astrokeys/sdk/go/astrokeys"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		conf := config.New(ctx, "")
		key, err := astrokeys.NewDeploymentApiKey(ctx, "ci", &astrokeys.DeploymentApiKeyArgs{
			DeploymentId: pulumi.String(conf.Require("deploymentId")),
			Description:  pulumi.String(conf.Require("description")),
			Role:         pulumi.String("DEPLOYMENT_ADMIN"),
		})
		if err != nil {
			return err
		}
		ctx.Export("keyId", key.KeyId)
		ctx.Export("secret", key.Secret)
		return nil
	})
}
