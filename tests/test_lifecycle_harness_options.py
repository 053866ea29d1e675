"""The lifecycle harness's rules for resource options, refresh, destroy and failures."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from lifecycle import LifecycleError, PassphraseError, render
from lifecycle_fixtures import ToyWorld, urn
from toy_provider import Thing


def one_thing(spec: dict[str, Any], opts: dict[str, Any]):
    def program() -> None:
        Thing("a", dict(spec), pulumi.ResourceOptions(**opts))

    return program


def test_protect_blocks_replace_and_delete_until_it_is_lifted(toy: ToyWorld) -> None:
    spec: dict[str, Any] = {"name": "a"}
    opts: dict[str, Any] = {"protect": True}
    present = {"a": True}

    def program() -> None:
        Thing("other", {"name": "other"})
        if present["a"]:
            Thing("a", dict(spec), pulumi.ResourceOptions(**opts))

    stack = toy.stack(program)
    stack.up()
    before = toy.state_text()
    a_id = next(r.id for r in stack.resources() if r.name == "a")

    spec["name"] = "a2"
    toy.cloud.clear_calls()
    with pytest.raises(LifecycleError) as info:
        stack.up()
    assert "unable to replace resource" in str(info.value) and urn("a") in str(info.value)
    assert info.value.result.step("a").failed
    assert toy.cloud.writes() == []
    assert next(r.id for r in stack.resources() if r.name == "a") == a_id

    spec["name"] = "a"
    present["a"] = False
    with pytest.raises(LifecycleError) as info:
        stack.up()
    assert "unable to delete resource" in str(info.value) and urn("a") in str(info.value)
    assert toy.cloud.writes() == []
    assert any(r.name == "a" and r.protect for r in stack.resources())

    with pytest.raises(LifecycleError):
        stack.destroy()
    assert any(r.name == "a" for r in stack.resources())
    assert before  # the state was never rewritten without "a"

    present["a"], opts["protect"] = True, False
    assert stack.up().ops()["a"] == "same"  # lifting protect is a same step that updates the state
    present["a"] = False
    assert stack.up().ops()["a"] == "delete"
    assert a_id not in toy.cloud.resources()


def test_retain_on_delete_drops_the_resource_from_state_without_deleting_it(toy: ToyWorld) -> None:
    present = {"a": True}

    def program() -> None:
        Thing("keep", {"name": "keep"})
        if present["a"]:
            Thing("a", {"name": "a"}, pulumi.ResourceOptions(retain_on_delete=True))

    stack = toy.stack(program)
    stack.up()
    a_id = next(r.id for r in stack.resources() if r.name == "a")
    present["a"] = False
    toy.cloud.clear_calls()
    result = stack.up()
    assert result.step("a").op == "delete" and result.step("a").provider_delete_skipped
    assert toy.cloud.calls("delete") == []
    assert a_id in toy.cloud.resources()
    assert {r.name for r in stack.resources() if r.custom} == {"keep"}


def test_ignore_changes_keeps_the_old_value(toy: ToyWorld) -> None:
    spec = {"name": "a", "size": 1}
    stack = toy.stack(one_thing(spec, {"ignore_changes": ["size"]}))
    stack.up()
    spec["size"] = 9
    toy.cloud.clear_calls()
    assert stack.up().ops() == {"a": "same"}
    assert toy.cloud.calls("check", "a")[0]["news"]["size"] == 1  # reset before Check
    assert toy.cloud.writes() == []
    assert next(r for r in stack.resources() if r.name == "a").inputs["size"] == 1


def test_replacement_trigger_replaces_when_its_value_changes(toy: ToyWorld) -> None:
    opts = {"replacement_trigger": "v1"}
    stack = toy.stack(one_thing({"name": "a"}, opts))
    stack.up()
    first_id = next(r.id for r in stack.resources() if r.name == "a")
    assert stack.up().ops() == {"a": "same"}
    opts["replacement_trigger"] = "v2"
    result = stack.up()
    assert result.step("a").op == "replace" and result.step("a").replaces == ["replacementTrigger"]
    a = next(r for r in stack.resources() if r.name == "a")
    assert a.id != first_id and a.replacement_trigger == "v2"
    assert first_id not in toy.cloud.resources()


def test_destroy_skips_delete_for_resources_deleted_with_a_deleted_resource(toy: ToyWorld) -> None:
    def program() -> None:
        parent = Thing("db", {"name": "db"})
        Thing("table", {"name": "table"}, pulumi.ResourceOptions(deleted_with=parent))
        Thing("loner", {"name": "loner"})

    stack = toy.stack(program)
    stack.up()
    table_id = next(r.id for r in stack.resources() if r.name == "table")
    toy.cloud.clear_calls()
    result = stack.destroy()
    assert result.ops() == {"db": "delete", "table": "delete", "loner": "delete"}
    assert result.step("table").provider_delete_skipped
    assert sorted(c["name"] for c in toy.cloud.calls("delete")) == ["db", "loner"]
    # The deleted-with resource goes before the one it is deleted with.
    assert [s.name for s in result.steps].index("table") < [s.name for s in result.steps].index("db")
    assert stack.resources() == []
    assert table_id in toy.cloud.resources()  # gone with its database in a real cloud


def test_refresh_removes_a_vanished_resource_and_picks_up_drift(toy: ToyWorld) -> None:
    def program() -> None:
        a = Thing("a", {"name": "a"})
        Thing("b", {"name": "b", "peer": a.serial})
        Thing("c", {"name": "c"})

    stack = toy.stack(program)
    stack.up()
    ids = {r.name: r.id for r in stack.resources() if r.custom}
    toy.cloud.remove_out_of_band(ids["a"])
    toy.cloud.edit_out_of_band(ids["c"], size=7)
    toy.cloud.clear_calls()

    result = stack.refresh()
    assert result.ops() == {"a": "delete", "b": "same", "c": "update"}
    after = {r.name: r for r in stack.resources() if r.custom}
    assert set(after) == {"b", "c"}
    assert after["c"].outputs["size"] == 7
    assert after["b"].dependencies == [] and after["b"].property_dependencies["peer"] == []
    assert toy.cloud.writes() == []
    # The next up recreates what vanished.
    assert stack.up().ops()["a"] == "create"


def test_a_failure_mid_up_keeps_what_succeeded_and_a_rerun_converges(toy: ToyWorld) -> None:
    def program() -> None:
        a = Thing("a", {"name": "a"})
        b = Thing("b", {"name": "b", "peer": a.serial})
        Thing("c", {"name": "c", "peer": b.serial})

    stack = toy.stack(program)
    toy.cloud.fail("create", "b")
    with pytest.raises(LifecycleError) as info:
        stack.up()
    result = info.value.result
    assert result.step("b").error == "toy create of 'b' failed on purpose"
    assert "Traceback" in (result.step("b").error_detail or "")
    assert [str(e) for e in result.errors] == [f"{urn('b')}: toy create of 'b' failed on purpose"]
    assert {r.name for r in stack.resources() if r.custom} == {"a"}
    assert "c" not in {c["name"] for c in toy.cloud.calls()}

    toy.cloud.clear_failures()
    assert stack.up().ops() == {"a": "same", "b": "create", "c": "create"}
    assert stack.up().ops() == {"a": "same", "b": "same", "c": "same"}


def test_an_old_resource_whose_delete_failed_is_deleted_by_the_next_up(toy: ToyWorld) -> None:
    spec = {"name": "a"}
    stack = toy.stack(one_thing(spec, {}))
    stack.up()
    old_id = next(r.id for r in stack.resources() if r.name == "a")
    spec["name"] = "a2"
    toy.cloud.fail("delete", "a")
    with pytest.raises(LifecycleError) as info:
        stack.up()
    assert info.value.result.step("a").op == "replace"
    pending = [r for r in stack.resources() if r.name == "a"]
    assert sorted((r.id == old_id, r.delete) for r in pending) == [(False, False), (True, True)]

    toy.cloud.clear_failures()
    result = stack.up()
    assert result.ops() == {"a": "same"}
    assert result.step("a", "delete-replaced")
    assert [r.id for r in stack.resources() if r.name == "a"] != [old_id]
    assert len([r for r in stack.resources() if r.name == "a"]) == 1
    assert old_id not in toy.cloud.resources()


def test_independent_deletes_run_in_parallel_dependents_first(toy: ToyWorld) -> None:
    present = {"all": True}

    def program() -> None:
        if present["all"]:
            root = Thing("root", {"name": "root"})
            for i in range(3):
                Thing(f"leaf{i}", {"name": f"leaf{i}", "peer": root.serial, "slow_delete": 0.3})

    stack = toy.stack(program)
    stack.up()
    present["all"] = False
    toy.cloud.clear_calls()
    stack.up()
    started = {c["name"]: c["t"] for c in toy.cloud.calls("delete")}
    finished = {c["name"]: c["t"] for c in toy.cloud.calls("deleted")}
    leaves = [f"leaf{i}" for i in range(3)]
    # The leaves overlap (each started before any finished); the root waits for all of them.
    assert max(started[leaf] for leaf in leaves) < min(finished[leaf] for leaf in leaves)
    assert started["root"] > max(finished.values())


def test_a_wrong_passphrase_is_refused(toy: ToyWorld) -> None:
    stack = toy.stack(one_thing({"name": "a"}, {}))
    stack.up()
    with pytest.raises(PassphraseError):
        toy.stack(one_thing({"name": "a"}, {}), passphrase="nope").up()


def test_program_errors_are_reported_once_and_clearly(toy: ToyWorld) -> None:
    def program() -> None:
        Thing("a", {"name": "a"})
        raise ValueError("the program is broken")

    with pytest.raises(LifecycleError) as info:
        toy.stack(program).up()
    errors = info.value.errors
    assert len(errors) == 1 and errors[0].kind == "program"
    assert "the program is broken" in errors[0].message
    assert "Errors:" in render(info.value.result)


def test_a_get_reads_an_existing_resource_without_managing_it(toy: ToyWorld) -> None:
    stack = toy.stack(one_thing({"name": "a"}, {}))
    stack.up()
    a_id = next(r.id for r in stack.resources() if r.name == "a")

    def program() -> None:
        Thing("a", {"name": "a"})
        seen = Thing("seen", {"name": "a"}, pulumi.ResourceOptions(id=a_id))
        pulumi.export("seen_serial", seen.serial)

    result = toy.stack(program).up()
    assert result.ops() == {"a": "same", "seen": "read"}
    assert result.outputs["seen_serial"] == next(r.outputs["serial"] for r in stack.resources() if r.name == "a")
    seen = next(r for r in stack.resources() if r.name == "seen")
    assert seen.external and seen.id == a_id

    def without_get() -> None:
        Thing("a", {"name": "a"})

    toy.cloud.clear_calls()
    assert toy.stack(without_get).up().ops() == {"a": "same", "seen": "discard"}
    assert toy.cloud.calls("delete") == [] and a_id in toy.cloud.resources()
