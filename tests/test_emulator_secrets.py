"""Token values exist only in the create/rotate answer: not in the database, logs or ids."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from pulumi_astrokeys.emulator.credentials import hash_token
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator


def test_the_database_holds_no_token_value_only_its_hash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "emulator.db"
    with run_emulator(db) as emulator, emulator.client() as owner:
        values = [emulator.api_token]
        for index in range(5):
            created = owner.post(
                "/tokens",
                json={"name": f"t{index}", "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"},
            ).json()
            values.append(created["token"])
        rotated = owner.post(f"/tokens/{created['id']}/rotate").json()
        values.append(rotated["token"])
        files = {path: path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("emulator.db")}

    assert files, "the database files were not found"
    for value in values:
        for path, content in files.items():
            assert value.encode() not in content, f"{path.name} holds a token value"
        assert value not in caplog.text
    with sqlite3.connect(db) as conn:
        hashes = {row[0] for row in conn.execute("SELECT token_hash FROM tokens")}
    assert hash_token(rotated["token"]) in hashes and hash_token(emulator.api_token) in hashes


def test_token_values_are_long_random_and_unrelated_to_their_short_token(emulator: Emulator) -> None:
    with emulator.client() as owner:
        created = [
            owner.post(
                "/tokens",
                json={"name": "t", "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"},
            ).json()
            for _ in range(20)
        ]
    values = {t["token"] for t in created}
    assert len(values) == 20 and min(map(len, values)) >= 60
    assert len({t["shortToken"] for t in created}) == 20
    assert all(t["shortToken"] not in t["token"] for t in created)


def test_reprs_mask_the_owner_token(emulator: Emulator) -> None:
    assert emulator.api_token not in repr(emulator)
    assert emulator.server is not None and emulator.server.bootstrap is not None
    assert emulator.api_token not in repr(emulator.server.bootstrap)
