"""The pytest plugin the package installs: a user's own suite tests a program offline with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_a_users_suite_gets_an_emulator_and_real_cli_stacks_without_a_conftest(tmp_path: Path) -> None:
    (tmp_path / "test_program.py").write_text(USER_TEST, encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
