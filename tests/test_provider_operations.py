"""create, read and delete against the emulator over real HTTP, calling the provider directly."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from pulumi_astrokeys import ConfigurationError, KeyOperationError
from pulumi_astrokeys.provider import DeploymentApiKeyProvider


def configured_provider(emulator: Any, **overrides: str) -> DeploymentApiKeyProvider:
    config = {**emulator.stack_config(), **emulator.secret_stack_config(), **overrides}
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config(config, "test")))
    return provider


@pytest.fixture
def provider(emulator: Any) -> DeploymentApiKeyProvider:
    return configured_provider(emulator)


def inputs(provider: DeploymentApiKeyProvider, deployment_id: str, **extra: Any) -> dict[str, Any]:
    result = provider.check({}, {"deployment_id": deployment_id, "name": "ci", **extra})
    assert result.failures == []
    return result.inputs


def token_works(emulator: Any, secret: str, deployment_id: str) -> bool:
    import httpx

    response = httpx.get(
        f"{emulator.host}/v1/organizations/{emulator.organization_id}/deployments/{deployment_id}",
        headers={"Authorization": f"Bearer {secret}"},
    )
    return response.status_code == 200


def test_create_returns_the_key_id_and_the_secret_marked_secret(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    deployment = emulator.deployment_ids[0]
    result = provider.create(inputs(provider, deployment, description="CI/CD deploys", expiry_period_in_days=30))

    assert result.id == result.outs["key_id"]
    secret = result.outs["secret"]
    assert rpc.is_rpc_secret(secret)
    assert token_works(emulator, rpc.unwrap_rpc_secret(secret), deployment)
    assert result.outs["deployment_id"] == deployment
    assert result.outs["organization_id"] == emulator.organization_id
    assert result.outs["description"] == "CI/CD deploys"
    assert result.outs["role"] == "DEPLOYMENT_ADMIN"
    assert result.outs["expiry_period_in_days"] == 30
    assert result.outs["end_at"] is not None
    tokens = {t["id"]: t for t in emulator.list_all_tokens()}
    assert tokens[result.id]["scope"] == "DEPLOYMENT"


def test_create_for_a_missing_deployment_names_it_and_the_organization(
    emulator: Any, provider: DeploymentApiKeyProvider
) -> None:
    missing = "clm8q7f6q000008lcgyougpsk"
    with pytest.raises(KeyOperationError) as caught:
        provider.create(inputs(provider, missing))
    message = str(caught.value)
    assert missing in message and emulator.organization_id in message
    assert "deployment_id" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_read_keeps_the_secret_from_the_state(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    created = provider.create(inputs(provider, emulator.deployment_ids[0]))
    state = dict(created.outs, secret=rpc.unwrap_rpc_secret(created.outs["secret"]))

    read = provider.read(created.id, state)

    assert read.id == created.id
    assert rpc.unwrap_rpc_secret(read.outs["secret"]) == state["secret"]
    assert rpc.is_rpc_secret(read.outs["secret"])
    assert {k: v for k, v in read.outs.items() if k != "secret"} == {
        k: v for k, v in created.outs.items() if k != "secret"
    }


def test_read_of_a_key_deleted_out_of_band_returns_an_empty_id(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    created = provider.create(inputs(provider, emulator.deployment_ids[0]))
    provider.delete(created.id, created.outs)
    assert provider.read(created.id, created.outs).id == ""


def test_a_deployment_deleted_out_of_band_takes_its_keys_out_of_the_state(
    emulator: Any, provider: DeploymentApiKeyProvider
) -> None:
    deployment = emulator.create_deployment("doomed")
    created = provider.create(inputs(provider, deployment))
    emulator.delete_deployment(deployment)

    assert provider.read(created.id, created.outs).id == ""
    provider.delete(created.id, created.outs)  # destroy still succeeds


def test_delete_removes_the_token_and_a_repeat_is_fine(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    created = provider.create(inputs(provider, emulator.deployment_ids[1]))
    provider.delete(created.id, created.outs)
    assert created.id not in {t["id"] for t in emulator.list_all_tokens()}
    assert not token_works(emulator, rpc.unwrap_rpc_secret(created.outs["secret"]), emulator.deployment_ids[1])
    provider.delete(created.id, created.outs)


def test_read_for_get_needs_only_the_id(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    created = provider.create(inputs(provider, emulator.deployment_ids[0]))
    read = provider.read(created.id, {})
    assert read.outs["deployment_id"] == emulator.deployment_ids[0]
    assert read.outs["secret"] is None


def test_a_failure_after_the_token_exists_deletes_it(
    emulator: Any, provider: DeploymentApiKeyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi_astrokeys import _operations

    def broken_outputs(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("outputs could not be built")

    monkeypatch.setattr(_operations, "key_outputs", broken_outputs)
    before = {t["id"] for t in emulator.list_all_tokens()}
    with pytest.raises(RuntimeError):
        provider.create(inputs(provider, emulator.deployment_ids[0]))
    assert {t["id"] for t in emulator.list_all_tokens()} == before


def test_a_lost_create_answer_leaves_no_orphan_and_creates_once_more(
    emulator: Any, provider: DeploymentApiKeyProvider
) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.inject_fault("POST", r"/tokens$", action="commit-then-drop", count=1)

    created = provider.create(inputs(provider, deployment))

    named = [t for t in emulator.list_all_tokens() if t["name"] == "ci"]
    assert [t["id"] for t in named] == [created.id]


def test_two_lost_answers_fail_clearly_and_leave_nothing(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    emulator.inject_fault("POST", r"/tokens$", action="commit-then-drop", count=2)
    with pytest.raises(KeyOperationError, match="did not confirm the create"):
        provider.create(inputs(provider, emulator.deployment_ids[0]))
    assert [t for t in emulator.list_all_tokens() if t["name"] == "ci"] == []


def test_an_unauthorized_token_gives_one_sentence_with_the_fix(emulator: Any) -> None:
    provider = configured_provider(emulator, **{"astrokeys:apiToken": "not-a-real-token"})
    with pytest.raises(KeyOperationError) as caught:
        provider.create(inputs(provider, emulator.deployment_ids[0]))
    message = str(caught.value)
    assert "401" in message and "astrokeys:apiToken" in message
    assert "not-a-real-token" not in message
    assert message.count("\n") == 0


def test_missing_credentials_fail_check_and_create_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    for var in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST"):
        monkeypatch.delenv(var, raising=False)
    provider = DeploymentApiKeyProvider()
    provider.configure(
        ConfigureRequest(Config({"astrokeys:host": emulator.host, "astrokeys:organizationId": "o"}, "test"))
    )
    checked = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci"})
    assert [(f.property, f.reason) for f in checked.failures] == [
        ("", "No Astro API token is configured: set it with `pulumi config set --secret astrokeys:apiToken <value>` "
         "or the environment variable ASTRO_API_TOKEN.")
    ]
    with pytest.raises(ConfigurationError, match="ASTRO_API_TOKEN") as caught:
        provider.create(checked.inputs)
    assert str(caught.value).endswith(".") and caught.value.__cause__ is None


def test_the_pickled_provider_holds_no_credential(emulator: Any, provider: DeploymentApiKeyProvider) -> None:
    provider.create(inputs(provider, emulator.deployment_ids[0]))  # configured and used
    blob = serialize_provider(provider)
    raw = base64.b64decode(blob)
    assert emulator.api_token.encode() not in raw
    assert emulator.api_token not in blob
    assert emulator.host.encode() not in raw
    assert b"pulumi_astrokeys.provider" in raw  # pickled by reference, not by value
