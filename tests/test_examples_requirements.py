"""The examples' requirements.txt install pulumi-astrokeys from the clone itself, never from an index.

The package is not on PyPI: a requirement by name would fail today, and tomorrow install
whatever someone registers under that name. pip's own dry run, in each example's folder as
its README says, shows where pulumi-astrokeys would come from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("example", ["quickstart", "rotation", "ci-handoff"])
def test_requirements_install_the_package_from_the_clone(example: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--retries", "1", "--timeout", "30",
         "--report", str(report), "-r", "requirements.txt"],
        cwd=REPO / "examples" / example,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    installs = {item["metadata"]["name"]: item for item in json.loads(report.read_text())["install"]}
    assert installs["pulumi-astrokeys"]["download_info"]["url"] == REPO.as_uri()
    assert "dir_info" in installs["pulumi-astrokeys"]["download_info"], "from the clone's folder"
