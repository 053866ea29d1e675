"""Both providers of the key, each in its own process, driven over gRPC as the engine drives them.

The dynamic provider (``python -m pulumi.dynamic``, the SDK's dynamic-provider server,
the stack config carrying the credentials and nothing secret in ``__provider``) and the
packaged provider plugin (``pulumi-resource-astrokeys``, the provider's inputs carrying
them) get the same Configure, Check, Diff, Create, Read and Delete, and must answer
alike: the same checks, failures and request log, in each one's names.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import dill
import pytest
from grpc_provider import UNKNOWN, DynamicProviderProcess, ProviderError, Secret
from grpc_provider.flavours import DYNAMIC, FLAVOURS, Flavour
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_astrokeys.provider import DeploymentApiKeyProvider

URN = DYNAMIC.urn
PROVIDER_BLOB = serialize_provider(DeploymentApiKeyProvider())


@pytest.fixture(params=FLAVOURS, ids=lambda flavour: flavour.id)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return request.param  # type: ignore[no-any-return]


class Server:
    """One provider's process, taking and answering properties in the core's (snake_case) names."""

    def __init__(self, flavour: Flavour, process: DynamicProviderProcess) -> None:
        self.flavour = flavour
        self.process = process
        self.urn = flavour.urn

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        checked, failures = self.process.check(self.urn, self.flavour.props(olds), self.flavour.props(news))
        named = [(self.flavour.snake({f.property: None}).popitem()[0] if f.property else "", f.reason) for f in failures]
        return self.flavour.snake(checked), [(name, self.flavour.core_words(reason)) for name, reason in named]

    def create(self, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key_id, outs = self.process.create(self.urn, self.flavour.props(props))
        return key_id, self.flavour.snake(outs)

    def diff(self, key_id: str, olds: dict[str, Any], outs: dict[str, Any], news: dict[str, Any]) -> Any:
        f = self.flavour
        return self.process.diff(self.urn, key_id, f.props(olds), f.props(outs), f.props(news), ignore_changes=[])

    def read(self, key_id: str, outs: dict[str, Any], ins: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        read_id, refreshed, _ = self.process.read(self.urn, key_id, self.flavour.props(outs), self.flavour.props(ins))
        return read_id, self.flavour.snake(refreshed)

    def update(self, key_id: str, outs: dict[str, Any], olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        f = self.flavour
        return f.snake(self.process.update(self.urn, key_id, f.props(outs), f.props(olds), f.props(news), []))

    def delete(self, key_id: str, outs: dict[str, Any], ins: dict[str, Any]) -> None:
        self.process.delete(self.urn, key_id, self.flavour.props(outs), self.flavour.props(ins))


@pytest.fixture
def server(emulator: Any, flavour: Flavour) -> Iterator[Server]:
    process = flavour.start(emulator)  # credentials from config only, none from the environment
    yield Server(flavour, process)
    process.close()


def inputs(deployment_id: Any, **extra: Any) -> dict[str, Any]:
    return {"deployment_id": deployment_id, "name": "ci", **extra}


def test_full_cycle_over_grpc_keeps_the_secret_secret(emulator: Any, server: Server) -> None:
    deployment = emulator.deployment_ids[0]
    checked, failures = server.check({}, inputs(deployment, description="CI/CD deploys"))
    assert failures == []

    key_id, outs = server.create(checked)
    assert isinstance(outs["secret"], Secret), "the secret must arrive marked secret on the wire"
    assert outs["key_id"] == key_id
    assert key_id in {t["id"] for t in emulator.list_all_tokens()}

    same = server.diff(key_id, checked, outs, checked)
    assert same.changes == 1  # DIFF_NONE: said explicitly, so the engine never compares __provider itself

    refreshed_id, refreshed = server.read(key_id, outs, checked)
    assert refreshed_id == key_id
    assert isinstance(refreshed["secret"], Secret)
    assert refreshed["secret"].value == outs["secret"].value

    server.delete(key_id, outs, checked)
    assert key_id not in {t["id"] for t in emulator.list_all_tokens()}


def test_a_new_release_of_the_dynamic_provider_alone_does_not_replace(emulator: Any) -> None:
    process = DYNAMIC.start(emulator)
    try:
        server = Server(DYNAMIC, process)
        checked, _ = server.check({}, inputs(emulator.deployment_ids[0]))
        key_id, outs = server.create(checked)
        checked = dict(DYNAMIC.props(checked), __provider=PROVIDER_BLOB)
        # Other bytes for the same class, as another release or pickler would write them.
        other_bytes = base64.b64encode(dill.dumps(DeploymentApiKeyProvider(), protocol=2)).decode()
        assert other_bytes != PROVIDER_BLOB
        new_release = dict(checked, __provider=other_bytes)

        result = process.diff(URN, key_id, checked, outs, new_release, ignore_changes=[])
    finally:
        process.close()

    assert result.changes == 1
    assert result.replaces == []


def test_a_changed_description_is_a_create_before_delete_replacement(
    emulator: Any, server: Server
) -> None:
    checked, _ = server.check({}, inputs(emulator.deployment_ids[0]))
    key_id, outs = server.create(checked)
    changed, _ = server.check({}, inputs(emulator.deployment_ids[0], description="new"))

    result = server.diff(key_id, checked, outs, changed)

    assert result.changes == 2  # DIFF_SOME
    assert result.replaces == ["description"]
    assert result.delete_before_replace is False


def test_unknown_inputs_pass_check_at_preview_and_replace_in_diff(
    emulator: Any, server: Server
) -> None:
    checked, failures = server.check({}, inputs(UNKNOWN))
    assert failures == []
    assert checked["deployment_id"] is UNKNOWN


def test_bad_inputs_fail_check_by_name_and_never_reach_the_api(emulator: Any, server: Server) -> None:
    emulator.clear_requests()
    _, failures = server.check({}, inputs("nope", name="", expiry_period_in_days=0))
    assert {name for name, _ in failures} == {"deployment_id", "name", "expiry_period_in_days"}
    assert emulator.requests() == []


def test_missing_settings_fail_check_in_one_sentence_before_any_request(emulator: Any, flavour: Flavour) -> None:
    process = flavour.start(emulator, credentials=False)
    try:
        emulator.clear_requests()
        _, failures = Server(flavour, process).check({}, inputs(emulator.deployment_ids[0]))
    finally:
        process.close()
    assert failures == [
        (
            "",
            "No Astro API token and no Astro organization ID are configured: set them with "
            "`pulumi config set --secret astrokeys:apiToken <value>` and `pulumi config set astrokeys:organizationId "
            "<value>`, or the environment variables ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID.",
        )
    ]
    assert emulator.requests() == []


def test_a_key_deleted_out_of_band_reads_as_gone_and_deletes_cleanly(
    emulator: Any, server: Server
) -> None:
    deployment = emulator.create_deployment("short-lived")
    checked, _ = server.check({}, inputs(deployment))
    key_id, outs = server.create(checked)
    emulator.delete_deployment(deployment)

    gone_id, _ = server.read(key_id, outs, checked)
    assert gone_id == ""
    server.delete(key_id, outs, checked)


def test_provider_errors_reach_the_engine_as_one_sentence(emulator: Any, server: Server) -> None:
    checked, _ = server.check({}, inputs("clm8q7f6q000008lcgyougpsk"))
    with pytest.raises(ProviderError) as caught:
        server.create(checked)
    assert server.flavour.core_words(caught.value.message).startswith("Could not create")
    assert "was not found in organization" in caught.value.message
    assert "\n" not in caught.value.message
    assert emulator.api_token not in caught.value.detail
    if server.flavour.camel_case:  # the sentence alone, where the SDK's server would append its stack
        assert caught.value.detail == caught.value.message


def test_update_is_refused_and_changes_nothing(emulator: Any, server: Server) -> None:
    checked, _ = server.check({}, inputs(emulator.deployment_ids[0]))
    key_id, outs = server.create(checked)
    before = emulator.list_all_tokens()
    with pytest.raises(ProviderError, match="immutable"):
        server.update(key_id, outs, checked, dict(checked, description="x"))
    assert emulator.list_all_tokens() == before


def test_several_threads_are_served_at_once(emulator: Any, server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def create(index: int) -> str:
        checked, _ = server.check({}, inputs(emulator.deployment_ids[index % 2], name=f"key-{index}"))
        return server.create(checked)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(16)))
    assert len(set(ids)) == 16
    assert set(ids) <= {t["id"] for t in emulator.list_all_tokens()}


def test_both_providers_make_the_same_requests_and_fail_alike(emulator: Any) -> None:
    """The same operations through each provider: the same API requests, checks and failures."""
    deployment = emulator.deployment_ids[0]
    seen: dict[str, Any] = {}
    for flavour in FLAVOURS:
        process = flavour.start(emulator)
        server = Server(flavour, process)
        try:
            emulator.clear_requests()
            given = inputs(deployment, expiry_period_in_days=30, dag_roles=[{"dag_id": "etl", "role": "DAG_VIEWER"}])
            checked, _ = server.check({}, given)
            key_id, outs = server.create(checked)
            refreshed_id, refreshed = server.read(key_id, outs, checked)
            changed, _ = server.check({}, dict(given, description="new"))
            diff = server.diff(key_id, checked, outs, changed)
            server.delete(key_id, outs, checked)
            _, failures = server.check({}, inputs("nope", name="", rotate_before_days=0))
            with pytest.raises(ProviderError) as refused:
                server.create(server.check({}, inputs("clm8q7f6q000008lcgyougpsk"))[0])
            log = [(r["method"], r["path"].replace(key_id, "{key}"), r["status"]) for r in emulator.requests()]
        finally:
            process.close()
        # Each key's own values differ; `adopted` is the packaged provider's alone (no import in a dynamic one).
        own = ("key_id", "secret", "short_token", "adopted")
        shown = {name: value for name, value in refreshed.items() if name not in own}
        seen[flavour.id] = {
            "checked": checked,
            "refreshed": {name: value for name, value in shown.items() if not name.endswith("_at")},
            "same id": refreshed_id == key_id,
            "diff": (diff.changes, diff.replaces, diff.delete_before_replace),
            "failures": failures,
            "refusal": flavour.core_words(refused.value.message),
            "requests": log,
        }
    dynamic, plugin = seen["dynamic"], seen["plugin"]
    assert dynamic["requests"] and ("POST", f"/v1/organizations/{emulator.organization_id}/tokens", 200) in dynamic[
        "requests"
    ]
    for aspect in dynamic:
        assert plugin[aspect] == dynamic[aspect], aspect
