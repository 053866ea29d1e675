"""The package's pytest plugin: a user's suite opts into it; no other pytest session loads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_CONFTEST = 'pytest_plugins = ["pulumi_astrokeys.testing.pytest_plugin"]\n'

USER_TEST = '''
import pulumi
from pulumi_astrokeys import DeploymentApiKey


def test_my_program_creates_a_key_and_exports_its_secret_as_a_secret(astro_emulator, astro_stack):
    def program():
        key = DeploymentApiKey("ci", deployment_id=astro_emulator.deployment_ids[0], description="CI deploys")
        pulumi.export("secret", key.secret)

    stack = astro_stack(program)
    result = stack.up()

    assert result.summary.resource_changes == {"create": 2}
    assert result.outputs["secret"].secret
    (token,) = [t for t in astro_emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"]
    assert token["name"] == "ci" and token["description"] == "CI deploys"
    assert stack.preview().change_summary == {"same": 2}
    stack.destroy()
    assert [t for t in astro_emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"] == []
'''

UNRELATED_TEST = '''
import sys


def test_nothing_of_pulumi_astrokeys_is_loaded():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi_astrokeys", "pulumi", "pydantic"))
    assert loaded == []
'''


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_users_suite_that_opts_in_gets_an_emulator_and_real_cli_stacks(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(USER_CONFTEST, encoding="utf-8")
    (tmp_path / "test_program.py").write_text(USER_TEST, encoding="utf-8")

    done = _pytest(tmp_path)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def test_an_unrelated_pytest_session_loads_neither_the_package_nor_pulumi(tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text(UNRELATED_TEST, encoding="utf-8")

    done = _pytest(tmp_path)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
