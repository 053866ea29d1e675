"""Settings resolve from arguments, then stack config, then the environment."""

from __future__ import annotations

import pytest

from pulumi_astrokeys import ConfigurationError
from pulumi_astrokeys._settings import DEFAULT_HOST, resolve_settings

ENV = {
    "ASTRO_API_HOST": "https://env.example.com",
    "ASTRO_API_TOKEN": "env-token",
    "ASTRO_ORGANIZATION_ID": "env-org",
}
CONFIG = {
    "astrokeys:host": "https://config.example.com",
    "astrokeys:apiToken": "config-token",
    "astrokeys:organizationId": "config-org",
}


def test_explicit_arguments_win_over_config_and_environment() -> None:
    settings = resolve_settings(
        host="https://arg.example.com", api_token="arg-token", organization_id="arg-org", config=CONFIG, environ=ENV
    )
    assert settings.host == "https://arg.example.com"
    assert settings.api_token.get_secret_value() == "arg-token"
    assert settings.organization_id == "arg-org"


def test_stack_config_wins_over_environment() -> None:
    settings = resolve_settings(config=CONFIG, environ=ENV)
    assert (settings.host, settings.api_token.get_secret_value(), settings.organization_id) == (
        "https://config.example.com",
        "config-token",
        "config-org",
    )


def test_environment_is_the_last_resort() -> None:
    settings = resolve_settings(config={}, environ=ENV)
    assert (settings.host, settings.api_token.get_secret_value(), settings.organization_id) == (
        "https://env.example.com",
        "env-token",
        "env-org",
    )


def test_each_setting_falls_through_on_its_own() -> None:
    settings = resolve_settings(config={"astrokeys:apiToken": "config-token"}, environ=ENV)
    assert settings.api_token.get_secret_value() == "config-token"
    assert settings.organization_id == "env-org"
    assert settings.host == "https://env.example.com"


def test_host_defaults_to_the_astro_cloud() -> None:
    settings = resolve_settings(api_token="t", organization_id="o", environ={})
    assert settings.host == DEFAULT_HOST == "https://api.astronomer.io"
    assert settings.organization_url == "https://api.astronomer.io/v1/organizations/o"


def test_missing_token_names_the_config_key_and_the_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(organization_id="o", environ={})
    message = str(caught.value)
    assert "pulumi config set --secret astrokeys:apiToken" in message
    assert "ASTRO_API_TOKEN" in message


def test_missing_organization_names_the_config_key_and_the_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(api_token="t", environ={})
    assert "astrokeys:organizationId" in str(caught.value)
    assert "ASTRO_ORGANIZATION_ID" in str(caught.value)


def test_both_missing_are_named_in_one_sentence_with_both_ways_to_set_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(environ={})
    assert str(caught.value) == (
        "No Astro API token and no Astro organization ID are configured: set them with "
        "`pulumi config set --secret astrokeys:apiToken <value>` and `pulumi config set astrokeys:organizationId "
        "<value>`, or the environment variables ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID."
    )


def test_a_caller_that_reads_no_stack_config_names_only_the_environment_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(organization_id="o", environ={}, stack_config=False)
    assert str(caught.value) == "No Astro API token is set: set the environment variable ASTRO_API_TOKEN."


@pytest.mark.parametrize("host", ["http://api.astronomer.io", "http://10.0.0.5:8080", "http://example.com"])
def test_plain_http_is_refused_for_remote_hosts(host: str) -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        resolve_settings(host=host, api_token="t", organization_id="o", environ={})


@pytest.mark.parametrize("host", ["http://127.0.0.1:8080", "http://localhost:1234", "http://[::1]:9000"])
def test_plain_http_is_accepted_for_loopback(host: str) -> None:
    assert resolve_settings(host=host, api_token="t", organization_id="o", environ={}).host == host


def test_trailing_slash_and_api_version_are_stripped() -> None:
    settings = resolve_settings(host="https://api.astronomer.io/v1/", api_token="t", organization_id="o", environ={})
    assert settings.base_url == "https://api.astronomer.io/v1"


def test_not_a_url_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigurationError, match="astrokeys:host"):
        resolve_settings(host="api.astronomer.io", api_token="t", organization_id="o", environ={})


def test_repr_never_shows_the_token() -> None:
    settings = resolve_settings(api_token="very-secret-value", organization_id="o", environ={})
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in str(settings)


@pytest.mark.parametrize(
    "host",
    ["https://ci:hunter2-pass@api.astronomer.io", "http://ci:hunter2-pass@127.0.0.1:8080", "https://ci@api.astronomer.io"],
)
def test_a_host_with_a_user_or_password_is_refused_without_showing_them(host: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(host=host, api_token="t", organization_id="o", environ={})
    message = str(caught.value)
    assert "user name or password" in message and "astrokeys:host" in message and "ASTRO_API_HOST" in message
    assert "hunter2-pass" not in message and "ci@" not in message


@pytest.mark.parametrize("host", ["https://api.astronomer.io?x=1", "https://api.astronomer.io/#v1"])
def test_a_host_with_a_query_or_fragment_is_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a URL like"):
        resolve_settings(host=host, api_token="t", organization_id="o", environ={})
