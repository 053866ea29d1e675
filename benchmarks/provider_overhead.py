"""One provider call (create, read, delete) over its floor: the cheapest provider that does the key's job.

Every dynamic-provider call pays the SDK's gRPC round trip into ``python -m
pulumi.dynamic`` and its (de)serialization of the properties, whatever the provider
does; and a key operation needs its HTTP requests, whatever the client. So the floor
of one call is the same call to a no-op provider that sends the operation's bare
requests itself (:class:`benchmarks.noop.BareHttpNoopKeyProvider`, in its own ``python -m
pulumi.dynamic`` process, configured alike, its state the key's size), with httpx and
nothing else (:mod:`benchmarks.bare_requests`):

- create: ``GET`` the Deployment, ``POST /tokens`` (with the attempt's marker as
  description), ``POST /tokens/{id}`` (the user's description);
- read: ``GET /tokens/{id}``;
- delete: ``DELETE /tokens/{id}``.

What a call costs beyond that is what the package adds to it. Each iteration runs every way
in a rotating order; the figure per operation is the median of the per-iteration ratios. The
loop keeps under the documented limits (DELETE 5/s, the tightest), so the client's pacing
never has to wait here: pacing is what the ``up`` figures measure.

The packaged provider plugin (``pulumi-resource-astrokeys``) is timed beside them, the same
calls with the same properties in its camelCase names, against its own floor: the no-op plugin
on the same SDK interface and server (:mod:`benchmarks.noop_plugin`, ``pulumi.provider.experimental``
on the packaged provider's own ``serve``, configured alike) sending the same bare requests
(``--bare-http``). The SDK's provider server costs a call something else than the dynamic
provider's, so each front door is measured against a no-op on its own path.

A note gives the floor's two parts measured apart: the no-op call that sends no request, and
the bare requests sent from this process. The no-op sending the requests itself costs more
than their sum, whatever it does with them: its call lasts as long as the requests, and its
process, idle in between, sends them; neither is the package's to save.

It runs twice: at loopback speed (the emulator answers in about a millisecond) and
with the emulator holding every Astro request for the round trip of a real network
(``NETWORK_LATENCY``), which the providers and the bare requests pay alike.
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
from .bare_requests import BareRequests
from .noop import BareHttpNoopKeyProvider, NoopKeyProvider

TARGET_AT_LOOPBACK = 1.3
TARGET_AT_RTT = 1.1
URN = "urn:pulumi:bench::astrokeys-bench::pulumi-python:dynamic/astrokeys:DeploymentApiKey::key"
PLUGIN_URN = "urn:pulumi:bench::astrokeys-bench::astrokeys:index:DeploymentApiKey::key"
# Each provider sends one DELETE an iteration: 2/s stays under its paced 4.75/s.
ITERATION_SECONDS = 0.5
WARM_UP = 5
# A modest round trip to a cloud API from a CI runner; the real API is often slower.
NETWORK_LATENCY = 0.02
OPS = ("create", "read", "delete")
# The providers, their floors (no-ops sending the bare requests), and the floors' parts apart.
WAYS = ("provider", "packaged", "bare_noop", "bare_plugin", "noop", "noop_plugin", "bare")


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
    figures = _run(latency=0.0, label="provider_call_over_noop_provider_sending_bare_http", target=TARGET_AT_LOOPBACK)
    figures += _run(
        latency=NETWORK_LATENCY,
        label=f"provider_call_over_noop_provider_sending_bare_http_at_{NETWORK_LATENCY * 1000:.0f}ms_rtt",
        target=TARGET_AT_RTT,
    )
    return figures


def _run(*, latency: float, label: str, target: float) -> list[Figure]:
    iterations = 8 if quick() else (150 if latency == 0 else 60)
    warm_up = 2 if quick() else WARM_UP
    blobs = {
        "provider": serialize_provider(DeploymentApiKeyProvider()),
        "bare_noop": serialize_provider(BareHttpNoopKeyProvider()),
        "noop": serialize_provider(NoopKeyProvider()),
    }
    times: dict[str, dict[str, list[float]]] = {way: {op: [] for op in OPS} for way in WAYS}
    with emulator_process(rate_limits=False) as emulator:
        deployment = emulator.deployment_ids[0]
        if latency:
            emulator.inject_fault("*", r"^/v1/", action="delay", delay_seconds=latency, count=10**9)
        processes = {way: emulator_provider_process(emulator, "astrokeys-bench", "bench") for way in blobs}
        plugins = {
            "packaged": PLUGIN.start(emulator),
            "bare_plugin": noop_plugin_process(emulator, bare_http=True),
            "noop_plugin": noop_plugin_process(emulator),
        }
        bare = BareRequests(emulator.client())
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

            def through_a_plugin(way: str, index: int) -> dict[str, float]:
                news = PLUGIN.props({"deployment_id": deployment, "name": f"{way}-{index}"})
                return calls(plugins[way], PLUGIN_URN, news)

            def bare_requests(index: int) -> dict[str, float]:
                create, key_id = _timed(lambda: bare.create(deployment, f"b-{index}", f"marker {index}"))
                read, _ = _timed(lambda: bare.read(key_id))
                delete, _ = _timed(lambda: bare.delete(key_id))
                return {"create": create, "read": read, "delete": delete}

            ways: dict[str, Callable[[int], dict[str, float]]] = {
                **{way: (lambda i, way=way: through(way, i)) for way in processes},
                **{way: (lambda i, way=way: through_a_plugin(way, i)) for way in plugins},
                "bare": bare_requests,
            }
            names = list(WAYS)
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
            for process in [*processes.values(), *plugins.values()]:
                process.close()
        emulator.clear_faults()
        leftover = [t for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"]
        assert leftover == [], f"{len(leftover)} keys were left behind"

    def over(way: str, floor: str, op: str) -> float:
        return median([p / f for p, f in zip(times[way][op], times[floor][op], strict=True)])

    def over_parts(way: str, noop: str, op: str) -> float:
        parts = zip(times[way][op], times[noop][op], times["bare"][op], strict=True)
        return median([p / (n + b) for p, n, b in parts])

    def ms(way: str, op: str) -> str:
        return f"{median(times[way][op]) * 1000:.1f} ms"

    figures: list[Figure] = []
    for op in OPS:
        figures.append(report(Figure(f"{label}.{op}", over("provider", "bare_noop", op), target, unit="x")))
        figures.append(report(Figure(f"packaged_{label}.{op}", over("packaged", "bare_plugin", op), target, unit="x")))
        note(
            f"{op}: dynamic provider {ms('provider', op)}, packaged {ms('packaged', op)} "
            f"({over('packaged', 'provider', op):.2f}x the dynamic); floors: no-op dynamic provider sending the "
            f"bare requests {ms('bare_noop', op)}, no-op plugin sending them {ms('bare_plugin', op)} "
            f"(medians of {iterations})"
        )
        note(
            f"{op}: the floor's parts apart: no-op dynamic provider {ms('noop', op)}, no-op plugin "
            f"{ms('noop_plugin', op)}, bare requests from this process {ms('bare', op)}; over their sums: dynamic "
            f"provider {over_parts('provider', 'noop', op):.2f}x, packaged {over_parts('packaged', 'noop_plugin', op):.2f}x, "
            f"the no-op plugin sending the requests {over_parts('bare_plugin', 'noop_plugin', op):.2f}x"
        )
    return figures
