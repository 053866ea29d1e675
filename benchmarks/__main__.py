"""``python -m benchmarks [--only NAME,...]``: run the benchmarks, one line per figure.

Names: floor (``up``/``destroy`` of 200 keys, the create marker's cost, the provider's
memory), packaged (the same ``up`` and ``destroy`` from a YAML program, through the packaged
provider plugin), shared (two stacks sharing one API token), preview (unchanged keys), overhead
(one provider call), startup (imports). All run on the real
Pulumi CLI (``make pulumi``) but overhead and startup, which drive the provider process
directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ._common import Figure, quick


def _registry() -> dict[str, Callable[[], list[Figure]]]:
    from . import packaged_up, preview_cost, provider_overhead, rate_limit_floor, shared_token, startup

    return {
        "floor": rate_limit_floor.run,
        "packaged": packaged_up.run,
        "shared": shared_token.run,
        "preview": preview_cost.run,
        "overhead": provider_overhead.run,
        "startup": startup.run,
    }


DEFAULT = ("floor", "packaged", "shared", "preview", "overhead", "startup")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(DEFAULT), help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    registry = _registry()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in registry]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(registry)}")
    print(f"# pulumi-astrokeys benchmarks{' (quick)' if quick() else ''}: {', '.join(names)}", flush=True)
    figures = [figure for name in names for figure in registry[name]()]
    missed = [figure.name for figure in figures if not figure.ok]
    print(f"# {len(figures) - len(missed)} of {len(figures)} figures on target" + (f"; MISS: {', '.join(missed)}" if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
