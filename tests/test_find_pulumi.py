"""`find_pulumi()` finds the Pulumi CLI beside the test's Python or on the PATH, wherever it lies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_astrokeys.testing import stacks


def test_a_cli_on_the_path_outside_a_bin_folder_is_found_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The project's own build lies in ~/.cache/pulumi-astrokeys/pulumi-v<version>/, no bin/ in sight.
    beside_python = Path(sys.executable).with_name("pulumi")
    if not beside_python.is_file():
        pytest.skip("no Pulumi CLI beside this Python: run `make pulumi`")
    real = beside_python.resolve()
    elsewhere = tmp_path / "pulumi-v-cache"
    elsewhere.mkdir()
    (elsewhere / "pulumi").symlink_to(real)
    assert elsewhere.name != "bin"
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-cli-here" / "python"))
    monkeypatch.setenv("PATH", f"{elsewhere}{os.pathsep}{os.environ['PATH']}")

    found = stacks.find_pulumi()

    assert found.command == str(elsewhere / "pulumi")
    printed = subprocess.run([found.command, "version"], capture_output=True, text=True, check=True).stdout
    assert printed.strip().lstrip("v") == str(found.version)
