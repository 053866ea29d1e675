"""Benchmarks of pulumi-astrokeys, run by ``make bench`` (``python -m benchmarks``).

Every figure is a ratio measured within one run, so it holds on a slow or busy
machine as well as on a fast one. ``BENCH_QUICK=1`` runs a smaller version of each.
"""
