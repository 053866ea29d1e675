"""`make demo` keeps working: the quickstart's whole lifecycle on the emulator, secrets masked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_the_quickstart_lifecycle_and_shows_no_secret(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "pulumi_astrokeys.demo", "--engine", "harness", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout

    steps = ["1. pulumi preview", "2. pulumi up", "3. A new description", "4. pulumi up", "5. pulumi destroy"]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Engine: pulumi-astrokeys' lifecycle harness" in out
    assert "[replaces: description]" in out
    assert "key_secret            : [secret]" in out

    writes = out[out.index("The writes the Astro API saw") :].splitlines()[1:3]
    assert writes[0].split()[0] == "POST" and writes[1].split()[0] == "DELETE", writes

    api_token = json.loads((workdir / "emulator.json").read_text())["apiToken"]
    assert api_token not in out and api_token not in done.stderr
