"""The call forms of Pulumi's generated SDKs, for the key and the bare Deployment, under Pulumi's mocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import pulumi
import pytest
from pulumi.runtime.mocks import MockResourceArgs, Mocks

from pulumi_astrokeys import DeploymentApiKey, DeploymentApiKeyArgs
from pulumi_astrokeys._ownership import OWNER_PROPERTY
from pulumi_astrokeys.testing import BareDeployment, BareDeploymentArgs

DEPLOYMENT = "clm8q7f6q000008lcgyougpsk"
WORKSPACE = "clm8q7f6q000008lcgyouwksp"


class Recording(Mocks):
    """Records each custom resource's inputs; the key's outputs are made up."""

    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[Optional[str], dict[str, Any]]:
        if args.typ.startswith("pulumi-python:dynamic/"):
            self.inputs[args.name] = {k: v for k, v in args.inputs.items() if k != "__provider"}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: Any) -> tuple[dict[str, Any], Optional[list[tuple[str, str]]]]:
        return {}, None


class Team(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Team", name)


def registered(
    build: Callable[[pulumi.ResourceOptions], pulumi.CustomResource], project: str = "project", stack: str = "stack"
) -> tuple[dict[str, Any], str]:
    """The inputs the resource registered with, and its URN, built with a parent in its options."""
    mocks = Recording()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    urns: list[str] = []

    @pulumi.runtime.test
    def register() -> pulumi.Output[str]:
        resource = build(pulumi.ResourceOptions(parent=Team("team")))
        return resource.urn.apply(lambda urn: urns.append(urn) or urn)

    register()
    (inputs,) = mocks.inputs.values()
    return inputs, urns[0]


KEY_FORMS: dict[str, Callable[[pulumi.ResourceOptions], pulumi.CustomResource]] = {
    "args, opts": lambda o: DeploymentApiKey("ci", DeploymentApiKeyArgs(deployment_id=DEPLOYMENT, role="DAG_AUTHOR"), o),
    "args=, opts=": lambda o: DeploymentApiKey(
        "ci", args=DeploymentApiKeyArgs(deployment_id=DEPLOYMENT, role="DAG_AUTHOR"), opts=o
    ),
    "keywords, opts=": lambda o: DeploymentApiKey("ci", deployment_id=DEPLOYMENT, role="DAG_AUTHOR", opts=o),
    "opts, keywords": lambda o: DeploymentApiKey("ci", o, deployment_id=DEPLOYMENT, role="DAG_AUTHOR"),
}


@pytest.mark.parametrize("form", list(KEY_FORMS))
def test_every_call_form_registers_the_same_key_with_its_options(form: str) -> None:
    inputs, urn = registered(KEY_FORMS[form])

    assert inputs["deployment_id"] == DEPLOYMENT and inputs["role"] == "DAG_AUTHOR" and inputs["name"] == "ci"
    assert "test:index:Team$pulumi-python:dynamic/astrokeys:DeploymentApiKey::ci" in urn, "opts were lost"


def test_a_key_hands_its_provider_whose_key_it_is_and_a_lookup_does_not() -> None:
    inputs, urn = registered(KEY_FORMS["keywords, opts="], project="shop", stack="staging")
    assert inputs[OWNER_PROPERTY] == {"project": "shop", "stack": "staging", "name": "ci"}
    assert urn.startswith("urn:pulumi:staging::shop::")

    looked_up, _ = registered(lambda o: DeploymentApiKey.get("theirs", "cabc", o), project="shop", stack="staging")
    assert OWNER_PROPERTY not in looked_up


DEPLOYMENT_FORMS: dict[str, Callable[[pulumi.ResourceOptions], pulumi.CustomResource]] = {
    "args, opts": lambda o: BareDeployment("etl", BareDeploymentArgs(workspace_id=WORKSPACE), o),
    "keywords, opts=": lambda o: BareDeployment("etl", workspace_id=WORKSPACE, opts=o),
    "opts, keywords": lambda o: BareDeployment("etl", o, workspace_id=WORKSPACE),
}


@pytest.mark.parametrize("form", list(DEPLOYMENT_FORMS))
def test_the_bare_deployment_takes_the_same_call_forms(form: str) -> None:
    inputs, urn = registered(DEPLOYMENT_FORMS[form])

    assert inputs["workspace_id"] == WORKSPACE and inputs["name"] == "etl"
    assert "test:index:Team$pulumi-python:dynamic/astrokeys:Deployment::etl" in urn


def test_a_misspelt_input_or_a_stray_argument_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="unknown input deployment"):
        DeploymentApiKey("ci", deployment=DEPLOYMENT)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="expected DeploymentApiKeyArgs and pulumi.ResourceOptions"):
        DeploymentApiKey("ci", "not options", deployment_id=DEPLOYMENT)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="deployment_id is required"):
        DeploymentApiKey("ci", pulumi.ResourceOptions())  # type: ignore[call-overload]
