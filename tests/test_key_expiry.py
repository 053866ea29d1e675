"""Expiry-aware keys, decided by the provider without the engine: diff, update and refresh.

``diff`` judges a key by its stored ``end_at`` and this machine's clock, and confirms a key
that clock finds due against Astro's before time alone replaces it; a key not due costs no
API request. ``read`` judges by Astro's clock. Tests move this machine's clock by replacing
``pulumi_astrokeys._clock.now`` and Astro's with the emulator's clock control. The same
stories through the real engine are in ``test_real_cli_expiry.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from key_state_support import DEPLOYMENT, stored_key
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc

from pulumi_astrokeys import _clock
from pulumi_astrokeys._inputs import rotation_due
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

DAY = 86400.0


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, unreachable_config: dict[str, str]) -> DeploymentApiKeyProvider:
    """A provider whose API is nowhere: whatever it decides, it decides without the API."""
    for var in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ASTROKEYS_MAX_RETRIES", "0")
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config(unreachable_config, "test")))
    return provider


@pytest.fixture
def online(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> DeploymentApiKeyProvider:
    """A provider configured for the emulator, whose request log starts empty."""
    for var in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST"):
        monkeypatch.delenv(var, raising=False)
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config({**emulator.stack_config(), **emulator.secret_stack_config()}, "test")))
    emulator.clear_requests()
    return provider


def machine_clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move this machine's clock, as the provider reads it, ``seconds`` away from the real one."""
    monkeypatch.setattr(_clock, "now", lambda: datetime.now(timezone.utc) + timedelta(seconds=seconds))


def provider_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the provider logged (the emulator's own request log left out)."""
    return [r.getMessage() for r in caplog.records if r.name == "pulumi_astrokeys"]


def stored(end_at: str | None, **overrides: Any) -> dict[str, Any]:
    """A 30-day key's outputs as the state keeps them (written by the release before rotate_before_days)."""
    return stored_key(expiry_period_in_days=30, **({"end_at": end_at} if end_at is not None else {}), **overrides)


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


# -- diff: replaced when both clocks agree, asking Astro only about keys that look due --------


def test_an_expired_key_is_replaced_new_first_naming_end_at_once_astros_clock_agrees(
    online: DeploymentApiKeyProvider, emulator: Emulator
) -> None:
    expired = stored(at(datetime.now(timezone.utc) - timedelta(minutes=1)))

    result = online.diff("id", expired, checked(online))

    assert (result.changes, result.replaces, result.delete_before_replace) == (True, ["end_at"], False)
    assert [r["method"] for r in emulator.requests()] == ["GET"], "one read confirms it on Astro's clock"


def test_a_key_not_yet_expired_is_no_change_and_asks_astro_nothing(
    online: DeploymentApiKeyProvider, emulator: Emulator
) -> None:
    result = online.diff("id", stored(at(datetime.now(timezone.utc) + timedelta(days=3))), checked(online))

    assert (result.changes, result.replaces) == (False, [])
    assert emulator.requests() == []


def test_a_machine_clock_80_days_ahead_replaces_no_key_that_astro_still_honours_and_says_so_once(
    online: DeploymentApiKeyProvider,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = [stored(at(datetime.now(timezone.utc) + timedelta(days=90)), key_id=f"k{n}") for n in range(3)]
    machine_clock_off_by(monkeypatch, 80 * DAY)

    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        results = [online.diff(key["key_id"], key, checked(online, rotate_before_days=15)) for key in keys]

    assert [r.replaces for r in results] == [[], [], []], "90 days left by Astro's clock: none is due"
    (line,) = provider_lines(caplog)
    assert "This machine's clock is 80 days ahead of Astro's" in line and "NTP" in line
    assert len(emulator.requests()) == 1, "one answer gives Astro's time for every key of the process"


def test_a_key_due_by_astros_clock_too_is_replaced_whatever_this_machines_clock_is_off_by(
    online: DeploymentApiKeyProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = stored(at(datetime.now(timezone.utc) + timedelta(days=10)))
    machine_clock_off_by(monkeypatch, 80 * DAY)

    assert online.diff("id", key, checked(online, rotate_before_days=15)).replaces == ["end_at"]


def test_a_key_due_by_this_machines_clock_is_kept_when_astros_clock_cannot_be_read(
    offline: DeploymentApiKeyProvider, caplog: pytest.LogCaptureFixture
) -> None:
    expired = stored(at(datetime.now(timezone.utc) - timedelta(minutes=1)))

    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        result = offline.diff("clm8q7f6q000008lcgyoukey1", expired, checked(offline))

    assert (result.changes, result.replaces) == (False, [])
    (line,) = [line for line in provider_lines(caplog) if "Astro's clock" in line]
    assert "clm8q7f6q000008lcgyoukey1" in line and "could not be read to confirm it" in line


def test_another_change_replaces_the_key_without_asking_astros_clock(
    online: DeploymentApiKeyProvider, emulator: Emulator
) -> None:
    expired = stored(at(datetime.now(timezone.utc) - timedelta(minutes=1)))

    assert online.diff("id", expired, checked(online, description="other")).replaces == ["description"]
    assert emulator.requests() == []


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
    online: DeploymentApiKeyProvider,
) -> None:
    old = stored(at(datetime.now(timezone.utc) + timedelta(days=5)))

    assert online.diff("id", old, checked(online)).changes is False
    assert online.diff("id", old, checked(online, rotate_before_days=7)).replaces == ["end_at"]


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


# -- refresh: Astro's clock says whether a key has expired ----------------------------------


def created_key(provider: DeploymentApiKeyProvider, emulator: Emulator) -> tuple[dict[str, Any], Any]:
    """The checked inputs and the create result of a key that expires in a day."""
    inputs = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci", "expiry_period_in_days": 1})
    return dict(inputs.inputs), provider.create(inputs.inputs)


def test_refresh_of_an_expired_key_keeps_it_and_says_the_next_up_replaces_it(
    online: DeploymentApiKeyProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inputs, created = created_key(online, emulator)
    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        online.read(created.id, created.outs)
    assert not provider_lines(caplog), "a live key is not called expired"

    emulator.advance_clock(DAY + 60)
    machine_clock_off_by(monkeypatch, DAY + 60)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        refreshed = online.read(created.id, created.outs)

    assert refreshed.id == created.id
    assert refreshed.outs is not None
    assert rpc.unwrap_rpc_secret(refreshed.outs["secret"]) == rpc.unwrap_rpc_secret(created.outs["secret"])
    assert refreshed.outs["end_at"] == created.outs["end_at"]
    (line,) = provider_lines(caplog)
    assert "expired at " + created.outs["end_at"] in line and "the next `pulumi up` replaces it" in line
    assert created.id in line and "\n" not in line
    assert online.diff(created.id, refreshed.outs, inputs).replaces == ["end_at"]


def test_a_key_astro_calls_expired_loses_its_dead_secret_on_refresh_when_this_machines_clock_lags(
    online: DeploymentApiKeyProvider, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    inputs, created = created_key(online, emulator)
    emulator.advance_clock(DAY + 3600)  # Astro's clock: expired an hour ago; this machine's: not yet

    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        refreshed = online.read(created.id, created.outs)

    assert refreshed.id == created.id and refreshed.outs is not None
    assert refreshed.outs["secret"] is None, "the secret no longer authenticates"
    (line,) = provider_lines(caplog)
    assert f"expired at {created.outs['end_at']} by Astro's clock" in line
    assert "1 day behind" in line and "the next `pulumi up` replaces the key" in line
    assert online.diff(created.id, refreshed.outs, inputs).replaces == ["secret"], "and the next up replaces it"
