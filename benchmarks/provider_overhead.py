"""One provider call (create, read, delete) over its floor: a no-op provider's call plus the bare requests.

Every dynamic-provider call pays the SDK's gRPC round trip into ``python -m
pulumi.dynamic`` and its (de)serialization of the properties, whatever the provider
does; and a key operation needs its HTTP requests, whatever the client. So the floor
of one call is the same call to a no-op provider (:class:`benchmarks.noop.NoopKeyProvider`,
in its own ``python -m pulumi.dynamic`` process, configured alike and sent the same
properties) plus the bare requests the operation needs, sent with httpx to the same
emulator (rate limits off):

- create: ``GET`` the Deployment, ``POST /tokens`` (with the attempt's marker as
  description), ``POST /tokens/{id}`` (the user's description);
- read: ``GET /tokens/{id}``;
- delete: ``DELETE /tokens/{id}``.

Each iteration runs the three ways in a rotating order; the figure per operation is the
median of the per-iteration ratios. The loop keeps under the documented limits (DELETE
5/s, the tightest), so the client's pacing never has to wait here: pacing is what the
``up`` figures measure.

The packaged provider plugin (``pulumi-resource-astrokeys``) is timed beside them, the same
calls with the same properties in its camelCase names, against its own floor: the same calls
to a no-op plugin on the same SDK interface (:mod:`benchmarks.noop_plugin`,
``pulumi.provider.experimental`` on the packaged provider's own server, configured alike) plus the same
bare requests. The SDK's provider server costs a call something else than the dynamic
provider's, so each front door is measured against a no-op on its own path. Beside them, a
note times the same no-op plugin sending the bare requests itself (``--bare-http``): the two
parts of the floor in one process, which costs more than their sum whatever a provider does.

It runs twice: at loopback speed (the emulator answers in about a millisecond) and
with the emulator holding every Astro request for the round trip of a real network
(``NETWORK_LATENCY``), which the provider and the bare requests pay alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from grpc_provider import DynamicProviderProcess, emulator_provider_process
from grpc_provider.client import emulator_plugin_process
from grpc_provider.flavours import PLUGIN
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_astrokeys.provider import DeploymentApiKeyProvider

from ._common import Figure, emulator_process, median, note, quick, report
from .noop import NoopKeyProvider

TARGET_AT_LOOPBACK = 1.3
TARGET_AT_RTT = 1.1
URN = "urn:pulumi:bench::astrokeys-bench::pulumi-python:dynamic/astrokeys:DeploymentApiKey::key"
PLUGIN_URN = "urn:pulumi:bench::astrokeys-bench::astrokeys:index:DeploymentApiKey::key"
# One iteration sends two DELETEs through the providers: 2/s each stays under the paced 4.75/s.
ITERATION_SECONDS = 0.5
WARM_UP = 5
# A modest round trip to a cloud API from a CI runner; the real API is often slower.
NETWORK_LATENCY = 0.02
OPS = ("create", "read", "delete")


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def noop_plugin_process(emulator: Any, *, bare_http: bool = False) -> DynamicProviderProcess:
    """The no-op plugin (:mod:`benchmarks.noop_plugin`), started and configured as the packaged one is.
    ``bare_http``: its calls send the bare requests themselves."""
    command = [sys.executable, "-m", "benchmarks.noop_plugin", "127.0.0.1:1"] + (["--bare-http"] if bare_http else [])
    return emulator_plugin_process(emulator, command=command)


def run() -> list[Figure]:
    figures = _run(latency=0.0, label="provider_call_over_noop_call_plus_bare_http", target=TARGET_AT_LOOPBACK)
    figures += _run(
        latency=NETWORK_LATENCY,
        label=f"provider_call_over_noop_call_plus_bare_http_at_{NETWORK_LATENCY * 1000:.0f}ms_rtt",
        target=TARGET_AT_RTT,
    )
    return figures


def _run(*, latency: float, label: str, target: float) -> list[Figure]:
    iterations = 8 if quick() else (150 if latency == 0 else 60)
    warm_up = 2 if quick() else WARM_UP
    blobs = {"provider": serialize_provider(DeploymentApiKeyProvider()), "noop": serialize_provider(NoopKeyProvider())}
    times: dict[str, dict[str, list[float]]] = {
        way: {op: [] for op in OPS} for way in ("provider", "packaged", "noop", "noop_plugin", "bare_plugin", "bare")
    }
    with emulator_process(rate_limits=False) as emulator:
        deployment = emulator.deployment_ids[0]
        if latency:
            emulator.inject_fault("*", r"^/v1/", action="delay", delay_seconds=latency, count=10**9)
        processes = {way: emulator_provider_process(emulator, "astrokeys-bench", "bench") for way in blobs}
        packaged = PLUGIN.start(emulator)
        noop_plugin = noop_plugin_process(emulator)
        bare_plugin = noop_plugin_process(emulator, bare_http=True)
        bare = emulator.client()
        try:

            def calls(process: Any, urn: str, news: dict[str, Any]) -> dict[str, float]:
                checked, failures = process.check(urn, {}, news)
                assert not failures, failures
                create, (key_id, outs) = _timed(lambda: process.create(urn, checked))
                read, (read_id, _, _) = _timed(lambda: process.read(urn, key_id, outs, checked))
                assert read_id == key_id
                delete, _ = _timed(lambda: process.delete(urn, key_id, outs, checked))
                return {"create": create, "read": read, "delete": delete}

            def through(way: str, index: int) -> dict[str, float]:
                news = {"deployment_id": deployment, "name": f"{way}-{index}", "__provider": blobs[way]}
                return calls(processes[way], URN, news)

            def through_a_plugin(way: str, process: Any, index: int) -> dict[str, float]:
                news = PLUGIN.props({"deployment_id": deployment, "name": f"{way}-{index}"})
                return calls(process, PLUGIN_URN, news)

            def bare_requests(index: int) -> dict[str, float]:
                def create_requests() -> str:
                    bare.get(f"/deployments/{deployment}").raise_for_status().json()
                    body = {
                        "name": f"b-{index}",
                        "description": f"marker {index}",
                        "scope": "DEPLOYMENT",
                        "entityId": deployment,
                        "role": "DEPLOYMENT_ADMIN",
                    }
                    key_id = str(bare.post("/tokens", json=body).raise_for_status().json()["id"])
                    bare.post(f"/tokens/{key_id}", json={"name": f"b-{index}", "description": ""}).raise_for_status()
                    return key_id

                create, key_id = _timed(create_requests)
                read, _ = _timed(lambda: bare.get(f"/tokens/{key_id}").raise_for_status().json())
                delete, _ = _timed(lambda: bare.delete(f"/tokens/{key_id}").raise_for_status())
                return {"create": create, "read": read, "delete": delete}

            ways: dict[str, Callable[[int], dict[str, float]]] = {
                "provider": lambda i: through("provider", i),
                "packaged": lambda i: through_a_plugin("packaged", packaged, i),
                "noop": lambda i: through("noop", i),
                "noop_plugin": lambda i: through_a_plugin("noop_plugin", noop_plugin, i),
                "bare_plugin": lambda i: through_a_plugin("bare_plugin", bare_plugin, i),
                "bare": bare_requests,
            }
            names = list(ways)
            for index in range(warm_up + iterations):
                started = time.monotonic()
                order = names[index % len(names) :] + names[: index % len(names)]
                results = {way: ways[way](index) for way in order}
                if index >= warm_up:
                    for way, result in results.items():
                        for op in OPS:
                            times[way][op].append(result[op])
                time.sleep(max(0.0, ITERATION_SECONDS - (time.monotonic() - started)))
        finally:
            bare.close()
            for process in [*processes.values(), packaged, noop_plugin, bare_plugin]:
                process.close()
        emulator.clear_faults()
        leftover = [t for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"]
        assert leftover == [], f"{len(leftover)} keys were left behind"

    figures: list[Figure] = []
    for op in OPS:
        provider, packaged, noop, noop_plugin, bare_plugin, bare_ = (
            times[way][op] for way in ("provider", "packaged", "noop", "noop_plugin", "bare_plugin", "bare")
        )
        ratios = [p / (n + b) for p, n, b in zip(provider, noop, bare_, strict=True)]
        figures.append(report(Figure(f"{label}.{op}", median(ratios), target, unit="x")))
        packaged_ratios = [p / (n + b) for p, n, b in zip(packaged, noop_plugin, bare_, strict=True)]
        figures.append(report(Figure(f"packaged_{label}.{op}", median(packaged_ratios), target, unit="x")))
        note(
            f"{op}: dynamic provider {median(provider) * 1000:.1f} ms, packaged {median(packaged) * 1000:.1f} ms "
            f"({median([k / d for k, d in zip(packaged, provider, strict=True)]):.2f}x the dynamic); floors: no-op "
            f"dynamic provider {median(noop) * 1000:.1f} ms, no-op plugin {median(noop_plugin) * 1000:.1f} ms; "
            f"bare HTTP {median(bare_) * 1000:.1f} ms (medians of {iterations})"
        )
        in_one = [p / (n + b) for p, n, b in zip(bare_plugin, noop_plugin, bare_, strict=True)]
        note(
            f"{op}: the no-op plugin sending the bare requests itself {median(bare_plugin) * 1000:.1f} ms, "
            f"{median(in_one):.2f}x the packaged provider's floor"
        )
    return figures
