"""Two stacks sharing one API token: ``pulumi up`` of 100 keys each, at the same time.

The Astro API limits requests per API token, and each stack's provider is a process of
its own whose client paces only its own requests. So two stacks run with one token
(two CI jobs, two developers) send up to twice the allowed rate between them and the
API answers the excess with 429, which each client retries after the ``Retry-After``
the API gives. Both ``up`` run in processes of their own (:mod:`benchmarks._up_child`),
set up first and started on the same cue. The floor is that of the 200 keys they make
together: 400 POSTs at 10/s, 40 s. No step may fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import REPO_ROOT, Figure, emulator_process, note, quick, report

TARGET = 1.25
POST_PER_SECOND = 10
POSTS_PER_KEY = 2


def run() -> list[Figure]:
    each = 25 if quick() else 100
    with emulator_process(rate_limits=True) as emulator, tempfile.TemporaryDirectory(prefix="astrokeys-bench-") as tmp:
        bootstrap = Path(tmp) / "bootstrap.json"
        bootstrap.write_text(
            json.dumps(
                {
                    "host": emulator.host,
                    "organizationId": emulator.organization_id,
                    "workspaceId": emulator.workspace_id,
                    "deploymentIds": emulator.deployment_ids,
                    "apiToken": emulator.api_token,
                }
            ),
            encoding="utf-8",
        )
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks._up_child", str(Path(tmp) / name), str(bootstrap), deployment, str(each), name],
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name, deployment in zip(("a", "b"), emulator.deployment_ids[:2])
        ]
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        emulator.clear_requests()
        started = time.monotonic()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outcomes = []
        for child in children:
            out, _ = child.communicate(timeout=1800)
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
        seconds = time.monotonic() - started
        log = emulator.requests()
        alive = sum(1 for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT")

    total = 2 * each
    floor = total * POSTS_PER_KEY / POST_PER_SECOND
    failed = sum(max(o["failed_steps"], len(o["errors"]), each + 1 - o["changes"].get("create", 0)) for o in outcomes)
    answered_429 = {m: sum(1 for e in log if e["method"] == m and e["status"] == 429) for m in ("GET", "POST", "DELETE")}
    figures = [
        report(Figure(f"two_stacks_one_token_up_{each}_keys_each_over_{floor:.0f}s_floor_of_{total * POSTS_PER_KEY}_posts", seconds / floor, TARGET, unit="x")),
        report(Figure("two_stacks_one_token.failed_steps", failed, 0)),
    ]
    note(
        f"both ups done in {seconds:.1f} s (each: " + ", ".join(f"{o['seconds']:.1f} s" for o in outcomes)
        + f"), {alive} keys alive after, floor {floor:.0f} s"
    )
    note("429s the emulator answered (the clients retried them), by method: " + ", ".join(f"{m} {n}" for m, n in answered_429.items()))
    for outcome in outcomes:
        for error in outcome["errors"][:3]:
            note(f"error: {error[-1500:]}")
    return figures
