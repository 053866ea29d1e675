"""After a killed ``pulumi up``, the documented recovery leaves exactly the keys the states hold.

Run by the real Pulumi CLI against the emulator. Each ``kill -9`` lands at an exact point
of a request (the emulator holds the request until the test releases it), never by
racing a delay. The recovery is the one ``docs/behaviour.md`` gives: ``pulumi cancel``,
``pulumi stack export``, ``astrokeys audit --delete-orphans`` (run again after the time
it names while a create may be in flight: here the test moves Astro's clock there),
``pulumi refresh --clear-pending-creates`` and ``pulumi up``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from real_cli_support import KEY_TYPE, RealStack, Specs, World, keys_program, kill_9, providers_of, start_up
from real_cli_support import wait_until_gone as wait_until_ended

from pulumi_astrokeys._ownership import COMMIT_BOUND, OWNER_PROPERTY, CreateMarker
from pulumi_astrokeys.audit import EXIT_IN_FLIGHT, EXIT_ORPHANS
from pulumi_astrokeys.testing.emulator import Emulator

REQUEST_TIMEOUT = 5  # astrokeys:requestTimeout of the killed stacks: a provider outlives its engine by three at most
CREATE = r"/tokens$"
DESCRIBE = r"/tokens/c[a-z0-9]{24}$"


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> World:
    return World(emulator, tmp_path)


def three_keys(deployment: str) -> Specs:
    return {name: {"deployment_id": deployment} for name in ("ci", "dag-trigger", "reports")}


def audit_cli(world: World, *states: Path) -> subprocess.CompletedProcess[str]:
    args = [arg for state in states for arg in ("--stack", str(state))]
    return subprocess.run(
        [sys.executable, "-m", "pulumi_astrokeys", "audit", *args, "--delete-orphans"],
        env={**os.environ, **world.emulator.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )


def documented_recovery(world: World, stack: RealStack, *others: Path) -> list[subprocess.CompletedProcess[str]]:
    """The steps of docs/behaviour.md; the audits they ran. ``others``: exports of the stacks that share the Deployment."""
    stack.stack.cancel()
    state = stack.root / "state.json"
    stack.cli("stack", "export", "--file", str(state))
    audits = [audit_cli(world, state, *others)]
    if audits[-1].returncode & EXIT_IN_FLIGHT:
        # A person runs the audit again after the time it names; the test moves Astro's clock there.
        world.emulator.advance_clock(COMMIT_BOUND.total_seconds())
        audits.append(audit_cli(world, state, *others))
    stack.refresh(clear_pending_creates=True)
    stack.up()
    return audits


def held_tokens(world: World, names: set[str], known: set[str]) -> dict[str, dict[str, Any]]:
    return {i: t for i, t in world.tokens(names).items() if i not in known}


def writes_to(world: World, ids: set[str]) -> list[tuple[str, str]]:
    return [(method, path) for method, path in world.writes() if path.split("/")[2:3] and path.split("/")[2] in ids]


def test_two_stacks_sharing_token_deployment_and_names_after_kill_9_of_one_up_only_its_orphan_goes(
    world: World,
) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs = three_keys(deployment)
    staging = world.stack(keys_program(specs), stack_name="staging")
    staging.up()
    staging_keys = {key["id"] for key in staging.keys().values()}
    staging_state = staging.root / "staging.json"
    staging.cli("stack", "export", "--file", str(staging_state))

    dev_specs: Specs = {}
    dev = world.stack(keys_program(dev_specs), stack_name="dev")
    dev.stack.set_config("astrokeys:requestTimeout", auto.ConfigValue(str(REQUEST_TIMEOUT)))
    dev.up()
    world.clear()
    # One of dev's creates is committed only after the kill; one waits for its description; one completes.
    late_create = world.emulator.inject_fault("POST", CREATE, action="hold")
    waiting_description = world.emulator.inject_fault("POST", DESCRIBE, action="hold")
    up = start_up(dev, specs)
    try:
        world.emulator.wait_until_held(late_create)
        world.emulator.wait_until_held(waiting_description)
        completed = wait_for_keys_in_state(dev, 1)
    finally:
        kill_9(up)
    providers = providers_of(dev)
    assert providers, "the engine started dev's provider in a process group of its own: it outlives the kill"

    # The provider sees its engine gone: it hands nothing over, deletes what it made, and ends.
    assert wait_until_ended(providers, 3 * REQUEST_TIMEOUT + 10) == [], "a provider outlived its engine"
    world.emulator.release(late_create)  # ... and the server commits the held create after everyone has gone
    world.emulator.release(waiting_description)
    (late_id,) = wait_for(lambda: held_tokens(world, set(specs), staging_keys | set(completed)))
    late = world.tokens()[late_id]
    marker = CreateMarker.parse(late["description"])
    assert marker is not None and marker.owner is not None and marker.owner.stack_name == "scenarios/dev"

    dev_specs.update(specs)
    audits = documented_recovery(world, dev)

    assert audits[0].returncode & EXIT_IN_FLIGHT and late_id in audits[0].stdout, audits[0].stdout
    assert late_id not in world.tokens(), "the orphan of the killed stack is gone after the bound"
    assert f"Deleted orphan {late['name']} ({late_id})" in audits[-1].stdout
    # Staging's keys fit the inputs of dev's pending creates: suspects, listed for a person, untouched.
    suspects = set(re.findall(r"^Suspect: \S+ \((c[a-z0-9]{24})\)", audits[-1].stdout, re.MULTILINE))
    assert suspects and suspects <= staging_keys and audits[-1].returncode & EXIT_ORPHANS
    assert staging_keys <= set(world.tokens()), "not one key of the other stack deleted"
    assert writes_to(world, staging_keys) == [], "not one key of the other stack touched"
    assert set(world.tokens()) == staging_keys | {k["id"] for k in dev.keys().values()}
    assert len(dev.keys()) == 3

    # Given both stacks, the audit finds nothing left: every key is one of theirs.
    dev_state = dev.root / "dev.json"
    dev.cli("stack", "export", "--file", str(dev_state))
    both = audit_cli(world, dev_state, staging_state)
    assert both.returncode == 0, both.stdout + both.stderr


def wait_for(condition: Any, timeout: float = 60.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def wait_for_keys_in_state(stack: RealStack, count: int) -> dict[str, str]:
    """Wait until the engine has checkpointed ``count`` created keys; their IDs by name."""

    def created() -> dict[str, str]:
        resources = stack.export().get("deployment", {}).get("resources") or []
        keys = {r["urn"].rsplit("::", 1)[-1]: r["id"] for r in resources if r["type"] == KEY_TYPE and r.get("id")}
        return keys if len(keys) >= count else {}

    return {v: k for k, v in wait_for(created).items()}


def test_kill_9_of_everything_between_a_create_and_its_description_leaves_an_orphan_the_recovery_deletes(
    world: World,
) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment}}
    stack = world.stack(keys_program(specs))
    stack.up()
    etl = stack.keys()["etl"]["id"]
    hold = world.emulator.inject_fault("POST", DESCRIBE, action="hold")
    up = start_up(stack, {**specs, "reports": {"deployment_id": deployment}})
    try:
        world.emulator.wait_until_held(hold)
    finally:
        providers = providers_of(stack)
        kill_9(up)
        for pid in providers:  # the machine, the container or the CI runner takes the provider too
            os.kill(pid, signal.SIGKILL)
    world.emulator.release(hold, drop=True)  # the held description dies with its client: it never commits
    (stray,) = [t for i, t in world.tokens({"reports"}).items()]
    assert CreateMarker.parse(stray["description"]) is not None

    specs["reports"] = {"deployment_id": deployment}
    audits = documented_recovery(world, stack)

    assert [a.returncode & EXIT_IN_FLIGHT for a in audits] == [EXIT_IN_FLIGHT, 0]
    assert stray["id"] not in world.tokens()
    in_state = {key["id"] for key in stack.keys().values()}
    assert set(world.tokens()) == in_state and etl in in_state and len(in_state) == 2


def test_kill_9_in_the_middle_of_a_replacement_ends_with_exactly_the_keys_the_state_holds(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    specs: Specs = {"etl": {"deployment_id": deployment, "keepers": {"rotation": "1"}}}
    stack = world.stack(keys_program(specs))
    stack.up()
    old = stack.keys()["etl"]["id"]
    specs["etl"]["keepers"] = {"rotation": "2"}
    hold = world.emulator.inject_fault("DELETE", rf"/tokens/{old}$", action="hold")  # new key made, old not deleted
    up = start_up(stack, specs)
    try:
        world.emulator.wait_until_held(hold)
    finally:
        providers = providers_of(stack)
        kill_9(up)
        for pid in providers:
            os.kill(pid, signal.SIGKILL)
    world.emulator.release(hold)  # the delete the server holds commits after everyone has gone

    audits = documented_recovery(world, stack)

    assert audits[-1].returncode == 0, audits[-1].stdout + audits[-1].stderr
    in_state = {key["id"] for key in stack.keys().values()}
    assert set(world.tokens()) == in_state and old not in in_state and len(in_state) == 1


def test_a_state_written_before_keys_named_their_owner_is_neither_replaced_nor_called_at_preview(world: World) -> None:
    deployment = world.emulator.deployment_ids[0]
    stack = world.stack(keys_program({"etl": {"deployment_id": deployment}}))
    stack.up()
    exported = stack.export()
    for resource in exported["deployment"]["resources"]:
        if resource["type"] == KEY_TYPE:
            resource["inputs"].pop(OWNER_PROPERTY)
    state = stack.root / "earlier-release.json"
    state.write_text(json.dumps(exported), encoding="utf-8")
    stack.cli("stack", "import", "--file", str(state))
    key = stack.keys()["etl"]["id"]
    world.clear()

    preview = stack.preview()
    assert preview.ops() == {"etl": "same"} and world.requests() == [], "a preview makes no API call"
    assert stack.up().ops() == {"etl": "same"} and world.writes() == []
    (resource,) = [r for r in stack.resources() if r["type"] == KEY_TYPE]
    assert resource["id"] == key and resource["inputs"][OWNER_PROPERTY]["stack"] == "dev"
