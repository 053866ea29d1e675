"""The Deployment endpoints, and what deleting a Deployment does to its tokens."""

from __future__ import annotations

import re
from typing import Any, Iterator

import httpx
import pytest
from spec import request_validator, validate_response

from pulumi_astrokeys.testing.emulator import Emulator

DEPLOYMENTS = "/organizations/{organizationId}/deployments"
DEPLOYMENT = "/organizations/{organizationId}/deployments/{deploymentId}"
CUID = re.compile(r"^c[a-z0-9]{24}$")


@pytest.fixture
def owner(emulator: Emulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


def deployment_request(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    body = {"name": "analytics", "workspaceId": emulator.workspace_id, "type": "STANDARD"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_the_seeded_deployments_conform_to_the_spec(emulator: Emulator, owner: httpx.Client) -> None:
    assert len(emulator.deployment_ids) >= 2
    for deployment_id in emulator.deployment_ids:
        assert CUID.match(deployment_id)
        body = validate_response(DEPLOYMENT, "GET", owner.get(f"/deployments/{deployment_id}"))
        assert body["id"] == deployment_id
        assert body["organizationId"] == emulator.organization_id
        assert body["workspaceId"] == emulator.workspace_id


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"type": "DEDICATED", "clusterId": "clmh9g6zj000008mg77if5wa2", "executor": "CELERY"},
        {"type": "HYBRID", "executor": "KUBERNETES", "description": "on our own cluster"},
        {
            "type": "STANDARD",
            "cloudProvider": "GCP",
            "region": "us-central1",
            "isHighAvailability": True,
            "contactEmails": ["ops@example.com"],
            "environmentVariables": [
                {"key": "PLAIN", "isSecret": False, "value": "shown"},
                {"key": "HIDDEN", "isSecret": True, "value": "never shown"},
            ],
        },
    ],
)
def test_create_answers_200_with_a_spec_conforming_deployment(
    emulator: Emulator, owner: httpx.Client, overrides: dict[str, Any]
) -> None:
    request = deployment_request(emulator, **overrides)
    assert not list(request_validator(DEPLOYMENTS, "POST").iter_errors(request))

    response = owner.post("/deployments", json=request)

    body = validate_response(DEPLOYMENTS, "POST", response)
    assert response.status_code == 200
    assert CUID.match(body["id"])
    assert (body["name"], body["type"]) == ("analytics", request["type"])
    assert "never shown" not in response.text
    assert validate_response(DEPLOYMENT, "GET", owner.get(f"/deployments/{body['id']}")) == body


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"workspaceId": None}, "workspaceId"),
        ({"type": None}, "type"),
        ({"type": "SERVERLESS"}, "type"),
        ({"executor": "LOCAL"}, "executor"),
        ({"type": "HYBRID", "executor": "ASTRO"}, "executor"),
        ({"isCicdEnforced": "yes"}, "isCicdEnforced"),
        ({"workspaceId": "cnosuchworkspace000000000"}, "workspaceId"),
    ],
)
def test_create_rejects_bad_input_with_field_errors(
    emulator: Emulator, owner: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    before = emulator.state()["deploymentIds"]
    response = owner.post("/deployments", json=deployment_request(emulator, **overrides))
    error = validate_response(DEPLOYMENTS, "POST", response)
    assert response.status_code == 400
    assert field in {e["field"] for e in error["fieldErrors"]}
    assert emulator.state()["deploymentIds"] == before


def test_list_filters_by_ids_names_and_workspaces(emulator: Emulator, owner: httpx.Client) -> None:
    first, second = emulator.deployment_ids[:2]
    other_org = emulator.create_organization()

    def ids(**params: Any) -> list[str]:
        body = validate_response(DEPLOYMENTS, "GET", owner.get("/deployments", params=params))
        assert body["totalCount"] == len(body["deployments"])
        return [d["id"] for d in body["deployments"]]

    assert ids() == [first, second]
    assert ids(deploymentIds=[second]) == [second]
    assert ids(deploymentIds=f"{first},{second}") == [first, second]
    assert ids(names=["production"]) == [second]
    assert ids(workspaceIds=[emulator.workspace_id]) == [first, second]
    assert ids(workspaceIds=[other_org["workspaceId"]]) == []
    assert ids(deploymentIds=other_org["deploymentIds"]) == []


def test_list_pages_and_an_offset_past_the_end_is_an_empty_page(
    emulator: Emulator, owner: httpx.Client
) -> None:
    for index in range(3):
        emulator.create_deployment(f"extra-{index}")
    pages = [owner.get("/deployments", params={"offset": o, "limit": 2}).json() for o in (0, 2, 4, 9)]
    assert [len(p["deployments"]) for p in pages] == [2, 2, 1, 0]
    assert {p["totalCount"] for p in pages} == {5}
    assert [(p["offset"], p["limit"]) for p in pages] == [(0, 2), (2, 2), (4, 2), (9, 2)]
    assert len({d["id"] for p in pages for d in p["deployments"]}) == 5
    assert owner.get("/deployments").json()["limit"] == 20


def test_an_unknown_deployment_is_404(owner: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        response = owner.request(method, "/deployments/cnosuchdeployment00000000")
        assert validate_response(DEPLOYMENT, method, response)["statusCode"] == 404


def test_deleting_a_deployment_deletes_its_tokens_and_nothing_else(
    emulator: Emulator, owner: httpx.Client
) -> None:
    doomed = emulator.create_deployment("doomed")
    kept = emulator.deployment_ids[0]

    def token(entity: str, **extra: Any) -> dict[str, Any]:
        body = {"name": "t", "scope": "DEPLOYMENT", "entityId": entity, "role": "DEPLOYMENT_ADMIN", **extra}
        return dict(owner.post("/tokens", json=body).json())

    on_doomed = [token(doomed), token(doomed, name="second")]
    on_kept = token(kept)
    workspace = token(emulator.workspace_id, scope="WORKSPACE", role="WORKSPACE_MEMBER")

    response = owner.delete(f"/deployments/{doomed}")

    assert validate_response(DEPLOYMENT, "DELETE", response) is None and response.status_code == 204
    remaining = {t["id"] for t in emulator.list_all_tokens()}
    assert not remaining & {t["id"] for t in on_doomed}
    assert {on_kept["id"], workspace["id"]} <= remaining
    with emulator.client(on_doomed[0]["token"]) as gone:
        assert gone.get(f"/deployments/{doomed}").status_code == 401
    assert owner.get(f"/deployments/{doomed}").status_code == 404
    assert owner.delete(f"/deployments/{doomed}").status_code == 404
    assert owner.get("/tokens", params={"deploymentId": doomed}).status_code == 404


def test_control_surface_creates_and_deletes_deployments_like_the_api(
    emulator: Emulator, owner: httpx.Client
) -> None:
    made = emulator.create_deployment("helper-made")
    body = validate_response(DEPLOYMENT, "GET", owner.get(f"/deployments/{made}"))
    assert body["name"] == "helper-made" and body["workspaceId"] == emulator.workspace_id
    owner.post("/tokens", json={"name": "t", "scope": "DEPLOYMENT", "entityId": made, "role": "DEPLOYMENT_ADMIN"})

    assert emulator.delete_deployment(made) == 1
    assert owner.get(f"/deployments/{made}").status_code == 404
    with pytest.raises(RuntimeError, match="404"):
        emulator.delete_deployment(made)
