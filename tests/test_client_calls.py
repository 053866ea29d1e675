"""The Astro API client's typed calls, its connection pool and its User-Agent, over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from importlib.metadata import version
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._errors import NotFoundError
from pulumi_astrokeys._settings import AstroSettings
from pulumi_astrokeys.testing.emulator import Emulator

FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def client(settings: AstroSettings) -> AstroClient:
    return AstroClient(settings, retry=FAST, rate_limits=None)


class RecordingTransport(httpx.BaseTransport):
    """Forwards every request to a real HTTP transport and keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def secret_works(emulator: Emulator, secret: SecretStr, deployment_id: str) -> bool:
    with emulator.client(secret.get_secret_value()) as as_key:
        return as_key.get(f"/deployments/{deployment_id}").status_code == 200


# -- tokens ---------------------------------------------------------------------------


def test_create_deployment_token_returns_the_working_secret_as_a_secretstr(
    emulator: Emulator, client: AstroClient
) -> None:
    deployment = emulator.deployment_ids[0]

    token = client.create_deployment_token(deployment, name="ci", description="CI deploys", expiry_period_in_days=30)

    assert isinstance(token.token, SecretStr)
    assert secret_works(emulator, token.token, deployment)
    assert (token.name, token.description, token.scope) == ("ci", "CI deploys", "DEPLOYMENT")
    assert token.expiry_period_in_days == 30 and token.end_at is not None
    assert token.role_on(deployment) == "DEPLOYMENT_ADMIN"
    assert token.is_scoped_to_deployment(deployment)
    created = [r for r in emulator.requests() if r["method"] == "POST"]
    assert [r["status"] for r in created] == [200]


def test_get_token_returns_the_metadata_and_never_a_secret(emulator: Emulator, client: AstroClient) -> None:
    created = client.create_deployment_token(emulator.deployment_ids[0], name="ci")

    fetched = client.get_token(created.id)

    assert fetched.token is None
    assert (fetched.id, fetched.name, fetched.short_token) == (created.id, created.name, created.short_token)


def test_iter_deployment_tokens_follows_every_page_and_yields_each_token_once(
    emulator: Emulator, client: AstroClient
) -> None:
    deployment, other = emulator.deployment_ids[:2]
    created = {client.create_deployment_token(deployment, name=f"key {i}").id for i in range(7)}
    client.create_deployment_token(other, name="elsewhere")
    owner_token = {t["id"] for t in emulator.list_all_tokens() if t["scope"] == "ORGANIZATION"}
    emulator.clear_requests()

    listed = [token.id for token in client.iter_deployment_tokens(deployment, page_size=3)]

    assert Counter(listed) == Counter(created | owner_token)
    # 8 tokens, pages of 3 that overlap by one (the token that ends a page begins the next).
    pages = [parse_qs(r["query"]) for r in emulator.requests()]
    assert [(p["offset"], p["limit"]) for p in pages] == [(["0"], ["3"]), (["2"], ["3"]), (["4"], ["3"]), (["6"], ["3"])]


def test_list_deployment_tokens_keeps_only_the_deployments_own_tokens(emulator: Emulator, client: AstroClient) -> None:
    deployment, other = emulator.deployment_ids[:2]
    own = {client.create_deployment_token(deployment, name=f"key {i}").id for i in range(3)}
    client.create_deployment_token(other, name="elsewhere")
    # The API lists the organization owner's token too: it has a role on every Deployment.
    assert any(t.scope == "ORGANIZATION" for t in client.iter_deployment_tokens(deployment))

    listed = client.list_deployment_tokens(deployment)

    assert sorted(t.id for t in listed) == sorted(own)
    assert all(t.token is None for t in listed)


def test_delete_token_deletes_it(emulator: Emulator, client: AstroClient) -> None:
    token = client.create_deployment_token(emulator.deployment_ids[0], name="ci")

    client.delete_token(token.id)

    with pytest.raises(NotFoundError):
        client.get_token(token.id)
    assert token.id not in {t["id"] for t in emulator.list_all_tokens()}
    assert [r["status"] for r in emulator.requests() if r["method"] == "DELETE"] == [204]


# -- Deployments ----------------------------------------------------------------------


def test_get_deployment_returns_the_deployment(emulator: Emulator, client: AstroClient) -> None:
    deployment = client.get_deployment(emulator.deployment_ids[0])

    assert deployment.id == emulator.deployment_ids[0]
    assert deployment.workspace_id == emulator.workspace_id
    assert deployment.organization_id == emulator.organization_id


# -- the connection pool and the User-Agent ---------------------------------------------


def test_a_client_owns_its_pool_and_closing_it_closes_the_pool(emulator: Emulator, settings: AstroSettings) -> None:
    with AstroClient(settings, rate_limits=None) as client:
        assert client.get_deployment(emulator.deployment_ids[0]).id == emulator.deployment_ids[0]
    assert client._http.is_closed


def test_a_client_given_an_http_client_uses_it_and_leaves_it_open(emulator: Emulator, settings: AstroSettings) -> None:
    transport = RecordingTransport()
    with httpx.Client(transport=transport) as http_client:
        with AstroClient(settings, http_client=http_client, rate_limits=None) as client:
            client.get_deployment(emulator.deployment_ids[0])
        assert not http_client.is_closed
    assert [request.url.path for request in transport.sent] == [
        f"/v1/organizations/{emulator.organization_id}/deployments/{emulator.deployment_ids[0]}"
    ]


def test_a_client_takes_an_http_client_or_a_transport_not_both(settings: AstroSettings) -> None:
    with httpx.Client() as http_client, pytest.raises(TypeError, match="not both"):
        AstroClient(settings, http_client=http_client, transport=RecordingTransport())


def test_the_server_sees_a_user_agent_naming_the_package_and_its_version(
    emulator: Emulator, settings: AstroSettings
) -> None:
    transport = RecordingTransport()
    with AstroClient(settings, transport=transport, rate_limits=None) as client:
        client.get_deployment(emulator.deployment_ids[0])
        client.create_deployment_token(emulator.deployment_ids[0], name="ci")

    assert len(transport.sent) == 2
    for request in transport.sent:
        product = request.headers["User-Agent"].split()[0]
        assert product == f"pulumi-astrokeys/{version('pulumi-astrokeys')}"
        assert request.headers["Authorization"] == f"Bearer {emulator.api_token}"
        assert all(limit is not None for limit in request.extensions["timeout"].values())


def test_the_client_learns_the_servers_clock_from_its_answers(emulator: Emulator, client: AstroClient) -> None:
    # Stray tokens of a lost create are told apart by the API's timestamps, so the client
    # must compare them with the server's clock, not this machine's.
    server_now = datetime.fromisoformat(emulator.advance_clock(3 * 3600).replace("Z", "+00:00"))
    client.get_deployment(emulator.deployment_ids[0])
    assert abs((client.server_time() - server_now).total_seconds()) < 5
