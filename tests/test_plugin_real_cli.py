"""The provider plugin on the real Pulumi CLI, from a YAML project folder, as a user types the commands.

``pulumi import`` of a key made by hand, the ``import`` resource option, and one program
with keys in two organizations through explicit providers. The plugin is found on the
PATH (the project's virtualenv is active), as after ``pip install pulumi-astrokeys``;
what reached the API is read from the emulator's request log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from grpc_provider.props import SIG_KEY
from walkthrough_support import VENV, init_stack, user_shell

from pulumi_astrokeys.testing.emulator import Emulator

KEY = "astrokeys:index:DeploymentApiKey"
MISSING_KEY_ID = "clm8q7f6q000008lcgyougpsk"


class Project:
    """A YAML project folder (``runtime: yaml``), its stack ``dev`` set up for the emulator, and a shell in it."""

    def __init__(self, folder: Path, emulator: Emulator, **env: str) -> None:
        self.folder = folder
        self.emulator = emulator
        (folder / ".venv").symlink_to(VENV, target_is_directory=True)
        self.write({})
        self.shell = user_shell(folder, folder.parent, EMULATOR_TOKEN=emulator.api_token, **env)
        init_stack(self.shell, emulator, deployment=False)

    def write(self, resources: dict[str, Any], **sections: Any) -> None:
        """Pulumi.yaml with these ``resources`` (and ``config``, ``outputs``, ...)."""
        project = {"name": "keys", "runtime": "yaml", **sections, "resources": resources}
        (self.folder / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))

    def run(self, command: str, *, succeeds: bool = True) -> tuple[str, list[tuple[str, str]]]:
        """Type ``command``; what it printed and the ``(method, path)`` of each request it made."""
        self.emulator.clear_requests()
        step = self.shell.run(command)
        assert (step.exit_code == 0) == succeeds, f"`{command}` exited with {step.exit_code}:\n{step.output}"
        assert "Traceback" not in step.output and 'File "' not in step.output, step.output
        return step.output, [(r["method"], r["path"]) for r in self.emulator.requests()]

    def state(self, show_secrets: bool = False, kind: str = KEY) -> dict[str, dict[str, Any]]:
        """The resources of type ``kind`` in ``pulumi stack export``, by name."""
        output, _ = self.run("pulumi stack export" + (" --show-secrets" if show_secrets else ""))
        resources = json.loads(output[output.index("{") :])["deployment"].get("resources") or []
        return {r["urn"].rsplit("::", 1)[1]: r for r in resources if r["type"] == kind}

    def close(self) -> None:
        self.shell.close()


@pytest.fixture
def project(tmp_path: Path, emulator: Emulator) -> Iterator[Project]:
    folder = tmp_path / "keys"
    folder.mkdir()
    made = Project(folder, emulator)
    yield made
    made.close()


def writes(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(method, path) for method, path in requests if method in ("POST", "DELETE")]


def key_made_by_hand(emulator: Emulator, **fields: Any) -> str:
    """A Deployment API key made outside Pulumi (as in the Astro UI); its ID."""
    body = {"name": "by-hand", "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"}
    with emulator.client() as http:
        answer = http.post("/tokens", json={**body, **fields})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def answer_to(emulator: Emulator, secret: str) -> int:
    """The API's status for a request made with a key's secret (200: it works)."""
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {secret}"}) as http:
        return http.get(f"/deployments/{emulator.deployment_ids[0]}").status_code


def test_pulumi_package_get_schema_answers_from_the_plugin_in_the_virtualenv(project: Project) -> None:
    from pulumi_astrokeys.plugin.schema import package_schema

    output, requests = project.run("pulumi package get-schema .venv/bin/pulumi-resource-astrokeys")
    assert json.loads(output[output.index("{") :]) == package_schema()
    assert requests == []


def test_pulumi_import_adopts_a_key_made_by_hand_and_the_next_up_changes_nothing(
    project: Project, emulator: Emulator
) -> None:
    key_id = key_made_by_hand(emulator, description="made in the UI", tokenExpiryPeriodInDays=90)

    output, requests = project.run(f"pulumi import {KEY} byhand {key_id} --yes --protect=false --out generated.yaml")
    assert "= 1 imported" in output
    assert f"Deployment API key {key_id} ('by-hand') was adopted without its secret" in output
    assert writes(requests) == []
    generated = yaml.safe_load((project.folder / "generated.yaml").read_text())["resources"]
    assert generated["byhand"]["properties"] == {
        "deploymentId": emulator.deployment_ids[0],
        "name": "by-hand",
        "description": "made in the UI",
        "expiryPeriodInDays": 90,
    }

    project.write(generated)  # the generated code, as the user pastes it into the program
    output, requests = project.run("pulumi preview --expect-no-changes")
    assert requests == []
    output, requests = project.run("pulumi up --yes")
    assert "2 unchanged" in output and writes(requests) == []  # the stack and the key
    adopted = project.state(show_secrets=True)["byhand"]
    assert adopted["id"] == key_id and adopted["outputs"]["adopted"] is True
    assert adopted["outputs"].get("secret") is None, "never a made-up secret"

    urn = adopted["urn"]
    output, requests = project.run(f"pulumi up --yes --replace {urn}")
    assert "+-1 replaced" in output
    assert [method for method, _ in writes(requests)][-1] == "DELETE", "the new key first, the old one last"
    assert writes(requests)[-1][1].endswith(f"/tokens/{key_id}")
    fresh = project.state(show_secrets=True)["byhand"]["outputs"]
    assert fresh["adopted"] is False
    secret = fresh["secret"]["plaintext"] if isinstance(fresh["secret"], dict) else fresh["secret"]
    assert answer_to(emulator, json.loads(secret) if secret.startswith('"') else secret) == 200
    output, requests = project.run("pulumi preview --expect-no-changes")
    assert requests == []


def test_pulumi_import_of_an_id_of_no_key_is_refused_in_one_sentence(project: Project, emulator: Emulator) -> None:
    output, requests = project.run(f"pulumi import {KEY} nope {MISSING_KEY_ID} --yes", succeeds=False)
    assert (
        f"Could not import Deployment API key {MISSING_KEY_ID}: organization {emulator.organization_id} has no such "
        "key (it was deleted, or the ID is wrong)"
    ) in output
    assert writes(requests) == []
    assert project.state() == {}


def test_the_import_option_adopts_a_key_and_the_next_up_changes_nothing(project: Project, emulator: Emulator) -> None:
    key_id = key_made_by_hand(emulator, name="deploys")
    resource = {"type": KEY, "properties": {"deploymentId": emulator.deployment_ids[0], "name": "deploys"}}

    project.write({"deploys": {**resource, "options": {"import": key_id}}})
    output, requests = project.run("pulumi up --yes")
    assert "= 1 imported" in output and "adopted without its secret" in output
    assert writes(requests) == []

    project.write({"deploys": resource})
    _, requests = project.run("pulumi preview --expect-no-changes")
    assert requests == []
    output, requests = project.run("pulumi up --yes")
    assert writes(requests) == []
    assert project.state()["deploys"]["id"] == key_id


def test_an_autonaming_that_would_replace_keys_delete_first_is_refused_and_the_fix_it_names_works(
    project: Project, emulator: Emulator
) -> None:
    resource = {"type": KEY, "properties": {"deploymentId": emulator.deployment_ids[0], "description": "v1"}}
    project.write({"ci": resource})
    project.run("pulumi up --yes")
    resource["properties"]["description"] = "v2"
    project.write({"ci": resource})

    project.run("pulumi config set --path pulumi:autonaming.mode verbatim")
    output, requests = project.run("pulumi preview", succeeds=False)
    assert "DeploymentApiKey 'ci': the stack config pulumi:autonaming gives it the name 'ci'" in output
    assert requests == []

    project.run("pulumi config set --path pulumi:autonaming.providers.astrokeys.mode default")
    output, requests = project.run("pulumi up --yes")
    assert "+-1 replaced" in output
    assert [method for method, _ in writes(requests)][-1] == "DELETE", "the new key first, the old one last"


def test_one_program_manages_keys_in_two_organizations_through_explicit_providers(
    tmp_path: Path, emulator: Emulator
) -> None:
    second = emulator.create_organization("second")
    folder = tmp_path / "two"
    folder.mkdir()
    project = Project(folder, emulator, SECOND_TOKEN=second["apiToken"])
    try:
        project.run('printf %s "$EMULATOR_TOKEN" | pulumi config set --secret firstToken')
        project.run('printf %s "$SECOND_TOKEN" | pulumi config set --secret secondToken')
        # An explicit provider reads no astrokeys:* stack config (that is the default provider's): all is given.
        providers = {
            "first": {
                "type": "pulumi:providers:astrokeys",
                "properties": {
                    "host": emulator.host,
                    "organizationId": emulator.organization_id,
                    "apiToken": "${firstToken}",
                },
            },
            "second": {
                "type": "pulumi:providers:astrokeys",
                "properties": {
                    "host": emulator.host,
                    "organizationId": second["organizationId"],
                    "apiToken": "${secondToken}",
                },
            },
        }
        keys = {
            "ci-first": {
                "type": KEY,
                "properties": {"deploymentId": emulator.deployment_ids[0], "name": "ci"},
                "options": {"provider": "${first}"},
            },
            "ci-second": {
                "type": KEY,
                "properties": {"deploymentId": second["deploymentIds"][0], "name": "ci"},
                "options": {"provider": "${second}"},
            },
        }
        tokens = {name: {"type": "string", "secret": True} for name in ("firstToken", "secondToken")}
        project.write({**providers, **keys}, config=tokens)

        _, requests = project.run("pulumi preview")
        assert requests == []
        output, _ = project.run("pulumi up --yes")
        assert "+ 5 created" in output  # the stack, two providers, two keys
        state = project.state()
        assert state["ci-first"]["outputs"]["organizationId"] == emulator.organization_id
        assert state["ci-second"]["outputs"]["organizationId"] == second["organizationId"]
        first_tokens = {t["id"] for t in emulator.list_all_tokens(emulator.organization_id)}
        second_tokens = {t["id"] for t in emulator.list_all_tokens(second["organizationId"])}
        assert state["ci-first"]["id"] in first_tokens and state["ci-second"]["id"] in second_tokens

        stored = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and ".venv" not in p.parts)
        assert second["apiToken"] not in stored and emulator.api_token not in stored
        token_in_state = project.state(kind="pulumi:providers:astrokeys")["second"]["inputs"]["apiToken"]
        assert set(token_in_state) == {SIG_KEY, "ciphertext"}, "the provider's token is a secret in the state"

        _, requests = project.run("pulumi preview --expect-no-changes")
        assert requests == []
        output, requests = project.run("pulumi destroy --yes")
        assert {method for method, _ in writes(requests)} == {"DELETE"} and len(writes(requests)) == 2
        assert state["ci-second"]["id"] not in {t["id"] for t in emulator.list_all_tokens(second["organizationId"])}
    finally:
        project.close()
