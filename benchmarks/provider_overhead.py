"""Figure 1: what the provider adds to the HTTP requests a key operation needs.

Each iteration creates, reads and deletes one key twice: through the real dynamic
provider server (``python -m pulumi.dynamic`` over gRPC, as the engine drives it) and
as the bare requests that operation makes, sent with httpx to the same emulator
(its rate limits off): create = GET Deployment + POST token, read = GET token,
delete = DELETE token. The two alternate which goes first. The figure per operation
is the median of the per-iteration ratios.

The loop keeps under the documented limits (DELETE 5/s, the tightest), so the
client's pacing never has to wait here: pacing is what figure 2 measures.

It runs twice: at loopback speed (the emulator answers in about a millisecond, so the
fixed cost of a gRPC call into the provider process weighs heavily), and with the
emulator holding every Astro request for the round trip of a real network
(``NETWORK_LATENCY``), which both sides pay alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lifecycle.provider_client import emulator_provider_process
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_astrokeys.provider import DeploymentApiKeyProvider

from ._common import Figure, emulator_process, median, note, quick, report

TARGET = 1.3
URN = "urn:pulumi:bench::astrokeys-bench::pulumi-python:dynamic/astrokeys:DeploymentApiKey::key"
# One iteration sends one DELETE through the provider: 4/s stays under the paced 4.75/s.
ITERATION_SECONDS = 0.25
WARM_UP = 5
# A modest round trip to a cloud API from a CI runner; the real API is often slower.
NETWORK_LATENCY = 0.02


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def run() -> list[Figure]:
    figures = _run(latency=0.0, label="provider_overhead")
    figures += _run(latency=NETWORK_LATENCY, label=f"provider_overhead_at_{NETWORK_LATENCY * 1000:.0f}ms_rtt")
    return figures


def _run(*, latency: float, label: str) -> list[Figure]:
    iterations = 20 if quick() else (150 if latency == 0 else 60)
    blob = serialize_provider(DeploymentApiKeyProvider())
    times: dict[str, dict[str, list[float]]] = {
        op: {"provider": [], "bare": []} for op in ("create", "read", "delete")
    }
    checks: list[float] = []
    with emulator_process(rate_limits=False) as emulator:
        deployment = emulator.deployment_ids[0]
        if latency:
            emulator.inject_fault("*", r"^/v1/", action="delay", delay_seconds=latency, count=10**9)
        provider = emulator_provider_process(emulator, "astrokeys-bench", "bench")
        bare = emulator.client()
        try:

            def through_provider(index: int) -> dict[str, float]:
                check, (checked, failures) = _timed(
                    lambda: provider.check(URN, {}, {"deployment_id": deployment, "name": f"p-{index}", "__provider": blob})
                )
                assert not failures, failures
                create, (key_id, outs) = _timed(lambda: provider.create(URN, checked))
                read, (read_id, _, _) = _timed(lambda: provider.read(URN, key_id, outs, checked))
                assert read_id == key_id
                delete, _ = _timed(lambda: provider.delete(URN, key_id, outs, checked))
                return {"create": create, "read": read, "delete": delete, "check": check}

            def bare_requests(index: int) -> dict[str, float]:
                def create_requests() -> str:
                    bare.get(f"/deployments/{deployment}").raise_for_status().json()
                    response = bare.post(
                        "/tokens",
                        json={"name": f"b-{index}", "scope": "DEPLOYMENT", "entityId": deployment, "role": "DEPLOYMENT_ADMIN"},
                    )
                    return str(response.raise_for_status().json()["id"])

                create, key_id = _timed(create_requests)
                read, _ = _timed(lambda: bare.get(f"/tokens/{key_id}").raise_for_status().json())
                delete, _ = _timed(lambda: bare.delete(f"/tokens/{key_id}").raise_for_status())
                return {"create": create, "read": read, "delete": delete}

            for index in range(WARM_UP + iterations):
                started = time.monotonic()
                order = (through_provider, bare_requests) if index % 2 == 0 else (bare_requests, through_provider)
                results = {fn.__name__: fn(index) for fn in order}
                if index >= WARM_UP:
                    for op in times:
                        times[op]["provider"].append(results["through_provider"][op])
                        times[op]["bare"].append(results["bare_requests"][op])
                    checks.append(results["through_provider"]["check"])
                time.sleep(max(0.0, ITERATION_SECONDS - (time.monotonic() - started)))
        finally:
            bare.close()
            provider.close()
        emulator.clear_faults()
        leftover = [t for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"]
        assert leftover == [], f"{len(leftover)} keys were left behind"

    figures: list[Figure] = []
    for op, samples in times.items():
        ratios = [p / b for p, b in zip(samples["provider"], samples["bare"], strict=True)]
        figures.append(report(Figure(f"{label}.{op}", median(ratios), TARGET, unit="x")))
        note(
            f"{op}: provider {median(samples['provider']) * 1000:.1f} ms, bare HTTP "
            f"{median(samples['bare']) * 1000:.1f} ms (medians of {iterations})"
        )
    note(
        f"a Check, which calls no API, takes {median(checks) * 1000:.1f} ms through the provider server: "
        "the gRPC round trip and SDK (de)serialization every provider call pays"
    )
    return figures
