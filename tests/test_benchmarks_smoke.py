"""The benchmarks still run: quick mode of the preview and per-call figures, and the import check.

Only that the figures come out, and that a preview of unchanged keys made no API
request; never the timing targets (this machine is shared and noisy: ``make bench``
reports those). The ``up``/``destroy`` figures wait on the rate limits by design, so
they are left to ``make bench``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURE = re.compile(r"^(?P<name>[\w.]+): (?P<value>[-\d.]+|\S+?)[xs]? \(target: (?P<target>[^)]*)\) (?P<verdict>ok|MISS)$")


def run_benchmarks(only: str) -> dict[str, str]:
    """Run ``python -m benchmarks --only ONLY`` in quick mode; return each figure's value."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", only],
        cwd=REPO_ROOT,
        env={**os.environ, "BENCH_QUICK": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = {}
    for line in completed.stdout.splitlines():
        match = FIGURE.match(line)
        if match:
            figures[match["name"]] = match["value"]
    return figures


def test_quick_provider_call_reports_create_read_and_delete_of_both_providers_over_their_floor_at_both_latencies() -> None:
    figures = run_benchmarks("overhead")

    assert set(figures) == {
        f"{provider}{label}.{op}"
        for provider in ("", "packaged_")
        for label in (
            "provider_call_over_noop_provider_sending_bare_http",
            "provider_call_over_noop_provider_sending_bare_http_at_20ms_rtt",
        )
        for op in ("create", "read", "delete")
    }
    assert all(float(value) > 0 for value in figures.values())


def test_quick_preview_on_the_real_cli_makes_no_api_request_and_reports_its_floors() -> None:
    figures = run_benchmarks("preview")

    assert figures["preview_of_unchanged_keys.api_requests"] == "0"
    assert float(figures["preview_50_keys_over_50_noop_dynamic_resources"]) > 0
    assert float(figures["preview_cost_per_key_50_over_10_keys"]) > 0


def test_a_program_of_a_thousand_keys_registers_without_a_recursion_error() -> None:
    # The preview benchmark's 1,000 keys found it: pulumi.dynamic wrapped the pickler once
    # more for every dynamic resource, and about 960 of them overflowed Python's stack.
    program = textwrap.dedent(
        """
        import pulumi

        class Mocks(pulumi.runtime.Mocks):
            def new_resource(self, args):
                return [args.name + "-id", dict(args.inputs)]

            def call(self, args):
                return {}

        pulumi.runtime.set_mocks(Mocks(), preview=False)
        from pulumi_astrokeys import DeploymentApiKey

        for index in range(1100):
            DeploymentApiKey(f"key-{index}", deployment_id="clm8q7f6q000008lcgyougpsk")
        print("registered")
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "registered"
