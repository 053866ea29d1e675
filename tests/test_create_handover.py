"""A create marks its token with whose it is, and hands it over only within the commit bound on Astro's clock.

The marker (``pulumi-astrokeys create in progress <hex> for stack <project>/<stack>,
resource <name>``) is what ``astrokeys audit`` proves ownership by; the bound is what it
proves abandonment by. Each interleaving is pinned with the emulator's hold faults: the
test acts while a request is held, never by racing a delay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hold_support import call_while_held
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys._client import AstroClient
from pulumi_astrokeys._operations import create_key
from pulumi_astrokeys._ownership import COMMIT_BOUND, OWNER_PROPERTY, CreateMarker, KeyOwner
from pulumi_astrokeys._settings import AstroSettings
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

CREATE = r"/tokens$"
DESCRIBE = r"/tokens/c[a-z0-9]{24}$"
OWNER = {"project": "shop", "stack": "staging", "name": "ci"}


@pytest.fixture
def provider(emulator: Emulator) -> DeploymentApiKeyProvider:
    provider = DeploymentApiKeyProvider()
    settings = {**emulator.stack_config(), "astrokeys:apiToken": emulator.api_token, "astrokeys:retryBackoff": "0.01"}
    provider.configure(ConfigureRequest(Config(settings, "test")))
    return provider


def checked(provider: DeploymentApiKeyProvider, emulator: Emulator, **extra: Any) -> dict[str, Any]:
    news = {"deployment_id": emulator.deployment_ids[0], "name": "ci", "description": "CI deploys", **extra}
    result = provider.check({}, news)
    assert result.failures == []
    return result.inputs


def past_the_bound(emulator: Emulator) -> Callable[[], object]:
    """Astro's clock moves past the commit bound of every create so far."""
    return lambda: emulator.advance_clock(COMMIT_BOUND.total_seconds())


def deployment_tokens(emulator: Emulator) -> list[dict[str, Any]]:
    return [t for t in emulator.list_all_tokens(emulator.organization_id) if t["scope"] == "DEPLOYMENT"]


def test_the_marker_names_the_stack_and_resource_until_the_description_is_set(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    inputs = checked(provider, emulator, **{OWNER_PROPERTY: OWNER})
    assert inputs[OWNER_PROPERTY] == OWNER, "check hands the owner on to create"
    hold = emulator.inject_fault("POST", DESCRIBE, action="hold")
    seen: list[dict[str, Any]] = []

    created = call_while_held(emulator, hold, lambda: provider.create(inputs), lambda: seen.extend(deployment_tokens(emulator))).result()

    (token,) = seen
    marker = CreateMarker.parse(token["description"])
    assert marker is not None and marker.owner == KeyOwner("shop", "staging", "ci")
    assert token["description"].endswith(" for stack shop/staging, resource ci")
    assert [(t["id"], t["description"]) for t in deployment_tokens(emulator)] == [(created.id, "CI deploys")]


def test_a_urn_names_the_owner_as_well(emulator: Emulator, settings: AstroSettings) -> None:
    hold = emulator.inject_fault("POST", DESCRIBE, action="hold")
    urn = "urn:pulumi:prod::shop::my:component$pulumi-python:dynamic/astrokeys:DeploymentApiKey::deploy::blue"
    props = {"deployment_id": emulator.deployment_ids[0], "name": "deploy"}

    seen: list[dict[str, Any]] = []
    with AstroClient(settings) as client:
        creating = lambda: create_key(client, props, owner=urn)  # noqa: E731
        call_while_held(emulator, hold, creating, lambda: seen.extend(deployment_tokens(emulator))).result()

    (token,) = seen
    marker = CreateMarker.parse(token["description"])
    assert marker is not None and marker.owner == KeyOwner("shop", "prod", "deploy::blue")


def test_a_description_answered_past_the_commit_bound_is_not_handed_over_and_the_token_is_deleted(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    inputs = checked(provider, emulator, **{OWNER_PROPERTY: OWNER})
    hold = emulator.inject_fault("POST", DESCRIBE, action="hold")

    creating = call_while_held(emulator, hold, lambda: provider.create(inputs), past_the_bound(emulator))
    with pytest.raises(KeyOperationError) as refused:
        creating.result()

    message = str(refused.value)
    assert "Could not create Deployment API key 'ci'" in message and "Astro's clock passed" in message
    assert "so it was deleted; run `pulumi up` again." in message
    assert deployment_tokens(emulator) == [], "a token answered past the bound may already count as abandoned"


def test_a_token_answered_past_the_commit_bound_gets_no_description_request(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    inputs = checked(provider, emulator, **{OWNER_PROPERTY: OWNER})
    hold = emulator.inject_fault("POST", CREATE, action="commit-then-hold")

    creating = call_while_held(emulator, hold, lambda: provider.create(inputs), past_the_bound(emulator))
    with pytest.raises(KeyOperationError, match="Astro's clock passed"):
        creating.result()

    assert deployment_tokens(emulator) == []
    assert [r["method"] for r in emulator.requests() if r["path"].rsplit("/", 2)[-2] == "tokens"] == ["DELETE"]


def test_a_create_without_an_owner_writes_a_marker_that_names_none(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    inputs = checked(provider, emulator)
    assert OWNER_PROPERTY not in inputs
    hold = emulator.inject_fault("POST", DESCRIBE, action="hold")
    seen: list[dict[str, Any]] = []

    call_while_held(emulator, hold, lambda: provider.create(inputs), lambda: seen.extend(deployment_tokens(emulator))).result()

    (token,) = seen
    marker = CreateMarker.parse(token["description"])
    assert marker is not None and marker.owner is None


def test_a_resource_name_too_long_for_the_description_limit_is_cut_in_the_marker() -> None:
    marker = CreateMarker.new(KeyOwner("shop", "staging", "k" * 600))
    assert len(marker.text) == 500
    parsed = CreateMarker.parse(marker.text)
    assert parsed is not None and parsed.owner is not None and parsed.owner.stack_name == "shop/staging"


def test_check_refuses_a_description_that_would_read_as_a_create_marker(provider: DeploymentApiKeyProvider) -> None:
    forged = CreateMarker.new(KeyOwner("shop", "staging", "ci")).text
    result = provider.check({}, {"deployment_id": "clm8q7f6q000008lcgyougpsk", "name": "ci", "description": forged})
    (failure,) = result.failures
    assert failure.property == "description" and "marks a create that never finished" in failure.reason


def test_the_owner_replaces_nothing_a_state_without_it_is_the_same_key(provider: DeploymentApiKeyProvider) -> None:
    inputs = {"deployment_id": "clm8q7f6q000008lcgyougpsk", "name": "ci", "description": ""}
    olds = {**inputs, "key_id": "x", "secret": "not-a-real-secret"}
    news = {**inputs, OWNER_PROPERTY: OWNER}
    diff = provider.diff("x", olds, news)
    assert diff.changes is False and diff.replaces == []
