"""The packaged provider plugin over gRPC: the SDK interface's traps, import, and one provider per organization.

``pulumi-resource-astrokeys`` runs as the engine runs it (the console script, given an
engine address, printing its port) and is called over gRPC. What both providers share
is proven in tests/test_provider_grpc.py; here is what only the plugin has: its schema,
the work-arounds for the SDK's provider interface (``pulumi.provider.experimental``),
adopting a key by its ID alone, and explicit providers for two organizations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from asyncio_support import run_on_private_loop
from grpc_provider import UNKNOWN, DynamicProviderProcess, ProviderError, Secret
from grpc_provider.client import emulator_plugin_process
from grpc_provider.flavours import PLUGIN
from grpc_provider.props import to_struct
from hold_support import call_while_held
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime.proto import provider_pb2

from pulumi_astrokeys.plugin.schema import package_schema, package_version
from pulumi_astrokeys.plugin.server import _to_the_end
from pulumi_astrokeys.testing.emulator import Emulator

URN = PLUGIN.urn
DIFF_UNKNOWN, DIFF_NONE, DIFF_SOME = 0, 1, 2


@pytest.fixture
def plugin(emulator: Emulator) -> Iterator[DynamicProviderProcess]:
    process = emulator_plugin_process(emulator)
    yield process
    process.close()


def inputs(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    return {"deploymentId": emulator.deployment_ids[0], "name": "ci", **extra}


def created(plugin: DynamicProviderProcess, emulator: Emulator, **extra: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    checked, failures = plugin.check(URN, {}, inputs(emulator, **extra))
    assert failures == []
    key_id, outs = plugin.create(URN, checked)
    return checked, key_id, outs


def holds_a_token(value: Any) -> bool:
    """Whether ``value`` is a secret holding a token (without showing the token in a failed assertion)."""
    return isinstance(value, Secret) and isinstance(value.value, str) and len(value.value) > 20


# -- the schema -----------------------------------------------------------------------------


def test_the_schema_carries_the_package_version_camel_case_names_and_the_secrets(
    plugin: DynamicProviderProcess,
) -> None:
    response = plugin._call("GetSchema", "", provider_pb2.GetSchemaRequest(version=0))
    schema = json.loads(response.schema)

    assert schema == package_schema()
    assert schema["version"] == package_version() != "${VERSION}"
    key = schema["resources"]["astrokeys:index:DeploymentApiKey"]
    assert set(key["inputProperties"]) == {
        "deploymentId", "name", "description", "role", "expiryPeriodInDays", "keepers", "kind", "dagRoles",
        "rotateBeforeDays",
    }  # fmt: skip
    assert key["properties"]["secret"]["secret"] is True
    assert {"keyId", "organizationId", "createdAt", "startAt", "endAt"} <= set(key["properties"])
    assert schema["config"]["variables"]["apiToken"]["secret"] is True
    assert schema["provider"]["inputProperties"]["apiToken"]["secret"] is True
    assert {"organizationId", "host", "maxRetries", "retryBackoff", "requestTimeout"} <= set(
        schema["provider"]["inputProperties"]
    )


def test_the_committed_schema_is_the_generated_one() -> None:
    from conftest import REPO_ROOT

    committed = json.loads((REPO_ROOT / "schema.json").read_text())
    assert committed == package_schema(), "run `make schema` and commit schema.json"


# -- the SDK interface's traps ----------------------------------------------------------------


def test_the_sdks_computed_value_cannot_be_marshalled_so_a_preview_answers_the_unknown_sentinel(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    with pytest.raises(ValueError):
        PropertyValue.computed().marshal()  # the trap, in the SDK version installed

    checked, _ = plugin.check(URN, {}, inputs(emulator))
    emulator.clear_requests()
    key_id, outs = plugin.create(URN, checked, preview=True)

    assert emulator.requests() == [], "a preview makes no API call"
    assert key_id == ""
    assert outs["keyId"] is UNKNOWN and outs["createdAt"] is UNKNOWN and outs["endAt"] is UNKNOWN
    assert outs["secret"] == Secret(UNKNOWN), "unknown, and a secret all the same"
    assert outs["deploymentId"] == emulator.deployment_ids[0]


def test_unknown_inputs_arrive_as_the_sentinel_pass_check_and_replace(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    checked, key_id, outs = created(plugin, emulator)
    news, failures = plugin.check(URN, checked, inputs(emulator, deploymentId=UNKNOWN, expiryPeriodInDays=UNKNOWN))
    assert failures == []
    assert news["deploymentId"] is UNKNOWN

    diff = plugin.diff(URN, key_id, checked, outs, news, ignore_changes=[])
    assert diff.changes == DIFF_SOME
    assert diff.replaces == ["deploymentId", "expiryPeriodInDays"]

    emulator.clear_requests()
    _, previewed = plugin.create(URN, news, preview=True)
    assert previewed["deploymentId"] is UNKNOWN and previewed["keyId"] is UNKNOWN
    assert emulator.requests() == []


@pytest.mark.filterwarnings("ignore:Field pulumirpc.DiffResponse.changes:DeprecationWarning")
def test_diff_config_is_left_to_the_engine_which_the_sdks_answer_would_deny(plugin: DynamicProviderProcess) -> None:
    from pulumi.provider.experimental.provider import DiffResponse, Provider
    from pulumi.provider.experimental.server import ProviderServicer

    class Changed(Provider):
        async def diff_config(self, request: Any) -> DiffResponse:
            return DiffResponse(changes=True, replaces=[])

    sdk = ProviderServicer([], "0", Changed(), engine_address="")
    denied = run_on_private_loop(sdk.DiffConfig(provider_pb2.DiffRequest(), None))
    assert denied.changes == DIFF_NONE, "the trap: the SDK turns changes=True into 'no change'"

    request = provider_pb2.DiffRequest(
        urn="urn:pulumi:dev::demo::pulumi:providers:astrokeys::default",
        olds=to_struct({"organizationId": "corg1"}),
        news=to_struct({"organizationId": "corg2"}),
    )
    answer = plugin._call("DiffConfig", "", request)
    assert answer.changes == DIFF_UNKNOWN, "the engine compares the configuration itself"


def test_read_always_answers_inputs_and_a_gone_key_only_by_an_empty_id(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    checked, key_id, outs = created(plugin, emulator, description="ci", keepers={"r": "1"})

    read_id, refreshed, read_inputs = plugin.read(URN, key_id, outs, checked)
    assert read_id == key_id
    assert read_inputs is not None
    assert {name: read_inputs[name] for name in checked} == checked

    plugin.delete(URN, key_id, outs, checked)
    gone_id, gone, _ = plugin.read(URN, key_id, outs, checked)
    assert (gone_id, gone) == ("", {})


def test_a_read_answers_what_changed_on_astro_in_both_properties_and_inputs(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    checked, key_id, outs = created(plugin, emulator, description="ci")
    with emulator.client() as http:
        http.post(f"/tokens/{key_id}", json={"name": "renamed", "description": "ci"}).raise_for_status()

    _, refreshed, read_inputs = plugin.read(URN, key_id, outs, checked)
    assert read_inputs is not None
    assert (refreshed["name"], read_inputs["name"]) == ("renamed", "renamed")
    assert (refreshed["description"], read_inputs["description"]) == ("ci", "ci")
    assert holds_a_token(refreshed["secret"]) and refreshed["secret"] == outs["secret"]


def test_an_update_at_preview_or_not_records_rotate_before_days_without_a_request(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    checked, key_id, outs = created(plugin, emulator, expiryPeriodInDays=30)
    news, _ = plugin.check(URN, checked, inputs(emulator, expiryPeriodInDays=30, rotateBeforeDays=5))

    diff = plugin.diff(URN, key_id, checked, outs, news, ignore_changes=[])
    assert (diff.changes, diff.replaces, diff.changed_keys) == (DIFF_SOME, [], ["rotateBeforeDays"])

    emulator.clear_requests()
    for preview in (True, False):
        updated = plugin.update(URN, key_id, outs, checked, news, ignore_changes=[], preview=preview)
        assert updated["rotateBeforeDays"] == 5
        assert updated["secret"] == outs["secret"] and isinstance(updated["secret"], Secret)
        assert updated["keyId"] == key_id
    assert emulator.requests() == []


def test_every_secret_goes_back_marked_secret(emulator: Emulator, plugin: DynamicProviderProcess) -> None:
    given = inputs(emulator, keepers=Secret({"rotation": "2026-q4"}), description=Secret("for the deploy job"))
    checked, failures = plugin.check(URN, {}, given)
    assert failures == []
    assert checked["keepers"] == Secret({"rotation": "2026-q4"})
    assert checked["description"] == Secret("for the deploy job")

    key_id, outs = plugin.create(URN, checked)
    assert holds_a_token(outs["secret"])
    assert outs["keepers"] == Secret({"rotation": "2026-q4"})
    assert outs["description"] == Secret("for the deploy job")

    _, refreshed, read_inputs = plugin.read(URN, key_id, outs, checked)
    assert refreshed["secret"] == outs["secret"]
    assert refreshed["description"] == Secret("for the deploy job")
    assert read_inputs is not None and read_inputs["keepers"] == Secret({"rotation": "2026-q4"})
    assert outs["secret"].value not in plugin.stderr_text()


def test_an_autonaming_that_fixes_the_name_is_refused_because_the_engine_would_replace_delete_first(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    options = provider_pb2.CheckRequest.AutonamingOptions
    emulator.clear_requests()

    def check(mode: int, proposed: str) -> Any:
        request = provider_pb2.CheckRequest(
            urn=URN,
            news=to_struct(inputs(emulator)),
            autonaming=options(proposed_name=proposed, mode=mode),  # type: ignore[arg-type]
        )
        return plugin._call("Check", URN, request)

    for mode, problem in (
        (options.ENFORCE, "pulumi:autonaming gives it the name 'ci', without a random part"),
        (options.DISABLE, "pulumi:autonaming has the mode 'disabled'"),
    ):
        with pytest.raises(ProviderError) as refused:
            check(mode, "ci")
        assert refused.value.message == (
            f"DeploymentApiKey 'ci': the stack config {problem}, which makes Pulumi delete a key before creating its "
            "replacement, leaving its consumers without a working key in between. Keep this package's keys on "
            "Pulumi's default naming with `pulumi config set --path pulumi:autonaming.providers.astrokeys.mode "
            "default`; nothing was changed."
        )
    assert check(options.PROPOSE, "ci-1a2b").failures == []
    assert emulator.requests() == []


# -- the key's semantics, through the plugin ------------------------------------------------------


def test_an_expired_key_or_one_inside_its_window_is_replaced_new_first(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    checked, key_id, outs = created(plugin, emulator, expiryPeriodInDays=30, rotateBeforeDays=5)
    assert plugin.diff(URN, key_id, checked, outs, checked, ignore_changes=[]).changes == DIFF_NONE

    soon = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for end_at in ("2020-01-01T00:00:00Z", soon):
        diff = plugin.diff(URN, key_id, checked, dict(outs, endAt=end_at), checked, ignore_changes=[])
        assert (diff.changes, diff.replaces, diff.delete_before_replace) == (DIFF_SOME, ["endAt"], False)


def test_a_key_of_another_organization_is_refused(emulator: Emulator, plugin: DynamicProviderProcess) -> None:
    checked, key_id, outs = created(plugin, emulator)
    other = emulator.create_organization("other")["organizationId"]
    for call in (
        lambda: plugin.read(URN, key_id, dict(outs, organizationId=other), checked),
        lambda: plugin.delete(URN, key_id, dict(outs, organizationId=other), checked),
    ):
        with pytest.raises(ProviderError) as refused:
            call()
        assert f"it belongs to organization {other}, but the provider is configured for organization" in (
            refused.value.message
        )
        assert refused.value.detail == refused.value.message
    assert key_id in {t["id"] for t in emulator.list_all_tokens()}


def test_two_providers_manage_keys_in_two_organizations(emulator: Emulator) -> None:
    other = emulator.create_organization("second")
    first = emulator_plugin_process(emulator)
    second = emulator_plugin_process(
        emulator, inputs={"organizationId": other["organizationId"], "apiToken": other["apiToken"]}
    )
    try:
        key_a = first.create(URN, first.check(URN, {}, inputs(emulator))[0])
        checked_b, _ = second.check(URN, {}, {"deploymentId": other["deploymentIds"][0], "name": "ci"})
        key_b = second.create(URN, checked_b)
        assert key_a[1]["organizationId"] == emulator.organization_id
        assert key_b[1]["organizationId"] == other["organizationId"]
        assert key_b[0] in {t["id"] for t in emulator.list_all_tokens(other["organizationId"])}
        assert key_a[0] in {t["id"] for t in emulator.list_all_tokens(emulator.organization_id)}
        with pytest.raises(ProviderError, match=f"it belongs to organization {other['organizationId']}"):
            first.delete(URN, key_b[0], key_b[1], checked_b)
    finally:
        first.close()
        second.close()


# -- import ----------------------------------------------------------------------------------------


def test_a_key_read_by_its_id_alone_gives_the_inputs_a_program_sets_and_no_secret(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    given = inputs(
        emulator, description="made by hand", expiryPeriodInDays=90, dagRoles=[{"dagId": "etl", "role": "DAG_VIEWER"}]
    )
    checked, failures = plugin.check(URN, {}, given)
    assert failures == []
    key_id, _ = plugin.create(URN, checked)

    adopted_id, outs, read_inputs = plugin.read(URN, key_id, {}, {})

    assert adopted_id == key_id
    assert read_inputs == given, "exactly what a program writes, defaults left out"
    assert "secret" not in outs, "Astro shows a secret once: an adopted key has none, never a made-up one"
    assert outs["adopted"] is True
    assert "adopted without its secret" in plugin.stderr_text()

    # The engine checks the generated program's inputs and diffs them with what it read: nothing to do.
    news, failures = plugin.check(URN, read_inputs, read_inputs)
    assert failures == []
    diff = plugin.diff(URN, key_id, read_inputs, outs, news, ignore_changes=[])
    assert diff.changes == DIFF_NONE, "not replaced only because it has no secret"

    # A refresh keeps it adopted; a real change still replaces it, new first.
    _, refreshed, _ = plugin.read(URN, key_id, outs, read_inputs)
    assert refreshed["adopted"] is True and "secret" not in refreshed
    changed, _ = plugin.check(URN, read_inputs, dict(read_inputs, description="adopted"))
    diff = plugin.diff(URN, key_id, read_inputs, refreshed, changed, ignore_changes=[])
    assert (diff.replaces, diff.delete_before_replace) == (["description"], False)


def test_an_id_that_names_no_key_of_the_organization_is_refused_in_one_sentence(
    emulator: Emulator, plugin: DynamicProviderProcess
) -> None:
    with pytest.raises(ProviderError) as refused:
        plugin.read(URN, "clm8q7f6q000008lcgyougpsk", {}, {})
    assert refused.value.message == (
        f"Could not import Deployment API key clm8q7f6q000008lcgyougpsk: organization {emulator.organization_id} "
        "has no such key (it was deleted, or the ID is wrong); pass the ID of an existing Deployment API key of "
        "that organization (the Astro UI shows it in the key's details)."
    )
    assert refused.value.detail == refused.value.message


def test_a_key_of_another_scope_is_refused_in_one_sentence(emulator: Emulator, plugin: DynamicProviderProcess) -> None:
    workspace = emulator.state()["workspaceId"]
    with emulator.client() as http:
        answer = http.post(
            "/tokens", json={"name": "ws", "scope": "WORKSPACE", "entityId": workspace, "role": "WORKSPACE_MEMBER"}
        )
    assert answer.status_code == 200, answer.text
    token_id = answer.json()["id"]

    with pytest.raises(ProviderError) as refused:
        plugin.read(URN, token_id, {}, {})
    assert f"API token {token_id} is not a Deployment API key" in refused.value.message
    assert "\n" not in refused.value.detail


# -- calls at once -------------------------------------------------------------------------------


def test_calls_waiting_on_the_api_hold_up_no_other_call(emulator: Emulator, plugin: DynamicProviderProcess) -> None:
    checked, key_id, outs = created(plugin, emulator)
    waiting = 8  # more than a thread pool of the machine's size (2 cores) would run at once
    hold = emulator.inject_fault("GET", rf"/tokens/{key_id}$", action="hold", count=waiting)

    def meanwhile() -> None:
        other_checked, other_id, other_outs = created(plugin, emulator, name="other")
        assert plugin.read(URN, other_id, other_outs, other_checked)[0] == other_id
        plugin.delete(URN, other_id, other_outs, other_checked)

    with ThreadPoolExecutor(waiting) as pool:
        reads = [pool.submit(plugin.read, URN, key_id, outs, checked) for _ in range(waiting)]
        # Well inside the requests' own timeout (30 s), after which a held one would give its thread up.
        emulator.wait_until_held(hold, count=waiting, timeout=15)
        meanwhile()
        emulator.release(hold)
        assert [read.result()[0] for read in reads] == [key_id] * waiting
    assert [t["id"] for t in emulator.list_all_tokens(emulator.organization_id) if t["scope"] == "DEPLOYMENT"] == [key_id]


def test_a_call_that_would_wait_on_an_event_loop_fails_at_once_and_is_closed() -> None:
    closed = []

    class Suspends:
        def __await__(self) -> Iterator[str]:
            yield "a future of some event loop"

    async def call() -> None:
        try:
            await Suspends()
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError, match="waited on an event loop"):
        _to_the_end(call())
    assert closed == [True]


# -- the engine's end ----------------------------------------------------------------------------


def test_a_create_whose_engine_dies_deletes_its_token_and_the_plugin_exits(emulator: Emulator) -> None:
    plugin = emulator_plugin_process(emulator, engine_pipe=True, inputs={"requestTimeout": 5})
    try:
        checked, _ = plugin.check(URN, {}, inputs(emulator))
        hold = emulator.inject_fault("POST", r"/tokens/c[a-z0-9]{24}$", action="hold")

        def engine_dies() -> None:
            plugin.engine_dies()

        creating = call_while_held(emulator, hold, lambda: plugin.create(URN, checked), engine_dies)
        with pytest.raises(ProviderError):
            creating.result()
        assert plugin.wait_for_exit(15) is not None, "the plugin outlived its engine"
        assert [t for t in emulator.list_all_tokens(emulator.organization_id) if t["scope"] == "DEPLOYMENT"] == []
    finally:
        plugin.close()
