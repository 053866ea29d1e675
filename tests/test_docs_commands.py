"""Every command a user types from README.md, CONTRIBUTING.md and docs/ is run by a named test.

The register below maps each command of a shell block, as written (less its trailing
comment), to the tests that run it, or to why no test can (a placeholder the reader fills
in, a command that is the test suite itself). A command added to the documents without an
entry fails here, and so does an entry whose command is gone or whose test was renamed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
_SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)

WALKTHROUGH = "test_readme_walkthrough.py::test_the_readme_walkthrough_runs_as_written_through_the_whole_lifecycle"
RECOVERY = "test_real_cli_recovery.py::test_two_stacks_sharing_token_deployment_and_names_after_kill_9_of_one_up_only_its_orphan_goes"
RECOVERY_SETTINGS = "test_docs_recovery_settings.py::test_settings_from_stack_config_are_read_from_it"


class Unrunnable(str):
    """Why no test runs a command: the reason, in a few words."""


_RELEASE_STEP = "a maintainer's step at a release; test_release_upgrades.py runs on the fixtures it recorded"


REGISTER: dict[str, tuple[str, ...] | Unrunnable] = {
    # README.md: install
    "pip install /path/to/pulumi-astrokeys": (
        "test_examples_requirements.py::test_requirements_install_the_package_from_the_clone",
    ),
    "pip install 'pulumi-astrokeys @ git+<the repository URL>@main'": Unrunnable(
        "the reader's repository URL; no network here"
    ),
    # README.md: the five-line use, with the reader's own values; the walkthrough runs each with real ones
    "pulumi config set astrokeys:organizationId <your organization ID>": (WALKTHROUGH,),
    "pulumi config set --secret astrokeys:apiToken <the API token>": (WALKTHROUGH,),
    "pulumi up": (WALKTHROUGH, RECOVERY),
    "pulumi stack output --show-secrets key_secret": (WALKTHROUGH,),
    # README.md: "Try it locally", run line by line as written
    "cd examples/quickstart": (WALKTHROUGH,),
    "python3 -m venv .venv": (WALKTHROUGH,),
    ".venv/bin/pip install -r requirements.txt '../..[emulator]'": (WALKTHROUGH,),
    ".venv/bin/astrokeys-emulator": (WALKTHROUGH,),
    ". .venv/bin/activate": (WALKTHROUGH,),
    'export PULUMI_BACKEND_URL="file://$PWD" PULUMI_CONFIG_PASSPHRASE=quickstart': (WALKTHROUGH,),
    "pulumi stack init dev": (WALKTHROUGH,),
    'pulumi config set astrokeys:host "$(astrokeys-emulator --show host)"': (WALKTHROUGH,),
    'pulumi config set astrokeys:organizationId "$(astrokeys-emulator --show organizationId)"': (WALKTHROUGH,),
    "astrokeys-emulator --show apiToken | pulumi config set --secret astrokeys:apiToken": (WALKTHROUGH,),
    'pulumi config set deploymentId "$(astrokeys-emulator --show deploymentIds | head -n 1)"': (WALKTHROUGH,),
    'pulumi config set workspaceId "$(astrokeys-emulator --show workspaceId)"': (WALKTHROUGH,),
    "pulumi preview": (WALKTHROUGH,),
    "pulumi up --yes": (WALKTHROUGH,),
    'pulumi config set description "CI/CD deploys, rotated"': (WALKTHROUGH,),
    "pulumi refresh --yes": (WALKTHROUGH,),
    "pulumi destroy --yes": (WALKTHROUGH,),
    "make demo": (
        "test_readme_walkthrough.py::test_make_demo_installs_the_package_and_its_emulator_extra_only_in_a_virtualenv_of_its_own",
        WALKTHROUGH,
    ),
    "make test": Unrunnable("the test suite itself, which CI runs"),
    # docs/audit.md
    "export ASTRO_API_TOKEN=… ASTRO_ORGANIZATION_ID=…": (
        "test_audit.py::test_ids_table_shows_each_key_its_creator_expiry_and_last_use",
    ),
    "astrokeys audit clm8q7f6q000008lcgyougpsk": (
        "test_audit.py::test_ids_table_shows_each_key_its_creator_expiry_and_last_use",
    ),
    "pulumi stack export --file stack.json && astrokeys audit --stack stack.json": (
        "test_audit.py::test_a_real_pulumi_stack_export_shows_the_managed_key_expiring_and_the_orphan",
        "test_audit.py::test_stack_file_marks_managed_unmanaged_and_the_orphan",
    ),
    "pulumi stack export | astrokeys audit --stack - --expiring-within 14 --json": (
        "test_audit.py::test_stack_export_from_standard_input",
        "test_audit.py::test_json_report_shape",
    ),
    "astrokeys delete-key <key ID> --deployment <Deployment ID> --name <name> [--stack state.json]": (
        "test_audit_ownership.py::test_delete_key_reads_the_key_again_and_deletes_only_the_one_named",
    ),
    # docs/behaviour.md: the recovery after a killed `pulumi up`
    "pulumi cancel --yes": (RECOVERY,),
    "pulumi stack export --file state.json": (RECOVERY,),
    'export ASTRO_ORGANIZATION_ID="${ASTRO_ORGANIZATION_ID:-$(pulumi config get astrokeys:organizationId)}"': (
        RECOVERY_SETTINGS,
    ),
    'export ASTRO_API_TOKEN="${ASTRO_API_TOKEN:-$(pulumi config get astrokeys:apiToken)}"': (RECOVERY_SETTINGS,),
    'export ASTRO_API_HOST="${ASTRO_API_HOST:-$(pulumi config get astrokeys:host 2>/dev/null)}"': (RECOVERY_SETTINGS,),
    "astrokeys audit --stack state.json --delete-orphans": (RECOVERY,),
    "pulumi refresh --clear-pending-creates --yes": (RECOVERY,),
    # CONTRIBUTING.md: recording an earlier release's fixture, a maintainer's step at a release
    "git worktree add --detach /tmp/old-release <commit>": Unrunnable(_RELEASE_STEP),
    "python3 -m venv /tmp/old-release-venv && /tmp/old-release-venv/bin/pip install /tmp/old-release": Unrunnable(
        _RELEASE_STEP
    ),
    ".venv/bin/python tests/fixtures/releases/record.py --commit <commit> --release 0.1.0-<commit> "
    "--python /tmp/old-release-venv/bin/python": Unrunnable(_RELEASE_STEP),
    # docs/packaged-provider.md
    'pulumi plugin install resource astrokeys 0.1.0 --file "$(command -v pulumi-resource-astrokeys)"': (
        "test_plugin_install.py::test_the_documented_plugin_install_puts_the_plugin_in_pulumis_cache",
    ),
    "pulumi import astrokeys:index:DeploymentApiKey deploys <key ID>": (
        "test_plugin_real_cli.py::test_pulumi_import_adopts_a_key_made_by_hand_and_the_next_up_changes_nothing",
    ),
    # docs/emulator.md
    "astrokeys-emulator": ("test_emulator_process.py::test_start_writes_the_bootstrap_file_and_prints_export_lines",),
    "astrokeys-emulator --show apiToken": (
        "test_emulator_process.py::test_show_prints_one_field_of_the_running_emulators_bootstrap_file",
    ),
}


def documented_commands() -> set[str]:
    """Each line of the documents' shell blocks, less blanks, comments and a trailing comment."""
    commands = set()
    for document in DOCUMENTS:
        for block in _SHELL_BLOCK.findall(document.read_text(encoding="utf-8")):
            for line in re.sub(r"\\\n\s*", "", block).splitlines():
                command = re.sub(r"\s+#\s.*$", "", line).strip()
                if command and not command.startswith("#"):
                    commands.add(command)
    return commands


def test_every_documented_command_is_registered_and_every_entry_is_documented() -> None:
    documented = documented_commands()
    assert sorted(documented - set(REGISTER)) == [], "documented, with no test registered to run it"
    assert sorted(set(REGISTER) - documented) == [], "registered, but no longer in the documents"


@pytest.mark.parametrize(
    "test_id", sorted({t for runs in REGISTER.values() if not isinstance(runs, Unrunnable) for t in runs})
)
def test_each_registered_test_exists(test_id: str) -> None:
    file, name = test_id.split("::")
    tree = ast.parse((REPO / "tests" / file).read_text(encoding="utf-8"))
    assert name in {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}, test_id


def test_only_what_cannot_run_here_goes_unrun() -> None:
    unrun = {command for command, runs in REGISTER.items() if isinstance(runs, Unrunnable)}
    reasons = {REGISTER[command] for command in unrun}
    assert reasons == {
        "the reader's repository URL; no network here",
        "the test suite itself, which CI runs",
        _RELEASE_STEP,
    }
