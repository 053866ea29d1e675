"""Every bad credential against every token and Deployment endpoint: refused, and nothing changes.

``test_emulator_auth.py`` tells the story of each rule on one or two endpoints; this
module is the matrix: each endpoint (token create, get, list, update, rotate, delete;
Deployment get, delete) crossed with each bad credential. What the emulator documents
(``pulumi_astrokeys/emulator/auth.py``): a missing, malformed, unknown, expired or
deleted token is 401; a valid token of another organization is 403 on this one's paths;
a Deployment token is 403 on anything of another Deployment. Either way, no token or
Deployment is created, changed, rotated or deleted.

All cases share one emulator: a refused request changes nothing, which each case checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

ONE_DAY = 86_400


@dataclass(frozen=True)
class World:
    """The emulator with its victims and the credentials that must fail on them."""

    emulator: Emulator
    victim_deployment: str
    victim_token: str
    headers: dict[str, dict[str, str]]
    acting_token_ids: dict[str, str]


def _create_token(emulator: Emulator, **body: Any) -> dict[str, Any]:
    request = {"name": "t", "scope": "DEPLOYMENT", "role": "DEPLOYMENT_ADMIN", **body}
    with emulator.client() as owner:
        response = owner.post("/tokens", json=request)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db: Path = tmp_path_factory.mktemp("auth-abuse") / "emulator.db"
    with run_emulator(db) as emulator:
        own, victim = emulator.deployment_ids[:2]
        victim_token = _create_token(emulator, name="victim", entityId=victim)
        deployment_token = _create_token(emulator, name="own", entityId=own)
        expired = _create_token(emulator, name="short-lived", entityId=own, tokenExpiryPeriodInDays=1)
        deleted = _create_token(emulator, name="deleted", entityId=own)
        with emulator.client() as owner:
            assert owner.delete(f"/tokens/{deleted['id']}").status_code == 204
        elsewhere = emulator.create_organization("Elsewhere")
        emulator.advance_clock(ONE_DAY + 1)

        def bearer(value: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {value}"}

        their_owner = emulator.list_all_tokens(elsewhere["organizationId"])[0]["id"]
        yield World(
            emulator=emulator,
            victim_deployment=victim,
            victim_token=victim_token["id"],
            headers={
                "no-header": {},
                "bearer-without-token": {"Authorization": "Bearer"},
                "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
                "garbage": {"Authorization": "\x7f%%garbage%% ;;"},
                "unknown-token": bearer("b7a1c0ffee-not-a-token-anyone-minted"),
                "expired-token": bearer(expired["token"]),
                "deleted-token": bearer(deleted["token"]),
                "other-organization-token": bearer(elsewhere["apiToken"]),
                "other-deployment-token": bearer(deployment_token["token"]),
            },
            acting_token_ids={
                "other-organization-token": their_owner,
                "other-deployment-token": deployment_token["id"],
            },
        )


UNAUTHENTICATED = ["no-header", "bearer-without-token", "basic", "garbage", "unknown-token", "expired-token", "deleted-token"]
FORBIDDEN = ["other-organization-token", "other-deployment-token"]
EXPECTED = {**{name: 401 for name in UNAUTHENTICATED}, **{name: 403 for name in FORBIDDEN}}


def _call(world: World, endpoint: str, client: httpx.Client) -> httpx.Response:
    token, deployment = world.victim_token, world.victim_deployment
    if endpoint == "create-token":
        return client.post(
            "/tokens", json={"name": "x", "scope": "DEPLOYMENT", "entityId": deployment, "role": "DEPLOYMENT_ADMIN"}
        )
    if endpoint == "get-token":
        return client.get(f"/tokens/{token}")
    if endpoint == "list-tokens":
        return client.get("/tokens", params={"deploymentId": deployment})
    if endpoint == "update-token":
        return client.post(f"/tokens/{token}", json={"name": "renamed", "description": "taken over"})
    if endpoint == "rotate-token":
        return client.post(f"/tokens/{token}/rotate")
    if endpoint == "delete-token":
        return client.delete(f"/tokens/{token}")
    if endpoint == "get-deployment":
        return client.get(f"/deployments/{deployment}")
    if endpoint == "delete-deployment":
        return client.delete(f"/deployments/{deployment}")
    raise AssertionError(endpoint)


ENDPOINTS = [
    "create-token",
    "get-token",
    "list-tokens",
    "update-token",
    "rotate-token",
    "delete-token",
    "get-deployment",
    "delete-deployment",
]


def _snapshot(world: World, acting_token_id: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Every token of every organization and this organization's Deployments.

    Tokens that authenticate record their use (``lastUsedAt``): for the acting token
    that is the one change a refused request may make.
    """
    tokens = []
    for token in sorted(world.emulator.list_all_tokens(), key=lambda t: t["id"]):
        if token["id"] == acting_token_id:
            token = {key: value for key, value in token.items() if key != "lastUsedAt"}
        tokens.append(token)
    return tokens, sorted(world.emulator.state()["deploymentIds"])


@pytest.mark.parametrize("credential", [*UNAUTHENTICATED, *FORBIDDEN])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_bad_credential_is_refused_and_changes_nothing(world: World, endpoint: str, credential: str) -> None:
    acting = world.acting_token_ids.get(credential)
    before = _snapshot(world, acting)
    client = httpx.Client(base_url=world.emulator.base_url, headers=world.headers[credential], trust_env=False)

    with client:
        response = _call(world, endpoint, client)

    expected = EXPECTED[credential]
    assert response.status_code == expected, response.text
    body = response.json()
    assert body["statusCode"] == expected and body["message"] and body["requestId"]
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert _snapshot(world, acting) == before


def test_the_matrix_targets_things_the_owner_can_reach(world: World) -> None:
    """The victims exist and the owner may do each call: a refusal above is about the credential."""
    with world.emulator.client() as owner:
        for endpoint in ("get-token", "list-tokens", "get-deployment"):
            assert _call(world, endpoint, owner).status_code == 200
