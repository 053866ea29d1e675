"""Each example program, run the way Pulumi's Python language host runs it, under Pulumi's mocks.

The mock monitor plays the engine: it records every registration (inputs, dependencies,
``deleted_with``, ``replacement_trigger``) and, as the engine does, marks the outputs a
resource lists in ``additional_secret_outputs`` as secrets. The fake Astro answers with
made-up keys and Deployments. No plugin, CLI or network is involved.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib.util
import json
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, Mocks

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEY_TYPE = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"
DEPLOYMENT_TYPE = "pulumi-python:dynamic/astrokeys:Deployment"
ORGANIZATION_ID = "cmockorganization000000001"
DEPLOYMENT_ID = "cmockdeployment0000000001"
WORKSPACE_ID = "cmockworkspace00000000001"


def fake_secret(resource_name: str, inputs: Mapping[str, Any]) -> str:
    """A made-up key value, different for each key and each keeper set (each rotation)."""
    digest = hashlib.sha256(json.dumps([resource_name, inputs.get("keepers")], sort_keys=True).encode())
    return f"astro-secret-{resource_name}-{digest.hexdigest()[:12]}"


class FakeAstro(Mocks):
    """Answers as the providers would: keys with IDs and secrets, Deployments with IDs."""

    def new_resource(self, args: MockResourceArgs) -> tuple[Optional[str], dict[str, Any]]:
        inputs = {name: value for name, value in args.inputs.items() if name != "__provider"}
        if args.typ == KEY_TYPE:
            secret = fake_secret(args.name, inputs)
            key_id = "key-" + hashlib.sha256(secret.encode()).hexdigest()[:12]
            return key_id, {
                **inputs,
                "key_id": key_id,
                "secret": secret,  # plain here: the monitor marks it secret, as the engine does
                "short_token": secret[-6:],
                "organization_id": ORGANIZATION_ID,
            }
        if args.typ == DEPLOYMENT_TYPE:
            deployment_id = f"cmock{args.name}".ljust(25, "0")[:25]
            return deployment_id, {**inputs, "deployment_id": deployment_id, "organization_id": ORGANIZATION_ID}
        return f"{args.name}-id", inputs

    def call(self, args: Any) -> tuple[dict[str, Any], Optional[list[tuple[str, str]]]]:
        raise AssertionError(f"the examples make no provider calls, got {args.token}")


@dataclass(frozen=True)
class Registration:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    dependencies: frozenset[str]
    property_dependencies: dict[str, frozenset[str]]
    deleted_with: str
    replacement_trigger: Any
    additional_secret_outputs: tuple[str, ...]

    def input_is_secret(self, name: str) -> bool:
        return rpc.is_rpc_secret(self.inputs.get(name))

    def plain_input(self, name: str) -> Any:
        return rpc.unwrap_rpc_secret(self.inputs.get(name))


class RecordingMonitor(MockMonitor):
    """The mock monitor, recording each registration and honouring ``additional_secret_outputs``."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        for name in request.additionalSecretOutputs:
            if name in response.object and not rpc.is_rpc_secret(rpc.deserialize_property(response.object[name])):
                response.object[name] = rpc.wrap_rpc_secret(response.object[name])
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                inputs=rpc.deserialize_properties(request.object),
                dependencies=frozenset(request.dependencies),
                property_dependencies={
                    prop: frozenset(deps.urns) for prop, deps in request.propertyDependencies.items()
                },
                deleted_with=request.deletedWith,
                replacement_trigger=(
                    json_format.MessageToDict(request.replacement_trigger)
                    if request.HasField("replacement_trigger")
                    else None
                ),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
            )
        )
        return response


@dataclass(frozen=True)
class Export:
    """A stack output, resolved."""

    value: Any
    secret: bool


@dataclass
class ProgramRun:
    """What a program registered and exported."""

    registrations: list[Registration]
    exports: dict[str, Export] = field(default_factory=dict)

    def resource(self, type_: str, name: str) -> Registration:
        matches = [r for r in self.registrations if r.type == type_ and r.name == name]
        assert len(matches) == 1, f"expected one {type_} named {name!r}, found {len(matches)}"
        return matches[0]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def secret_values(self) -> set[str]:
        """Every key value the fake Astro handed out in this run."""
        return {fake_secret(r.name, r.inputs) for r in self.of_type(KEY_TYPE)}


def run_example(example: str, project: str, config: Mapping[str, str]) -> ProgramRun:
    """Run ``examples/<example>`` as Pulumi's language host does: the directory as ``__main__``.

    Each run gets a fresh context, so the root stack, settings and config of one run never
    reach the next.
    """
    directory = EXAMPLES / example
    monitor = RecordingMonitor(FakeAstro())
    run = ProgramRun(monitor.registrations)

    def in_fresh_context() -> None:
        pulumi.runtime.set_mocks(monitor.mocks, project=project, stack="test", preview=False, monitor=monitor)
        pulumi.runtime.set_all_config({f"{project}:{key}": value for key, value in config.items()})
        stack = pulumi.runtime.get_root_resource()
        assert stack is not None

        @pulumi.runtime.test
        def program() -> Any:
            runpy.run_path(str(directory), run_name="__main__")

            async def settle() -> None:
                for name, value in stack.outputs.items():
                    output = pulumi.Output.from_input(value)
                    run.exports[name] = Export(await output.future(), await output.is_secret())

            return settle()

        program()

    contextvars.Context().run(in_fresh_context)
    return run


def load_module(example: str) -> ModuleType:
    """Import an example's ``__main__.py`` under another name, without running the program."""
    name = f"example_{example.replace('-', '_')}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / example / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def assert_no_plain_export_leaks(run: ProgramRun) -> None:
    for name, export in run.exports.items():
        if export.secret:
            continue
        text = json.dumps(export.value, default=str)
        for secret in run.secret_values():
            assert secret not in text, f"export {name!r} shows a key's secret in plain text"


# -- quickstart --------------------------------------------------------------------------

QUICKSTART = "astrokeys-quickstart"


def test_quickstart_exports_the_key_with_its_secret_marked_secret() -> None:
    run = run_example("quickstart", QUICKSTART, {"deploymentId": DEPLOYMENT_ID})

    key = run.resource(KEY_TYPE, "ci")
    assert key.plain_input("deployment_id") == DEPLOYMENT_ID
    assert key.plain_input("name") == "ci"
    assert "secret" in key.additional_secret_outputs

    assert set(run.exports) == {"key_id", "key_secret", "key_short_token"}
    assert run.exports["key_secret"] == Export(fake_secret("ci", key.inputs), secret=True)
    assert run.exports["key_id"].value.startswith("key-") and not run.exports["key_id"].secret
    assert not run.exports["key_short_token"].secret
    assert not run.of_type(DEPLOYMENT_TYPE)
    assert_no_plain_export_leaks(run)


def test_quickstart_links_a_key_to_a_deployment_in_the_graph_and_lets_it_go_with_it() -> None:
    run = run_example("quickstart", QUICKSTART, {"deploymentId": DEPLOYMENT_ID, "workspaceId": WORKSPACE_ID})

    deployment = run.resource(DEPLOYMENT_TYPE, "quickstart")
    assert deployment.plain_input("workspace_id") == WORKSPACE_ID
    linked = run.resource(KEY_TYPE, "linked")
    deployment_id = run.exports["linked_deployment_id"].value
    assert linked.plain_input("deployment_id") == deployment_id
    assert deployment.urn in linked.property_dependencies["deployment_id"]
    assert deployment.urn in linked.dependencies
    assert linked.deleted_with == deployment.urn

    assert run.exports["linked_key_secret"] == Export(fake_secret("linked", linked.inputs), secret=True)
    assert not run.exports["linked_key_id"].secret
    assert {"key_id", "key_secret", "linked_key_short_token"} <= set(run.exports)
    assert_no_plain_export_leaks(run)


def test_quickstart_without_a_deployment_id_fails_naming_the_config_key() -> None:
    with pytest.raises(pulumi.ConfigMissingError, match="deploymentId"):
        run_example("quickstart", QUICKSTART, {})


# -- rotation ----------------------------------------------------------------------------

ROTATION = "astrokeys-rotation"


def test_rotation_feeds_the_period_to_keepers_the_trigger_and_the_slots() -> None:
    plan = load_module("rotation").two_slot_plan("2027-01")
    run = run_example("rotation", ROTATION, {"deploymentId": DEPLOYMENT_ID, "period": "2027-01"})

    assert run.exports["period"] == Export("2027-01", secret=False)
    assert run.resource(KEY_TYPE, "monthly").plain_input("keepers") == {"period": "2027-01"}
    triggered = run.resource(KEY_TYPE, "triggered")
    assert triggered.replacement_trigger == "2027-01"
    assert not triggered.plain_input("keepers")
    for slot, generation in plan.generations.items():
        assert run.resource(KEY_TYPE, f"slot-{slot}").plain_input("keepers") == {"generation": generation}
    assert run.exports["slot_generations"].value == dict(plan.generations)


def test_rotation_current_names_the_newer_slot_with_its_secret_kept_secret() -> None:
    rotation = load_module("rotation")
    for period in ("2027-01", "2027-02"):
        plan = rotation.two_slot_plan(period)
        run = run_example("rotation", ROTATION, {"deploymentId": DEPLOYMENT_ID, "period": period})

        current_key = run.resource(KEY_TYPE, f"slot-{plan.current}")
        current = run.exports["current"]
        assert current.secret
        assert current.value == {
            "slot": plan.current,
            "key_id": run.exports["slot_key_ids"].value[plan.current],
            "secret": fake_secret(f"slot-{plan.current}", current_key.inputs),
            "created_in": period,
            "retired_in": plan.retired_in(plan.current),
        }
        assert run.exports["current_key_id"] == Export(current.value["key_id"], secret=False)
        assert run.exports["monthly_key_secret"].secret and run.exports["triggered_key_secret"].secret
        assert_no_plain_export_leaks(run)


def test_rotation_next_period_replaces_only_the_slot_due_and_keeps_the_other() -> None:
    runs = {
        period: run_example("rotation", ROTATION, {"deploymentId": DEPLOYMENT_ID, "period": period})
        for period in ("2026-12", "2027-01")
    }
    before, after = (runs[p].exports["slot_key_ids"].value for p in ("2026-12", "2027-01"))
    changed = {slot for slot in before if before[slot] != after[slot]}
    assert len(changed) == 1
    assert runs["2027-01"].exports["current"].value["slot"] in changed
    # The slot current named in December survives January's run: it is still there, unchanged.
    december_current = runs["2026-12"].exports["current"].value["slot"]
    assert before[december_current] == after[december_current]


def test_rotation_defaults_to_the_current_month() -> None:
    rotation = load_module("rotation")
    before = rotation.current_period()
    run = run_example("rotation", ROTATION, {"deploymentId": DEPLOYMENT_ID})
    assert run.exports["period"].value in {before, rotation.current_period()}


def test_rotation_refuses_a_period_that_is_not_a_month() -> None:
    with pytest.raises(pulumi.RunError, match=r"config period: .*YYYY-MM"):
        run_example("rotation", ROTATION, {"deploymentId": DEPLOYMENT_ID, "period": "2027-13"})


# -- ci-handoff --------------------------------------------------------------------------

CI_HANDOFF = "astrokeys-ci-handoff"
GITHUB_SECRET = "github:index/actionsSecret:ActionsSecret"
GITHUB_VARIABLE = "github:index/actionsVariable:ActionsVariable"
VAULT_SECRET = "vault:kv/secretV2:SecretV2"
BOTH_STORES = {"deploymentId": DEPLOYMENT_ID, "githubRepository": "airflow-dags", "vaultPath": "ci/astro"}


def test_handoff_puts_the_secret_into_the_github_actions_secret_as_a_secret() -> None:
    run = run_example("ci-handoff", CI_HANDOFF, BOTH_STORES)
    key = run.resource(KEY_TYPE, "ci")

    github_secret = run.resource(GITHUB_SECRET, "astro-api-token")
    assert github_secret.plain_input("repository") == "airflow-dags"
    assert github_secret.plain_input("secretName") == "ASTRO_API_TOKEN"
    assert github_secret.input_is_secret("value")
    assert github_secret.plain_input("value") == fake_secret("ci", key.inputs)
    assert "plaintextValue" not in github_secret.inputs
    assert key.urn in github_secret.property_dependencies["value"]
    assert key.urn in github_secret.dependencies

    variable = run.resource(GITHUB_VARIABLE, "astro-deployment-id")
    assert variable.plain_input("variableName") == "ASTRO_DEPLOYMENT_ID"
    assert variable.inputs["value"] == DEPLOYMENT_ID and not variable.input_is_secret("value")

    assert run.exports["github_secret"] == Export("airflow-dags/ASTRO_API_TOKEN", secret=False)


def test_handoff_writes_the_secret_into_a_vault_kv2_secret_as_a_secret() -> None:
    run = run_example("ci-handoff", CI_HANDOFF, {**BOTH_STORES, "vaultMount": "kv"})
    key = run.resource(KEY_TYPE, "ci")

    vault_secret = run.resource(VAULT_SECRET, "astro-api-token")
    assert vault_secret.plain_input("mount") == "kv"
    assert vault_secret.plain_input("name") == "ci/astro"
    assert vault_secret.input_is_secret("dataJson")
    assert json.loads(vault_secret.plain_input("dataJson")) == {
        "ASTRO_API_TOKEN": fake_secret("ci", key.inputs),
        "key_id": run.exports["key_id"].value,
        "deployment_id": DEPLOYMENT_ID,
    }
    assert key.urn in vault_secret.property_dependencies["dataJson"]
    assert run.exports["vault_secret"] == Export("kv/ci/astro", secret=False)


def test_handoff_exports_no_secret_at_all() -> None:
    run = run_example("ci-handoff", CI_HANDOFF, BOTH_STORES)

    assert set(run.exports) == {"key_id", "key_short_token", "github_secret", "github_variable", "vault_secret"}
    assert not any(export.secret for export in run.exports.values())
    assert_no_plain_export_leaks(run)


def test_handoff_uses_only_the_stores_that_are_configured() -> None:
    github_only = run_example(
        "ci-handoff",
        CI_HANDOFF,
        {"deploymentId": DEPLOYMENT_ID, "githubRepository": "airflow-dags", "githubSecretName": "ASTRO_TOKEN"},
    )
    assert github_only.resource(GITHUB_SECRET, "astro-api-token").plain_input("secretName") == "ASTRO_TOKEN"
    assert not github_only.of_type(VAULT_SECRET)

    vault_only = run_example("ci-handoff", CI_HANDOFF, {"deploymentId": DEPLOYMENT_ID, "vaultPath": "ci/astro"})
    assert vault_only.resource(VAULT_SECRET, "astro-api-token").plain_input("mount") == "secret"
    assert not vault_only.of_type(GITHUB_SECRET) and not vault_only.of_type(GITHUB_VARIABLE)

    with pytest.raises(pulumi.RunError, match="githubRepository"):
        run_example("ci-handoff", CI_HANDOFF, {"deploymentId": DEPLOYMENT_ID})


def test_handoff_rotation_hands_a_new_secret_to_the_stores() -> None:
    first = run_example("ci-handoff", CI_HANDOFF, BOTH_STORES)
    second = run_example("ci-handoff", CI_HANDOFF, {**BOTH_STORES, "rotation": "2"})

    assert second.resource(KEY_TYPE, "ci").plain_input("keepers") == {"rotation": "2"}
    values = [run.resource(GITHUB_SECRET, "astro-api-token").plain_input("value") for run in (first, second)]
    assert values[0] != values[1]
    assert values[1] == fake_secret("ci", second.resource(KEY_TYPE, "ci").inputs)
