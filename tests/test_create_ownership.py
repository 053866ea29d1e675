"""A create deletes only the tokens it can prove it made, whatever the network does to its answers.

Each attempt marks its token with a marker of its own, which one more request removes once
the answer is in hand; the clean-up after a lost answer deletes the tokens carrying a lost
attempt's marker and nothing else.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys._operations import CREATE_MARKER_PREFIX, is_create_marker
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

CREATE = r"/tokens$"
LIST = r"/tokens$"


def provider_for(emulator: Emulator, **config: str) -> DeploymentApiKeyProvider:
    provider = DeploymentApiKeyProvider()
    settings = {
        **emulator.stack_config(),
        "astrokeys:apiToken": emulator.api_token,
        "astrokeys:retryBackoff": "0.01",
        **{f"astrokeys:{name}": value for name, value in config.items()},
    }
    provider.configure(ConfigureRequest(Config(settings, "test")))
    return provider


def create(provider: DeploymentApiKeyProvider, emulator: Emulator, name: str = "ci") -> Any:
    checked = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": name})
    assert checked.failures == []
    return provider.create(checked.inputs)


def tokens_named(emulator: Emulator, name: str) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in emulator.list_all_tokens(emulator.organization_id) if t["name"] == name}


def authenticates(emulator: Emulator, secret: str) -> bool:
    with emulator.client(secret) as api:
        return api.get(f"/deployments/{emulator.deployment_ids[0]}").status_code == 200


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_lost_create_never_deletes_a_same_named_key_whose_answer_is_still_on_its_way(emulator: Emulator) -> None:
    # Two keys named "ci" in one program (or two stacks sharing an API token): the first create
    # is answered two seconds late, the second one's answer is lost while the first is pending.
    provider = provider_for(emulator, requestTimeout="3")
    emulator.inject_fault("POST", CREATE, action="commit-then-delay", delay_seconds=2.0)
    emulator.inject_fault("POST", CREATE, action="commit-then-drop")

    with ThreadPoolExecutor(1) as pool:
        answered_late = pool.submit(create, provider, emulator)
        wait_for(lambda: len(tokens_named(emulator, "ci")) == 1)
        retried = create(provider, emulator)
        late = answered_late.result()

    live = tokens_named(emulator, "ci")
    assert set(live) == {late.id, retried.id}, "a live key whose secret a pipeline holds was deleted"
    assert authenticates(emulator, late.outs["secret"]["value"])
    assert authenticates(emulator, retried.outs["secret"]["value"])
    assert {t["description"] for t in live.values()} == {""}


def test_a_create_answered_with_a_garbled_body_leaves_no_token_behind(emulator: Emulator) -> None:
    provider = provider_for(emulator)
    emulator.inject_fault("POST", CREATE, action="commit-then-garble")

    created = create(provider, emulator)

    assert list(tokens_named(emulator, "ci")) == [created.id]
    assert authenticates(emulator, created.outs["secret"]["value"])


def test_a_create_committed_after_the_client_gave_up_is_found_and_deleted(emulator: Emulator) -> None:
    # The first create is held past the client's patience; the clean-up's listing is held
    # until that create has committed, so the commit lands after the client gave up and
    # before the clean-up looks, whatever the machine's speed.
    provider = provider_for(emulator, requestTimeout="1")
    held_create = emulator.inject_fault("POST", CREATE, action="hold")
    held_listing = emulator.inject_fault("GET", LIST, action="hold")

    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(create, provider, emulator)
        emulator.wait_until_held(held_listing)
        emulator.release(held_create)
        wait_for(lambda: len(tokens_named(emulator, "ci")) == 2)
        emulator.release(held_listing)
        created = creating.result()

    assert list(tokens_named(emulator, "ci")) == [created.id]
    late = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/tokens")]
    assert [r["status"] for r in late] == [200, 200], "the held create committed after its retry"


def test_a_burst_of_server_errors_while_cleaning_up_is_ridden_out(emulator: Emulator) -> None:
    provider = provider_for(emulator)
    emulator.inject_fault("POST", CREATE, action="commit-then-drop")
    emulator.inject_fault("GET", LIST, status=500, count=6)  # the client itself never retries a 500

    created = create(provider, emulator)

    assert list(tokens_named(emulator, "ci")) == [created.id]
    lists = [r["status"] for r in emulator.requests() if r["method"] == "GET" and r["path"].endswith("/tokens")]
    assert lists == [500] * 6 + [200]


def test_a_create_refused_with_429s_more_often_than_it_may_retry_waits_each_out_and_makes_one_key(
    emulator: Emulator,
) -> None:
    # Two stacks sharing one API token: the other stack's requests keep the API's bucket empty.
    # Each 429 says the request was not done, so it is sent again after its Retry-After, however
    # few retries maxRetries allows, and the key is made once, marker and all.
    provider = provider_for(emulator, maxRetries="0")
    emulator.inject_fault("POST", CREATE, status=429, retry_after=1, count=2)
    emulator.inject_fault("POST", r"/tokens/c[a-z0-9]{24}$", status=429, retry_after=1, count=2)

    started = time.monotonic()
    created = create(provider, emulator)

    assert time.monotonic() - started >= 4.0, "each Retry-After must be waited out"
    live = tokens_named(emulator, "ci")
    assert list(live) == [created.id]
    assert live[created.id]["description"] == ""
    posts = [("create" if r["path"].endswith("/tokens") else "describe", r["status"]) for r in emulator.requests() if r["method"] == "POST"]
    assert posts == [("create", 429)] * 2 + [("create", 200)] + [("describe", 429)] * 2 + [("describe", 200)]


def test_429s_on_the_clean_ups_listing_are_waited_out_however_few_retries_are_allowed(emulator: Emulator) -> None:
    provider = provider_for(emulator, maxRetries="0")
    emulator.inject_fault("POST", CREATE, action="commit-then-drop")
    emulator.inject_fault("GET", LIST, status=429, retry_after=1, count=3)

    started = time.monotonic()
    created = create(provider, emulator)

    assert time.monotonic() - started >= 3.0, "each Retry-After must be waited out"
    assert list(tokens_named(emulator, "ci")) == [created.id]


def test_when_the_clean_up_cannot_check_it_fails_naming_what_it_left_and_deletes_nothing_else(
    emulator: Emulator,
) -> None:
    provider = provider_for(emulator)
    with emulator.client() as owner:
        other = owner.post(
            "/tokens",
            json={"name": "ci", "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"},
        ).json()
    emulator.inject_fault("POST", CREATE, action="commit-then-drop")
    emulator.inject_fault("GET", LIST, status=403, count=50)

    with pytest.raises(KeyOperationError) as caught:
        create(provider, emulator)

    message = str(caught.value)
    live = tokens_named(emulator, "ci")
    (stray,) = [t for t in live.values() if t["id"] != other["id"]]
    assert is_create_marker(stray["description"]) and stray["description"] in message
    assert "left in place for you to check and delete" in message and "'ci'" in message
    assert "\n" not in message and message.endswith(".") and other["token"] not in message
    assert other["id"] in live, "a token this create cannot prove it made must stay"
    assert CREATE_MARKER_PREFIX.strip() in stray["description"]


def test_a_garbled_listing_or_a_failed_delete_while_cleaning_up_is_tried_again(emulator: Emulator) -> None:
    provider = provider_for(emulator)
    emulator.inject_fault("POST", CREATE, action="commit-then-drop")
    emulator.inject_fault("GET", LIST, action="commit-then-garble", count=2)
    emulator.inject_fault("DELETE", r"/tokens/", status=500, count=2)

    created = create(provider, emulator)

    assert list(tokens_named(emulator, "ci")) == [created.id]
