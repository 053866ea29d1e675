"""The lifecycle scenarios with the real Pulumi CLI and engine, against the emulator.

Pulumi programs taken through ``preview``, ``up``, ``refresh`` and ``destroy`` by the
``pulumi`` CLI (through the Automation API, with a local file backend and no account).
Each test reads as the story a user lives through. The emulator's request log is the
witness of what reached the API: a claim that something "writes nothing" means the log
holds no POST and no DELETE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from real_cli_support import (
    DEPLOYMENT_TYPE,
    KEY_TYPE,
    RealStack,
    Specs,
    StackFailed,
    World,
    is_encrypted_secret,
    keys_program,
    plain,
    secret_of,
)

from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys.testing import BareDeployment
from pulumi_astrokeys.testing.emulator import Emulator

# A custom Deployment role of the organization: declared to the emulator first, as in Astro,
# where a Deployment token's role is DEPLOYMENT_ADMIN or one of the organization's custom roles.
CUSTOM_ROLE = "CI_DEPLOYER"


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> World:
    emulator.set_deployment_roles([CUSTOM_ROLE])
    return World(emulator, tmp_path)


def assert_state_matches_the_api(world: World, stack: RealStack, names: set[str]) -> None:
    """Every token named like one of the program's keys is in the state, and vice versa;
    nothing is left pending deletion."""
    resources = stack.resources(show_secrets=False)
    assert not any(r.get("delete") for r in resources)
    in_state = {r["id"] for r in resources if r["type"] == KEY_TYPE}
    assert set(world.tokens(names)) == in_state


# -- 1. first up ---------------------------------------------------------------------------


def test_first_up_creates_a_key_per_deployment_and_keeps_the_secrets_out_of_the_state(world: World) -> None:
    etl_deployment, reports_deployment = world.emulator.deployment_ids[:2]
    stack = world.stack(
        keys_program(
            {
                "etl": {"deployment_id": etl_deployment, "description": "ETL deploys"},
                "reports": {"deployment_id": reports_deployment},
            }
        )
    )

    result = stack.up()

    assert result.ops() == {"etl": "create", "reports": "create"}
    tokens = world.tokens()
    assert {(t["name"], t["entityId"]) for t in tokens.values()} == {
        ("etl", etl_deployment),
        ("reports", reports_deployment),
    }
    masked, shown = stack.outputs(), stack.outputs(show_secrets=True)
    sealed = stack.keys(show_secrets=False)
    for name, deployment in (("etl", etl_deployment), ("reports", reports_deployment)):
        assert result.is_secret(f"{name}_secret") and masked[f"{name}_secret"] == "[secret]"
        assert not result.is_secret(f"{name}_id")
        assert masked[f"{name}_id"] == sealed[name]["id"] and sealed[name]["id"] in tokens
        assert is_encrypted_secret(sealed[name]["outputs"]["secret"])
        assert world.answer_to(shown[f"{name}_secret"], deployment) == 200
    assert {name: secret_of(key) for name, key in stack.keys().items()} == {
        name: shown[f"{name}_secret"] for name in ("etl", "reports")
    }
    stored = stack.stored_text()
    for text in (shown["etl_secret"], shown["reports_secret"], world.emulator.api_token):
        assert text not in stored, "a secret is stored in plain text"
    assert shown["etl_secret"] not in json.dumps(stack.export())


# -- 2. nothing changed ----------------------------------------------------------------------


def test_a_second_up_without_changes_writes_nothing_to_the_api(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(
        keys_program(
            {
                "etl": {"deployment_id": deployment, "description": "ETL deploys", "expiry_period_in_days": 90},
                "reports": {"deployment_id": deployment, "role": CUSTOM_ROLE, "keepers": {"rotation": "1"}},
            }
        )
    )
    first = stack.up()
    world.clear()

    assert stack.preview().ops() == {"etl": "same", "reports": "same"}
    second = stack.up()

    assert second.ops() == {"etl": "same", "reports": "same"}
    assert world.writes() == []
    assert second.plain() == first.plain()
    assert len(world.tokens()) == 2


# -- 3. a changed input replaces the key, new one first ----------------------------------------

CHANGES = {
    "description": "Nightly ETL deploys",
    "name": "etl-deployer",
    "role": CUSTOM_ROLE,
    "expiry_period_in_days": 30,
    "keepers": {"rotation": "2"},
}


def test_a_changed_input_replaces_the_key_creating_the_new_one_before_deleting_the_old(world: World) -> None:
    # One key per input, each changed in its own way in the same up.
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {
        field: {"deployment_id": deployment, "description": "ETL deploys", "keepers": {"rotation": "1"}}
        for field in CHANGES
    }
    stack = world.stack(keys_program(specs))
    stack.up()
    old = stack.keys()
    world.clear()

    for field, value in CHANGES.items():
        specs[field][field] = value
    preview = stack.preview()
    assert preview.ops() == dict.fromkeys(CHANGES, "replace")
    assert {field: preview.replaces(field) for field in CHANGES} == {field: [field] for field in CHANGES}
    assert world.writes() == [], "preview must not touch the API"
    assert {name: key["id"] for name, key in stack.keys().items()} == {name: key["id"] for name, key in old.items()}

    result = stack.up()

    assert result.ops() == dict.fromkeys(CHANGES, "replace")
    new = stack.keys()
    writes = world.writes()
    for field, value in CHANGES.items():
        assert result.step_ops(field) == ["create-replacement", "replace", "delete-replaced"], "new key first"
        assert new[field]["id"] != old[field]["id"]
        # The create, the description set once the answer is in hand, then the old key's delete.
        create, describe, delete = (
            writes.index(("POST", "/tokens"), 0),
            writes.index(("POST", f"/tokens/{new[field]['id']}")),
            writes.index(("DELETE", f"/tokens/{old[field]['id']}")),
        )
        assert create < describe < delete
        assert world.answer_to(secret_of(old[field]), deployment) == 401, "the old key must stop working"
        assert world.answer_to(secret_of(new[field]), deployment) == 200, "the new key must work"
        assert result.plain(f"{field}_secret") == secret_of(new[field])
        assert new[field]["outputs"][field] == value
    assert sorted(writes) == sorted(
        [("POST", "/tokens")] * len(CHANGES)
        + [("POST", f"/tokens/{key['id']}") for key in new.values()]
        + [("DELETE", f"/tokens/{key['id']}") for key in old.values()]
    )
    assert max(i for i, w in enumerate(writes) if w[0] == "POST") < min(
        i for i, w in enumerate(writes) if w[0] == "DELETE"
    ), "every new key exists before an old one goes"
    assert set(world.tokens()) == {key["id"] for key in new.values()}
    (role_token,) = [t for t in world.tokens().values() if t["id"] == new["role"]["id"]]
    assert role_token["roles"] == [{"entityType": "DEPLOYMENT", "entityId": deployment, "role": CUSTOM_ROLE}]


# -- 4. a new release of the library ----------------------------------------------------------


def test_a_new_release_of_the_library_changes_nothing(world: World) -> None:
    import base64

    import dill

    from pulumi_astrokeys.provider import DeploymentApiKeyProvider

    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}))
    first = stack.up()

    # The state as an older release left it: other valid pickle bytes of the same provider class.
    other_release = base64.b64encode(dill.dumps(DeploymentApiKeyProvider(), protocol=2)).decode("ascii")
    state = stack.export(show_secrets=True)
    for resource in state["deployment"]["resources"]:
        if resource["type"] == KEY_TYPE:
            for props in (resource["inputs"], resource["outputs"]):
                assert plain(props["__provider"]) != other_release
                props["__provider"] = other_release
    stack.stack.import_stack(pulumi.automation.Deployment(version=state["version"], deployment=state["deployment"]))
    assert {plain(k["outputs"]["__provider"]) for k in stack.keys().values()} == {other_release}
    world.clear()

    assert stack.preview().ops() == {"etl": "same", "reports": "same"}
    result = stack.up()

    assert result.ops() == {"etl": "same", "reports": "same"}
    assert world.writes() == []
    assert result.plain() == first.plain()
    # The older bytes still load: destroy's Deletes run the provider unpickled from them.
    assert {plain(k["outputs"]["__provider"]) for k in stack.keys().values()} == {other_release}
    stack.destroy()
    assert world.tokens() == {}


# -- 5. a key deleted by hand ----------------------------------------------------------------


def test_a_key_deleted_by_hand_leaves_the_state_on_refresh_and_the_next_up_recreates_it(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}))
    stack.up()
    gone = stack.keys()["etl"]
    world.delete_token_by_hand(gone["id"])
    world.clear()

    stack.refresh()

    assert set(stack.keys()) == {"reports"}
    assert world.writes() == [], "refresh only reads"

    result = stack.up()

    assert result.ops() == {"etl": "create", "reports": "same"}
    recreated = stack.keys()["etl"]
    assert recreated["id"] != gone["id"]
    assert world.answer_to(secret_of(recreated), deployment) == 200
    assert world.answer_to(secret_of(gone), deployment) == 401
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{recreated['id']}")]
    assert_state_matches_the_api(world, stack, {"etl", "reports"})


# -- 6. a Deployment deleted by hand -----------------------------------------------------------


def test_a_deployment_deleted_by_hand_takes_its_keys_out_of_the_state_on_refresh_and_destroy_succeeds(
    world: World,
) -> None:
    kept_deployment = world.emulator.deployment_ids[0]
    workspace_id = world.emulator.workspace_id

    def program() -> None:
        analytics = BareDeployment("analytics", workspace_id=workspace_id)
        DeploymentApiKey(
            "analytics-ci", deployment_id=analytics.id, opts=pulumi.ResourceOptions(deleted_with=analytics)
        )
        DeploymentApiKey("etl", deployment_id=kept_deployment)

    stack = world.stack(program)
    stack.up()
    analytics_id = next(r["id"] for r in stack.resources() if r["type"] == DEPLOYMENT_TYPE)
    assert world.emulator.delete_deployment(analytics_id) == 1  # Astro deletes its key with it
    world.clear()

    stack.refresh()

    assert stack.custom_names() == ["etl"]
    assert world.writes() == []

    destroy = stack.destroy()

    assert destroy.ops() == {"etl": "delete"}
    assert stack.resources() == []
    assert world.tokens() == {}


def test_destroy_without_a_refresh_succeeds_after_the_keys_deployment_was_deleted_by_hand(world: World) -> None:
    doomed = world.emulator.create_deployment("doomed")
    stack = world.stack(
        keys_program(
            {"doomed-ci": {"deployment_id": doomed}, "etl": {"deployment_id": world.emulator.deployment_ids[0]}}
        )
    )
    stack.up()
    gone = stack.keys()["doomed-ci"]
    assert world.emulator.delete_deployment(doomed) == 1
    world.clear()

    destroy = stack.destroy()

    # The key already gone counts as deleted.
    assert destroy.ops() == {"doomed-ci": "delete", "etl": "delete"}
    assert ("DELETE", f"/tokens/{gone['id']}") in world.writes()
    assert stack.resources() == []
    assert world.tokens() == {}


# -- 7. destroy ----------------------------------------------------------------------------------


def test_destroy_deletes_every_key_and_a_second_destroy_does_nothing(world: World) -> None:
    first, second = world.emulator.deployment_ids[:2]
    stack = world.stack(
        keys_program(
            {
                "etl": {"deployment_id": first},
                "reports": {"deployment_id": second},
                "backfill": {"deployment_id": second, "expiry_period_in_days": 7},
            }
        )
    )
    stack.up()
    created = stack.keys()
    world.clear()

    result = stack.destroy()

    assert result.ops() == {"etl": "delete", "reports": "delete", "backfill": "delete"}
    assert sorted(world.writes()) == sorted(("DELETE", f"/tokens/{key['id']}") for key in created.values())
    assert world.tokens() == {}
    for key in created.values():
        assert world.answer_to(secret_of(key), key["outputs"]["deployment_id"]) == 401
    assert stack.resources() == []
    assert stack.outputs() == {}
    world.clear()

    again = stack.destroy()

    assert again.ops() == {}
    assert world.requests() == [], "a second destroy has nothing to ask the API"


def test_a_key_deleted_with_its_deployment_is_not_deleted_on_its_own(world: World) -> None:
    workspace_id = world.emulator.workspace_id

    def program() -> None:
        pipeline = BareDeployment("pipeline", workspace_id=workspace_id)
        key = DeploymentApiKey(
            "pipeline-ci", deployment_id=pipeline.id, opts=pulumi.ResourceOptions(deleted_with=pipeline)
        )
        pulumi.export("secret", key.secret)

    stack = world.stack(program)
    stack.up()
    key = stack.keys()["pipeline-ci"]
    pipeline_id = key["outputs"]["deployment_id"]
    assert world.answer_to(secret_of(key), pipeline_id) == 200
    world.clear()

    result = stack.destroy()

    assert result.ops() == {"pipeline": "delete", "pipeline-ci": "delete"}
    assert world.writes() == [("DELETE", f"/deployments/{pipeline_id}")], "the key's own Delete is skipped"
    assert world.tokens() == {}, "the Deployment's deletion took its key with it"
    assert world.answer_to(secret_of(key), pipeline_id) == 401
    assert stack.resources() == []


# -- 8. protect --------------------------------------------------------------------------------


def test_a_protected_key_is_neither_replaced_nor_deleted_and_the_error_says_why(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment, "description": "ETL deploys"}}
    opts: dict[str, dict[str, Any]] = {"etl": {"protect": True}}
    stack = world.stack(keys_program(specs, opts))
    stack.up()
    protected = stack.keys()["etl"]
    urn = protected["urn"]
    world.clear()

    specs["etl"]["description"] = "Nightly ETL deploys"
    with pytest.raises(StackFailed) as replacing:
        stack.up()
    assert f'unable to replace resource "{urn}" as it is currently marked for protection' in (
        replacing.value.run.error_text()
    )

    etl = specs.pop("etl")
    with pytest.raises(StackFailed) as removing:
        stack.up()
    assert f'resource "{urn}" cannot be deleted because it is protected' in removing.value.run.error_text()

    with pytest.raises(StackFailed) as destroying:
        stack.destroy()
    assert f'resource "{urn}" cannot be deleted because it is protected' in destroying.value.run.error_text()

    assert world.writes() == []
    assert stack.keys()["etl"]["id"] == protected["id"]
    assert world.answer_to(secret_of(protected), deployment) == 200

    # The way out the message names: lift protect, then the key can go.
    specs["etl"], opts["etl"] = {**etl, "description": "ETL deploys"}, {}
    assert stack.up().ops() == {"etl": "same"}
    stack.destroy()
    assert world.tokens() == {}


# -- 9. a bad input ----------------------------------------------------------------------------

BAD_INPUTS = {
    "deployment_id": "not-a-deployment-id",
    "name": "   ",
    "description": "d" * 501,
    "role": "",
    "expiry_period_in_days": 0,
    "keepers": {"rotation": 2},
}


def test_a_bad_input_fails_at_preview_naming_the_field_and_writes_nothing(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}
    stack = world.stack(keys_program(specs))
    stack.up()
    before = {name: (key["id"], key["outputs"]) for name, key in stack.keys().items()}
    world.clear()

    for field, bad in BAD_INPUTS.items():
        good = specs["etl"].get(field)
        specs["etl"][field] = bad
        with pytest.raises(StackFailed) as preview:
            stack.preview()

        message = "\n".join(preview.value.run.errors())
        assert f"property {field} value" in message and f"has a problem: {field} " in message, message
        assert "Traceback" not in message
        assert preview.value.run.failed() == {"etl"}, field
        if good is None:
            del specs["etl"][field]
        else:
            specs["etl"][field] = good
    assert world.writes() == []

    specs["etl"]["description"] = BAD_INPUTS["description"]
    with pytest.raises(StackFailed) as up:
        stack.up()

    assert "property description value" in "\n".join(up.value.run.errors())
    assert world.writes() == []
    assert {name: (key["id"], key["outputs"]) for name, key in stack.keys().items()} == before


# -- 10. a failure in the middle of an up ---------------------------------------------------------

FAILURES: dict[str, dict[str, Any]] = {
    # A 5xx leaves the create's outcome unknown: the provider tries once more, so it takes two.
    "server error": {"action": "status", "status": 500, "count": 2},
    "rejected": {"action": "status", "status": 400, "count": 1},
    "answer lost": {"action": "commit-then-drop", "count": 2},
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_create_mid_up_leaves_a_consistent_state_and_the_rerun_finishes_the_job(
    world: World, failure: str
) -> None:
    deployment = world.emulator.deployment_ids[0]
    names = {"first", "second", "third"}

    def program() -> None:
        # A chain, so the creates reach the API one after another.
        first = DeploymentApiKey("first", deployment_id=deployment)
        second = DeploymentApiKey("second", deployment_id=deployment, opts=pulumi.ResourceOptions(depends_on=[first]))
        DeploymentApiKey("third", deployment_id=deployment, opts=pulumi.ResourceOptions(depends_on=[second]))

    stack = world.stack(program)
    # The first create goes through (a zero delay), then the fault hits the second.
    world.emulator.inject_fault("POST", r"/tokens$", action="delay", delay_seconds=0)
    world.emulator.inject_fault("POST", r"/tokens$", **FAILURES[failure])

    with pytest.raises(StackFailed) as failed:
        stack.up()

    assert failed.value.run.failed() == {"second"}
    error = "\n".join(failed.value.run.errors())
    assert "'second'" in error and "run `pulumi up` again" in error, error
    assert set(stack.keys()) == {"first"}
    assert_state_matches_the_api(world, stack, names)
    assert world.emulator.faults() == []
    world.clear()

    result = stack.up()

    assert result.ops() == {"first": "same", "second": "create", "third": "create"}
    created = stack.keys()
    assert world.writes() == [
        ("POST", "/tokens"),
        ("POST", f"/tokens/{created['second']['id']}"),
        ("POST", "/tokens"),
        ("POST", f"/tokens/{created['third']['id']}"),
    ]
    assert_state_matches_the_api(world, stack, names)
    for key in stack.keys().values():
        assert world.answer_to(secret_of(key), deployment) == 200


def test_a_failed_delete_of_a_replaced_key_keeps_it_pending_and_the_rerun_deletes_it(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment, "description": "ETL deploys"}}
    stack = world.stack(keys_program(specs))
    stack.up()
    old = stack.keys()["etl"]
    specs["etl"]["description"] = "Nightly ETL deploys"
    world.emulator.inject_fault("DELETE", r"/tokens/", status=500)

    with pytest.raises(StackFailed) as failed:
        stack.up()

    assert "etl" in failed.value.run.failed()
    new = stack.keys()["etl"]
    assert new["id"] != old["id"]
    # The old key stays in the state, marked for deletion, as long as it exists.
    pending = [r for r in stack.resources() if r["type"] == KEY_TYPE and r.get("delete")]
    assert [r["id"] for r in pending] == [old["id"]]
    assert set(world.tokens()) == {old["id"], new["id"]}
    assert world.answer_to(secret_of(new), deployment) == 200
    assert stack.outputs(show_secrets=True)["etl_secret"] == secret_of(new)
    world.clear()

    result = stack.up()

    assert result.step_ops("etl") == ["same", "delete-replaced"], "the key stays; the old one left pending goes"
    assert world.writes() == [("DELETE", f"/tokens/{old['id']}")]
    assert_state_matches_the_api(world, stack, {"etl"})
    assert stack.keys()["etl"]["id"] == new["id"]
