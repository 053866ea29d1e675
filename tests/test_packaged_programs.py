"""A program in each Pulumi language manages a key through the packaged provider, on the real CLI.

YAML, TypeScript (the generated Node.js SDK packed and installed as a local package), Go (the
generated Go SDK through a ``replace``) and Python (the generated Python SDK): each project folder
of ``examples/packaged`` runs as a user runs it, ``pulumi`` commands typed in a shell with the
plugin ``pulumi-resource-astrokeys`` on the ``PATH``. What each command did is read from what the
CLI printed and from the emulator's request log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaged_programs_support import GO_SDK_MODULE, project_folder
from real_cli_support import World
from walkthrough_support import REPO, init_stack, typed, user_shell

from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

KEY = "astrokeys:index:DeploymentApiKey"


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator for the languages a worker runs; each test clears its request log and
    destroys what it made."""
    with run_emulator(tmp_path_factory.mktemp("emulator") / "emulator.db") as running:
        yield running


@pytest.mark.parametrize("language", ["yaml", "typescript", "go", "python"])
def test_a_program_previews_creates_replaces_new_first_refreshes_and_destroys_a_key(
    language: str, tmp_path: Path, shared_emulator: Emulator
) -> None:
    emulator, world = shared_emulator, World(shared_emulator, tmp_path)
    deployment = emulator.deployment_ids[0]
    folder = project_folder(language, tmp_path / language)
    shell = user_shell(folder, tmp_path, EMULATOR_TOKEN=emulator.api_token)
    try:
        init_stack(shell, emulator)
        if language == "typescript":
            modules = (folder / "node_modules").resolve()
            copies = [path.parent for path in modules.rglob("@pulumi/pulumi/package.json")]
            assert copies == [modules / "@pulumi" / "pulumi"], "the SDK shares the program's @pulumi/pulumi"
            assert (modules / "@pulumi-astrokeys" / "astrokeys" / "index.js").is_file(), "installed from its pack"
        if language == "go":
            typed(shell, f"go mod edit -replace={GO_SDK_MODULE}={REPO / 'sdk'}")
        world.clear()

        preview = typed(shell, "pulumi preview")
        assert f" +  {KEY} ci create" in preview and "+ 2 to create" in preview, preview
        assert world.requests() == [], "a preview asks nothing of the API"

        up = typed(shell, "pulumi up --yes")
        assert f" +  {KEY} ci created" in up, up
        assert json.loads(typed(shell, "pulumi stack output --json"))["secret"] == "[secret]"
        first = json.loads(typed(shell, "pulumi stack output --json --show-secrets"))
        assert first["secret"] not in preview + up
        assert world.answer_to(first["secret"], deployment) == 200
        assert [method for method, _ in world.writes()][0] == "POST"
        world.clear()

        typed(shell, "pulumi config set description 'CI/CD deploys, rotated'")
        replaced = typed(shell, "pulumi up --yes")
        assert "+-1 replaced" in replaced, replaced
        second = json.loads(typed(shell, "pulumi stack output --json --show-secrets"))
        writes = world.writes()
        assert writes[0] == ("POST", "/tokens") and writes[-1] == ("DELETE", f"/tokens/{first['keyId']}"), writes
        assert [method for method, _ in writes].count("DELETE") == 1, "the new key exists before the old one goes"
        assert world.answer_to(first["secret"], deployment) == 401
        assert world.answer_to(second["secret"], deployment) == 200
        assert world.tokens()[second["keyId"]]["description"] == "CI/CD deploys, rotated"
        world.clear()

        refreshed = typed(shell, "pulumi refresh --yes")
        assert "2 unchanged" in refreshed, refreshed
        assert world.writes() == []

        destroyed = typed(shell, "pulumi destroy --yes")
        assert "- 2 deleted" in destroyed, destroyed
        assert second["keyId"] not in world.tokens() and first["keyId"] not in world.tokens()
    finally:
        shell.close()
