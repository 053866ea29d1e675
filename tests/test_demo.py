"""`make demo` keeps working: the quickstart's whole lifecycle on the real Pulumi CLI and the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_the_demo_runs_the_quickstart_lifecycle_on_the_real_cli_and_shows_no_secret(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(DEMO), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    out = done.stdout

    assert out.splitlines()[0].startswith("=== Engine: the real Pulumi CLI v")
    steps = ["1. pulumi preview", "2. pulumi up", "3. A new description", "4. pulumi up", "5. pulumi destroy"]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    step_3 = out[positions[2] : positions[3]]
    assert "+-pulumi-python:dynamic/astrokeys:DeploymentApiKey: (replace)" in step_3
    assert '~ description    : "CI/CD deploys" => "CI/CD deploys, rotated"' in step_3
    assert "key_secret            : [secret]" in out
    step_4 = out[positions[3] : positions[4]]
    assert step_4.index("created replacement") < step_4.index("deleted original"), "new key first"

    writes = out[out.index("The writes the Astro API saw") :].splitlines()[1:4]
    assert [line.split()[0] for line in writes] == ["POST", "POST", "DELETE"], writes
    assert "- 4 deleted" in out[positions[4] :]

    api_token = json.loads((workdir / "emulator.json").read_text())["apiToken"]
    assert api_token not in out and api_token not in done.stderr
    for secret_file in (workdir / "pulumi").rglob("*.json"):
        assert api_token not in secret_file.read_text(errors="replace")
