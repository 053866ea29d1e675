"""Expiry, rotation before expiry, the grace recipe, ``kind`` and DAG roles, through the real Pulumi CLI.

Two clocks move: Astro's (the emulator's: when tokens expire, whether they authenticate)
and this machine's, as every Python process the CLI starts reads it (``machine_clock/``:
what ``diff`` first compares ``end_at`` with). They move together, as time passes, or
apart, as on a machine whose clock is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pytest
from real_cli_support import EXAMPLES, KEY_TYPE, RealStack, Run, Specs, World, keys_program, secret_of

from pulumi_astrokeys.testing.emulator import Emulator

DAY = 86400
MACHINE_CLOCK = Path(__file__).parent / "machine_clock"


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> World:
    return World(emulator, tmp_path)


class Clocks:
    """Astro's clock and this machine's (for the stack's Python processes), together or apart."""

    def __init__(self, world: World, stack: RealStack) -> None:
        self.world, self.stack, self.machine_shift = world, stack, 0.0

    def advance(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        self.world.emulator.advance_clock(seconds)
        self.set_machine_off_by(self.machine_shift + seconds)

    def set_machine_off_by(self, seconds: float) -> None:
        """This machine's clock, as the stack's processes read it, ``seconds`` from the real one."""
        self.machine_shift = seconds
        env = self.stack.stack.workspace.env_vars
        assert env is not None
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(MACHINE_CLOCK), os.environ.get("PYTHONPATH")]))
        env["MACHINE_CLOCK_SHIFT_SECONDS"] = str(seconds)


def said(run: Run) -> str:
    """Everything the CLI showed the user: its output and the engine's diagnostics."""
    diagnostics = [e.diagnostic_event.message for e in run.events if e.diagnostic_event is not None]
    return run.stdout + "\n".join(diagnostics)


def test_an_expired_key_stays_through_refresh_and_the_next_up_replaces_it_new_first(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment, "expiry_period_in_days": 1}}))
    clocks = Clocks(world, stack)
    stack.up()
    old = stack.keys()["etl"]
    clocks.advance(DAY + 60)
    assert world.answer_to(secret_of(old), deployment) == 401, "Astro no longer takes it"
    world.clear()

    refresh = stack.refresh()

    assert stack.keys()["etl"]["id"] == old["id"], "refresh keeps an expired key"
    assert secret_of(stack.keys()["etl"]) == secret_of(old)
    lines = [line for line in said(refresh).splitlines() if "expired at" in line]
    assert lines and all(old["id"] in line and "the next `pulumi up` replaces it" in line for line in lines)
    assert world.writes() == []

    preview = stack.preview()
    assert preview.ops() == {"etl": "replace"} and preview.replaces("etl") == ["end_at"]
    assert set(world.requests()) == {("GET", f"/tokens/{old['id']}")}, "a read confirms it on Astro's clock"

    result = stack.up()

    assert result.step_ops("etl") == ["create-replacement", "replace", "delete-replaced"], "new key first"
    new = stack.keys()["etl"]
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{new['id']}"), ("DELETE", f"/tokens/{old['id']}")]
    assert world.answer_to(secret_of(new), deployment) == 200
    assert stack.preview().ops() == {"etl": "same"}


def test_a_machine_clock_80_days_fast_replaces_no_key_that_astro_still_honours(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {
        name: {"deployment_id": deployment, "expiry_period_in_days": 90, "rotate_before_days": 15}
        for name in ("etl", "ci")
    }
    stack = world.stack(keys_program(specs))
    clocks = Clocks(world, stack)
    stack.up()
    before = {name: key["id"] for name, key in stack.keys().items()}
    clocks.set_machine_off_by(80 * DAY)  # 10 days left by this clock, inside rotate_before_days
    world.clear()

    result = stack.up()

    assert result.ops() == {"etl": "same", "ci": "same"}
    assert {name: key["id"] for name, key in stack.keys().items()} == before
    assert world.writes() == []
    diagnostics = [e.diagnostic_event.message for e in result.events if e.diagnostic_event is not None]
    named = [message for message in diagnostics if "clock is 80 days ahead of Astro's" in message]
    assert len(named) == 1 and "NTP" in named[0], "one sentence for the two keys"


def test_a_key_astro_calls_expired_leaves_refresh_without_its_secret_when_the_machine_clock_lags(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment, "expiry_period_in_days": 1}}))
    stack.up()
    old = stack.keys()["etl"]
    world.emulator.advance_clock(DAY + 3600)  # Astro's clock only: this machine's lags a day behind
    assert world.answer_to(secret_of(old), deployment) == 401

    refresh = stack.refresh()

    assert stack.keys()["etl"]["id"] == old["id"]
    assert stack.keys()["etl"]["outputs"].get("secret") is None, "a secret Astro no longer takes leaves the state"
    assert any("by Astro's clock" in line and old["id"] in line for line in said(refresh).splitlines())
    world.clear()

    result = stack.up()

    assert result.step_ops("etl") == ["create-replacement", "replace", "delete-replaced"], "new key first"
    assert result.replaces("etl") == ["secret"]
    new = stack.keys()["etl"]
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{new['id']}"), ("DELETE", f"/tokens/{old['id']}")]
    assert world.answer_to(secret_of(new), deployment) == 200


def test_rotate_before_days_added_later_replaces_nothing_then_rotates_once_due_and_not_before(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment, "expiry_period_in_days": 10}}
    stack = world.stack(keys_program(specs))
    clocks = Clocks(world, stack)
    stack.up()
    old = stack.keys()["etl"]
    world.clear()

    specs["etl"]["rotate_before_days"] = 3
    assert stack.preview().ops() == {"etl": "update"}
    assert stack.up().ops() == {"etl": "update"}
    assert stack.keys()["etl"]["id"] == old["id"] and stack.keys()["etl"]["outputs"]["rotate_before_days"] == 3
    assert secret_of(stack.keys()["etl"]) == secret_of(old)
    assert world.writes() == [], "rotate_before_days is Pulumi's to know, not Astro's"

    clocks.advance(7 * DAY - 120)  # two minutes before the margin begins
    assert stack.preview().ops() == {"etl": "same"}

    clocks.advance(240)  # two minutes into it: the nightly up rotates
    result = stack.up()

    assert result.ops() == {"etl": "replace"} and result.replaces("etl") == ["end_at"]
    new = stack.keys()["etl"]
    assert new["id"] != old["id"] and new["outputs"]["rotate_before_days"] == 3
    assert world.answer_to(secret_of(new), deployment) == 200
    assert stack.up().ops() == {"etl": "same"}, "the new key is ten days from expiring: not due"


def test_the_rotation_examples_graceful_key_outlives_its_replacement_until_it_expires(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(EXAMPLES / "rotation", project="astrokeys-rotation", deploymentId=deployment, period="2026-03")
    clocks = Clocks(world, stack)
    stack.up()
    old = stack.keys()["graceful"]
    clocks.advance(23 * DAY + 60)  # within rotate_before_days (7) of the 30-day expiry
    world.clear()

    preview = stack.preview()
    assert preview.ops() == {"monthly": "same", "triggered": "same", "slot-a": "same", "slot-b": "same", "graceful": "replace"}
    assert preview.replaces("graceful") == ["end_at"]
    stack.up()

    new = stack.keys()["graceful"]
    assert world.writes() == [("POST", "/tokens"), ("POST", f"/tokens/{new['id']}")], "retain_on_delete: no DELETE"
    assert old["id"] in world.tokens() and old["id"] not in {r.get("id") for r in stack.resources()}
    assert world.answer_to(secret_of(old), deployment) == 200, "the old key still works: the grace period"
    assert world.answer_to(secret_of(new), deployment) == 200

    clocks.advance(7 * DAY)
    assert world.answer_to(secret_of(old), deployment) == 401, "and it ends on its own when it expires"
    assert world.answer_to(secret_of(new), deployment) == 200


def test_kind_and_dag_roles_reach_astro_and_a_state_from_the_previous_release_is_no_change(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {
        "direct": {
            "deployment_id": deployment,
            "kind": "DIRECT_ACCESS",
            "dag_roles": [{"dag_id": "etl_daily", "role": "DAG_VIEWER"}, {"dag_tag": "team-a", "role": "DAG_AUTHOR"}],
        },
        "plain": {"deployment_id": deployment},
    }
    stack = world.stack(keys_program(specs))
    stack.up()
    keys = stack.keys()
    tokens = world.tokens()
    direct = tokens[keys["direct"]["id"]]
    assert direct["kind"] == "DIRECT_ACCESS" and tokens[keys["plain"]["id"]]["kind"] == "STANDARD"
    assert direct["roles"] == [
        {"entityType": "DEPLOYMENT", "entityId": deployment, "role": "DEPLOYMENT_ADMIN"},
        {"entityType": "DAG", "entityId": "etl_daily", "role": "DAG_VIEWER", "deploymentId": deployment},
        {"entityType": "DAG_TAG", "entityId": "team-a", "role": "DAG_AUTHOR", "deploymentId": deployment},
    ]
    world.clear()

    specs["direct"]["dag_roles"] = list(reversed(specs["direct"]["dag_roles"]))
    assert stack.preview().ops() == {"direct": "same", "plain": "same"}, "the order of dag_roles is no change"

    # The state as the release before kind, dag_roles and rotate_before_days wrote it.
    state = stack.export(show_secrets=True)
    for resource in state["deployment"]["resources"]:
        if resource["type"] == KEY_TYPE and resource["urn"].endswith("::plain"):
            for props in (resource["inputs"], resource["outputs"]):
                for name in ("kind", "dag_roles", "rotate_before_days"):
                    props.pop(name, None)
    stack.stack.import_stack(pulumi.automation.Deployment(version=state["version"], deployment=state["deployment"]))
    assert "kind" not in stack.keys()["plain"]["outputs"]
    assert stack.up().ops() == {"direct": "same", "plain": "same"}
    assert world.writes() == []

    specs["direct"]["dag_roles"] = [{"dag_id": "etl_daily", "role": "DAG_AUTHOR"}]
    preview = stack.preview()
    assert preview.ops() == {"direct": "replace", "plain": "same"} and preview.replaces("direct") == ["dag_roles"]
