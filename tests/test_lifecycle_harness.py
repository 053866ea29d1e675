"""The lifecycle harness's engine rules for create, same, update, replace and delete."""

from __future__ import annotations

import os
from typing import Any

import pulumi
import pytest
from lifecycle import UNKNOWN, LifecycleError, Secret, render
from lifecycle_fixtures import API_KEY, ToyWorld, urn
from toy_provider import THING_TYPE, Thing


def two_things(spec: dict[str, dict[str, Any]], opts: dict[str, dict[str, Any]] | None = None):
    """Program: ``a``, then ``b`` whose ``peer`` input is ``a``'s serial."""
    opts = opts or {}

    def program() -> None:
        a = Thing("a", dict(spec["a"]), pulumi.ResourceOptions(**opts.get("a", {})))
        b = Thing("b", {**spec["b"], "peer": a.serial}, pulumi.ResourceOptions(**opts.get("b", {})))
        pulumi.export("a_serial", a.serial)
        pulumi.export("b_token", b.token)

    return program


def seqs(calls: list[dict[str, Any]]) -> list[int]:
    return [c["seq"] for c in calls]


def test_up_creates_then_a_rerun_is_same_without_provider_writes(toy: ToyWorld) -> None:
    stack = toy.stack(two_things({"a": {"name": "a"}, "b": {"name": "b"}}))
    first = stack.up()
    assert first.ops() == {"a": "create", "b": "create"}
    assert first.step("demo-dev").op == "create" and not first.step("demo-dev").custom
    assert len(toy.cloud.resources()) == 2
    ids = {r.name: r.id for r in stack.resources() if r.custom}

    toy.cloud.clear_calls()
    second = stack.up()
    assert second.ops() == {"a": "same", "b": "same"}
    assert toy.cloud.writes() == []
    assert {r.name: r.id for r in stack.resources() if r.custom} == ids
    assert second.outputs["a_serial"] == first.outputs["a_serial"]


def test_update_in_place_keeps_the_id(toy: ToyWorld) -> None:
    spec = {"a": {"name": "a", "size": 1}, "b": {"name": "b"}}
    stack = toy.stack(two_things(spec))
    stack.up()
    before = {r.name: r for r in stack.resources() if r.custom}
    spec["a"]["size"] = 5
    toy.cloud.clear_calls()
    result = stack.up()
    assert result.ops() == {"a": "update", "b": "same"}
    assert [c["method"] for c in toy.cloud.writes()] == ["update"]
    after = {r.name: r for r in stack.resources() if r.custom}
    assert after["a"].id == before["a"].id
    assert after["a"].outputs["size"] == 5 and after["a"].inputs["size"] == 5


def test_replace_creates_the_new_resource_first_and_deletes_the_old_one_last(toy: ToyWorld) -> None:
    spec = {"a": {"name": "a"}, "b": {"name": "b"}}
    stack = toy.stack(two_things(spec))
    stack.up()
    old_a = next(r for r in stack.resources() if r.name == "a")
    spec["a"]["name"] = "a-renamed"
    toy.cloud.clear_calls()

    result = stack.up()

    step = result.step("a")
    assert (step.op, step.replaces, step.delete_before_replace) == ("replace", ["name"], False)
    # The dependent sees the new serial and is updated before the old resource goes.
    assert result.step("b").op == "update"
    create = toy.cloud.calls("create", "a-renamed")
    delete = toy.cloud.calls("delete", "a")
    b_update = toy.cloud.calls("update", "b")
    assert len(create) == len(delete) == len(b_update) == 1
    assert create[0]["seq"] < b_update[0]["seq"] < delete[0]["seq"]
    assert delete[0]["id"] == old_a.id
    assert max(seqs(toy.cloud.calls())) == delete[0]["seq"]
    assert [s.op for s in result.steps if s.name == "a"] == ["replace", "delete-replaced"]
    assert {r.name for r in stack.resources() if r.custom} == {"a", "b"}
    assert not any(r.delete for r in stack.resources())


def test_check_runs_again_with_empty_olds_before_a_replacement(toy: ToyWorld) -> None:
    spec = {"a": {"name": "a"}, "b": {"name": "b"}}
    stack = toy.stack(two_things(spec))
    stack.up()
    spec["a"]["name"] = "a2"
    toy.cloud.clear_calls()
    stack.up()
    checks = toy.cloud.calls("check", "a2")
    assert [c["had_olds"] for c in checks] == [True, False]
    diff = toy.cloud.calls("diff", "a2")[0]
    create = toy.cloud.calls("create", "a2")[0]
    assert checks[0]["seq"] < diff["seq"] < checks[1]["seq"] < create["seq"]


@pytest.mark.parametrize("source", ["provider", "option"])
def test_delete_before_replace_deletes_first(toy: ToyWorld, source: str) -> None:
    spec = {"a": {"name": "a"}, "b": {"name": "b"}}
    opts = {"a": {"delete_before_replace": True}} if source == "option" else {}
    if source == "provider":
        spec["a"]["dbr"] = True
    stack = toy.stack(two_things(spec, opts))
    stack.up()
    spec["a"]["name"] = "a2"
    toy.cloud.clear_calls()
    result = stack.up()
    assert result.step("a", "replace").delete_before_replace is True
    delete, create = toy.cloud.calls("delete", "a")[0], toy.cloud.calls("create", "a2")[0]
    assert delete["seq"] < create["seq"]
    assert len([r for r in stack.resources() if r.name == "a"]) == 1


def test_resources_left_out_of_the_program_are_deleted_in_reverse_dependency_order(toy: ToyWorld) -> None:
    keep = {"chain": True}

    def program() -> None:
        Thing("solo", {"name": "solo"})
        if keep["chain"]:
            x = Thing("x", {"name": "x"})
            y = Thing("y", {"name": "y", "peer": x.serial})
            Thing("z", {"name": "z"}, pulumi.ResourceOptions(depends_on=[y]))
            Thing("w", {"name": "w"}, pulumi.ResourceOptions(parent=y))

    stack = toy.stack(program)
    stack.up()
    keep["chain"] = False
    toy.cloud.clear_calls()
    result = stack.up()
    assert result.ops() == {"solo": "same", "x": "delete", "y": "delete", "z": "delete", "w": "delete"}
    order = {c["name"]: c["seq"] for c in toy.cloud.calls("delete")}
    assert order["z"] < order["y"] and order["w"] < order["y"] and order["y"] < order["x"]
    assert {r.name for r in stack.resources() if r.custom} == {"solo"}


def test_preview_reports_the_plan_and_writes_nothing(toy: ToyWorld) -> None:
    spec = {"a": {"name": "a", "size": 1}, "b": {"name": "b"}}
    stack = toy.stack(two_things(spec))

    preview = stack.preview()
    assert preview.ops() == {"a": "create", "b": "create"}
    assert preview.outputs["a_serial"] is UNKNOWN  # computed by create: unknown until it runs
    assert not toy.state_path.exists()
    assert toy.cloud.writes() == [] and toy.cloud.resources() == {}

    stack.up()
    snapshot = toy.state_text()
    spec["a"]["name"] = "a2"
    spec["b"]["size"] = 3
    toy.cloud.clear_calls()
    preview = stack.preview()
    assert preview.ops() == {"a": "replace", "b": "update"}
    assert preview.step("a").replaces == ["name"]
    assert toy.cloud.writes() == []
    assert toy.state_text() == snapshot
    text = render(preview)
    assert "+- replace" in text and "~  update" in text and "[replaces: name]" in text

    spec["a"]["name"], spec["b"]["size"] = "a", 1
    keep_b = two_things(spec)

    def only_a() -> None:
        Thing("a", dict(spec["a"]))

    assert toy.stack(keep_b).preview().ops() == {"a": "same", "b": "same"}
    assert toy.stack(only_a).preview().ops() == {"a": "same", "b": "delete"}
    assert toy.cloud.writes() == [] and toy.state_text() == snapshot


def test_unknown_diff_is_settled_by_comparing_inputs(toy: ToyWorld) -> None:
    spec = {"a": {"name": "a", "unknown_diff": True, "size": 1}, "b": {"name": "b"}}
    stack = toy.stack(two_things(spec))
    stack.up()
    assert stack.up().ops()["a"] == "same"
    spec["a"]["size"] = 2
    assert stack.up().ops()["a"] == "update"


def test_replace_on_changes_applies_to_keys_the_diff_reports_changed(toy: ToyWorld) -> None:
    # With DIFF_UNKNOWN the engine computes the changed keys itself, so replaceOnChanges
    # sees "size" change; the toy's DIFF_SOME answers carry no changed keys.
    spec = {"a": {"name": "a", "unknown_diff": True, "size": 1}, "b": {"name": "b"}}
    stack = toy.stack(two_things(spec, {"a": {"replace_on_changes": ["size"]}}))
    stack.up()
    spec["a"]["size"] = 2
    step = stack.up().step("a")
    assert (step.op, step.replaces) == ("replace", ["size"])


def test_check_failures_fail_the_operation_with_the_providers_reason(toy: ToyWorld) -> None:
    def program() -> None:
        Thing("nameless", {"size": 2})

    with pytest.raises(LifecycleError) as info:
        toy.stack(program).up()
    assert "name is required" in str(info.value)
    assert info.value.result.step("nameless").failed
    assert toy.cloud.writes() == []


def test_secret_outputs_and_config_are_encrypted_in_the_state_file(toy: ToyWorld) -> None:
    def program() -> None:
        a = Thing("a", {"name": "a", "size": 4}, pulumi.ResourceOptions(additional_secret_outputs=["size"]))
        pulumi.export("token", a.token)
        pulumi.export("key", pulumi.Config("toy").require_secret("apiKey"))

    stack = toy.stack(program)
    result = stack.up()

    a = next(r for r in stack.resources() if r.name == "a")
    token = a.outputs["token"]
    assert isinstance(token, Secret) and token.value.startswith("tok-")
    assert isinstance(a.outputs["size"], Secret)  # additional_secret_outputs
    assert isinstance(a.inputs["__provider"], Secret)  # the SDK registers it as a secret
    assert isinstance(a.inputs["name"], str)
    assert result.outputs.is_secret("token") and result.outputs.is_secret("key")
    assert "[secret]" in repr(result.outputs) and token.value not in repr(result.outputs)
    assert stack.outputs(show_secrets=True)["key"] == API_KEY
    assert stack.outputs().plain("token") == token.value

    text = toy.state_text()
    for plain in (token.value, API_KEY, a.inputs["__provider"].value[:40]):
        assert text.count(plain) == 0
    assert "ciphertext" in text


def test_secret_config_reaches_the_providers_configure(toy: ToyWorld) -> None:
    def program() -> None:
        Thing("a", {"name": "a"})

    toy.stack(program).up()
    configure = toy.cloud.calls("configure")
    assert configure and configure[0]["api_key"] == API_KEY
    assert configure[0]["endpoint"] == "http://toy.invalid"


def test_the_registrations_record_the_plan_changing_options(toy: ToyWorld) -> None:
    def program() -> None:
        a = Thing("a", {"name": "a"})
        Thing(
            "b",
            {"name": "b", "peer": a.serial},
            pulumi.ResourceOptions(
                depends_on=[a],
                additional_secret_outputs=["serial"],
                delete_before_replace=True,
                deleted_with=a,
                replacement_trigger="v1",
                protect=False,
                ignore_changes=["size"],
                retain_on_delete=True,
                replace_on_changes=["name"],
            ),
        )

    stack = toy.stack(program)
    stack.up()
    reg = next(r for r in stack.last_registrations if r.name == "b")
    assert reg.type == THING_TYPE and reg.custom and reg.urn == urn("b")
    assert reg.parent.endswith("pulumi:pulumi:Stack::demo-dev")
    assert reg.property_dependencies["peer"] == [urn("a")]
    assert reg.dependencies == [urn("a")]
    assert reg.additional_secret_outputs == ["serial"]
    assert reg.delete_before_replace is True
    assert reg.deleted_with == urn("a")
    assert reg.replacement_trigger == "v1"
    assert reg.ignore_changes == ["size"]
    assert reg.retain_on_delete is True
    assert reg.replace_on_changes == ["name"]
    assert isinstance(reg.inputs["__provider"], Secret)
    b = next(r for r in stack.resources() if r.name == "b")
    assert (b.retain_on_delete, b.deleted_with, b.replacement_trigger) == (True, urn("a"), "v1")
    assert b.additional_secret_outputs == ["serial"]


def test_a_directory_program_runs_as_main(toy: ToyWorld) -> None:
    project = toy.root / "project"
    project.mkdir()
    (project / "helper.py").write_text("PREFIX = 'dir'\n")
    (project / "__main__.py").write_text(
        "import pulumi\n"
        "from helper import PREFIX\n"
        "from toy_provider import Thing\n"
        "cfg = pulumi.Config('toy')\n"
        "t = Thing(PREFIX, {'name': PREFIX + '-' + cfg.require('endpoint').split('//')[1]})\n"
        "pulumi.export('name', t.name)\n"
    )
    result = toy.stack(project).up()
    assert result.ops() == {"dir": "create"}
    assert result.outputs["name"] == "dir-toy.invalid"
    # A relative path works too (the program runs with the project directory as its cwd).
    assert toy.stack(os.path.relpath(project)).up().ops() == {"dir": "same"}
