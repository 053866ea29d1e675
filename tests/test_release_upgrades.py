"""A new release rotates no key: the states earlier releases wrote, run by today's code on the real CLI.

Each folder of ``tests/fixtures/releases`` holds what one release left behind (recorded by
``tests/fixtures/releases/record.py``, see CONTRIBUTING.md): ``pulumi stack export`` of a real
stack with one key, made by that release's ``pulumi up`` (its ``__provider`` as that release
pickled it, its inputs and outputs as it wrote them), and the emulator's database right
after, so the emulator here holds the very key the state names, secret and all. The test
``pulumi stack import``\\ s the state into a fresh stack and runs this checkout's code on it:
a refresh reads the key, a preview and an up change nothing at the API, and a destroy
deletes it. A moved or renamed provider class, a property an earlier release did not
write, or an input whose default changed would each show here as a replacement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from real_cli_support import World, keys_program, plain, secret_of

from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

RELEASES = sorted(path for path in (Path(__file__).parent / "fixtures" / "releases").iterdir() if path.is_dir())


@pytest.fixture(params=RELEASES, ids=[path.name for path in RELEASES])
def release(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


@pytest.fixture
def emulator(release: Path, tmp_path: Path) -> Iterator[Emulator]:
    """The emulator on the database the release's run left (with a new owner token)."""
    database = tmp_path / "emulator.db"
    conn = sqlite3.connect(database)
    try:
        conn.executescript((release / "emulator.sql").read_text())
    finally:
        conn.close()
    with run_emulator(database) as running:
        yield running


def test_the_first_release_and_later_ones_have_fixtures() -> None:
    commits = {json.loads((path / "release.json").read_text())["commit"] for path in RELEASES}
    assert "46ff366" in commits, "the first release, whose provider every later one must read"
    assert len(RELEASES) >= 2


def test_a_key_an_earlier_release_made_is_read_diffed_and_deleted_with_no_replacement(
    release: Path, emulator: Emulator, tmp_path: Path
) -> None:
    meta = json.loads((release / "release.json").read_text())
    world = World(emulator, tmp_path)
    stack = world.stack(
        keys_program({meta["key"]: {"deployment_id": meta["deploymentId"]}}),
        project=meta["project"],
        stack_name=meta["stack"],
    )
    stack.cli("stack", "import", "--file", str(release / "state.json"))
    recorded = stack.keys()[meta["key"]]
    key_id, old_provider = recorded["id"], plain(recorded["outputs"]["__provider"])
    assert set(world.tokens()) == {key_id}
    assert world.answer_to(secret_of(recorded), meta["deploymentId"]) == 200, "the emulator holds the state's key"
    world.clear()

    # As a user upgrades: preview and up first (a refresh before them would run on the settings
    # the state recorded, the recording emulator's host), then refresh.
    assert stack.preview().ops()[meta["key"]] == "same"
    updated = stack.up()
    assert updated.ops()[meta["key"]] == "same" and updated.replaces(meta["key"]) == []
    assert world.writes() == [], "no key was created or deleted: nothing rotated"
    after: dict[str, Any] = stack.keys()[meta["key"]]
    assert after["id"] == key_id and secret_of(after) == secret_of(recorded)
    assert plain(after["outputs"]["__provider"]) == old_provider, "the state keeps the release's provider"

    stack.refresh()
    assert ("GET", f"/tokens/{key_id}") in world.requests(), "the refresh read the key"
    refreshed = stack.keys()[meta["key"]]
    assert refreshed["id"] == key_id and secret_of(refreshed) == secret_of(recorded)
    assert stack.preview().ops()[meta["key"]] == "same"
    assert world.writes() == [], "reading an earlier release's key changes nothing"

    stack.destroy()
    assert world.writes() == [("DELETE", f"/tokens/{key_id}")]
    assert world.tokens() == {}
