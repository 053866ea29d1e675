"""What the API or other people do to a key between runs: no silent loss, no perpetual replacement.

- a key read or deleted under another organization's settings is an error, never "gone";
- a key rotated outside Pulumi loses its dead secret at refresh and is replaced at the next up;
- an input the API stores differently (a role with spaces around it) replaces nothing.

The lifecycles run through the real Pulumi CLI and engine; the other organization's
settings are given to the provider directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from real_cli_support import RealStack, Specs, World, is_encrypted_secret, keys_program, plain, secret_of

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> World:
    return World(emulator, tmp_path)


def stack_for(world: World, specs: Specs) -> RealStack:
    """A stack of one key per entry of ``specs``, each on the emulator's first Deployment."""
    deployment = world.emulator.deployment_ids[0]
    return world.stack(keys_program({name: {"deployment_id": deployment, **spec} for name, spec in specs.items()}))


def test_a_role_with_spaces_around_it_replaces_nothing_at_the_next_up_or_after_refresh(world: World) -> None:
    stack = stack_for(world, {"leading": {"role": " DEPLOYMENT_ADMIN"}, "trailing": {"role": "DEPLOYMENT_ADMIN "}})
    stack.up()
    world.clear()

    assert stack.preview().ops() == {"leading": "same", "trailing": "same"}, "the next up would change nothing"
    stack.refresh()
    assert stack.up().ops() == {"leading": "same", "trailing": "same"}
    assert world.writes() == []


def test_a_key_rotated_outside_pulumi_loses_its_dead_secret_at_refresh_and_is_replaced_while_the_others_keep_theirs(
    world: World,
) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = stack_for(world, {"ci": {}, "steady": {"description": "never rotated"}})
    stack.up()
    rotated, steady = stack.keys()["ci"], stack.keys()["steady"]
    with world.emulator.client() as owner:  # the Astro UI's "rotate"
        assert owner.post(f"/tokens/{rotated['id']}/rotate").status_code == 200
    assert world.answer_to(secret_of(rotated), deployment) == 401

    stack.refresh()

    refreshed = stack.keys()
    assert refreshed["ci"]["id"] == rotated["id"]
    assert plain(refreshed["ci"]["outputs"].get("secret")) in (None, ""), "a dead secret must not stay in the state"
    assert not is_encrypted_secret(stack.keys(show_secrets=False)["ci"]["outputs"].get("secret"))
    assert secret_of(refreshed["steady"]) == secret_of(steady), "a key that was not rotated keeps its secret"
    preview = stack.preview()
    assert preview.ops() == {"ci": "replace", "steady": "same"}
    assert preview.replaces("ci") == ["secret"]

    stack.up()

    replacement = stack.keys()["ci"]
    assert replacement["id"] != rotated["id"]
    assert world.answer_to(secret_of(replacement), deployment) == 200
    assert world.answer_to(stack.outputs(show_secrets=True)["ci_secret"], deployment) == 200
    assert list(world.tokens({"ci"})) == [replacement["id"]]
    assert stack.keys()["steady"]["id"] == steady["id"]
    assert stack.up().ops() == {"ci": "same", "steady": "same"}


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
