"""A provider whose engine is gone hands nothing over, deletes what it made, and exits.

Pulumi's engine starts each plugin in a process group of its own, so a ``kill -9`` of
``pulumi up``'s process group leaves the dynamic provider running. The provider runs here
as the engine runs it (``python -m pulumi.dynamic`` with a pipe for stdin, driven over
gRPC); the test plays the engine and "dies" by closing that pipe, as the kernel does when
the engine is killed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from grpc_provider import DynamicProviderProcess, ProviderError, emulator_provider_process
from hold_support import call_while_held
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_astrokeys._engine import EngineWatch
from pulumi_astrokeys._ownership import OWNER_PROPERTY, CreateMarker, KeyOwner
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

URN = "urn:pulumi:staging::shop::pulumi-python:dynamic/astrokeys:DeploymentApiKey::ci"
PROVIDER_BLOB = serialize_provider(DeploymentApiKeyProvider())
TIMEOUT = 5  # astrokeys:requestTimeout; the provider ends within three of them at most
DESCRIBE = r"/tokens/c[a-z0-9]{24}$"


@pytest.fixture
def server(emulator: Emulator) -> Iterator[DynamicProviderProcess]:
    process = emulator_provider_process(
        emulator, "shop", "staging", engine_pipe=True, config={"astrokeys:requestTimeout": str(TIMEOUT)}
    )
    yield process
    process.close()


def inputs(emulator: Emulator) -> dict[str, Any]:
    return {
        "deployment_id": emulator.deployment_ids[0],
        "name": "ci",
        "__provider": PROVIDER_BLOB,
        OWNER_PROPERTY: {"project": "shop", "stack": "staging", "name": "ci"},
    }


def engine_dies(server: DynamicProviderProcess) -> Callable[[], None]:
    """The engine dies, and the test waits until the provider has noticed (the line it writes then)."""

    def dies() -> None:
        server.engine_dies()
        wait_for(lambda: "the Pulumi engine that ran this provider is gone" in server.stderr_text())

    return dies


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def wait_for_token(emulator: Emulator) -> dict[str, Any]:
    wait_for(lambda: deployment_tokens(emulator))
    (token,) = deployment_tokens(emulator)
    return token


def deployment_tokens(emulator: Emulator) -> list[dict[str, Any]]:
    return [t for t in emulator.list_all_tokens(emulator.organization_id) if t["scope"] == "DEPLOYMENT"]


def test_a_create_whose_engine_dies_before_its_description_deletes_its_token_and_the_process_exits(
    emulator: Emulator, server: DynamicProviderProcess
) -> None:
    checked, failures = server.check(URN, {}, inputs(emulator))
    assert failures == []
    hold = emulator.inject_fault("POST", DESCRIBE, action="hold")

    creating = call_while_held(emulator, hold, lambda: server.create(URN, checked), engine_dies(server))
    with pytest.raises(ProviderError):  # no key is handed over (the answer may not even be sent)
        creating.result()

    assert deployment_tokens(emulator) == [], "nobody would ever receive that token's secret"
    assert server.wait_for_exit(3 * TIMEOUT) is not None, "the provider outlived its engine"
    assert "the Pulumi engine that ran this provider is gone" in server.stderr_text()
    writes = [(r["method"], r["status"]) for r in emulator.requests() if r["method"] in ("POST", "DELETE")]
    assert writes == [("POST", 200), ("POST", 200), ("DELETE", 204)], "created, described (held), then deleted"


def test_a_create_whose_engine_dies_while_its_token_is_answered_gives_it_no_description_and_deletes_it(
    emulator: Emulator, server: DynamicProviderProcess
) -> None:
    checked, _ = server.check(URN, {}, inputs(emulator))
    hold = emulator.inject_fault("POST", r"/tokens$", action="commit-then-hold")

    creating = call_while_held(emulator, hold, lambda: server.create(URN, checked), engine_dies(server))
    with pytest.raises(ProviderError):
        creating.result()

    assert deployment_tokens(emulator) == []
    writes = [(r["method"], r["status"]) for r in emulator.requests() if r["method"] in ("POST", "DELETE")]
    assert writes == [("POST", 200), ("DELETE", 204)], "no description, no second attempt: the token is deleted"
    assert [r["method"] for r in emulator.requests() if r["path"].endswith("/tokens")].count("POST") == 1
    assert server.wait_for_exit(3 * TIMEOUT) is not None


def test_a_create_lost_after_its_engine_died_is_not_tried_again_and_a_late_commit_keeps_its_marker(
    emulator: Emulator, server: DynamicProviderProcess
) -> None:
    checked, _ = server.check(URN, {}, inputs(emulator))
    hold = emulator.inject_fault("POST", r"/tokens$", action="hold")

    def engine_dies_and_the_provider_gives_up() -> None:
        server.engine_dies()
        # The request times out; with its engine gone the provider makes no second attempt, and
        # its clean-up finds nothing yet: the server has not committed the held create.
        assert server.wait_for_exit(3 * TIMEOUT) is not None, "the provider outlived its engine"

    creating = call_while_held(
        emulator, hold, lambda: server.create(URN, checked), engine_dies_and_the_provider_gives_up, release=False
    )
    with pytest.raises(ProviderError):
        creating.result()
    assert emulator.hold_state(hold)["arrived"] == 1, "no second attempt for an engine that is gone"
    assert deployment_tokens(emulator) == []

    emulator.release(hold)  # the server commits after everyone has gone
    late = wait_for_token(emulator)
    marker = CreateMarker.parse(late["description"])
    assert marker is not None and marker.owner == KeyOwner("shop", "staging", "ci"), "the audit's proof"


def test_an_idle_provider_exits_as_soon_as_its_engine_is_gone(
    emulator: Emulator, server: DynamicProviderProcess
) -> None:
    server.check(URN, {}, inputs(emulator))  # the engine's first call loads the provider

    server.engine_dies()

    assert server.wait_for_exit(3 * TIMEOUT) == 0


def test_the_watch_waits_for_the_calls_in_flight_and_no_longer_than_its_grace() -> None:
    engine = EngineWatch()
    read_end, write_end = os.pipe()
    exited = threading.Event()
    with engine.call():
        engine.watch(os.fdopen(read_end, "rb", buffering=0), grace=lambda: 60.0, exit_process=lambda _: exited.set())
        os.close(write_end)
        while not engine.gone():
            time.sleep(0.01)
        assert not exited.wait(0.2), "a call in flight keeps the process"
    assert exited.wait(10)

    stuck_engine = EngineWatch()
    read_end, write_end = os.pipe()
    stuck = threading.Event()
    with stuck_engine.call():
        stuck_engine.watch(os.fdopen(read_end, "rb", buffering=0), grace=lambda: 0.2, exit_process=lambda _: stuck.set())
        os.close(write_end)
        assert stuck.wait(10), "a call that never ends does not keep the process past the grace"
