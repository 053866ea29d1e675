"""Client-side pacing under the API's per-token rate limits: on a fake clock, and against the emulator's limits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._ratelimit import DOCUMENTED_LIMITS, RateLimiter
from pulumi_astrokeys._settings import AstroSettings, resolve_settings
from pulumi_astrokeys.emulator.ratelimit import RateLimiter as ServerRateLimiter
from pulumi_astrokeys.emulator.ratelimit import RateLimits
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def send_times(
    limiter: RateLimiter, clock: FakeClock, count: int, token: str = "tok", method: str = "POST"
) -> list[float]:
    """When each of ``count`` back-to-back requests leaves, on one thread."""
    sent = []
    for _ in range(count):
        limiter.wait(token, method)
        sent.append(clock.now)
    return sent


def leading_burst(sent: list[float]) -> int:
    """How many requests left at once, before any had to wait."""
    return sum(1 for at in sent if at - sent[0] < 1e-9)


# -- the limiter on a fake clock --------------------------------------------------------------


def test_the_limiter_lets_a_burst_through_then_paces_at_a_steady_interval_under_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"POST": 10}, clock=clock, sleep=clock.sleep)

    sent = send_times(limiter, clock, 30)

    burst = leading_burst(sent)
    assert 1 < burst <= 10  # a burst, no larger than one second's worth
    gaps = [later - earlier for earlier, later in zip(sent[burst - 1 :], sent[burst:])]
    assert all(gap == pytest.approx(gaps[0]) for gap in gaps)
    assert gaps[0] >= 1 / 10


def test_after_idle_time_the_burst_comes_back_but_no_more_than_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"POST": 10}, clock=clock, sleep=clock.sleep)
    first = send_times(limiter, clock, 30)
    burst = leading_burst(first)

    clock.now += 60.0
    again = send_times(limiter, clock, burst + 1)

    assert leading_burst(again) == burst


def test_each_token_and_each_method_has_its_own_budget_and_unlisted_methods_are_not_paced() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"POST": 10, "DELETE": 5}, clock=clock, sleep=clock.sleep)
    sent = send_times(limiter, clock, 12, token="first")
    assert sent[-1] > sent[0]  # "first" has used up its POST burst
    now = clock.now

    assert limiter.wait("second", "POST") == 0
    assert limiter.wait("first", "DELETE") == 0
    assert all(limiter.wait("first", "PATCH") == 0 for _ in range(100))
    assert clock.now == now


arrivals = st.lists(st.floats(min_value=0, max_value=0.3, allow_nan=False), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(gaps=arrivals, method=st.sampled_from(sorted(DOCUMENTED_LIMITS)))
def test_no_request_the_limiter_lets_out_is_refused_by_the_servers_limits(gaps: list[float], method: str) -> None:
    # Callers on many threads: each asks the limiter when it arrives and sends once its wait is over.
    clock = FakeClock()
    limiter = RateLimiter(DOCUMENTED_LIMITS, clock=clock, sleep=lambda seconds: None)
    sends = []
    for gap in gaps:
        clock.now += gap
        sends.append(clock.now + limiter.wait("tok", method))

    server_now = 0.0
    server = ServerRateLimiter(RateLimits(), monotonic=lambda: server_now)
    refused = []
    for server_now in sorted(sends):
        if server.acquire("tok", method) is not None:
            refused.append(server_now)
    assert refused == []


# -- a burst against the emulator's own limits ---------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Emulator]:
    """The emulator with the documented rate limits on: POST 10/s, DELETE 5/s, GET 25/s."""
    with run_emulator(tmp_path / "emulator.db", rate_limits=True) as running:
        yield running


@pytest.fixture
def limited_settings(limited: Emulator) -> AstroSettings:
    return resolve_settings(
        host=limited.host, api_token=limited.api_token, organization_id=limited.organization_id, environ={}
    )


def burst(calls: list[Callable[[], object]]) -> float:
    """Run the calls on 4 threads; return the seconds they took."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()
    return time.monotonic() - started


def minimum_seconds(count: int, per_second: float) -> float:
    """The least time ``count`` requests take under a bucket of ``per_second`` capacity refilled at that rate."""
    return max(0.0, (count - per_second) / per_second)


@pytest.mark.parametrize("client_per_call", [False, True], ids=["one client", "a client per call"])
def test_a_burst_of_creates_from_four_threads_meets_no_429(
    limited: Emulator, limited_settings: AstroSettings, client_per_call: bool
) -> None:
    shared = AstroClient(limited_settings, retry=FAST)

    def create(i: int) -> Callable[[], object]:
        client = AstroClient(limited_settings, retry=FAST) if client_per_call else shared
        return lambda: client.create_deployment_token(limited.deployment_ids[0], name=f"key {i}")

    took = burst([create(i) for i in range(25)])

    statuses = [r["status"] for r in limited.requests() if r["method"] == "POST"]
    assert statuses == [200] * 25
    assert took >= minimum_seconds(25, 10)


def test_a_burst_of_deletes_from_four_threads_meets_no_429(limited: Emulator, limited_settings: AstroSettings) -> None:
    client = AstroClient(limited_settings, retry=FAST)
    ids = [client.create_deployment_token(limited.deployment_ids[0], name=f"key {i}").id for i in range(12)]

    took = burst([partial(client.delete_token, token_id) for token_id in ids])

    assert [r["status"] for r in limited.requests() if r["method"] == "DELETE"] == [204] * 12
    assert took >= minimum_seconds(12, 5)


def test_a_burst_of_reads_from_four_threads_meets_no_429(limited: Emulator, limited_settings: AstroSettings) -> None:
    client = AstroClient(limited_settings, retry=FAST)

    took = burst([lambda: client.get_deployment(limited.deployment_ids[0]) for _ in range(40)])

    assert [r["status"] for r in limited.requests() if r["method"] == "GET"] == [200] * 40
    assert took >= minimum_seconds(40, 25)
