"""``kind`` and DAG-level roles: what the emulator serves and checks, and what the provider sends.

The emulator's ``POST /tokens/{tokenId}/roles`` answers as the official spec declares
(``SubjectRoles``, ``Error``) and refuses what Astro refuses; the provider sends ``kind``
with the create and the DAG roles inside the same transactional create.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc
from spec import request_validator, validate_response

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys._schema import LOOKUP_PROPERTY
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

TOKENS = "/organizations/{organizationId}/tokens"
TOKEN = "/organizations/{organizationId}/tokens/{tokenId}"
ROLES = "/organizations/{organizationId}/tokens/{tokenId}/roles"


@pytest.fixture
def owner(emulator: Emulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


def new_token(owner: httpx.Client, deployment_id: str, **extra: Any) -> dict[str, Any]:
    body = {"name": "ci", "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN", **extra}
    return dict(validate_response(TOKENS, "POST", owner.post("/tokens", json=body)))


def own(deployment_id: str, role: str = "DEPLOYMENT_ADMIN") -> dict[str, str]:
    return {"entityType": "DEPLOYMENT", "entityId": deployment_id, "role": role}


def dag(entity_id: str, deployment_id: str, role: str = "DAG_VIEWER", entity_type: str = "DAG") -> dict[str, str]:
    return {"entityType": entity_type, "entityId": entity_id, "role": role, "deploymentId": deployment_id}


# -- the emulator ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["STANDARD", "DIRECT_ACCESS"])
def test_create_keeps_the_kind_it_was_given_and_the_list_filters_by_it(
    emulator: Emulator, owner: httpx.Client, kind: str
) -> None:
    token = new_token(owner, emulator.deployment_ids[0], kind=kind)
    assert token["kind"] == kind
    listed = owner.get("/tokens", params={"kind": kind}).json()["tokens"]
    assert token["id"] in {t["id"] for t in listed}


def test_create_refuses_a_kind_the_spec_does_not_declare(emulator: Emulator, owner: httpx.Client) -> None:
    body = {"name": "ci", "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"}
    response = owner.post("/tokens", json={**body, "kind": "PERSONAL"})
    error = validate_response(TOKENS, "POST", response)
    assert response.status_code == 400 and [f["field"] for f in error["fieldErrors"]] == ["kind"]


def test_roles_replace_the_whole_set_and_the_token_shows_them(emulator: Emulator, owner: httpx.Client) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.set_deployment_roles(["CUSTOM_DEPLOY"])
    token = new_token(owner, deployment)
    body = {"roles": [own(deployment, "CUSTOM_DEPLOY"), dag("etl_daily", deployment), dag("team-a", deployment, "DAG_AUTHOR", "DAG_TAG")]}
    request_validator(ROLES, "POST", strict=True).validate(body)

    answer = validate_response(ROLES, "POST", owner.post(f"/tokens/{token['id']}/roles", json=body))

    assert answer["deploymentRoles"] == [{"deploymentId": deployment, "role": "CUSTOM_DEPLOY"}]
    assert answer["dagRoles"] == [
        {"dagId": "etl_daily", "deploymentId": deployment, "role": "DAG_VIEWER"},
        {"dagTag": "team-a", "deploymentId": deployment, "role": "DAG_AUTHOR"},
    ]
    fetched = validate_response(TOKEN, "GET", owner.get(f"/tokens/{token['id']}"))
    assert fetched["roles"] == [own(deployment, "CUSTOM_DEPLOY"), *body["roles"][1:]]

    # The whole set: what is left out goes.
    validate_response(ROLES, "POST", owner.post(f"/tokens/{token['id']}/roles", json={"roles": [own(deployment)]}))
    assert owner.get(f"/tokens/{token['id']}").json()["roles"] == [own(deployment)]


@pytest.mark.parametrize(
    ("roles", "field", "words"),
    [
        ([], "roles", "at least 1"),
        ([{"entityType": "DAG", "entityId": "etl", "role": "DAG_VIEWER"}, "OWN"], "roles.0.deploymentId", "required"),
        ([dag("etl", "OTHER"), "OWN"], "roles.0.deploymentId", "can hold DAG roles only in its own"),
        ([dag("etl", "MISSING"), "OWN"], "roles.0.deploymentId", "not found"),
        ([dag("etl", "SELF", "DEPLOYMENT_ADMIN"), "OWN"], "roles.0.role", "not a DAG role"),
        ([dag("etl", "SELF", "WORKSPACE_OWNER"), "OWN"], "roles.0.role", "not a DAG role"),
        ([dag("etl", "SELF"), dag("etl", "SELF", "DAG_AUTHOR"), "OWN"], "roles.1", "more than one role"),
        ([dag("etl", "SELF")], "roles", "must include the token's DEPLOYMENT role"),
        (["OWN", "OWN"], "roles.1", "more than once"),
        (["OWN", {"entityType": "WORKSPACE", "entityId": "WS", "role": "WORKSPACE_MEMBER"}], "roles.1.entityType", "cannot hold a WORKSPACE role"),
        ([{"entityType": "DEPLOYMENT", "entityId": "SELF", "role": "ORGANIZATION_OWNER"}], "roles.0.role", "not a deployment role"),
        ([{"entityType": "DEPLOYMENT", "entityId": "SELF", "role": "CUSTOM_DEPLOY"}], "roles.0.role", "custom Deployment role"),
        ([{"entityType": "TEAM", "entityId": "x", "role": "DAG_VIEWER"}, "OWN"], "roles.0.entityType", ""),
    ],
)
def test_roles_that_astro_refuses_are_a_400_naming_the_field(
    emulator: Emulator, owner: httpx.Client, roles: list[Any], field: str, words: str
) -> None:
    deployment, other = emulator.deployment_ids[:2]
    names = {"SELF": deployment, "OTHER": other, "MISSING": "clm8q7f6q000008lcgyougpsk", "WS": emulator.workspace_id}

    def resolve(entry: Any) -> Any:
        if entry == "OWN":
            return own(deployment)
        return {k: names.get(v, v) for k, v in entry.items()}

    token = new_token(owner, deployment)
    response = owner.post(f"/tokens/{token['id']}/roles", json={"roles": [resolve(r) for r in roles]})

    error = validate_response(ROLES, "POST", response)
    assert response.status_code == 400
    assert [f["field"] for f in error["fieldErrors"]] == [field]
    assert words in error["message"]
    assert owner.get(f"/tokens/{token['id']}").json()["roles"] == [own(deployment)], "nothing changed"


def test_roles_of_a_missing_token_are_a_404(emulator: Emulator, owner: httpx.Client) -> None:
    response = owner.post("/tokens/clm8q7f6q000008lcgyougpsk/roles", json={"roles": [own(emulator.deployment_ids[0])]})
    validate_response(ROLES, "POST", response)
    assert response.status_code == 404


def test_deleting_a_token_takes_its_dag_roles_with_it(emulator: Emulator, owner: httpx.Client) -> None:
    deployment = emulator.deployment_ids[0]
    token = new_token(owner, deployment)
    owner.post(f"/tokens/{token['id']}/roles", json={"roles": [own(deployment), dag("etl", deployment)]})
    assert owner.delete(f"/tokens/{token['id']}").status_code == 204
    again = new_token(owner, deployment)
    assert owner.get(f"/tokens/{again['id']}").json()["roles"] == [own(deployment)]


# -- the provider ------------------------------------------------------------------------------


@pytest.fixture
def provider(emulator: Emulator) -> DeploymentApiKeyProvider:
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config({**emulator.stack_config(), **emulator.secret_stack_config()}, "test")))
    return provider


def checked(provider: DeploymentApiKeyProvider, deployment_id: str, **extra: Any) -> dict[str, Any]:
    result = provider.check({}, {"deployment_id": deployment_id, "name": "ci", **extra})
    assert result.failures == []
    return dict(result.inputs)


def bodies(emulator: Emulator, path_end: str) -> list[Any]:
    return [r.get("body") for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith(path_end)]


def test_a_key_gets_its_kind_and_dag_roles_in_one_create_and_reads_back_unchanged(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.set_deployment_roles(["CUSTOM_DEPLOY"])
    inputs = checked(
        provider,
        deployment,
        kind="DIRECT_ACCESS",
        role="CUSTOM_DEPLOY",
        dag_roles=[{"dag_tag": "team-a", "role": "DAG_AUTHOR"}, {"dag_id": "etl_daily", "role": " DAG_VIEWER"}],
    )
    emulator.clear_requests()

    created = provider.create(inputs)

    writes = [(r["method"], r["path"].rsplit("/tokens", 1)[-1]) for r in emulator.requests() if r["method"] == "POST"]
    # The description comes last: a token still carrying its create marker was never handed over.
    assert writes == [("POST", ""), ("POST", f"/{created.id}/roles"), ("POST", f"/{created.id}")]
    (token,) = [t for t in emulator.list_all_tokens() if t["id"] == created.id]
    assert token["kind"] == "DIRECT_ACCESS"
    assert token["roles"] == [
        own(deployment, "CUSTOM_DEPLOY"),
        dag("etl_daily", deployment),
        dag("team-a", deployment, "DAG_AUTHOR", "DAG_TAG"),
    ]
    assert created.outs is not None
    assert created.outs["kind"] == "DIRECT_ACCESS"
    assert created.outs["dag_roles"] == [
        {"dag_id": "etl_daily", "role": "DAG_VIEWER"},
        {"dag_tag": "team-a", "role": "DAG_AUTHOR"},
    ]
    refreshed = provider.read(created.id, created.outs).outs
    assert refreshed is not None
    assert {k: refreshed[k] for k in ("kind", "dag_roles", "role")} == {
        k: created.outs[k] for k in ("kind", "dag_roles", "role")
    }
    assert provider.diff(created.id, refreshed, inputs).changes is False


def test_a_key_without_dag_roles_sends_no_roles_request(emulator: Emulator, provider: DeploymentApiKeyProvider) -> None:
    emulator.clear_requests()
    created = provider.create(checked(provider, emulator.deployment_ids[0]))
    assert created.outs is not None and created.outs["kind"] == "STANDARD" and created.outs["dag_roles"] == []
    assert not [r for r in emulator.requests() if r["path"].endswith("/roles")]


def test_dag_roles_the_api_refuses_fail_the_create_and_leave_no_token(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.inject_fault("POST", r"/roles$", status=400, message="role NO_SUCH_DAG_ROLE does not exist")
    inputs = checked(provider, deployment, dag_roles=[{"dag_id": "etl", "role": "NO_SUCH_DAG_ROLE"}])

    with pytest.raises(KeyOperationError) as caught:
        provider.create(inputs)

    message = str(caught.value)
    assert "dag_roles" in message and "400" in message and "so it was deleted" in message
    assert "correct dag_roles" in message
    assert [t for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"] == []


def test_a_lookup_reports_a_keys_kind_and_dag_roles(emulator: Emulator, owner: httpx.Client, provider: DeploymentApiKeyProvider) -> None:
    deployment = emulator.deployment_ids[0]
    token = new_token(owner, deployment, kind="DIRECT_ACCESS")
    owner.post(f"/tokens/{token['id']}/roles", json={"roles": [own(deployment), dag("etl", deployment)]})

    looked_up = provider.read(token["id"], {LOOKUP_PROPERTY: True}).outs

    assert looked_up is not None
    assert looked_up["kind"] == "DIRECT_ACCESS"
    assert looked_up["dag_roles"] == [{"dag_id": "etl", "role": "DAG_VIEWER"}]
    assert looked_up.get("keepers") is None and looked_up["created_by"]
    assert rpc.unwrap_rpc_secret(looked_up.get("secret")) is None
