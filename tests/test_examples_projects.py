"""The example project folders and the repository's root project, run by the real Pulumi CLI as a
user runs them: `pulumi` commands typed in the folder, its Python language host running the program.

The quickstart runs as README.md's walkthrough (``test_readme_walkthrough.py``); the rotation
example as its own README says. What each command did is read from what the CLI printed and
from the emulator's request log.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from real_cli_support import World
from walkthrough_support import REPO, VENV, Recorder, demo, init_stack, user_shell, walkthrough_run

from pulumi_astrokeys.testing.emulator import Emulator

EXAMPLES = REPO / "examples"
KEY = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"
ROTATED = ("monthly", "triggered", "slot-b")


def test_the_rotation_example_rotates_two_months_as_its_readme_runs_it(tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = []

    statuses: dict[str, int] = {}

    def probe(recorder: Recorder, shell: Any) -> None:
        if recorder.steps[-1].command != "pulumi up --yes":
            return
        outputs.append(json.loads(shell.run("pulumi stack output --json --show-secrets").output))
        if len(outputs) == 2:
            (january, february), deployment = outputs, recorder.emulator().deployment_ids[0]
            for name in ("monthly", "triggered"):
                statuses[f"January's {name}"] = recorder.answer_to(january[f"{name}_key_secret"], deployment)
                statuses[f"February's {name}"] = recorder.answer_to(february[f"{name}_key_secret"], deployment)
            statuses["January's current"] = recorder.answer_to(january["current"]["secret"], deployment)
            statuses["February's current"] = recorder.answer_to(february["current"]["secret"], deployment)

    with walkthrough_run(
        EXAMPLES / "rotation" / "README.md", "Against the local emulator", EXAMPLES / "rotation", tmp_path, probe
    ) as (walkthrough, recorder, _):
        assert walkthrough.install == [".venv/bin/pip install -e '../..[emulator]'"]
        january, february = outputs

        first = recorder.step("pulumi up --yes", 0)
        assert "+ 6 created" in first.output
        assert sorted({method for method, _ in first.writes}) == ["POST"] and len(first.writes) == 10

        preview = recorder.step("pulumi preview")
        assert preview.requests == [], "a preview asks nothing of the API"
        replaced = set(re.findall(rf"^ \+- {re.escape(KEY)} (\S+) replace\b", preview.output, re.MULTILINE))
        assert replaced == set(ROTATED), preview.output
        assert "+-3 to replace" in preview.output

        second = recorder.step("pulumi up --yes", 1)
        assert "+-3 replaced" in second.output
        methods = [method for method, _ in second.writes]
        assert methods == ["POST"] * 6 + ["DELETE"] * 3, "every new key exists before an old one goes"
        old_ids = {january["monthly_key_id"], january["triggered_key_id"], january["slot_key_ids"]["b"]}
        assert {path.rsplit("/", 1)[1] for method, path in second.writes if method == "DELETE"} == old_ids
        assert february["slot_key_ids"]["a"] == january["slot_key_ids"]["a"], "slot a, made in January, stays"
        assert january["current"]["slot"] == "a" and february["current"]["slot"] == "b"
        assert statuses == {
            "January's monthly": 401,
            "February's monthly": 200,
            "January's triggered": 401,
            "February's triggered": 200,
            "January's current": 200,  # the retiring slot still works
            "February's current": 200,
        }

        current = json.loads(recorder.step("pulumi stack output --show-secrets current").output)
        assert current == february["current"] and current["key_id"] == february["slot_key_ids"]["b"]

        destroy = recorder.step("pulumi destroy --yes")
        assert "- 6 deleted" in destroy.output
        # retain_on_delete: the graceful key stays in Astro until it expires on its own.
        assert list(recorder.world().tokens()) == [february["graceful_key_id"]]


def test_pulumi_up_at_the_repository_root_runs_the_quickstart(tmp_path: Path, emulator: Emulator) -> None:
    root = tmp_path / "clone"
    (root / "examples").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, root / name)
    (root / "examples" / "quickstart").symlink_to(EXAMPLES / "quickstart", target_is_directory=True)
    (root / ".venv").symlink_to(VENV, target_is_directory=True)
    shell = user_shell(root, tmp_path, EMULATOR_TOKEN=emulator.api_token)
    try:
        init_stack(shell, emulator)
        emulator.clear_requests()

        up = shell.run("pulumi up --yes")
        assert up.exit_code == 0, up.output
        assert f" +  {KEY} ci created" in up.output and "+ 2 created" in up.output
        assert [token["name"] for token in World(emulator, root).tokens().values()] == ["ci"]
    finally:
        shell.close()


def test_a_preview_without_an_api_token_or_organization_fails_in_one_sentence_asking_nothing_of_the_api(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = demo.project_folder(EXAMPLES / "quickstart", tmp_path / "quickstart", VENV)
    shell = user_shell(folder, tmp_path, EMULATOR_TOKEN=emulator.api_token)
    try:
        init_stack(shell, emulator, settings=("host",))
        emulator.clear_requests()

        preview = shell.run("pulumi preview")

        assert preview.exit_code != 0
        sentence = (
            "No Astro API token and no Astro organization ID are configured: set them with "
            "`pulumi config set --secret astrokeys:apiToken <value>` and `pulumi config set astrokeys:organizationId "
            "<value>`, or the environment variables ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID."
        )
        assert f"{KEY} resource 'ci' has a problem: {sentence}" in " ".join(preview.output.split())
        assert "Traceback" not in preview.output
        assert emulator.requests() == []

        # Either way out works: here the environment.
        assert shell.run(f"export ASTRO_ORGANIZATION_ID={emulator.organization_id}").exit_code == 0
        assert shell.run('export ASTRO_API_TOKEN="$EMULATOR_TOKEN"').exit_code == 0
        fixed = shell.run("pulumi preview")
        assert fixed.exit_code == 0, fixed.output
        assert "+ 2 to create" in fixed.output
        assert emulator.requests() == []
    finally:
        shell.close()
