"""``python -m benchmarks._up_child WORK_DIR BOOTSTRAP DEPLOYMENT COUNT PREFIX``: one stack's ``up``, on cue.

Two stacks' ``up`` at the same time need two processes: an inline program runs in its
caller's process, and the Pulumi SDK keeps the running program's settings in globals.
The child sets its stack up, prints ``ready``, waits for a line on stdin, runs the
``up`` and prints what it did as one JSON line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pulumi_astrokeys.emulator import Bootstrap
from pulumi_astrokeys.testing.emulator import Emulator

from ._stacks import bench_stack, keys_program, timed


def main(argv: list[str]) -> int:
    work_dir, bootstrap, deployment_id, count, prefix = argv
    emulator = Emulator(Bootstrap.from_json(json.loads(Path(bootstrap).read_text(encoding="utf-8"))))
    try:
        stack = bench_stack(keys_program(deployment_id, int(count), prefix), Path(work_dir), emulator)
        print("ready", flush=True)
        sys.stdin.readline()
        print(timed(stack.up).to_json(), flush=True)
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
