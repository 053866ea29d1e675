"""Shared fixtures: a fresh emulator per test, and where the official spec lives."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from pulumi_astrokeys._settings import AstroSettings, resolve_settings
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = REPO_ROOT.parent / "shared" / "astro-api"
SPEC_PATH = SPEC_DIR / "astro_v1_openapi.yaml"


def require_spec() -> Path:
    """The official OpenAPI document, or skip the test if its folder is absent."""
    if not SPEC_PATH.is_file():
        pytest.skip(f"the official Astro API spec folder is absent: {SPEC_DIR}")
    return SPEC_PATH


@pytest.fixture
def settings(emulator: Emulator) -> AstroSettings:
    """Client settings for the emulator, taken from nothing but these arguments."""
    return resolve_settings(
        host=emulator.host, api_token=emulator.api_token, organization_id=emulator.organization_id, environ={}
    )


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """The emulator on a free port with a fresh database; rate limits off."""
    with run_emulator(tmp_path / "emulator.db") as running:
        yield running
