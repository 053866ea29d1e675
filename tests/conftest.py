"""Shared fixtures: a fresh emulator per test, and where the official spec lives."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from spec import MISSING_SPEC, SPEC_PATH

from pulumi_astrokeys._settings import AstroSettings, resolve_settings
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

REPO_ROOT = Path(__file__).resolve().parent.parent


def require_spec() -> Path:
    """The official OpenAPI document, or skip the test saying where it was looked for."""
    if not SPEC_PATH.is_file():
        pytest.skip(MISSING_SPEC)
    return SPEC_PATH


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly, at the end of the run, that spec-conformance tests did not run."""
    skipped = [
        report for report in terminalreporter.stats.get("skipped", []) if MISSING_SPEC in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} spec-conformance tests skipped", yellow=True)
        terminalreporter.write_line(MISSING_SPEC)


@pytest.fixture
def settings(emulator: Emulator) -> AstroSettings:
    """Client settings for the emulator, taken from nothing but these arguments."""
    return resolve_settings(
        host=emulator.host, api_token=emulator.api_token, organization_id=emulator.organization_id, environ={}
    )


@pytest.fixture
def unreachable_config() -> dict[str, str]:
    """Stack config whose settings resolve, for a host where nothing listens: a provider
    configured with it decides whatever it decides without the API."""
    return {
        "astrokeys:host": "http://127.0.0.1:9",
        "astrokeys:apiToken": "a-token-no-server-checks",
        "astrokeys:organizationId": "corganization000000000001",
    }


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """The emulator on a free port with a fresh database; rate limits off."""
    with run_emulator(tmp_path / "emulator.db") as running:
        yield running


@pytest.fixture
def astro_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator's settings in the environment, where ``astrokeys`` reads them."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ASTROKEYS_MAX_RETRIES", "0")
    return emulator
