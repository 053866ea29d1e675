"""The small pieces: ids, token buckets, the import boundary."""

from __future__ import annotations

import re

from asyncio_support import run_on_private_loop

from pulumi_astrokeys.emulator.ids import ID_PATTERN, is_id, new_id
from pulumi_astrokeys.emulator.middleware import drop_connection
from pulumi_astrokeys.emulator.ratelimit import RateLimiter, RateLimits


def test_ids_are_cuid_v1_shaped_and_unique() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"c[a-z0-9]{24}", i) for i in ids)
    assert all(ID_PATTERN.match(i) and is_id(i) for i in ids[:100])
    assert not is_id("clm8q7f6q000008lcgyougps") and not is_id("Clm8q7f6q000008lcgyougpsk")


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_of_its_rate_through_then_refills_at_that_rate() -> None:
    clock = FakeTime()
    limiter = RateLimiter(RateLimits(post_per_second=10, delete_per_second=5, get_per_second=25), clock)

    assert [limiter.acquire("a", "POST") for _ in range(10)] == [None] * 10
    assert limiter.acquire("a", "POST") == 1
    assert limiter.acquire("b", "POST") is None  # per token
    assert limiter.acquire("a", "GET") is None  # per method class
    clock.now += 0.1
    assert limiter.acquire("a", "POST") is None
    assert limiter.acquire("a", "POST") == 1


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    clock = FakeTime()
    limiter = RateLimiter(RateLimits(delete_per_second=0.25), clock)
    assert limiter.acquire("a", "DELETE") is None
    assert limiter.acquire("a", "DELETE") == 4
    clock.now += 3.9
    assert limiter.acquire("a", "DELETE") == 1


def test_disabled_limits_never_refuse() -> None:
    limiter = RateLimiter(RateLimits(post_per_second=1, enabled=False), FakeTime())
    assert all(limiter.acquire("a", "POST") is None for _ in range(100))


def test_a_drop_without_a_reachable_transport_cuts_the_answer_short() -> None:
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:  # a plain function: no transport behind it
        sent.append(message)

    run_on_private_loop(drop_connection(send))

    start, body = sent
    declared = dict(start["headers"])[b"content-length"]  # type: ignore[call-overload]
    assert int(declared) > len(body["body"])  # type: ignore[arg-type]
    assert body["more_body"] is True
