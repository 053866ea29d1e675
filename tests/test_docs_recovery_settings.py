"""The recovery steps of docs/behaviour.md give `astrokeys audit` the stack's settings, wherever they are kept.

Their `export ASTRO_...` lines run, as written, in a shell in a project folder: settings kept
in the environment stay as they are (stack config, which may hold none, is not asked), and
settings kept in stack config are read from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from walkthrough_support import REPO, VENV, demo, init_stack, user_shell

from pulumi_astrokeys.testing.emulator import Emulator

SETTINGS = ("ASTRO_ORGANIZATION_ID", "ASTRO_API_TOKEN", "ASTRO_API_HOST")


def export_lines() -> list[str]:
    behaviour = (REPO / "docs" / "behaviour.md").read_text(encoding="utf-8")
    recovery = behaviour[behaviour.index("**An interrupted update.**") :]
    block = recovery[recovery.index("```sh") : recovery.index("```", recovery.index("```sh") + 5)]
    lines = [line.strip() for line in block.splitlines() if re.match(r"\s*export ASTRO_", line)]
    assert {line.split("=", 1)[0].removeprefix("export ") for line in lines} == set(SETTINGS)
    return lines


def shell_in_quickstart(tmp_path: Path, **env: str) -> Any:
    folder = demo.project_folder(REPO / "examples" / "quickstart", tmp_path / "quickstart", VENV)
    return user_shell(folder, tmp_path, **env)


def settings_after(shell: Any) -> dict[str, str]:
    for line in export_lines():
        step = shell.run(line)
        assert step.exit_code == 0 and step.output == "", step.output
    printed = shell.run('printf "%s\\n" "$ASTRO_ORGANIZATION_ID" "$ASTRO_API_TOKEN" "$ASTRO_API_HOST"')
    return dict(zip(SETTINGS, printed.output.split("\n")))


def test_settings_from_the_environment_are_kept_without_asking_stack_config(tmp_path: Path, emulator: Emulator) -> None:
    # No stack at all: a `pulumi config get` here would fail and blank the variable.
    shell = shell_in_quickstart(tmp_path, **emulator.env())
    try:
        assert settings_after(shell) == emulator.env()
    finally:
        shell.close()


def test_settings_from_stack_config_are_read_from_it(tmp_path: Path, emulator: Emulator) -> None:
    shell = shell_in_quickstart(tmp_path, EMULATOR_TOKEN=emulator.api_token)
    try:
        init_stack(shell, emulator, deployment=False)
        assert settings_after(shell) == emulator.env()
    finally:
        shell.close()
