"""Set this machine's clock off, as the providers read it, in every Python process the CLI starts.

A real-CLI test puts this folder on ``PYTHONPATH`` and the shift in seconds in
``MACHINE_CLOCK_SHIFT_SECONDS``: wherever ``pulumi_astrokeys._clock`` is imported (the
dynamic provider's process), its ``now`` then reads a clock that far from the real one,
as on a machine whose clock is wrong. Astro's clock (the emulator's, in the test's own
process) is untouched. Only that module is changed: gRPC's core hangs when the whole
process's clock is moved.
"""

import importlib.abc
import importlib.machinery
import os
import sys
from datetime import datetime, timedelta, timezone

_CLOCK_MODULE = "pulumi_astrokeys._clock"
_shift = timedelta(seconds=float(os.environ.get("MACHINE_CLOCK_SHIFT_SECONDS") or 0))


def _shifted_now() -> datetime:
    return datetime.now(timezone.utc) + _shift


class _ShiftTheClockOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name != _CLOCK_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            loader = spec.loader
            original_exec = loader.exec_module

            def exec_module(module):  # type: ignore[no-untyped-def]
                original_exec(module)
                module.now = _shifted_now

            loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _shift:
    sys.meta_path.insert(0, _ShiftTheClockOnImport())
