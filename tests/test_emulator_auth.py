"""Authentication and authorization, as the real service enforces them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from spec import validate_response

from pulumi_astrokeys.testing.emulator import Emulator

TOKENS = "/organizations/{organizationId}/tokens"
DEPLOYMENT = "/organizations/{organizationId}/deployments/{deploymentId}"


def make_token(emulator: Emulator, **body: Any) -> dict[str, Any]:
    request = {"name": "t", "scope": "DEPLOYMENT", "role": "DEPLOYMENT_ADMIN", **body}
    with emulator.client() as owner:
        response = owner.post("/tokens", json=request)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer two words"},
        {"Authorization": "Bearer not-a-token-anyone-minted"},
    ],
    ids=["missing", "empty", "no-value", "basic", "two-words", "unknown"],
)
def test_a_missing_malformed_or_unknown_token_is_401(emulator: Emulator, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=emulator.base_url, headers=headers, trust_env=False) as anonymous:
        listed = anonymous.get("/tokens")
        created = anonymous.post("/tokens", json={"name": "x", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"})
    for response, method in ((listed, "GET"), (created, "POST")):
        body = validate_response(TOKENS, method, response)
        assert response.status_code == 401 and body["statusCode"] == 401
    assert len(emulator.list_all_tokens()) == 1


def test_an_expired_token_is_401_once_the_clock_passes_its_end(emulator: Emulator) -> None:
    deployment = emulator.deployment_ids[0]
    short = make_token(emulator, entityId=deployment, tokenExpiryPeriodInDays=1)
    lasting = make_token(emulator, entityId=deployment)
    with emulator.client(short["token"]) as expiring, emulator.client(lasting["token"]) as forever:
        assert expiring.get(f"/deployments/{deployment}").status_code == 200

        emulator.advance_clock(86_400 + 1)

        response = expiring.get(f"/deployments/{deployment}")
        assert validate_response(DEPLOYMENT, "GET", response)["statusCode"] == 401
        assert "expired" in response.json()["message"]
        assert forever.get(f"/deployments/{deployment}").status_code == 200


def test_a_deleted_token_stops_working_at_once(emulator: Emulator) -> None:
    deployment = emulator.deployment_ids[0]
    created = make_token(emulator, entityId=deployment)
    with emulator.client(created["token"]) as client:
        assert client.get(f"/deployments/{deployment}").status_code == 200
        with emulator.client() as owner:
            assert owner.delete(f"/tokens/{created['id']}").status_code == 204
        assert client.get(f"/deployments/{deployment}").status_code == 401


def test_a_deployment_token_reads_its_own_deployment_and_nothing_more(emulator: Emulator) -> None:
    own, other = emulator.deployment_ids[:2]
    created = make_token(emulator, entityId=own)
    sibling = make_token(emulator, entityId=own, name="sibling")
    foreign = make_token(emulator, entityId=other, name="foreign")

    with emulator.client(created["token"]) as token:
        assert token.get(f"/deployments/{own}").status_code == 200
        assert token.get(f"/deployments/{other}").status_code == 403
        listed = token.get("/tokens", params={"deploymentId": own})
        assert listed.status_code == 200
        assert {created["id"], sibling["id"]} <= {t["id"] for t in listed.json()["tokens"]}
        assert token.get(f"/tokens/{sibling['id']}").status_code == 200
        assert [d["id"] for d in token.get("/deployments").json()["deployments"]] == [own]

        forbidden = [
            token.get(f"/tokens/{foreign['id']}"),
            token.get("/tokens", params={"deploymentId": other}),
            token.get("/tokens"),
            token.post("/tokens", json={"name": "x", "scope": "DEPLOYMENT", "entityId": own, "role": "DEPLOYMENT_ADMIN"}),
            token.post("/tokens", json={"name": "x", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"}),
            token.post("/deployments", json={"name": "x", "workspaceId": emulator.workspace_id, "type": "STANDARD"}),
            token.delete(f"/deployments/{own}"),
            token.delete(f"/deployments/{other}"),
            token.delete(f"/tokens/{sibling['id']}"),
            token.post(f"/tokens/{sibling['id']}/rotate"),
            token.post(f"/tokens/{sibling['id']}", json={"name": "renamed"}),
        ]
    assert [r.status_code for r in forbidden] == [403] * len(forbidden)
    assert all(r.json()["statusCode"] == 403 for r in forbidden)
    assert len(emulator.list_all_tokens()) == 4
    assert emulator.state()["deploymentIds"] == emulator.deployment_ids


def test_another_organizations_paths_are_403_and_nothing_changes(emulator: Emulator) -> None:
    other = emulator.create_organization("Elsewhere")
    other_token = None
    with httpx.Client(
        base_url=f"{emulator.host}/v1/organizations/{other['organizationId']}",
        headers={"Authorization": f"Bearer {other['apiToken']}"},
        trust_env=False,
    ) as theirs:
        other_token = theirs.post(
            "/tokens",
            json={"name": "theirs", "scope": "DEPLOYMENT", "entityId": other["deploymentIds"][0], "role": "DEPLOYMENT_ADMIN"},
        ).json()
    before = emulator.list_all_tokens(other["organizationId"])

    with httpx.Client(
        base_url=f"{emulator.host}/v1/organizations/{other['organizationId']}",
        headers={"Authorization": f"Bearer {emulator.api_token}"},
        trust_env=False,
    ) as intruder:
        responses = [
            intruder.get("/tokens"),
            intruder.get(f"/tokens/{other_token['id']}"),
            intruder.delete(f"/tokens/{other_token['id']}"),
            intruder.post(f"/tokens/{other_token['id']}/rotate"),
            intruder.post("/tokens", json={"name": "x", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"}),
            intruder.get(f"/deployments/{other['deploymentIds'][0]}"),
            intruder.delete(f"/deployments/{other['deploymentIds'][0]}"),
            intruder.get("/deployments"),
        ]

    assert [r.status_code for r in responses] == [403] * len(responses)
    assert emulator.list_all_tokens(other["organizationId"]) == before


def test_another_organizations_ids_under_our_path_are_404(emulator: Emulator) -> None:
    other = emulator.create_organization()
    their_owner = emulator.list_all_tokens(other["organizationId"])[0]
    with emulator.client() as owner:
        assert owner.get(f"/tokens/{their_owner['id']}").status_code == 404
        assert owner.delete(f"/tokens/{their_owner['id']}").status_code == 404
        assert owner.get(f"/deployments/{other['deploymentIds'][0]}").status_code == 404
        assert owner.delete(f"/deployments/{other['deploymentIds'][0]}").status_code == 404
        create = owner.post(
            "/tokens",
            json={"name": "x", "scope": "DEPLOYMENT", "entityId": other["deploymentIds"][0], "role": "DEPLOYMENT_ADMIN"},
        )
        assert create.status_code == 404
    assert len(emulator.list_all_tokens(other["organizationId"])) == 1


def test_a_workspace_operator_manages_deployment_tokens_of_its_workspace_only(emulator: Emulator) -> None:
    operator = make_token(emulator, scope="WORKSPACE", entityId=emulator.workspace_id, role="WORKSPACE_OPERATOR")
    deployment = emulator.deployment_ids[0]
    with emulator.client(operator["token"]) as client:
        made = client.post(
            "/tokens", json={"name": "by-operator", "scope": "DEPLOYMENT", "entityId": deployment, "role": "DEPLOYMENT_ADMIN"}
        )
        assert made.status_code == 200
        assert client.delete(f"/tokens/{made.json()['id']}").status_code == 204
        assert client.post("/tokens", json={"name": "x", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}).status_code == 403
        assert client.post(
            "/tokens", json={"name": "x", "scope": "WORKSPACE", "entityId": emulator.workspace_id, "role": "WORKSPACE_MEMBER"}
        ).status_code == 403
        assert client.get("/tokens", params={"workspaceId": emulator.workspace_id}).status_code == 200
        assert client.get("/tokens").status_code == 403


def test_an_organization_member_reads_deployments_but_not_tokens(emulator: Emulator) -> None:
    member = make_token(emulator, scope="ORGANIZATION", role="ORGANIZATION_MEMBER")
    with emulator.client(member["token"]) as client:
        assert client.get(f"/deployments/{emulator.deployment_ids[0]}").status_code == 200
        assert client.get("/deployments").json()["totalCount"] == 2
        assert client.get("/tokens").status_code == 403
        assert client.delete(f"/deployments/{emulator.deployment_ids[0]}").status_code == 403


def test_last_used_at_records_a_tokens_use(emulator: Emulator) -> None:
    created = make_token(emulator, entityId=emulator.deployment_ids[0])
    assert "lastUsedAt" not in created
    with emulator.client(created["token"]) as client:
        client.get(f"/deployments/{emulator.deployment_ids[0]}")
    used = next(t for t in emulator.list_all_tokens() if t["id"] == created["id"])
    assert used["lastUsedAt"] >= created["createdAt"]
