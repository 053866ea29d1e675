"""Benchmarks of pulumi-astrokeys, run by ``make bench`` (``python -m benchmarks``).

Every figure is a ratio measured within one run, so it holds on a slow or busy
machine as well as on a fast one. ``BENCH_QUICK=1`` runs a smaller version of each.
"""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# The gRPC client for the SDK's dynamic-provider server lives with the tests; the
# repository itself goes on the path by name, so provider processes started with this
# path can unpickle the benchmarks' own providers (benchmarks.noop).
sys.path[:0] = [str(_ROOT / "tests"), str(_ROOT)]
