"""The provider served by the SDK's real dynamic-provider gRPC server, driven as the engine drives it.

``python -m pulumi.dynamic`` runs in its own process; these tests send it Configure,
Check, Diff, Create, Read and Delete over gRPC, with the stack config carrying the
credentials and nothing secret in ``__provider``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import dill
import pytest
from grpc_provider import UNKNOWN, DynamicProviderProcess, ProviderError, Secret, emulator_provider_process
from grpc_provider.client import provider_environment
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_astrokeys.provider import DeploymentApiKeyProvider

URN = "urn:pulumi:dev::demo::pulumi-python:dynamic/astrokeys:DeploymentApiKey::ci"
PROVIDER_BLOB = serialize_provider(DeploymentApiKeyProvider())


@pytest.fixture
def server(emulator: Any) -> Iterator[DynamicProviderProcess]:
    process = emulator_provider_process(emulator, "demo", "dev")  # credentials from stack config only
    yield process
    process.close()


def inputs(deployment_id: Any, **extra: Any) -> dict[str, Any]:
    return {"deployment_id": deployment_id, "name": "ci", "__provider": PROVIDER_BLOB, **extra}


def test_full_cycle_over_grpc_keeps_the_secret_secret(emulator: Any, server: DynamicProviderProcess) -> None:
    deployment = emulator.deployment_ids[0]
    checked, failures = server.check(URN, {}, inputs(deployment, description="CI/CD deploys"))
    assert failures == []

    key_id, outs = server.create(URN, checked)
    assert isinstance(outs["secret"], Secret), "the secret must arrive marked secret on the wire"
    assert outs["key_id"] == key_id
    assert key_id in {t["id"] for t in emulator.list_all_tokens()}

    same = server.diff(URN, key_id, checked, outs, checked, ignore_changes=[])
    assert same.changes == 1  # DIFF_NONE: said explicitly, so the engine never compares __provider itself

    refreshed_id, refreshed, _ = server.read(URN, key_id, outs, checked)
    assert refreshed_id == key_id
    assert isinstance(refreshed["secret"], Secret)
    assert refreshed["secret"].value == outs["secret"].value

    server.delete(URN, key_id, outs, checked)
    assert key_id not in {t["id"] for t in emulator.list_all_tokens()}


def test_a_new_release_of_the_provider_alone_does_not_replace(emulator: Any, server: DynamicProviderProcess) -> None:
    checked, _ = server.check(URN, {}, inputs(emulator.deployment_ids[0]))
    key_id, outs = server.create(URN, checked)
    # Other bytes for the same class, as another release or pickler would write them.
    other_bytes = base64.b64encode(dill.dumps(DeploymentApiKeyProvider(), protocol=2)).decode()
    assert other_bytes != PROVIDER_BLOB
    new_release = dict(checked, __provider=other_bytes)

    result = server.diff(URN, key_id, checked, outs, new_release, ignore_changes=[])

    assert result.changes == 1
    assert result.replaces == []


def test_a_changed_description_is_a_create_before_delete_replacement(
    emulator: Any, server: DynamicProviderProcess
) -> None:
    checked, _ = server.check(URN, {}, inputs(emulator.deployment_ids[0]))
    key_id, outs = server.create(URN, checked)
    changed, _ = server.check(URN, {}, inputs(emulator.deployment_ids[0], description="new"))

    result = server.diff(URN, key_id, checked, outs, changed, ignore_changes=[])

    assert result.changes == 2  # DIFF_SOME
    assert result.replaces == ["description"]
    assert result.delete_before_replace is False


def test_unknown_inputs_pass_check_at_preview_and_replace_in_diff(
    emulator: Any, server: DynamicProviderProcess
) -> None:
    checked, failures = server.check(URN, {}, inputs(UNKNOWN))
    assert failures == []
    assert checked["deployment_id"] is UNKNOWN


def test_bad_inputs_fail_check_by_name_and_never_reach_the_api(emulator: Any, server: DynamicProviderProcess) -> None:
    emulator.clear_requests()
    _, failures = server.check(URN, {}, inputs("nope", name="", expiry_period_in_days=0))
    assert {f.property for f in failures} == {"deployment_id", "name", "expiry_period_in_days"}
    assert emulator.requests() == []


def test_missing_settings_fail_check_in_one_sentence_before_any_request(emulator: Any) -> None:
    env = provider_environment({}, "demo", "dev", "organization")
    for var in emulator.env():
        env.pop(var, None)
    process = DynamicProviderProcess(env)
    try:
        process.configure({"astrokeys:host": emulator.host}, secret_keys=[])
        emulator.clear_requests()
        _, failures = process.check(URN, {}, inputs(emulator.deployment_ids[0]))
    finally:
        process.close()
    assert [(f.property, f.reason) for f in failures] == [
        (
            "",
            "No Astro API token and no Astro organization ID are configured: set them with "
            "`pulumi config set --secret astrokeys:apiToken <value>` and `pulumi config set astrokeys:organizationId "
            "<value>`, or the environment variables ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID.",
        )
    ]
    assert emulator.requests() == []


def test_a_key_deleted_out_of_band_reads_as_gone_and_deletes_cleanly(
    emulator: Any, server: DynamicProviderProcess
) -> None:
    deployment = emulator.create_deployment("short-lived")
    checked, _ = server.check(URN, {}, inputs(deployment))
    key_id, outs = server.create(URN, checked)
    emulator.delete_deployment(deployment)

    gone_id, _, _ = server.read(URN, key_id, outs, checked)
    assert gone_id == ""
    server.delete(URN, key_id, outs, checked)


def test_provider_errors_reach_the_engine_as_one_sentence(emulator: Any, server: DynamicProviderProcess) -> None:
    checked, _ = server.check(URN, {}, inputs("clm8q7f6q000008lcgyougpsk"))
    with pytest.raises(ProviderError) as caught:
        server.create(URN, checked)
    assert caught.value.message.startswith("pulumi_astrokeys._errors.KeyOperationError: Could not create")
    assert "was not found in organization" in caught.value.message
    assert "\n" not in caught.value.message
    assert emulator.api_token not in caught.value.detail


def test_update_is_refused_and_changes_nothing(emulator: Any, server: DynamicProviderProcess) -> None:
    checked, _ = server.check(URN, {}, inputs(emulator.deployment_ids[0]))
    key_id, outs = server.create(URN, checked)
    before = emulator.list_all_tokens()
    with pytest.raises(ProviderError, match="immutable"):
        server.update(URN, key_id, outs, checked, dict(checked, description="x"), ignore_changes=[])
    assert emulator.list_all_tokens() == before


def test_several_threads_are_served_at_once(emulator: Any, server: DynamicProviderProcess) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def create(index: int) -> str:
        checked, _ = server.check(URN, {}, inputs(emulator.deployment_ids[index % 2], name=f"key-{index}"))
        return server.create(URN, checked)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(16)))
    assert len(set(ids)) == 16
    assert set(ids) <= {t["id"] for t in emulator.list_all_tokens()}
