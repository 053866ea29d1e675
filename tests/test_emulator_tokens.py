"""The API token endpoints: happy paths, validation, pagination, spec conformance."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterator

import httpx
import pytest
from spec import validate_response

from pulumi_astrokeys.emulator.clock import parse_timestamp
from pulumi_astrokeys.testing.emulator import Emulator

TOKENS = "/organizations/{organizationId}/tokens"
TOKEN = "/organizations/{organizationId}/tokens/{tokenId}"
ROTATE = "/organizations/{organizationId}/tokens/{tokenId}/rotate"
CUID = re.compile(r"^c[a-z0-9]{24}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def token_request(deployment_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": "ci", "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create(client: httpx.Client, deployment_id: str, **overrides: Any) -> dict[str, Any]:
    response = client.post("/tokens", json=token_request(deployment_id, **overrides))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def owner(emulator: Emulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


def test_create_answers_200_with_the_value_and_a_spec_conforming_token(
    emulator: Emulator, owner: httpx.Client
) -> None:
    deployment = emulator.deployment_ids[0]
    response = owner.post("/tokens", json=token_request(deployment, description="deploys from CI"))

    body = validate_response(TOKENS, "POST", response)
    assert response.status_code == 200
    assert CUID.match(body["id"])
    assert body["name"] == "ci" and body["description"] == "deploys from CI"
    assert body["scope"] == "DEPLOYMENT" and body["kind"] == "STANDARD"
    assert body["roles"] == [{"entityType": "DEPLOYMENT", "entityId": deployment, "role": "DEPLOYMENT_ADMIN"}]
    assert len(body["token"]) >= 40
    assert body["shortToken"] and body["shortToken"] not in body["token"]
    for key in ("startAt", "createdAt", "updatedAt"):
        assert TIMESTAMP.match(body[key]), body[key]
    assert "endAt" not in body and "expiryPeriodInDays" not in body


def test_unset_description_is_an_empty_string(emulator: Emulator, owner: httpx.Client) -> None:
    body = create(owner, emulator.deployment_ids[0])
    assert body["description"] == ""
    assert owner.get(f"/tokens/{body['id']}").json()["description"] == ""


def test_an_expiry_sets_end_at_that_many_days_after_start(emulator: Emulator, owner: httpx.Client) -> None:
    body = create(owner, emulator.deployment_ids[0], tokenExpiryPeriodInDays=30)
    assert body["expiryPeriodInDays"] == 30
    assert parse_timestamp(body["endAt"]) - parse_timestamp(body["startAt"]) == timedelta(days=30)
    fetched = owner.get(f"/tokens/{body['id']}").json()
    assert fetched["endAt"] == body["endAt"] and fetched["expiryPeriodInDays"] == 30


def test_get_and_list_never_return_the_token_value(emulator: Emulator, owner: httpx.Client) -> None:
    created = create(owner, emulator.deployment_ids[0])

    fetched = validate_response(TOKEN, "GET", owner.get(f"/tokens/{created['id']}"))
    listed = validate_response(TOKENS, "GET", owner.get("/tokens"))

    assert "token" not in fetched
    assert all("token" not in t for t in listed["tokens"])
    assert created["token"] not in owner.get("/tokens").text
    assert {k: v for k, v in created.items() if k not in ("token", "lastUsedAt")} == {
        k: v for k, v in fetched.items() if k != "lastUsedAt"
    }


def test_identical_creates_make_two_distinct_tokens(emulator: Emulator, owner: httpx.Client) -> None:
    first = create(owner, emulator.deployment_ids[0])
    second = create(owner, emulator.deployment_ids[0])
    assert first["id"] != second["id"] and first["token"] != second["token"]
    names = [t["name"] for t in owner.get("/tokens", params={"limit": 1000}).json()["tokens"]]
    assert names.count("ci") == 2


def test_update_renames_and_redescribes_without_changing_the_value(
    emulator: Emulator, owner: httpx.Client
) -> None:
    created = create(owner, emulator.deployment_ids[0])

    response = owner.post(f"/tokens/{created['id']}", json={"name": "renamed", "description": "new words"})

    body = validate_response(TOKEN, "POST", response)
    assert (body["name"], body["description"]) == ("renamed", "new words")
    assert "token" not in body
    with emulator.client(created["token"]) as own:
        assert own.get(f"/deployments/{emulator.deployment_ids[0]}").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"description": "no name"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"name": "ok", "description": "d" * 501}, "description"),
        ({"name": 7}, "name"),
    ],
)
def test_update_validates_name_and_description(
    emulator: Emulator, owner: httpx.Client, body: dict[str, Any], field: str
) -> None:
    created = create(owner, emulator.deployment_ids[0])
    response = owner.post(f"/tokens/{created['id']}", json=body)
    error = validate_response(TOKEN, "POST", response)
    assert response.status_code == 400
    assert field in {e["field"] for e in error["fieldErrors"]}


def test_rotate_returns_a_new_value_and_the_old_one_dies_at_once(
    emulator: Emulator, owner: httpx.Client
) -> None:
    deployment = emulator.deployment_ids[0]
    created = create(owner, deployment)

    rotated = validate_response(ROTATE, "POST", owner.post(f"/tokens/{created['id']}/rotate"))

    assert rotated["id"] == created["id"]
    assert rotated["token"] != created["token"]
    assert rotated["shortToken"] not in rotated["token"]
    assert TIMESTAMP.match(rotated["lastRotatedAt"])
    with emulator.client(created["token"]) as old, emulator.client(rotated["token"]) as new:
        assert old.get(f"/deployments/{deployment}").status_code == 401
        assert new.get(f"/deployments/{deployment}").status_code == 200


def test_delete_answers_204_and_a_repeat_answers_404(emulator: Emulator, owner: httpx.Client) -> None:
    created = create(owner, emulator.deployment_ids[0])

    first = owner.delete(f"/tokens/{created['id']}")
    again = owner.delete(f"/tokens/{created['id']}")

    assert validate_response(TOKEN, "DELETE", first) is None and first.status_code == 204
    assert again.status_code == 404
    assert validate_response(TOKEN, "DELETE", again)["statusCode"] == 404
    assert owner.get(f"/tokens/{created['id']}").status_code == 404


@pytest.mark.parametrize("method, suffix", [("GET", ""), ("POST", "/rotate"), ("DELETE", "")])
def test_an_unknown_token_id_is_404(owner: httpx.Client, method: str, suffix: str) -> None:
    response = owner.request(method, f"/tokens/cabcdefghijklmnopqrstuvwx{suffix}")
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "n" * 257}, "name"),
        ({"name": 12}, "name"),
        ({"description": "d" * 501}, "description"),
        ({"description": ["a list"]}, "description"),
        ({"scope": None}, "scope"),
        ({"scope": "TEAM"}, "scope"),
        ({"role": None}, "role"),
        ({"role": ""}, "role"),
        ({"role": "   "}, "role"),
        ({"role": "WORKSPACE_OWNER"}, "role"),
        ({"role": "DEPLOYMENT_ADMNI"}, "role"),
        ({"role": "deployment_admin"}, "role"),
        ({"role": "MY_CUSTOM_DEPLOYMENT_ROLE"}, "role"),  # not declared to the emulator
        ({"entityId": None}, "entityId"),
        ({"tokenExpiryPeriodInDays": 0}, "tokenExpiryPeriodInDays"),
        ({"tokenExpiryPeriodInDays": 3651}, "tokenExpiryPeriodInDays"),
        ({"tokenExpiryPeriodInDays": "30"}, "tokenExpiryPeriodInDays"),
        ({"tokenExpiryPeriodInDays": 1.5}, "tokenExpiryPeriodInDays"),
        ({"tokenExpiryPeriodInDays": True}, "tokenExpiryPeriodInDays"),
        ({"kind": "SPECIAL"}, "kind"),
    ],
)
def test_create_rejects_bad_input_with_field_errors(
    emulator: Emulator, owner: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    body = token_request(emulator.deployment_ids[0])
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}

    response = owner.post("/tokens", json=body)

    error = validate_response(TOKENS, "POST", response)
    assert response.status_code == 400
    assert field in {e["field"] for e in error["fieldErrors"]}
    assert all(e["code"] and e["message"] for e in error["fieldErrors"])
    assert error["requestId"] == response.headers["x-request-id"]
    assert [t["name"] for t in emulator.list_all_tokens()] == ["astrokeys-emulator bootstrap"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "n" * 256, "description": "d" * 500},
        {"name": "a"},
        {"tokenExpiryPeriodInDays": 1},
        {"tokenExpiryPeriodInDays": 3650},
        {"role": "MY_CUSTOM_DEPLOYMENT_ROLE"},
        {"kind": "DIRECT_ACCESS"},
        {"unknownField": "ignored, as the real JSON binding does"},
    ],
)
def test_create_accepts_values_at_the_limits(
    emulator: Emulator, owner: httpx.Client, overrides: dict[str, Any]
) -> None:
    emulator.set_deployment_roles(["MY_CUSTOM_DEPLOYMENT_ROLE"])
    response = owner.post("/tokens", json=token_request(emulator.deployment_ids[0], **overrides))
    body = validate_response(TOKENS, "POST", response)
    assert response.status_code == 200
    assert "unknownField" not in body


def test_create_for_a_deployment_that_does_not_exist_is_404(owner: httpx.Client) -> None:
    response = owner.post("/tokens", json=token_request("cnosuchdeployment00000000"))
    assert validate_response(TOKENS, "POST", response)["statusCode"] == 404
    assert "cnosuchdeployment00000000" in response.json()["message"]


def test_workspace_and_organization_tokens_carry_their_roles(
    emulator: Emulator, owner: httpx.Client
) -> None:
    workspace = create(
        owner, "", scope="WORKSPACE", entityId=emulator.workspace_id, role="WORKSPACE_OPERATOR"
    )
    organization = create(owner, "", scope="ORGANIZATION", entityId=None, role="ORGANIZATION_MEMBER")

    assert workspace["roles"] == [
        {"entityType": "WORKSPACE", "entityId": emulator.workspace_id, "role": "WORKSPACE_OPERATOR"}
    ]
    assert organization["roles"] == [
        {"entityType": "ORGANIZATION", "entityId": emulator.organization_id, "role": "ORGANIZATION_MEMBER"}
    ]
    bad = owner.post("/tokens", json={"name": "x", "scope": "ORGANIZATION", "role": "DEPLOYMENT_ADMIN"})
    assert bad.status_code == 400


def test_list_by_deployment_holds_every_token_with_a_role_on_it(
    emulator: Emulator, owner: httpx.Client
) -> None:
    first, second = emulator.deployment_ids[:2]
    mine = create(owner, first, name="mine")
    create(owner, second, name="other deployment")
    workspace = create(owner, "", name="ws", scope="WORKSPACE", entityId=emulator.workspace_id, role="WORKSPACE_MEMBER")
    other_ws = emulator.create_organization()  # a different org's tokens never show up

    response = owner.get("/tokens", params={"deploymentId": first})

    body = validate_response(TOKENS, "GET", response)
    names = {t["name"] for t in body["tokens"]}
    assert names == {"mine", "ws", "astrokeys-emulator bootstrap"}
    assert body["totalCount"] == 3
    assert mine["id"] in {t["id"] for t in body["tokens"]}
    assert workspace["id"] in {t["id"] for t in body["tokens"]}
    assert other_ws["organizationId"] != emulator.organization_id


def test_list_by_an_unknown_deployment_is_404(owner: httpx.Client) -> None:
    response = owner.get("/tokens", params={"deploymentId": "cnosuchdeployment00000000"})
    assert validate_response(TOKENS, "GET", response)["statusCode"] == 404


def test_list_pages_through_every_token_and_past_the_end(emulator: Emulator, owner: httpx.Client) -> None:
    for index in range(7):
        create(owner, emulator.deployment_ids[index % 2], name=f"t{index}")
    everything = {t["id"] for t in emulator.list_all_tokens()}
    assert len(everything) == 8

    seen: list[str] = []
    for offset in (0, 3, 6):
        page = validate_response(TOKENS, "GET", owner.get("/tokens", params={"offset": offset, "limit": 3}))
        assert (page["offset"], page["limit"], page["totalCount"]) == (offset, 3, 8)
        seen += [t["id"] for t in page["tokens"]]
    assert len(seen) == 8 and set(seen) == everything

    for offset in (8, 500):
        past = validate_response(TOKENS, "GET", owner.get("/tokens", params={"offset": offset, "limit": 3}))
        assert past == {"tokens": [], "limit": 3, "offset": offset, "totalCount": 8}


def test_list_defaults_to_20_per_page_and_caps_the_limit_at_1000(
    emulator: Emulator, owner: httpx.Client
) -> None:
    for index in range(21):
        create(owner, emulator.deployment_ids[0], name=f"t{index:02}")
    default = owner.get("/tokens").json()
    assert (default["limit"], default["offset"], len(default["tokens"]), default["totalCount"]) == (20, 0, 20, 22)
    assert owner.get("/tokens", params={"limit": 1000}).status_code == 200
    for bad in ({"limit": 1001}, {"limit": -1}, {"offset": -1}, {"limit": "ten"}):
        response = owner.get("/tokens", params=bad)
        assert validate_response(TOKENS, "GET", response)["statusCode"] == 400
        assert response.json()["fieldErrors"][0]["field"] == next(iter(bad))


def test_list_sorts_by_name(emulator: Emulator, owner: httpx.Client) -> None:
    for name in ("b", "c", "a"):
        create(owner, emulator.deployment_ids[0], name=name)
    params = {"deploymentId": emulator.deployment_ids[0], "includeOnlyOrganizationTokens": "false"}
    names = [t["name"] for t in owner.get("/tokens", params={**params, "sorts": "name:desc"}).json()["tokens"]]
    assert names == sorted(names, reverse=True)
    assert owner.get("/tokens", params={"sorts": "color:asc"}).status_code == 400


def test_list_can_hold_only_organization_tokens(emulator: Emulator, owner: httpx.Client) -> None:
    create(owner, emulator.deployment_ids[0])
    body = owner.get("/tokens", params={"includeOnlyOrganizationTokens": "true"}).json()
    assert [t["scope"] for t in body["tokens"]] == ["ORGANIZATION"]
