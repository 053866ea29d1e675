"""Commands a user types to act on one key, in a project folder on the real Pulumi CLI.

docs/behaviour.md, "Rotating one key now": `pulumi up --replace '<urn>'` and
`pulumi up --target '<urn>'`, the URN taken from `pulumi stack --show-urns`. The project is
the rotation example, whose keys a new month replaces. What each command did is read from
what the CLI printed and from the emulator's request log.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from real_cli_support import World
from walkthrough_support import REPO, VENV, demo, init_stack, typed, user_shell

from pulumi_astrokeys.testing.emulator import Emulator

KEY = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"


def writes(emulator: Emulator) -> list[tuple[str, str]]:
    prefix = f"/v1/organizations/{emulator.organization_id}"
    found = [(r["method"], r["path"].removeprefix(prefix)) for r in emulator.requests() if r["method"] != "GET"]
    emulator.clear_requests()
    return found


def test_replace_rotates_one_key_new_first_and_target_changes_only_the_key_it_names(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = demo.project_folder(REPO / "examples" / "rotation", tmp_path / "rotation", VENV)
    shell = user_shell(folder, tmp_path, EMULATOR_TOKEN=emulator.api_token)
    try:
        init_stack(shell, emulator)
        typed(shell, "pulumi config set period 2031-01")
        typed(shell, "pulumi up --yes")
        before = json.loads(typed(shell, "pulumi stack output --json --show-secrets"))
        listed = typed(shell, "pulumi stack --show-urns")
        urn = {name: found for found, name in re.findall(rf"URN: (urn:pulumi:\S+::{re.escape(KEY)}::(\S+))", listed)}
        assert set(urn) == {"monthly", "triggered", "slot-a", "slot-b", "graceful"}
        emulator.clear_requests()

        replaced = typed(shell, f"pulumi up --yes --replace '{urn['slot-a']}'")

        assert "+-1 replaced" in replaced and "5 unchanged" in replaced
        assert replaced.index("created replacement") < replaced.index("deleted original"), "new first"
        after = json.loads(typed(shell, "pulumi stack output --json --show-secrets"))
        new_id, old_id = after["slot_key_ids"]["a"], before["slot_key_ids"]["a"]
        assert writes(emulator) == [("POST", "/tokens"), ("POST", f"/tokens/{new_id}"), ("DELETE", f"/tokens/{old_id}")]
        world = World(emulator, tmp_path)
        assert world.answer_to(before["current"]["secret"], emulator.deployment_ids[0]) == 401, "slot a's old key went"
        assert world.answer_to(after["current"]["secret"], emulator.deployment_ids[0]) == 200
        assert {k: v for k, v in after["slot_key_ids"].items() if k != "a"} == {"b": before["slot_key_ids"]["b"]}

        typed(shell, "pulumi config set period 2031-02")  # monthly, triggered and slot b are due
        targeted = typed(shell, f"pulumi up --yes --target '{urn['monthly']}'")

        assert "+-1 replaced" in targeted
        monthly = json.loads(typed(shell, "pulumi stack output --json --show-secrets"))
        assert writes(emulator) == [
            ("POST", "/tokens"),
            ("POST", f"/tokens/{monthly['monthly_key_id']}"),
            ("DELETE", f"/tokens/{after['monthly_key_id']}"),
        ]
        assert monthly["triggered_key_id"] == after["triggered_key_id"]
        assert monthly["slot_key_ids"] == after["slot_key_ids"]
        still_due = typed(shell, "pulumi preview")
        assert set(re.findall(rf"^ \+- {re.escape(KEY)} (\S+) replace\b", still_due, re.MULTILINE)) == {
            "triggered",
            "slot-b",
        }, "the untargeted keys are still due"
        assert writes(emulator) == []
    finally:
        shell.close()
