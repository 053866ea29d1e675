"""The token listing the clean-up, the audit and the lookups rely on: every token, in one stable order.

The API pages by offset. Without a sort it promises no order, and a token deleted before
the offset between two pages shifts the next page, so an offset paging can skip a token
nobody deleted. The client asks for ``sorts`` (oldest first), collects the whole listing
before anyone acts on it, and starts over when the pages no longer join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from spec import validate_response

from pulumi_astrokeys._client import AstroClient
from pulumi_astrokeys._settings import AstroSettings
from pulumi_astrokeys.lookups import list_deployment_api_keys
from pulumi_astrokeys.testing.emulator import Emulator

TOKENS = "/organizations/{organizationId}/tokens"


@pytest.fixture
def owner(emulator: Emulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


def make_tokens(emulator: Emulator, owner: httpx.Client, names: list[str], *, apart: float = 60) -> list[dict[str, Any]]:
    """Tokens on the first Deployment, each ``apart`` seconds after the last on Astro's clock."""
    made = []
    for name in names:
        body = {"name": name, "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"}
        response = owner.post("/tokens", json=body)
        assert response.status_code == 200, response.text
        made.append(response.json())
        emulator.advance_clock(apart)
    return made


class _BetweenPages(httpx.BaseTransport):
    """The real HTTP transport, and one action of someone else's after the first page's answer."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._inner = httpx.HTTPTransport()
        self._action: Callable[[], None] | None = action

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.url.path.endswith("/tokens") and self._action is not None:
            response.read()
            action, self._action = self._action, None
            action()
        return response

    def close(self) -> None:
        self._inner.close()


def test_the_emulator_lists_newest_first_unless_a_sort_is_asked(emulator: Emulator, owner: httpx.Client) -> None:
    made = make_tokens(emulator, owner, ["first", "second", "third"])
    params = {"deploymentId": emulator.deployment_ids[0]}

    unsorted = [t["name"] for t in owner.get("/tokens", params=params).json()["tokens"] if t["scope"] == "DEPLOYMENT"]
    assert unsorted == ["third", "second", "first"], "the API promises no order: a client must ask for one"

    oldest_first = owner.get("/tokens", params={**params, "sorts": "createdAt:asc"})
    names = [t["name"] for t in validate_response(TOKENS, "GET", oldest_first)["tokens"] if t["scope"] == "DEPLOYMENT"]
    assert names == [t["name"] for t in made]


def test_the_emulator_applies_several_sorts_in_the_order_given_as_repeated_parameters(
    emulator: Emulator, owner: httpx.Client
) -> None:
    deployment = emulator.deployment_ids[0]
    for name, description in (("b", "2"), ("a", "2"), ("b", "1"), ("a", "1")):
        body = {"name": name, "description": description, "scope": "DEPLOYMENT", "entityId": deployment}
        body["role"] = "DEPLOYMENT_ADMIN"
        assert owner.post("/tokens", json=body).status_code == 200
    query = [("deploymentId", deployment), ("sorts", "name:desc"), ("sorts", "description:asc")]

    listed = validate_response(TOKENS, "GET", owner.get("/tokens", params=query))["tokens"]

    pairs = [(t["name"], t["description"]) for t in listed if t["scope"] == "DEPLOYMENT"]
    assert pairs == [("b", "1"), ("b", "2"), ("a", "1"), ("a", "2")]


@pytest.mark.parametrize("sort", ["createdById:asc", "id:asc", "createdAt", "createdAt:up", "CREATEDAT:ASC"])
def test_the_emulator_refuses_a_sort_the_spec_does_not_list_for_tokens(
    emulator: Emulator, owner: httpx.Client, sort: str
) -> None:
    response = owner.get("/tokens", params={"sorts": sort})
    body = validate_response(TOKENS, "GET", response)
    assert response.status_code == 400 and body["fieldErrors"][0]["field"] == "sorts"


def test_the_client_asks_for_oldest_first_and_pages_through_more_tokens_than_a_page_holds(
    emulator: Emulator, owner: httpx.Client, settings: AstroSettings
) -> None:
    made = make_tokens(emulator, owner, [f"key-{n}" for n in range(7)])
    emulator.clear_requests()

    with AstroClient(settings, rate_limits=None) as client:
        listed = client.list_deployment_tokens(emulator.deployment_ids[0], page_size=3)

    assert [t.id for t in listed] == [t["id"] for t in made]
    queries = [parse_qs(r["query"]) for r in emulator.requests() if r["path"].endswith("/tokens")]
    assert len(queries) >= 3, "seven tokens, three a page"
    assert all(q["sorts"][0] == "createdAt:asc" for q in queries)


def test_a_token_deleted_by_someone_else_between_two_pages_makes_the_listing_skip_no_other(
    emulator: Emulator, owner: httpx.Client, settings: AstroSettings
) -> None:
    made = make_tokens(emulator, owner, [f"key-{n}" for n in range(7)])
    gone = made[0]["id"]

    def someone_deletes_the_oldest() -> None:
        assert owner.delete(f"/tokens/{gone}").status_code == 204

    client = AstroClient(settings, transport=_BetweenPages(someone_deletes_the_oldest), rate_limits=None)
    with client:
        listed = [t.id for t in client.iter_deployment_tokens(emulator.deployment_ids[0], page_size=3)]

    expected = [t["id"] for t in made[1:]]
    assert [i for i in listed if i in expected] == expected, "a token nobody deleted was skipped"
    assert gone not in listed[-len(expected) :]


def test_the_lookup_lists_a_deployments_keys_oldest_first(
    emulator: Emulator, owner: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_tokens(emulator, owner, ["nightly", "adhoc", "ci"])
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)

    keys = list_deployment_api_keys(emulator.deployment_ids[0])

    assert [k.key_id for k in keys] == [t["id"] for t in made]
    assert [k.created_at for k in keys] == sorted(k.created_at for k in keys)
