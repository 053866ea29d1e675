"""``pulumi up`` and ``pulumi destroy`` of 200 keys on the real CLI, against the documented rate limits.

The emulator enforces Astro's limits per API token (POST 10/s, DELETE 5/s, GET 25/s)
and the real Pulumi CLI runs the program with its default parallelism. The floor of
each operation is the time the limits allow for the requests it needs at the least:

- ``up``: every key costs two POSTs (``POST /tokens`` with a marker of the attempt as
  description, then ``POST /tokens/{id}`` with the user's; the marker makes a lost
  create's clean-up exact) and one GET: 200 keys need 400 POSTs, 40 s at 10/s;
- ``destroy``: one DELETE a key: 200 keys, 40 s at 5/s.

Every key must be created and deleted, no step may fail and no 429 may reach the user
(the 429s the emulator answered, which the client retried, are counted too).

Side by side in the same run:

- the marker's cost: an ``up`` of 200 :class:`benchmarks.noop.OnePostKey` (the same
  create with one POST, on the same client and pacing, against a fresh emulator),
  and the extra requests counted in the emulator's log;
- the provider process's peak memory (``VmHWM``) during the ``up``, over that of the
  no-op provider's that uses httpx and pydantic, during an ``up`` of 200
  :class:`benchmarks.noop.LibrariesNoopKey`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ._common import Figure, emulator_process, note, quick, report
from ._stacks import Outcome, ProviderMemory, bench_stack, keys_program, shaped_program, timed

TARGET = 1.15
TARGET_MEMORY = 1.1
POST_PER_SECOND = 10
DELETE_PER_SECOND = 5
POSTS_PER_KEY = 2
# The marker may cost no more than its one extra POST at the documented rate, with the
# same 15% the up is allowed over its floor.
TARGET_MARKER_SECONDS_PER_KEY = TARGET / POST_PER_SECOND
_UPDATE_PATH = re.compile(r"/tokens/[^/]+$")


def run() -> list[Figure]:
    count = 50 if quick() else 200
    with tempfile.TemporaryDirectory(prefix="astrokeys-bench-") as tmp:
        with emulator_process(rate_limits=True) as emulator:
            stack = bench_stack(keys_program(emulator.deployment_ids[0], count), Path(tmp) / "keys", emulator)
            emulator.clear_requests()
            with ProviderMemory() as memory:
                up = timed(stack.up)
            alive = sum(1 for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT")
            destroy = timed(stack.destroy)
            left = sum(1 for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT")
            log = emulator.requests()

        noop = bench_stack(shaped_program("LibrariesNoopKey", "noop-deployment", count), Path(tmp) / "noop")
        with ProviderMemory() as noop_memory:
            noop_up = timed(noop.up)

        with emulator_process(rate_limits=True) as fresh:
            one_post = bench_stack(shaped_program("OnePostKey", fresh.deployment_ids[0], count), Path(tmp) / "one-post", fresh)
            one_post_up = timed(one_post.up)

    up_floor = count * POSTS_PER_KEY / POST_PER_SECOND
    destroy_floor = count / DELETE_PER_SECOND
    # The change summaries count the stack resource too.
    created = max(0, up.changes.get("create", 0) - 1)
    deleted = max(0, destroy.changes.get("delete", 0) - 1)
    by_kind = {
        "POST /tokens": sum(1 for e in log if e["method"] == "POST" and e["path"].endswith("/tokens")),
        "POST /tokens/{id}": sum(1 for e in log if e["method"] == "POST" and _UPDATE_PATH.search(e["path"])),
        "GET": sum(1 for e in log if e["method"] == "GET"),
        "DELETE": sum(1 for e in log if e["method"] == "DELETE"),
    }
    answered_429 = {m: sum(1 for e in log if e["method"] == m and e["status"] == 429) for m in ("GET", "POST", "DELETE")}
    # Answered updates only: a 429 the client retried is pacing's cost, not the marker's.
    updates = sum(1 for e in log if e["method"] == "POST" and _UPDATE_PATH.search(e["path"]) and (e["status"] or 999) < 300)
    extra_posts = updates / max(created, 1)
    for outcome in (noop_up, one_post_up):
        if outcome.errors:
            raise RuntimeError(f"a floor's up failed: {outcome.errors[:3]}")
    marker_seconds = (up.seconds - one_post_up.seconds) / count
    memory_ratio = memory.peak_bytes / noop_memory.peak_bytes if noop_memory.peak_bytes else float("inf")

    figures = [
        report(Figure(f"up_{count}_keys_over_{up_floor:.0f}s_floor_of_{count * POSTS_PER_KEY}_posts", up.seconds / up_floor, TARGET, unit="x")),
        report(Figure(f"up_{count}_keys.failed_steps", _failed(up, count - created), 0)),
        report(Figure(f"up_{count}_keys.429s_surfaced", up.surfaced_429s, 0)),
        report(Figure(f"destroy_{count}_keys_over_{destroy_floor:.0f}s_floor_of_{count}_deletes", destroy.seconds / destroy_floor, TARGET, unit="x")),
        report(Figure(f"destroy_{count}_keys.failed_steps", _failed(destroy, count - deleted), 0)),
        report(Figure("create_marker.extra_posts_per_key", extra_posts, 1.0)),
        report(Figure("create_marker.up_seconds_per_key", marker_seconds, TARGET_MARKER_SECONDS_PER_KEY, unit="s")),
        report(Figure(f"provider_peak_memory_in_{count}_key_up_over_noop_provider_on_httpx_and_pydantic", memory_ratio, TARGET_MEMORY, unit="x")),
    ]
    note(f"up of {count} keys: {up.seconds:.1f} s (floor {up_floor:.0f} s), {created} created, {alive} alive after")
    note(f"destroy: {destroy.seconds:.1f} s (floor {destroy_floor:.0f} s), {deleted} deleted, {left} left after")
    note("requests of the up and destroy: " + ", ".join(f"{kind} {n}" for kind, n in by_kind.items()))
    note("429s the emulator answered (the client retried them), by method: " + ", ".join(f"{m} {n}" for m, n in answered_429.items()))
    note(
        f"the marker's cost: the up of {count} keys with one POST each took {one_post_up.seconds:.1f} s "
        f"(floor {count / POST_PER_SECOND:.0f} s), {up.seconds - one_post_up.seconds:.1f} s less"
    )
    note(
        f"provider process peak RSS: {memory.peak_bytes / 2**20:.1f} MiB; the no-op provider's on httpx and pydantic during an up of "
        f"{count} no-op resources ({noop_up.seconds:.1f} s): {noop_memory.peak_bytes / 2**20:.1f} MiB"
    )
    for error in (up.errors + destroy.errors)[:5]:
        note(f"error: {error[:300]}")
    return figures


def _failed(outcome: Outcome, missing: int) -> int:
    return max(outcome.failed_steps, len(outcome.errors), missing)
