"""Retries, backoff and timeout of the provider's client: stack config, then the environment."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_astrokeys import (
    ConfigurationError,
    KeyOperationError,
    NetworkError,
    ServerError,
    list_deployment_api_keys,
)
from pulumi_astrokeys._client import DEFAULT_TIMEOUT, AstroClient, RetryPolicy
from pulumi_astrokeys._runtime import runtime
from pulumi_astrokeys._settings import CONFIG_KEYS, RequestSettings, resolve_request_settings
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

ENV = {"ASTROKEYS_MAX_RETRIES": "7", "ASTROKEYS_RETRY_BACKOFF": "0.2", "ASTROKEYS_REQUEST_TIMEOUT": "12"}
ORG = "clm8q7f6q000008lcgyougpsk"
CONFIG = {"astrokeys:maxRetries": "1", "astrokeys:retryBackoff": "0.01", "astrokeys:requestTimeout": "0.5"}


def test_the_provider_reads_the_tuning_keys_from_stack_config() -> None:
    assert set(CONFIG) <= set(CONFIG_KEYS)


def test_stack_config_wins_over_the_environment() -> None:
    assert resolve_request_settings(config=CONFIG, environ=ENV) == RequestSettings(1, 0.01, 0.5)


def test_the_environment_is_the_last_resort_for_each_setting() -> None:
    settings = resolve_request_settings(config={"astrokeys:maxRetries": "0"}, environ=ENV)
    assert settings == RequestSettings(max_retries=0, retry_backoff=0.2, request_timeout=12.0)


def _client(config: dict[str, Any], environ: dict[str, str]) -> AstroClient:
    return AstroClient.from_config(
        config, environ=environ, host="https://api.astronomer.io", api_token="t", organization_id=ORG
    )


def test_unset_settings_leave_the_client_defaults() -> None:
    settings = resolve_request_settings(config={}, environ={})
    assert settings == RequestSettings()
    client = _client({}, {})
    assert (client.retry_policy, client.request_timeout) == (RetryPolicy(), DEFAULT_TIMEOUT.read)


def test_the_settings_become_the_clients_retry_policy_and_timeout() -> None:
    client = _client(
        {"astrokeys:maxRetries": "2", "astrokeys:retryBackoff": "0.01"}, {"ASTROKEYS_REQUEST_TIMEOUT": "0.5"}
    )
    assert client.retry_policy == RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=10.0)
    assert client.request_timeout == 0.5


def test_a_backoff_longer_than_the_default_cap_raises_the_cap() -> None:
    policy = _client({"astrokeys:retryBackoff": "30"}, {}).retry_policy
    assert (policy.initial_backoff, policy.max_backoff) == (30, 30)


def test_every_client_shares_the_process_wide_pacing_unless_given_its_own() -> None:
    assert _client({}, {})._limiter is runtime.rate_limiter
    assert (
        AstroClient.from_config(
            {}, environ={}, host="https://x.example", api_token="t", organization_id=ORG, rate_limits=None
        )._limiter
        is None
    )


def test_lookups_honour_the_retry_and_timeout_settings(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**emulator.env(), "ASTROKEYS_MAX_RETRIES": "0"}.items():
        monkeypatch.setenv(name, value)
    deployment = emulator.deployment_ids[0]
    emulator.inject_fault("GET", r"/tokens$", status=503)

    # No retry: the one 503 is the answer.
    with pytest.raises(ServerError):
        list_deployment_api_keys(deployment)

    monkeypatch.setenv("ASTROKEYS_REQUEST_TIMEOUT", "0.5")
    emulator.inject_fault("GET", r"/tokens$", action="delay", delay_seconds=5)
    started = time.monotonic()
    with pytest.raises(NetworkError):
        list_deployment_api_keys(deployment)
    assert time.monotonic() - started < 4, "the lookup waited past its request timeout"


@pytest.mark.parametrize(
    ("key", "value", "variable"),
    [
        ("astrokeys:maxRetries", "-1", "ASTROKEYS_MAX_RETRIES"),
        ("astrokeys:maxRetries", "2.5", "ASTROKEYS_MAX_RETRIES"),
        ("astrokeys:maxRetries", "21", "ASTROKEYS_MAX_RETRIES"),
        ("astrokeys:retryBackoff", "soon", "ASTROKEYS_RETRY_BACKOFF"),
        ("astrokeys:retryBackoff", "nan", "ASTROKEYS_RETRY_BACKOFF"),
        ("astrokeys:requestTimeout", "0", "ASTROKEYS_REQUEST_TIMEOUT"),
        ("astrokeys:requestTimeout", "601", "ASTROKEYS_REQUEST_TIMEOUT"),
    ],
)
def test_a_value_out_of_range_names_the_setting_and_how_to_set_it(key: str, value: str, variable: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_request_settings(config={key: value}, environ={})
    message = str(caught.value)
    assert repr(value) in message and key in message and variable in message
    assert "\n" not in message


def configured_provider(emulator: Emulator, **tuning: str) -> DeploymentApiKeyProvider:
    config = {
        **emulator.stack_config(),
        **emulator.secret_stack_config(),
        "astrokeys:retryBackoff": "0.01",
        **tuning,
    }
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config(config, "test")))
    return provider


def create(provider: DeploymentApiKeyProvider, deployment_id: str) -> Any:
    checked = provider.check({}, {"deployment_id": deployment_id, "name": "ci"})
    return provider.create(checked.inputs)


def deployment_gets(emulator: Emulator) -> list[Any]:
    return [r["status"] for r in emulator.requests() if r["method"] == "GET" and "/deployments/" in r["path"]]


def test_max_retries_from_stack_config_limits_the_provider_s_attempts(emulator: Emulator) -> None:
    emulator.inject_fault("GET", r"/deployments/", status=503, count=2)
    provider = configured_provider(emulator, **{"astrokeys:maxRetries": "1"})

    with pytest.raises(KeyOperationError, match="503"):
        create(provider, emulator.deployment_ids[0])
    assert deployment_gets(emulator) == [503, 503]


def test_the_default_retries_ride_out_the_same_faults(emulator: Emulator) -> None:
    emulator.inject_fault("GET", r"/deployments/", status=503, count=2)
    provider = configured_provider(emulator)

    create(provider, emulator.deployment_ids[0])
    assert deployment_gets(emulator) == [503, 503, 200]


def test_request_timeout_from_the_environment_bounds_each_attempt(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASTROKEYS_REQUEST_TIMEOUT", "0.3")
    emulator.inject_fault("GET", r"/deployments/", action="delay", delay_seconds=2)
    provider = configured_provider(emulator, **{"astrokeys:maxRetries": "0"})

    # The default 30 s timeout would wait the 2 s out and succeed.
    with pytest.raises(KeyOperationError, match="no answer .*ReadTimeout"):
        create(provider, emulator.deployment_ids[0])
