"""Benchmarks of pulumi-astrokeys, run by ``make bench`` (``python -m benchmarks``).

Every figure is a ratio measured within one run, so it holds on a slow or busy
machine as well as on a fast one. ``BENCH_QUICK=1`` runs a smaller version of each.
"""

import sys
from pathlib import Path

# The gRPC client for the SDK's dynamic-provider server lives with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
