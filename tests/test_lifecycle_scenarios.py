"""Issue 4's lifecycle scenarios: Pulumi programs taken through preview, up, refresh and
destroy by the lifecycle harness, against the local Astro API emulator over real HTTP.

Each test reads as the story a user lives through. The emulator's request log is the
witness of what reached the API: a claim that something "writes nothing" means the log
holds no POST and no DELETE.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import dill
import httpx
import pulumi
import pytest
from lifecycle import LifecycleError, ResourceState, Secret, Stack
from lifecycle.state import StateFile

from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing import Deployment
from pulumi_astrokeys.testing.emulator import Emulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEY_TYPE = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"
DEPLOYMENT_TYPE = "pulumi-python:dynamic/astrokeys:Deployment"
PROJECT = "scenarios"
STACK = "dev"
PASSPHRASE = "scenario passphrase"
# The emulator takes any Deployment role name that is not a built-in Organization or
# Workspace role, as Astro takes the name of a custom Deployment role.
CUSTOM_ROLE = "DAG_AUTHOR"

Specs = dict[str, dict[str, Any]]


class World:
    """The emulator, a stack's state file, and stacks wired to both."""

    def __init__(self, emulator: Emulator, root: Path) -> None:
        self.emulator = emulator
        self.state_path = root / "state.json"

    def stack(self, program: Callable[[], Any] | Path, project: str = PROJECT, **config: Any) -> Stack:
        """A stack whose provider reaches the emulator through stack config, the token a secret."""
        return Stack(
            program,
            state_file=self.state_path,
            project=project,
            stack_name=STACK,
            config={
                **self.emulator.stack_config(),
                **{f"{project}:{key}": value for key, value in config.items()},
            },
            secret_config=self.emulator.secret_stack_config(),
            # No ASTRO_* variables: the credentials come from the stack config only.
            env={},
            passphrase=PASSPHRASE,
            # Far fewer PBKDF2 rounds than Pulumi's, to keep the suite fast.
            kdf_iterations=1000,
        )

    def state_text(self) -> str:
        return self.state_path.read_text(encoding="utf-8") if self.state_path.exists() else ""

    # -- what reached the API ----------------------------------------------------------

    def clear(self) -> None:
        self.emulator.clear_requests()

    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every API request since the last :meth:`clear`; paths
        relative to the organization (``/tokens/...``, ``/deployments/...``)."""
        prefix = f"/v1/organizations/{self.emulator.organization_id}"
        return [(r["method"], r["path"].removeprefix(prefix)) for r in self.emulator.requests()]

    def writes(self) -> list[tuple[str, str]]:
        """The POSTs and DELETEs among :meth:`requests`, in the order the API received them."""
        return [(method, path) for method, path in self.requests() if method in ("POST", "DELETE")]

    # -- the API as a key's holder or an operator sees it -------------------------------

    def answer_to(self, secret: str, deployment_id: str) -> int:
        """The status the API gives a key's holder who reads the key's Deployment."""
        response = httpx.get(
            f"{self.emulator.base_url}/deployments/{deployment_id}",
            headers={"Authorization": f"Bearer {secret}"},
            trust_env=False,
        )
        return response.status_code

    def tokens(self, names: Optional[set[str]] = None) -> dict[str, dict[str, Any]]:
        """The Deployment tokens in the emulator by ID, only those named in ``names`` if given."""
        return {
            t["id"]: t
            for t in self.emulator.list_all_tokens(self.emulator.organization_id)
            if t["scope"] == "DEPLOYMENT" and (names is None or t["name"] in names)
        }

    def delete_token_by_hand(self, token_id: str) -> None:
        """An operator deletes a key in the Astro UI."""
        with self.emulator.client() as api:
            assert api.delete(f"/tokens/{token_id}").status_code == 204


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> Iterator[World]:
    yield World(emulator, tmp_path)


def keys_program(specs: Specs, opts: Optional[dict[str, dict[str, Any]]] = None) -> Callable[[], None]:
    """Program: one key per entry of ``specs`` (read at each run, so a test edits the program by
    editing ``specs``), exporting each key's ID and secret."""
    options = opts if opts is not None else {}

    def program() -> None:
        for name, spec in specs.items():
            key = DeploymentApiKey(name, **spec, opts=pulumi.ResourceOptions(**options.get(name, {})))
            pulumi.export(f"{name}_id", key.key_id)
            pulumi.export(f"{name}_secret", key.secret)

    return program


def keys(stack: Stack) -> dict[str, ResourceState]:
    """The keys in the stack's state by resource name, secrets decrypted."""
    return {r.name: r for r in stack.resources() if r.type == KEY_TYPE and not r.delete}


def secret_of(key: ResourceState) -> str:
    secret = key.outputs["secret"]
    assert isinstance(secret, Secret), "a key's secret is kept as a secret in the state"
    return str(secret.value)


def assert_state_matches_the_api(world: World, stack: Stack, names: set[str]) -> None:
    """Every token named like one of the program's keys is in the state, and vice versa;
    nothing is left pending deletion."""
    assert not any(r.delete for r in stack.resources())
    in_state = {r.id for r in keys(stack).values()}
    assert set(world.tokens(names)) == in_state


# -- 1. first up ---------------------------------------------------------------------------


def test_first_up_creates_a_key_per_deployment_and_keeps_the_secrets_out_of_the_state_file(world: World) -> None:
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
    secrets = {}
    for name, deployment in (("etl", etl_deployment), ("reports", reports_deployment)):
        assert result.outputs.is_secret(f"{name}_secret"), f"{name}_secret must be a Pulumi secret"
        assert not result.outputs.is_secret(f"{name}_id")
        assert result.outputs[f"{name}_id"] in tokens
        secrets[name] = result.outputs.plain(f"{name}_secret")
        assert world.answer_to(secrets[name], deployment) == 200
    assert "[secret]" in repr(stack.outputs()) and secrets["etl"] not in repr(stack.outputs())
    assert stack.outputs(show_secrets=True)["etl_secret"] == secrets["etl"]
    assert {name: secret_of(key) for name, key in keys(stack).items()} == secrets

    stored = world.state_text()
    assert stored
    for name, secret in secrets.items():
        assert stored.count(secret) == 0, f"the state file holds {name}'s secret in plain text"
    assert stored.count(world.emulator.api_token) == 0, "the state file holds the API token"


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
    assert second.outputs.plain() == first.outputs.plain()
    assert len(world.tokens()) == 2


# -- 3. a changed input replaces the key, new one first ----------------------------------------

CHANGES = {
    "description": "Nightly ETL deploys",
    "name": "etl-deployer",
    "role": CUSTOM_ROLE,
    "expiry_period_in_days": 30,
    "keepers": {"rotation": "2"},
}


@pytest.mark.parametrize("field", list(CHANGES))
def test_a_changed_input_replaces_the_key_creating_the_new_one_before_deleting_the_old(
    world: World, field: str
) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment, "description": "ETL deploys", "keepers": {"rotation": "1"}}}
    stack = world.stack(keys_program(specs))
    stack.up()
    old = keys(stack)["etl"]
    old_secret = secret_of(old)
    world.clear()

    specs["etl"][field] = CHANGES[field]
    preview = stack.preview()
    assert (preview.step("etl").op, preview.step("etl").replaces) == ("replace", [field])
    assert world.writes() == [], "preview must not touch the API"
    assert keys(stack)["etl"].id == old.id

    result = stack.up()

    step = result.step("etl")
    assert (step.op, step.replaces, step.delete_before_replace) == ("replace", [field], False)
    assert result.step("etl", "delete-replaced").op == "delete-replaced"
    new = keys(stack)["etl"]
    assert new.id != old.id
    # The create, then the new key's description in place of its create marker, then the old key's delete.
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{new.id}"), ("DELETE", f"/tokens/{old.id}")]
    assert world.answer_to(old_secret, deployment) == 401, "the old key must stop working"
    assert world.answer_to(secret_of(new), deployment) == 200, "the new key must work"
    assert result.outputs.plain("etl_secret") == secret_of(new)
    assert new.outputs[field] == CHANGES[field]
    (token,) = world.tokens().values()
    assert token["id"] == new.id
    if field == "role":
        assert token["roles"] == [{"entityType": "DEPLOYMENT", "entityId": deployment, "role": CUSTOM_ROLE}]


# -- 4. a new release of the library ----------------------------------------------------------


def test_a_new_release_of_the_library_changes_nothing(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}))
    first = stack.up()

    # The state as an older release left it: other valid pickle bytes of the same provider class.
    other_release = base64.b64encode(dill.dumps(DeploymentApiKeyProvider(), protocol=2)).decode("ascii")
    state = StateFile(world.state_path, PASSPHRASE, PROJECT, STACK)
    resources = state.load()
    for res in resources:
        if res.type == KEY_TYPE:
            for props in (res.inputs, res.outputs):
                blob = props["__provider"]
                assert isinstance(blob, Secret) and blob.value != other_release
                props["__provider"] = Secret(other_release)
    state.save(resources)
    assert {k.outputs["__provider"].value for k in keys(stack).values()} == {other_release}
    world.clear()

    assert stack.preview().ops() == {"etl": "same", "reports": "same"}
    result = stack.up()

    assert result.ops() == {"etl": "same", "reports": "same"}
    assert world.writes() == []
    assert result.outputs.plain() == first.outputs.plain()
    # The older bytes still load: destroy's Deletes run the provider unpickled from them.
    assert {k.outputs["__provider"].value for k in keys(stack).values()} == {other_release}
    stack.destroy()
    assert world.tokens() == {}


# -- 5. a key deleted by hand ----------------------------------------------------------------


def test_a_key_deleted_by_hand_leaves_the_state_on_refresh_and_the_next_up_recreates_it(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}))
    stack.up()
    gone = keys(stack)["etl"]
    world.delete_token_by_hand(gone.id)
    world.clear()

    refresh = stack.refresh()

    assert refresh.ops() == {"etl": "delete", "reports": "same"}
    assert set(keys(stack)) == {"reports"}
    assert world.writes() == [], "refresh only reads"

    result = stack.up()

    assert result.ops() == {"etl": "create", "reports": "same"}
    recreated = keys(stack)["etl"]
    assert recreated.id != gone.id
    assert world.answer_to(secret_of(recreated), deployment) == 200
    assert world.answer_to(secret_of(gone), deployment) == 401
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{recreated.id}")]
    assert_state_matches_the_api(world, stack, {"etl", "reports"})


# -- 6. a Deployment deleted by hand -----------------------------------------------------------


def test_a_deployment_deleted_by_hand_takes_its_keys_out_of_the_state_on_refresh_and_destroy_succeeds(
    world: World,
) -> None:
    kept_deployment = world.emulator.deployment_ids[0]

    def program() -> None:
        analytics = Deployment("analytics", workspace_id=world.emulator.workspace_id)
        DeploymentApiKey(
            "analytics-ci", deployment_id=analytics.id, opts=pulumi.ResourceOptions(deleted_with=analytics)
        )
        DeploymentApiKey("etl", deployment_id=kept_deployment)

    stack = world.stack(program)
    stack.up()
    analytics_id = next(r.id for r in stack.resources() if r.type == DEPLOYMENT_TYPE)
    assert world.emulator.delete_deployment(analytics_id) == 1  # Astro deletes its key with it
    world.clear()

    refresh = stack.refresh()

    assert refresh.ops() == {"analytics": "delete", "analytics-ci": "delete", "etl": "same"}
    assert [r.name for r in stack.resources() if r.custom] == ["etl"]
    assert world.writes() == []

    destroy = stack.destroy()

    assert destroy.ops() == {"etl": "delete"}
    assert stack.resources() == []
    assert world.tokens() == {}


def test_destroy_without_a_refresh_succeeds_after_the_keys_deployment_was_deleted_by_hand(world: World) -> None:
    doomed = world.emulator.create_deployment("doomed")
    stack = world.stack(
        keys_program({"doomed-ci": {"deployment_id": doomed}, "etl": {"deployment_id": world.emulator.deployment_ids[0]}})
    )
    stack.up()
    gone = keys(stack)["doomed-ci"]
    assert world.emulator.delete_deployment(doomed) == 1
    world.clear()

    destroy = stack.destroy()

    # The key already gone counts as deleted.
    assert destroy.ops() == {"doomed-ci": "delete", "etl": "delete"}
    assert ("DELETE", f"/tokens/{gone.id}") in world.writes()
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
    created = keys(stack)
    world.clear()

    result = stack.destroy()

    assert result.ops() == {"etl": "delete", "reports": "delete", "backfill": "delete"}
    assert sorted(world.writes()) == sorted(("DELETE", f"/tokens/{key.id}") for key in created.values())
    assert world.tokens() == {}
    for key in created.values():
        assert world.answer_to(secret_of(key), key.outputs["deployment_id"]) == 401
    assert stack.resources() == []
    assert stack.outputs() == {}
    world.clear()

    again = stack.destroy()

    assert again.steps == []
    assert world.requests() == [], "a second destroy has nothing to ask the API"


def test_a_key_deleted_with_its_deployment_is_not_deleted_on_its_own(world: World) -> None:
    def program() -> None:
        pipeline = Deployment("pipeline", workspace_id=world.emulator.workspace_id)
        key = DeploymentApiKey(
            "pipeline-ci", deployment_id=pipeline.id, opts=pulumi.ResourceOptions(deleted_with=pipeline)
        )
        pulumi.export("secret", key.secret)

    stack = world.stack(program)
    stack.up()
    key = keys(stack)["pipeline-ci"]
    pipeline_id = key.outputs["deployment_id"]
    assert world.answer_to(secret_of(key), pipeline_id) == 200
    world.clear()

    result = stack.destroy()

    assert result.ops() == {"pipeline": "delete", "pipeline-ci": "delete"}
    assert result.step("pipeline-ci").provider_delete_skipped
    assert not result.step("pipeline").provider_delete_skipped
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
    protected = keys(stack)["etl"]
    urn = protected.urn
    world.clear()

    specs["etl"]["description"] = "Nightly ETL deploys"
    with pytest.raises(LifecycleError) as replacing:
        stack.up()
    message = str(replacing.value)
    assert "unable to replace resource" in message and urn in message
    assert "remove the `protect` flag" in message
    assert replacing.value.result.step("etl").failed

    etl = specs.pop("etl")
    with pytest.raises(LifecycleError) as removing:
        stack.up()
    assert "unable to delete resource" in str(removing.value) and urn in str(removing.value)

    with pytest.raises(LifecycleError) as destroying:
        stack.destroy()
    assert "unable to delete resource" in str(destroying.value) and urn in str(destroying.value)

    assert world.writes() == []
    assert keys(stack)["etl"].id == protected.id
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


@pytest.mark.parametrize("field", list(BAD_INPUTS))
def test_a_bad_input_fails_at_preview_naming_the_field_and_writes_nothing(world: World, field: str) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}}
    stack = world.stack(keys_program(specs))
    stack.up()
    before_state, before_keys = world.state_text(), keys(stack)
    world.clear()

    specs["etl"][field] = BAD_INPUTS[field]
    with pytest.raises(LifecycleError) as preview:
        stack.preview()

    message = str(preview.value)
    assert f"DeploymentApiKey resource 'etl': property {field} value" in message
    assert f"has a problem: {field} " in message
    assert preview.value.result.step("etl").failed
    assert world.state_text() == before_state
    assert world.writes() == []

    with pytest.raises(LifecycleError) as up:
        stack.up()

    assert f"property {field} value" in str(up.value)
    assert world.writes() == []
    assert keys(stack) == before_keys


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

    with pytest.raises(LifecycleError) as failed:
        stack.up()

    error = failed.value.result.step("second").error
    assert error is not None and "'second'" in error and "run `pulumi up` again" in error
    assert set(keys(stack)) == {"first"}
    assert_state_matches_the_api(world, stack, names)
    assert world.emulator.faults() == []
    world.clear()

    result = stack.up()

    assert result.ops() == {"first": "same", "second": "create", "third": "create"}
    created = {f"/tokens/{keys(stack)[name].id}" for name in ("second", "third")}
    assert sorted(world.writes()) == sorted([("POST", "/tokens")] * 2 + [("POST", path) for path in created])
    assert_state_matches_the_api(world, stack, names)
    for key in keys(stack).values():
        assert world.answer_to(secret_of(key), deployment) == 200


def test_a_failed_delete_of_a_replaced_key_keeps_it_pending_and_the_rerun_deletes_it(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment, "description": "ETL deploys"}}
    stack = world.stack(keys_program(specs))
    stack.up()
    old = keys(stack)["etl"]
    specs["etl"]["description"] = "Nightly ETL deploys"
    world.emulator.inject_fault("DELETE", r"/tokens/", status=500)

    with pytest.raises(LifecycleError) as failed:
        stack.up()

    assert failed.value.result.step("etl", "delete-replaced").failed
    new = keys(stack)["etl"]
    assert new.id != old.id
    # The old key stays in the state, marked for deletion, as long as it exists.
    pending = [r for r in stack.resources() if r.type == KEY_TYPE and r.delete]
    assert [r.id for r in pending] == [old.id]
    assert set(world.tokens()) == {old.id, new.id}
    assert world.answer_to(secret_of(new), deployment) == 200
    assert stack.outputs(show_secrets=True)["etl_secret"] == secret_of(new)
    world.clear()

    result = stack.up()

    assert result.ops() == {"etl": "same"}
    assert world.writes() == [("DELETE", f"/tokens/{old.id}")]
    assert_state_matches_the_api(world, stack, {"etl"})
    assert keys(stack)["etl"].id == new.id


# -- 11. the examples ------------------------------------------------------------------------------


def test_the_quickstart_example_runs_through_preview_up_refresh_and_destroy(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(
        EXAMPLES / "quickstart",
        project="astrokeys-quickstart",
        deploymentId=deployment,
        workspaceId=world.emulator.workspace_id,
    )

    preview = stack.preview()
    assert preview.ops() == {"ci": "create", "quickstart": "create", "linked": "create"}
    assert stack.state() is None and world.writes() == []

    up = stack.up()
    assert up.ops() == {"ci": "create", "quickstart": "create", "linked": "create"}
    assert up.outputs.is_secret("key_secret") and up.outputs.is_secret("linked_key_secret")
    outputs = stack.outputs(show_secrets=True)
    assert world.answer_to(outputs["key_secret"], deployment) == 200
    assert world.answer_to(outputs["linked_key_secret"], outputs["linked_deployment_id"]) == 200
    stored = world.state_text()
    assert outputs["key_secret"] not in stored and outputs["linked_key_secret"] not in stored
    world.clear()

    assert stack.refresh().ops() == {"ci": "same", "quickstart": "same", "linked": "same"}
    assert stack.up().ops() == {"ci": "same", "quickstart": "same", "linked": "same"}
    assert world.writes() == []

    destroy = stack.destroy()
    assert destroy.ops() == {"ci": "delete", "quickstart": "delete", "linked": "delete"}
    assert destroy.step("linked").provider_delete_skipped
    assert world.tokens() == {}
    assert stack.resources() == []


def test_the_rotation_example_rotates_when_the_period_moves_forward(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    names = {"monthly", "triggered", "slot-a", "slot-b"}

    def stack_in(period: str) -> Stack:
        return world.stack(EXAMPLES / "rotation", project="astrokeys-rotation", deploymentId=deployment, period=period)

    march = stack_in("2026-03")
    assert march.preview().ops() == dict.fromkeys(names, "create")
    assert world.writes() == []
    march.up()
    before = keys(march)
    current = march.outputs(show_secrets=True)["current"]
    assert march.outputs().is_secret("current")
    assert current["slot"] == "a" and current["secret"] == secret_of(before["slot-a"])
    world.clear()

    april = stack_in("2026-04")
    preview = april.preview()
    # Slot b's key, made for February, is due; slot a's, made in March, lives on.
    assert preview.ops() == {"monthly": "replace", "triggered": "replace", "slot-a": "same", "slot-b": "replace"}
    assert preview.step("triggered").replaces == ["replacementTrigger"]
    assert world.writes() == []

    april.up()
    after = keys(april)
    assert after["slot-a"].id == before["slot-a"].id
    for name in ("monthly", "triggered", "slot-b"):
        assert after[name].id != before[name].id
        assert world.answer_to(secret_of(before[name]), deployment) == 401
        assert world.answer_to(secret_of(after[name]), deployment) == 200
    writes = world.writes()
    assert sorted(writes) == sorted(
        [("POST", "/tokens")] * 3
        + [("POST", f"/tokens/{after[n].id}") for n in ("monthly", "triggered", "slot-b")]
        + [("DELETE", f"/tokens/{before[n].id}") for n in ("monthly", "triggered", "slot-b")]
    )
    assert max(i for i, w in enumerate(writes) if w[0] == "POST") < min(
        i for i, w in enumerate(writes) if w[0] == "DELETE"
    ), "every new key exists before an old one goes"
    current = april.outputs(show_secrets=True)["current"]
    assert current["slot"] == "b" and current["secret"] == secret_of(after["slot-b"])
    assert world.answer_to(secret_of(before["slot-a"]), deployment) == 200, "the retiring slot still works"
    assert_state_matches_the_api(world, april, names)
    world.clear()

    assert april.refresh().ops() == dict.fromkeys(names, "same")
    assert april.destroy().ops() == dict.fromkeys(names, "delete")
    assert world.tokens() == {}
