"""docs/packaged-provider.md's `pulumi plugin install … --file`, typed in a shell whose PATH has the
clone's virtualenv, puts the plugin of the package's version in Pulumi's plugin cache."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from walkthrough_support import REPO, VENV

from pulumi_astrokeys import __version__
from pulumi_astrokeys.testing.stacks import offline_environment


def documented_command() -> str:
    text = (REPO / "docs" / "packaged-provider.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"^pulumi plugin install resource astrokeys .*$", text, flags=re.M)
    return command


def test_the_documented_plugin_install_puts_the_plugin_in_pulumis_cache(tmp_path: Path) -> None:
    command = documented_command()
    assert f" {__version__} " in command, "the documented version is the package's"
    env = {**os.environ, **offline_environment(tmp_path)}
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), env.get("PATH", "")])

    installed = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    listed = subprocess.run(["pulumi", "plugin", "ls", "--json"], env=env, capture_output=True, text=True, timeout=120)
    plugins = {(p["name"], p["kind"], p["version"]) for p in json.loads(listed.stdout)}
    assert ("astrokeys", "resource", __version__) in plugins
    assert (Path(env["PULUMI_HOME"]) / "plugins" / f"resource-astrokeys-v{__version__}").is_dir()
