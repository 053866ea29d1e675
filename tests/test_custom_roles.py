"""Custom Deployment roles: Astro knows which ones an organization has, and so does the emulator.

A Deployment token's role is ``DEPLOYMENT_ADMIN`` or one of the organization's custom
Deployment roles, declared to the emulator through its control surface; any other role (a
typo, another case) is the API's 400 naming ``role``, and the provider's create says which
input to fix and how.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from spec import validate_response

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

TOKENS = "/organizations/{organizationId}/tokens"


@pytest.fixture
def owner(emulator: Emulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


def create(owner: httpx.Client, deployment_id: str, role: str) -> httpx.Response:
    body = {"name": "ci", "scope": "DEPLOYMENT", "entityId": deployment_id, "role": role}
    return owner.post("/tokens", json=body)


def test_a_custom_role_is_refused_until_the_organization_has_it(emulator: Emulator, owner: httpx.Client) -> None:
    deployment = emulator.deployment_ids[0]
    refused = create(owner, deployment, "CI_DEPLOYER")
    error = validate_response(TOKENS, "POST", refused)
    assert refused.status_code == 400
    assert [(e["field"], e["code"]) for e in error["fieldErrors"]] == [("role", "oneof")]
    assert "CI_DEPLOYER" in error["message"] and error["requestId"] == refused.headers["x-request-id"]

    assert emulator.set_deployment_roles(["CI_DEPLOYER", "AUDITOR"]) == ["AUDITOR", "CI_DEPLOYER"]
    accepted = create(owner, deployment, "CI_DEPLOYER")
    token = validate_response(TOKENS, "POST", accepted)
    assert accepted.status_code == 200
    assert token["roles"] == [{"entityType": "DEPLOYMENT", "entityId": deployment, "role": "CI_DEPLOYER"}]
    assert emulator.deployment_roles() == ["AUDITOR", "CI_DEPLOYER"]


@pytest.mark.parametrize("role", ["DEPLOYMENT_ADMNI", "deployment_admin", "ci_deployer"])
def test_a_misspelt_role_is_refused_even_when_the_organization_has_custom_roles(
    emulator: Emulator, owner: httpx.Client, role: str
) -> None:
    emulator.set_deployment_roles(["CI_DEPLOYER"])
    response = create(owner, emulator.deployment_ids[0], role)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["fieldErrors"]] == ["role"]
    assert [t["name"] for t in emulator.list_all_tokens()] == ["astrokeys-emulator bootstrap"]


def test_the_built_in_deployment_admin_always_works(emulator: Emulator, owner: httpx.Client) -> None:
    assert emulator.deployment_roles() == []
    assert create(owner, emulator.deployment_ids[0], "DEPLOYMENT_ADMIN").status_code == 200
    emulator.set_deployment_roles(["CI_DEPLOYER"])
    assert create(owner, emulator.deployment_ids[0], " DEPLOYMENT_ADMIN").status_code == 200


def test_a_token_cannot_be_given_an_undeclared_role_through_its_roles(emulator: Emulator, owner: httpx.Client) -> None:
    deployment = emulator.deployment_ids[0]
    token = create(owner, deployment, "DEPLOYMENT_ADMIN").json()
    roles = {"roles": [{"entityType": "DEPLOYMENT", "entityId": deployment, "role": "CI_DEPLOYER"}]}

    refused = owner.post(f"/tokens/{token['id']}/roles", json=roles)
    assert refused.status_code == 400 and [e["field"] for e in refused.json()["fieldErrors"]] == ["roles.0.role"]

    emulator.set_deployment_roles(["CI_DEPLOYER"])
    assert owner.post(f"/tokens/{token['id']}/roles", json=roles).status_code == 200


def test_custom_roles_belong_to_one_organization(emulator: Emulator) -> None:
    other = emulator.create_organization("Other")
    emulator.set_deployment_roles(["CI_DEPLOYER"])

    assert emulator.deployment_roles(other["organizationId"]) == []
    with httpx.Client(
        base_url=f"{emulator.host}/v1/organizations/{other['organizationId']}",
        headers={"Authorization": f"Bearer {other['apiToken']}"},
        trust_env=False,
    ) as theirs:
        assert create(theirs, other["deploymentIds"][0], "CI_DEPLOYER").status_code == 400
    emulator.set_deployment_roles(["REPORTER"], other["organizationId"])
    assert emulator.deployment_roles() == ["CI_DEPLOYER"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"roles": "CI_DEPLOYER"}, "roles"),
        ({}, "roles"),
        ({"roles": [""]}, "roles.0"),
        ({"roles": ["OK", 7]}, "roles.1"),
        ({"roles": ["DEPLOYMENT_ADMIN"]}, "roles.0"),
        ({"roles": ["WORKSPACE_OWNER"]}, "roles.0"),
    ],
)
def test_the_control_refuses_what_is_not_a_custom_role_name(
    emulator: Emulator, body: dict[str, Any], field: str
) -> None:
    emulator.set_deployment_roles(["KEPT"])
    url = f"{emulator.host}/_emulator/organizations/{emulator.organization_id}/deployment-roles"
    response = httpx.put(url, json=body, trust_env=False)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["fieldErrors"]] == [field]
    assert emulator.deployment_roles() == ["KEPT"], "a refused list changes nothing"


def test_the_control_names_an_unknown_organization(emulator: Emulator) -> None:
    url = f"{emulator.host}/_emulator/organizations/clm8q7f6q000008lcgyougpsk/deployment-roles"
    assert httpx.get(url, trust_env=False).status_code == 404
    assert httpx.put(url, json={"roles": ["X"]}, trust_env=False).status_code == 404


def test_custom_roles_outlive_a_restart(tmp_path: Path) -> None:
    with run_emulator(tmp_path / "emulator.db") as first:
        first.set_deployment_roles(["CI_DEPLOYER"])
    with run_emulator(tmp_path / "emulator.db") as again:
        assert again.deployment_roles() == ["CI_DEPLOYER"]


def test_a_create_with_a_role_the_organization_lacks_names_role_and_the_fix(emulator: Emulator) -> None:
    emulator.set_deployment_roles(["CI_DEPLOYER"])
    provider = DeploymentApiKeyProvider()
    config = {**emulator.stack_config(), **emulator.secret_stack_config()}
    provider.configure(ConfigureRequest(Config(config, "test")))
    checked = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci", "role": "CI_DEPLOYR"})
    assert checked.failures == [], "no preview can know the organization's custom roles"

    with pytest.raises(KeyOperationError) as caught:
        provider.create(checked.inputs)

    message = str(caught.value)
    assert message.startswith("Could not create Deployment API key 'ci'") and "CI_DEPLOYR" in message
    assert message.endswith(
        "; set role to DEPLOYMENT_ADMIN or the exact name of one of your organization's custom Deployment roles, "
        "and run `pulumi up` again."
    )
    assert [t["name"] for t in emulator.list_all_tokens()] == ["astrokeys-emulator bootstrap"]
