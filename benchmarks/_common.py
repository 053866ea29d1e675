"""What the benchmarks share: figures, medians, and the emulator in its own process."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pulumi_astrokeys.emulator import Bootstrap
from pulumi_astrokeys.testing.emulator import Emulator, start_emulator_process

REPO_ROOT = Path(__file__).resolve().parent.parent


def quick() -> bool:
    """``BENCH_QUICK=1``: fewer iterations and keys, for a smoke run."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


@dataclass(frozen=True)
class Figure:
    """One measured figure and its target; ``at_most`` says which side of the target passes."""

    name: str
    value: float
    target: float
    at_most: bool = True
    unit: str = ""

    @property
    def ok(self) -> bool:
        return self.value <= self.target if self.at_most else self.value >= self.target

    def line(self) -> str:
        def show(number: float) -> str:
            text = f"{number:.2f}" if isinstance(number, float) else str(number)
            return text + self.unit

        bound = "" if self.at_most else ">= "
        return f"{self.name}: {show(self.value)} (target: {bound}{show(self.target)}) {'ok' if self.ok else 'MISS'}"


def report(figure: Figure) -> Figure:
    print(figure.line(), flush=True)
    return figure


def note(text: str) -> None:
    """A detail behind a figure, indented under it."""
    print(f"    {text}", flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@contextmanager
def emulator_process(*, rate_limits: bool) -> Iterator[Emulator]:
    """The emulator served by its own process (so it never competes with the measuring one for the GIL)."""
    with tempfile.TemporaryDirectory(prefix="astrokeys-bench-") as tmp:
        args = ["--log-level", "warning"] + ([] if rate_limits else ["--no-rate-limits"])
        process, data = start_emulator_process(Path(tmp) / "emulator.db", Path(tmp) / "bootstrap.json", args)
        emulator = Emulator(Bootstrap.from_json(data))
        try:
            yield emulator
        finally:
            emulator.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - a stuck emulator is killed
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def python() -> str:
    return sys.executable
