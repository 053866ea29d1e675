"""Expiry-aware keys, decided by the provider without the engine: diff, update and refresh.

``diff`` judges a key by its stored ``end_at`` and the provider's clock (the machine's,
moved in tests by ``ASTROKEYS_TEST_CLOCK_OFFSET_SECONDS`` exactly as far as the emulator's
clock is moved); it calls no API. The same stories through the real engine are in
``test_real_cli_expiry.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc

from pulumi_astrokeys import ConfigurationError
from pulumi_astrokeys._clock import CLOCK_OFFSET_ENV, now
from pulumi_astrokeys._inputs import rotation_due
from pulumi_astrokeys.provider import DeploymentApiKeyProvider

DEPLOYMENT = "clm8q7f6q000008lcgyougpsk"
DAY = 86400.0


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, unreachable_config: dict[str, str]) -> DeploymentApiKeyProvider:
    """A provider whose API is nowhere: whatever it decides, it decides without the API."""
    for var in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST", CLOCK_OFFSET_ENV):
        monkeypatch.delenv(var, raising=False)
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config(unreachable_config, "test")))
    return provider


def stored(end_at: str | None, **overrides: Any) -> dict[str, Any]:
    """A key's outputs as the state keeps them (written by the release before rotate_before_days)."""
    values: dict[str, Any] = {
        "key_id": "clm8q7f6q000008lcgyoukey1",
        "secret": rpc.wrap_rpc_secret("s3cr3t"),
        "short_token": "abc1234",
        "deployment_id": DEPLOYMENT,
        "organization_id": "clm8q7f6q000008lcgyouorg1",
        "name": "ci",
        "description": "",
        "role": "DEPLOYMENT_ADMIN",
        "expiry_period_in_days": 30,
        "keepers": {},
        "created_at": "2026-11-01T10:00:00Z",
        "start_at": "2026-11-01T10:00:00Z",
        "__provider": "opaque",
    }
    if end_at is not None:
        values["end_at"] = end_at
    values.update(overrides)
    return values


def checked(provider: DeploymentApiKeyProvider, **overrides: Any) -> dict[str, Any]:
    result = provider.check(
        {}, {"deployment_id": DEPLOYMENT, "name": "ci", "expiry_period_in_days": 30, "__provider": "x", **overrides}
    )
    assert result.failures == []
    return dict(result.inputs)


# -- the rule, at the second ---------------------------------------------------------------


def test_rotate_before_days_is_due_exactly_at_its_margin_and_not_a_second_before() -> None:
    end_at = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)
    olds = {"end_at": at(end_at)}
    news = {"rotate_before_days": 7}
    due_from = end_at - timedelta(days=7)

    assert not rotation_due(olds, news, due_from - timedelta(seconds=1))
    assert rotation_due(olds, news, due_from)
    assert rotation_due(olds, news, end_at + timedelta(days=400))


def test_without_rotate_before_days_a_key_is_due_when_it_has_expired() -> None:
    end_at = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)
    olds = {"end_at": at(end_at)}

    assert not rotation_due(olds, {}, end_at - timedelta(seconds=1))
    assert rotation_due(olds, {}, end_at)


def test_a_key_that_never_expires_is_never_due() -> None:
    far = datetime(2100, 1, 1, tzinfo=timezone.utc)
    assert not rotation_due({}, {"rotate_before_days": 7}, far)
    assert not rotation_due({"end_at": None}, {}, far)


# -- diff: replaced, from the state and the clock alone -------------------------------------


def test_an_expired_key_is_replaced_new_first_naming_end_at(offline: DeploymentApiKeyProvider) -> None:
    expired = stored(at(datetime.now(timezone.utc) - timedelta(minutes=1)))

    result = offline.diff("id", expired, checked(offline))

    assert (result.changes, result.replaces, result.delete_before_replace) == (True, ["end_at"], False)


def test_a_key_not_yet_expired_is_no_change(offline: DeploymentApiKeyProvider) -> None:
    result = offline.diff("id", stored(at(datetime.now(timezone.utc) + timedelta(days=3))), checked(offline))
    assert (result.changes, result.replaces) == (False, [])


def test_the_test_clock_offset_moves_the_providers_now(
    offline: DeploymentApiKeyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = stored(at(datetime.now(timezone.utc) + timedelta(days=3)))
    monkeypatch.setenv(CLOCK_OFFSET_ENV, str(3 * DAY + 60))

    assert offline.diff("id", key, checked(offline)).replaces == ["end_at"]


@pytest.mark.parametrize("value", ["soon", "nan", "inf"])
def test_a_test_clock_offset_that_is_not_a_number_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(CLOCK_OFFSET_ENV, value)
    with pytest.raises(ConfigurationError, match=CLOCK_OFFSET_ENV):
        now()


# -- rotate_before_days: an in-place setting, never a replacement by itself ------------------


def test_adding_rotate_before_days_to_a_key_that_is_not_due_updates_it_in_place(
    offline: DeploymentApiKeyProvider,
) -> None:
    old = stored(at(datetime.now(timezone.utc) + timedelta(days=20)))
    news = checked(offline, rotate_before_days=7)

    result = offline.diff("id", old, news)
    assert (result.changes, result.replaces) == (True, [])

    updated = offline.update("id", old, news).outs
    assert updated is not None
    assert updated["rotate_before_days"] == 7
    assert rpc.unwrap_rpc_secret(updated["secret"]) == "s3cr3t" and rpc.is_rpc_secret(updated["secret"])
    assert {k: v for k, v in updated.items() if k not in ("rotate_before_days", "secret")} == {
        k: v for k, v in old.items() if k not in ("secret", "__provider")
    }


def test_adding_rotate_before_days_to_a_key_already_within_it_replaces_the_key(
    offline: DeploymentApiKeyProvider,
) -> None:
    old = stored(at(datetime.now(timezone.utc) + timedelta(days=5)))

    assert offline.diff("id", old, checked(offline)).changes is False
    assert offline.diff("id", old, checked(offline, rotate_before_days=7)).replaces == ["end_at"]


def test_removing_rotate_before_days_is_an_update_in_place(offline: DeploymentApiKeyProvider) -> None:
    old = stored(at(datetime.now(timezone.utc) + timedelta(days=20)), rotate_before_days=7)
    result = offline.diff("id", old, checked(offline))
    assert (result.changes, result.replaces) == (True, [])
    outs = offline.update("id", old, checked(offline)).outs
    assert outs is not None and outs["rotate_before_days"] is None


def test_update_still_refuses_a_change_that_would_replace_the_key(offline: DeploymentApiKeyProvider) -> None:
    from pulumi_astrokeys import KeyOperationError

    old = stored(at(datetime.now(timezone.utc) + timedelta(days=20)))
    with pytest.raises(KeyOperationError, match="immutable"):
        offline.update("id", old, checked(offline, rotate_before_days=7, description="other"))


# -- refresh: an expired key stays, with fresh metadata and one line -------------------------


def provider_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the provider logged (the emulator's own request log left out)."""
    return [r.getMessage() for r in caplog.records if r.name == "pulumi_astrokeys"]


def test_refresh_of_an_expired_key_keeps_it_and_says_the_next_up_replaces_it(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(CLOCK_OFFSET_ENV, raising=False)
    provider = DeploymentApiKeyProvider()
    provider.configure(
        ConfigureRequest(Config({**emulator.stack_config(), **emulator.secret_stack_config()}, "test"))
    )
    inputs = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci", "expiry_period_in_days": 1})
    created = provider.create(inputs.inputs)
    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        provider.read(created.id, created.outs)
    assert not provider_lines(caplog), "a live key is not called expired"

    emulator.advance_clock(DAY + 60)
    monkeypatch.setenv(CLOCK_OFFSET_ENV, str(DAY + 60))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        refreshed = provider.read(created.id, created.outs)

    assert refreshed.id == created.id
    assert refreshed.outs is not None
    assert rpc.unwrap_rpc_secret(refreshed.outs["secret"]) == rpc.unwrap_rpc_secret(created.outs["secret"])
    assert refreshed.outs["end_at"] == created.outs["end_at"]
    (line,) = provider_lines(caplog)
    assert "expired at " + created.outs["end_at"] in line and "the next `pulumi up` replaces it" in line
    assert created.id in line and "\n" not in line
    assert provider.diff(created.id, refreshed.outs, inputs.inputs).replaces == ["end_at"]
