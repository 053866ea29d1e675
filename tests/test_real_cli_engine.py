"""Where the real Pulumi engine decides what happens to keys, checked with the real CLI.

Each test pins what ``pulumi`` itself does around the provider: the stack config it
records with the default provider, lookups of keys that are gone, ``protect``,
``pulumi:autonaming``. ``--replace`` and ``--target``, typed in a project folder, are in
``test_real_cli_commands.py``; an update killed half-way has ``test_real_cli_recovery.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from real_cli_support import KEY_TYPE, StackFailed, World, keys_program, secret_of

from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys.testing.emulator import Emulator
from pulumi_astrokeys.testing.stacks import set_secret_config


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> World:
    return World(emulator, tmp_path)


def rotate_owner_token(emulator: Emulator) -> str:
    """Rotate the API token that runs Pulumi, as its owner would in the Astro UI; the old value dies."""
    owner = next(t for t in emulator.list_all_tokens(emulator.organization_id) if t["scope"] == "ORGANIZATION")
    with emulator.client() as api:
        response = api.post(f"/tokens/{owner['id']}/rotate")
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def provider_ops(run: Any) -> set[str]:
    """The operations the engine announced for the default dynamic provider."""
    return {
        event.resource_pre_event.metadata.op.value
        for event in run.events
        if event.resource_pre_event is not None
        and event.resource_pre_event.metadata.type.startswith("pulumi:providers:")
    }


# -- 1. the stack config the engine records with the default provider ---------------------------


def test_after_rotating_the_api_token_up_records_it_and_refresh_and_destroy_work_with_it_alone(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}))
    stack.up()
    before = {name: key["id"] for name, key in stack.keys().items()}
    old_token = world.emulator.api_token

    new_token = rotate_owner_token(world.emulator)
    set_secret_config(stack.stack, "astrokeys:apiToken", new_token)
    world.clear()

    preview = stack.preview()
    assert preview.ops() == {"etl": "same", "reports": "same"}, "a new token replaces no key"
    assert provider_ops(preview) == {"update"}, "the provider is updated, never replaced"

    # Before an up, refresh runs the provider with the settings recorded at the last update.
    with pytest.raises(StackFailed) as stale:
        stack.refresh()
    message = stale.value.run.error_text()
    assert "401" in message and "run `pulumi up` first or add --run-program" in message
    assert set(stack.keys()) == {"etl", "reports"}, "a refused read drops nothing"

    up = stack.up()
    assert up.ops() == {"etl": "same", "reports": "same"}
    assert world.writes() == [], "the up wrote nothing to the keys"

    stack.refresh()
    assert {name: key["id"] for name, key in stack.keys().items()} == before
    exported = json.dumps(stack.export())
    for token in (old_token, new_token):
        assert token not in exported and token not in stack.stored_text()
    stack.destroy()
    assert world.tokens() == {}
    assert {r["tokenId"] for r in world.emulator.requests() if r["method"] == "DELETE"} != {None}


def test_refresh_and_destroy_with_run_program_use_the_new_api_token_at_once(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}}))
    stack.up()
    new_token = rotate_owner_token(world.emulator)
    set_secret_config(stack.stack, "astrokeys:apiToken", new_token)

    stack.refresh(run_program=True)
    assert set(stack.keys()) == {"etl"}
    stack.destroy(run_program=True)

    assert world.tokens() == {}


def test_a_new_host_or_organization_replaces_no_key_and_a_foreign_organization_is_refused(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}}))
    stack.up()
    etl = stack.keys()["etl"]

    # The same emulator under another spelling of its address.
    other_spelling = world.emulator.host.replace("127.0.0.1", "localhost")
    stack.stack.set_config("astrokeys:host", auto.ConfigValue(other_spelling))
    world.clear()
    preview = stack.preview()
    assert preview.ops() == {"etl": "same"} and provider_ops(preview) == {"update"}
    assert stack.up().ops() == {"etl": "same"}
    assert world.writes() == []

    other = world.emulator.create_organization()
    stack.stack.set_config("astrokeys:organizationId", auto.ConfigValue(other["organizationId"]))
    set_secret_config(stack.stack, "astrokeys:apiToken", other["apiToken"])
    preview = stack.preview()
    assert preview.ops() == {"etl": "same"} and provider_ops(preview) == {"update"}
    stack.up()

    with pytest.raises(StackFailed) as refused:
        stack.refresh()
    assert etl["outputs"]["organization_id"] in refused.value.run.error_text()
    assert stack.keys()["etl"]["id"] == etl["id"], "a key of another organization is not dropped"
    assert etl["id"] in world.tokens()


# -- 2. a lookup of a key that is gone ----------------------------------------------------------------


def test_a_lookup_of_a_missing_key_fails_the_update_naming_the_key(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}}))
    stack.up()
    gone = stack.keys()["etl"]["id"]
    world.delete_token_by_hand(gone)

    def program() -> None:
        key = DeploymentApiKey.get("looked-up", gone)
        pulumi.export("name", key.name)

    lookup = world.stack(program)
    with pytest.raises(StackFailed) as failed:
        lookup.up()

    assert f"Could not look up Deployment API key {gone}: organization" in failed.value.run.error_text()
    assert lookup.resources() == [] or all(r["type"] != KEY_TYPE for r in lookup.resources())


# -- 3. protect ----------------------------------------------------------------------------------------


def test_destroy_deletes_every_unprotected_key_before_it_reports_the_protected_one(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(
        keys_program(
            {"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}},
            {"etl": {"protect": True}},
        )
    )
    stack.up()
    keys = stack.keys()
    world.clear()

    with pytest.raises(StackFailed) as failed:
        stack.destroy()

    assert f'resource "{keys["etl"]["urn"]}" cannot be deleted because it is protected' in (
        failed.value.run.error_text()
    )
    assert world.writes() == [("DELETE", f"/tokens/{keys['reports']['id']}")]
    assert set(stack.keys()) == {"etl"}
    assert world.answer_to(secret_of(keys["etl"]), deployment) == 200


# -- 4. pulumi:autonaming --------------------------------------------------------------------------------


DELETE_FIRST_SETTINGS: list[dict[str, str]] = [{"mode": "verbatim"}, {"mode": "disabled"}, {"pattern": "${name}-${stack}"}]


def test_an_autonaming_config_that_would_replace_keys_delete_first_is_refused_before_anything_runs(
    world: World,
) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs = {"etl": {"deployment_id": deployment, "description": "ETL deploys"}}
    stack = world.stack(keys_program(specs))
    stack.up()
    old = stack.keys()["etl"]
    specs["etl"]["description"] = "Nightly ETL deploys"
    world.clear()

    for setting in DELETE_FIRST_SETTINGS:
        stack.stack.remove_config("pulumi:autonaming")
        for key, value in setting.items():
            stack.stack.set_config(f"pulumi:autonaming.{key}", auto.ConfigValue(value), path=True)
        with pytest.raises(StackFailed) as refused:
            stack.preview()
        message = refused.value.run.error_text()
        assert "DeploymentApiKey 'etl': the stack config pulumi:autonaming has the" in message, setting
        assert "pulumi config set --path pulumi:autonaming.providers.pulumi-python.mode default" in message
        assert "Traceback" not in message
    with pytest.raises(StackFailed):
        stack.up()
    assert world.writes() == []
    assert stack.keys()["etl"]["id"] == old["id"]

    # The override the message names keeps the keys new-first under the stack's setting.
    stack.stack.set_config(
        "pulumi:autonaming.providers.pulumi-python.mode", auto.ConfigValue("default"), path=True
    )
    result = stack.up()
    assert result.step_ops("etl") == ["create-replacement", "replace", "delete-replaced"]
    new = stack.keys()["etl"]
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{new['id']}"), ("DELETE", f"/tokens/{old['id']}")]


def test_an_autonaming_pattern_with_a_random_part_leaves_keys_new_first(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs = {"etl": {"deployment_id": deployment, "description": "ETL deploys"}}
    stack = world.stack(keys_program(specs))
    stack.stack.set_config("pulumi:autonaming.pattern", auto.ConfigValue("${name}-${hex(6)}"), path=True)
    stack.up()
    specs["etl"]["description"] = "Nightly ETL deploys"

    assert stack.up().step_ops("etl") == ["create-replacement", "replace", "delete-replaced"]


# -- what a long operation says -----------------------------------------------------------------------------


def test_a_retried_request_shows_in_pulumi_output_as_it_happens(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}}))
    world.emulator.inject_fault("GET", rf"/deployments/{deployment}$", status=503, count=2)

    result = stack.up()

    assert result.ops() == {"etl": "create"}
    lines = [line for line in result.stdout.splitlines() if "pulumi-astrokeys: retrying in" in line]
    assert lines and all("503" in line for line in lines), result.stdout
    assert {"(attempt 2)", "(attempt 3)"} <= {word for line in lines for word in re.findall(r"\(attempt \d\)", line)}
    assert world.emulator.api_token not in result.stdout
