"""The emulator as a process: CLI, bootstrap file, export lines, restarts, kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_astrokeys.testing.emulator import start_emulator_process

CUID = r"^c[a-z0-9]{24}$"


def client(bootstrap: dict[str, Any], token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=f"{bootstrap['host']}/v1/organizations/{bootstrap['organizationId']}",
        headers={"Authorization": f"Bearer {token or bootstrap['apiToken']}"},
        trust_env=False,
        timeout=10,
    )


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=15)
    return out


def test_help_documents_every_flag_and_the_port_default() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_astrokeys.emulator", "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--host", "--port", "--db", "--bootstrap-file", "--no-rate-limits", "--log-level", "--new-token", "--show"):
        assert flag in result.stdout
    assert "by default the port this database was served on before" in " ".join(result.stdout.split())


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("astrokeys-emulator")
    if not script.exists():
        pytest.skip("the package is not installed with its console script in this interpreter's bin")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "usage: astrokeys-emulator" in result.stdout


def test_start_writes_the_bootstrap_file_and_prints_export_lines(tmp_path: Path) -> None:
    bootstrap_file = tmp_path / "bootstrap.json"
    process, bootstrap = start_emulator_process(tmp_path / "emulator.db", bootstrap_file)
    try:
        assert set(bootstrap) == {"host", "organizationId", "workspaceId", "deploymentIds", "apiToken"}
        assert bootstrap["host"].startswith("http://127.0.0.1:")
        assert len(bootstrap["deploymentIds"]) >= 2
        for identifier in (bootstrap["organizationId"], bootstrap["workspaceId"], *bootstrap["deploymentIds"]):
            assert re.match(CUID, identifier)
        assert stat.S_IMODE(bootstrap_file.stat().st_mode) == 0o600
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        with client(bootstrap) as owner:
            assert owner.get("/tokens").json()["tokens"][0]["roles"][0]["role"] == "ORGANIZATION_OWNER"
            for deployment in bootstrap["deploymentIds"]:
                assert owner.get(f"/deployments/{deployment}").status_code == 200
        state = httpx.get(f"{bootstrap['host']}/_emulator/state", trust_env=False).json()
        assert state["rateLimits"]["enabled"] is True
    finally:
        out = stop(process)
    assert out.splitlines() == [
        "# A new emulator database, "
        f"{tmp_path / 'emulator.db'}: restarted on it, the emulator keeps this host, organization and API token.",
        f"export ASTRO_API_HOST={bootstrap['host']}",
        f"export ASTRO_API_TOKEN={bootstrap['apiToken']}",
        f"export ASTRO_ORGANIZATION_ID={bootstrap['organizationId']}",
    ]


def test_a_restart_on_the_same_database_keeps_the_host_ids_and_tokens(tmp_path: Path) -> None:
    db, bootstrap_file, log = tmp_path / "emulator.db", tmp_path / "bootstrap.json", tmp_path / "emulator.log"
    process, first = start_emulator_process(db, bootstrap_file, ["--no-rate-limits"], log_file=log)
    try:
        with client(first) as owner:
            extra = owner.post(
                "/deployments", json={"name": "kept", "workspaceId": first["workspaceId"], "type": "STANDARD"}
            ).json()["id"]
            created = owner.post(
                "/tokens",
                json={"name": "survivor", "scope": "DEPLOYMENT", "entityId": extra, "role": "DEPLOYMENT_ADMIN"},
            ).json()
            before = owner.get("/tokens").json()["tokens"]
    finally:
        stop(process)

    process, second = start_emulator_process(
        db, bootstrap_file, ["--no-rate-limits", "--log-level", "debug"], port=None, log_file=log
    )
    try:
        assert {key: second[key] for key in ("host", "organizationId", "workspaceId", "apiToken")} == {
            key: first[key] for key in ("host", "organizationId", "workspaceId", "apiToken")
        }
        assert second["deploymentIds"][:2] == first["deploymentIds"] and extra in second["deploymentIds"]
        assert json.loads(bootstrap_file.read_text()) == second
        with client(second, created["token"]) as survivor:
            assert survivor.get(f"/deployments/{extra}").status_code == 200
        with client(second) as owner:
            after = owner.get("/tokens").json()["tokens"]
        assert [(t["id"], t["shortToken"]) for t in after] == [(t["id"], t["shortToken"]) for t in before]
    finally:
        out = stop(process)
    assert out.splitlines()[0] == (
        f"# Restarted on {db}: the same host, organization and API token as before, so stored settings still work "
        "(--new-token gives a new token, --port 0 a new port)."
    )
    logged = log.read_text()
    assert f"POST /v1/organizations/{first['organizationId']}/tokens -> 200" in logged
    for secret in (first["apiToken"], created["token"]):
        assert secret not in logged
    with sqlite3.connect(db) as conn:
        stored = "\n".join(str(row) for table in ("meta", "tokens") for row in conn.execute(f"SELECT * FROM {table}"))
    assert first["apiToken"] not in stored, "the database keeps only hashes of token values"


def test_new_token_and_port_0_give_a_new_token_and_host_and_say_so(tmp_path: Path) -> None:
    db, bootstrap_file = tmp_path / "emulator.db", tmp_path / "bootstrap.json"
    process, first = start_emulator_process(db, bootstrap_file)
    stop(process)
    # A port of its own that is surely not the first one's.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    process, second = start_emulator_process(db, bootstrap_file, ["--new-token"], port=port)
    try:
        assert second["organizationId"] == first["organizationId"]
        assert second["host"] == f"http://127.0.0.1:{port}" != first["host"]
        assert second["apiToken"] != first["apiToken"]
        with client(second, first["apiToken"]) as stale:
            assert stale.get("/tokens").status_code == 401
        with client(second) as owner:
            assert owner.get("/tokens").status_code == 200
    finally:
        out = stop(process)
    assert out.splitlines()[0] == (
        f"# Restarted on {db}: the same organization, with a new host and a new API token; set the new values where "
        "the old ones are stored (pulumi config set astrokeys:host, pulumi config set --secret astrokeys:apiToken)."
    )


def test_without_the_previous_bootstrap_file_a_restart_mints_a_new_token(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    process, first = start_emulator_process(db, tmp_path / "first.json")
    stop(process)
    (tmp_path / "first.json").unlink()

    process, second = start_emulator_process(db, tmp_path / "second.json", port=None)
    try:
        assert second["host"] == first["host"] and second["apiToken"] != first["apiToken"]
        with client(second, first["apiToken"]) as stale:
            assert stale.get("/tokens").status_code == 401
    finally:
        out = stop(process)
    assert "with a new API token;" in out.splitlines()[0]


def test_a_restart_whose_port_is_taken_fails_in_one_line_naming_port_0_and_loses_nothing(tmp_path: Path) -> None:
    db, log, bootstrap_file = tmp_path / "emulator.db", tmp_path / "emulator.log", tmp_path / "bootstrap.json"
    process, first = start_emulator_process(db, bootstrap_file)
    stop(process)
    port = int(first["host"].rsplit(":", 1)[1])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(RuntimeError, match="exited with status 1"):
            start_emulator_process(db, bootstrap_file, port=None, log_file=log)
    assert log.read_text().strip().splitlines()[-1] == (
        f"astrokeys-emulator: port {port}, where the emulator on this database listened before, is in use: stop "
        "what holds it, or start with --port 0 for a free port (settings holding the old host then need the new one)"
    )

    process, again = start_emulator_process(db, bootstrap_file, port=None)
    stop(process)
    assert (again["host"], again["apiToken"]) == (first["host"], first["apiToken"]), "the failed start lost nothing"


def test_show_prints_one_field_of_the_running_emulators_bootstrap_file(tmp_path: Path) -> None:
    process, bootstrap = start_emulator_process(tmp_path / "emulator.db", tmp_path / "bootstrap.json")
    try:
        shown = {
            field: subprocess.run(
                [sys.executable, "-m", "pulumi_astrokeys.emulator", "--bootstrap-file", str(tmp_path / "bootstrap.json"), "--show", field],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for field in ("host", "apiToken", "deploymentIds")
        }
    finally:
        stop(process)
    assert shown == {
        "host": bootstrap["host"] + "\n",
        "apiToken": bootstrap["apiToken"] + "\n",
        "deploymentIds": "".join(f"{d}\n" for d in bootstrap["deploymentIds"]),
    }
    missing = subprocess.run(
        [sys.executable, "-m", "pulumi_astrokeys.emulator", "--bootstrap-file", str(tmp_path / "none.json"), "--show", "host"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and missing.stdout == ""
    assert "start the emulator in this folder first" in missing.stderr


def test_kill_9_mid_burst_loses_no_answered_create_and_leaves_a_sound_file(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    process, bootstrap = start_emulator_process(db, tmp_path / "bootstrap.json", ["--no-rate-limits"])
    answered: list[str] = []
    stop_flag = threading.Event()

    def burst() -> None:
        with client(bootstrap) as owner:
            while not stop_flag.is_set():
                try:
                    response = owner.post(
                        "/tokens",
                        json={"name": "burst", "scope": "DEPLOYMENT", "entityId": bootstrap["deploymentIds"][0], "role": "DEPLOYMENT_ADMIN"},
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    answered.append(response.json()["id"])

    workers = [threading.Thread(target=burst) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(0.6)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    stop_flag.set()
    for worker in workers:
        worker.join(timeout=10)
    assert len(answered) > 10, "the burst did not get going before the kill"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    process, bootstrap = start_emulator_process(db, tmp_path / "bootstrap.json", ["--no-rate-limits"])
    try:
        everything = httpx.get(f"{bootstrap['host']}/_emulator/tokens", trust_env=False).json()["tokens"]
        assert set(answered) <= {t["id"] for t in everything}
    finally:
        stop(process)
