"""Figure 4: what importing the package costs, next to ``import pulumi.dynamic`` alone.

Every Pulumi operation starts the program (``import pulumi_astrokeys``) and a
provider process (``python -m pulumi.dynamic``, which imports
``pulumi_astrokeys.provider`` when it unpickles the provider). Each sample is a
fresh interpreter timing one import (or import and unpickle) from the inside; the
three kinds take turns, and the figures are medians over many samples. The
emulator's dependencies (starlette, uvicorn) must not be loaded on either path.
"""

from __future__ import annotations

import compileall
import json
import subprocess
import sys
from typing import Any

from pulumi.dynamic.dynamic import serialize_provider

from pulumi_astrokeys.provider import DeploymentApiKeyProvider

from ._common import REPO_ROOT, Figure, median, note, quick, report

TARGET = 1.15
EMULATOR_MODULES = ("starlette", "uvicorn", "pulumi_astrokeys.emulator")

_SAMPLE = """
import json, sys, time
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {roots!r} or m.startswith("pulumi_astrokeys.emulator"))
print(json.dumps({{"seconds": elapsed, "emulator_modules": loaded}}))
"""

KINDS = {
    "pulumi.dynamic": "import pulumi.dynamic",
    "pulumi_astrokeys": "import pulumi_astrokeys",
    "provider_process": (
        "import base64, dill\n"
        "import pulumi_astrokeys.provider\n"
        "provider = dill.loads(base64.b64decode({blob!r}))"
    ),
}


def _sample(kind: str, blob: str) -> dict[str, Any]:
    body = KINDS[kind].format(blob=blob)
    code = _SAMPLE.format(body=body, roots=("starlette", "uvicorn"))
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    sample: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return sample


def run() -> list[Figure]:
    repetitions = 5 if quick() else 30
    blob = serialize_provider(DeploymentApiKeyProvider())
    # The package's bytecode, as pip compiles it when it installs the package; an editable install
    # has none until an import writes it, and none at all where PYTHONDONTWRITEBYTECODE is set.
    compileall.compile_dir(REPO_ROOT / "pulumi_astrokeys", quiet=1)
    for kind in KINDS:  # warm the file system cache
        _sample(kind, blob)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    loaded: set[str] = set()
    for _ in range(repetitions):
        for kind in KINDS:
            sample = _sample(kind, blob)
            times[kind].append(float(sample["seconds"]))
            loaded.update(sample["emulator_modules"])
    baseline = median(times["pulumi.dynamic"])
    figures = [
        report(Figure("startup.import_pulumi_astrokeys", median(times["pulumi_astrokeys"]) / baseline, TARGET, unit="x")),
        report(Figure("startup.provider_process", median(times["provider_process"]) / baseline, TARGET, unit="x")),
        report(Figure("startup.emulator_modules_imported", len(loaded), 0)),
    ]
    note(
        ", ".join(f"{kind} {median(samples) * 1000:.0f} ms" for kind, samples in times.items())
        + f" (medians of {repetitions} fresh interpreters)"
    )
    if loaded:
        note("emulator modules imported: " + ", ".join(sorted(loaded)))
    return figures
