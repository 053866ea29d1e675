"""What the API or other people do to a key between runs: no silent loss, no perpetual replacement.

- a key read or deleted under another organization's settings is an error, never "gone";
- a key rotated outside Pulumi loses its dead secret at refresh and is replaced at the next up;
- an input the API stores differently (a role with spaces around it) replaces nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pulumi
import pytest
from lifecycle import Secret, Stack
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_astrokeys import DeploymentApiKey, KeyOperationError
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

KEY_TYPE = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"


def stack_for(emulator: Emulator, tmp_path: Path, **spec: Any) -> Stack:
    def program() -> None:
        key = DeploymentApiKey("ci", deployment_id=emulator.deployment_ids[0], **spec)
        pulumi.export("secret", key.secret)

    return Stack(
        program,
        state_file=tmp_path / "state.json",
        project="drift",
        stack_name="dev",
        config=emulator.stack_config(),
        secret_config=emulator.secret_stack_config(),
        env={},
        passphrase="pw",
        kdf_iterations=1000,
    )


def the_key(stack: Stack) -> Any:
    (key,) = [r for r in stack.resources() if r.type == KEY_TYPE and not r.delete]
    return key


def writes(emulator: Emulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.requests() if r["method"] in ("POST", "DELETE")]


def answer_to(emulator: Emulator, secret: str) -> int:
    response = httpx.get(
        f"{emulator.base_url}/deployments/{emulator.deployment_ids[0]}",
        headers={"Authorization": f"Bearer {secret}"},
        trust_env=False,
    )
    return response.status_code


@pytest.mark.parametrize("role", [" DEPLOYMENT_ADMIN", "DEPLOYMENT_ADMIN "])
def test_a_role_with_spaces_around_it_replaces_nothing_at_the_next_up_or_after_refresh(
    emulator: Emulator, tmp_path: Path, role: str
) -> None:
    stack = stack_for(emulator, tmp_path, role=role)
    stack.up()
    emulator.clear_requests()

    assert stack.preview().ops() == {"ci": "same"}
    assert stack.up().ops() == {"ci": "same"}
    stack.refresh()
    assert stack.up().ops() == {"ci": "same"}
    assert writes(emulator) == []


def test_a_key_rotated_outside_pulumi_loses_its_dead_secret_at_refresh_and_is_replaced_at_the_next_up(
    emulator: Emulator, tmp_path: Path
) -> None:
    stack = stack_for(emulator, tmp_path)
    stack.up()
    rotated = the_key(stack)
    with emulator.client() as owner:  # the Astro UI's "rotate"
        assert owner.post(f"/tokens/{rotated.id}/rotate").status_code == 200
    assert answer_to(emulator, rotated.outputs["secret"].value) == 401

    stack.refresh()

    assert the_key(stack).id == rotated.id
    assert not isinstance(the_key(stack).outputs.get("secret"), Secret), "a dead secret must not stay in the state"
    preview = stack.preview()
    assert (preview.step("ci").op, preview.step("ci").replaces) == ("replace", ["secret"])

    stack.up()

    replacement = the_key(stack)
    assert replacement.id != rotated.id
    assert answer_to(emulator, replacement.outputs["secret"].value) == 200
    assert answer_to(emulator, stack.outputs(show_secrets=True)["secret"]) == 200
    assert [t["id"] for t in emulator.list_all_tokens() if t["name"] == "ci"] == [replacement.id]
    assert stack.up().ops() == {"ci": "same"}


def test_a_key_that_was_not_rotated_keeps_its_secret_through_refresh(emulator: Emulator, tmp_path: Path) -> None:
    stack = stack_for(emulator, tmp_path, description="never rotated")
    stack.up()
    secret = the_key(stack).outputs["secret"].value

    stack.refresh()

    assert the_key(stack).outputs["secret"].value == secret
    assert stack.preview().ops() == {"ci": "same"}


@pytest.fixture
def key_of_the_first_organization(emulator: Emulator) -> tuple[str, dict[str, Any]]:
    provider = DeploymentApiKeyProvider()
    provider.configure(
        ConfigureRequest(Config({**emulator.stack_config(), "astrokeys:apiToken": emulator.api_token}, "test"))
    )
    checked = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci"})
    created = provider.create(checked.inputs)
    return created.id, created.outs


@pytest.mark.parametrize("step", ["read", "delete"])
def test_a_key_read_or_deleted_under_another_organizations_settings_is_an_error_not_gone(
    emulator: Emulator, key_of_the_first_organization: tuple[str, dict[str, Any]], step: str
) -> None:
    key_id, outputs = key_of_the_first_organization
    other = emulator.create_organization()
    provider = DeploymentApiKeyProvider()  # CI run with another organization's ID and token
    provider.configure(
        ConfigureRequest(
            Config(
                {
                    "astrokeys:host": emulator.host,
                    "astrokeys:organizationId": other["organizationId"],
                    "astrokeys:apiToken": other["apiToken"],
                },
                "test",
            )
        )
    )

    with pytest.raises(KeyOperationError) as caught:
        getattr(provider, step)(key_id, outputs)

    message = str(caught.value)
    assert emulator.organization_id in message and other["organizationId"] in message
    assert "astrokeys:organizationId" in message and "ASTRO_ORGANIZATION_ID" in message
    assert "\n" not in message and other["apiToken"] not in message
    assert key_id in [t["id"] for t in emulator.list_all_tokens(emulator.organization_id)]
