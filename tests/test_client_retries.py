"""What the client retries, how long it waits, and what it never repeats, against injected faults."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import pulumi_astrokeys._client as client_module
from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._errors import (
    AmbiguousCreateError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from pulumi_astrokeys._settings import AstroSettings, resolve_settings
from pulumi_astrokeys.testing.deployment import delete_deployment
from pulumi_astrokeys.testing.emulator import Emulator

FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
CREATE = r"/tokens$"
ONE_TOKEN = r"/tokens/c[a-z0-9]{24}$"


@pytest.fixture
def client(settings: AstroSettings) -> AstroClient:
    return AstroClient(settings, retry=FAST, rate_limits=None)


def logged(emulator: Emulator, method: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] == method]


def token_ids(emulator: Emulator) -> set[str]:
    return {t["id"] for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"}


def call_for(method: str, client: AstroClient, token_id: str) -> Callable[[], object]:
    """One client call of each method, on a token that exists."""
    if method == "GET":
        return lambda: client.get_token(token_id)
    return lambda: client.delete_token(token_id)


@pytest.fixture
def token_id(emulator: Emulator, client: AstroClient) -> str:
    token_id = client.create_deployment_token(emulator.deployment_ids[0], name="target").id
    emulator.clear_requests()
    return token_id


# -- 429: every method, and Retry-After ----------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_a_429_is_retried_on_every_method(emulator: Emulator, client: AstroClient, token_id: str, method: str) -> None:
    emulator.inject_fault(method, r"/tokens", status=429, count=2)

    if method == "POST":
        client.create_deployment_token(emulator.deployment_ids[0], name="after 429s")
    else:
        call_for(method, client, token_id)()

    success = 204 if method == "DELETE" else 200
    assert [r["status"] for r in logged(emulator, method)] == [429, 429, success]
    if method == "POST":
        assert len(token_ids(emulator)) == 2  # one create, not three


def test_the_retry_after_a_429_waits_at_least_its_retry_after(emulator: Emulator, client: AstroClient) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.inject_fault("GET", r"/deployments/", status=429, retry_after=1)

    started = time.monotonic()
    client.get_deployment(deployment)
    waited = time.monotonic() - started

    assert waited >= 1.0
    assert [r["status"] for r in logged(emulator, "GET")] == [429, 200]


def test_a_run_of_429s_longer_than_max_attempts_is_waited_out_and_the_create_made_once(
    emulator: Emulator, settings: AstroSettings
) -> None:
    # Another client with the same API token (another stack's provider) can keep the API's
    # bucket empty for many tries in a row. A 429 is a definite "not done, come back later":
    # it spends no attempt, and resending the create after it is no blind resend.
    client = AstroClient(settings, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05), rate_limits=None)
    emulator.inject_fault("POST", CREATE, status=429, retry_after=0, count=8)

    created = client.create_deployment_token(emulator.deployment_ids[0], name="shared token")

    assert [r["status"] for r in logged(emulator, "POST")] == [429] * 8 + [200]
    assert token_ids(emulator) == {created.id}


def test_429s_spend_no_attempt_but_other_failures_between_them_do(emulator: Emulator, settings: AstroSettings) -> None:
    client = AstroClient(settings, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05), rate_limits=None)
    emulator.inject_fault("GET", r"/deployments/", status=429, retry_after=0, count=3)
    emulator.inject_fault("GET", r"/deployments/", status=503, count=5)

    with pytest.raises(ServerError):
        client.get_deployment(emulator.deployment_ids[0])

    assert [r["status"] for r in logged(emulator, "GET")] == [429, 429, 429, 503, 503]


@pytest.mark.timeout(10)
def test_a_run_of_429s_ends_when_the_time_budget_does(emulator: Emulator, settings: AstroSettings) -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05, max_elapsed=1.0)
    client = AstroClient(settings, retry=policy, rate_limits=None)
    emulator.inject_fault("GET", r"/deployments/", status=429, retry_after=0, count=10_000)

    started = time.monotonic()
    with pytest.raises(RateLimitedError):
        client.get_deployment(emulator.deployment_ids[0])

    assert time.monotonic() - started < 2.0
    assert len(logged(emulator, "GET")) > policy.max_attempts


@pytest.mark.timeout(10)
def test_a_retry_after_beyond_the_time_budget_raises_at_once_instead_of_sleeping(
    emulator: Emulator, settings: AstroSettings
) -> None:
    client = AstroClient(settings, retry=RetryPolicy(max_elapsed=5, initial_backoff=0.01), rate_limits=None)
    emulator.inject_fault("GET", r"/deployments/", status=429, retry_after=3600)

    with pytest.raises(RateLimitedError) as raised:  # sleeping it out would hit the test's timeout
        client.get_deployment(emulator.deployment_ids[0])

    assert raised.value.retry_after == 3600
    assert len(logged(emulator, "GET")) == 1


# -- 5xx and dropped connections ------------------------------------------------------------


@pytest.mark.parametrize("fault", [{"status": 502}, {"status": 503}, {"status": 504}, {"action": "drop"}])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_gateway_errors_and_drops_are_retried_on_get_and_delete(
    emulator: Emulator, client: AstroClient, token_id: str, method: str, fault: dict[str, Any]
) -> None:
    emulator.inject_fault(method, ONE_TOKEN, **fault)

    call_for(method, client, token_id)()

    attempts = logged(emulator, method)
    assert [r["fault"] for r in attempts] == [fault.get("action", "status"), None]
    assert attempts[1]["status"] == (200 if method == "GET" else 204)
    if method == "DELETE":
        assert token_id not in token_ids(emulator)


def test_a_500_is_not_retried_even_on_get(emulator: Emulator, client: AstroClient, token_id: str) -> None:
    emulator.inject_fault("GET", ONE_TOKEN, status=500, count=2)

    with pytest.raises(ServerError) as raised:
        client.get_token(token_id)

    assert raised.value.status_code == 500
    assert len(logged(emulator, "GET")) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_on_create_is_raised_without_a_retry(
    emulator: Emulator, client: AstroClient, status: int
) -> None:
    emulator.inject_fault("POST", CREATE, status=status, count=2)

    with pytest.raises(ServerError) as raised:
        client.create_deployment_token(emulator.deployment_ids[0], name="ci")

    assert raised.value.status_code == status
    assert len(logged(emulator, "POST")) == 1
    assert token_ids(emulator) == set()


@pytest.mark.parametrize(("action", "committed"), [("commit-then-drop", True), ("drop", False)])
def test_a_create_without_an_answer_is_ambiguous_and_not_retried(
    emulator: Emulator, client: AstroClient, action: str, committed: bool
) -> None:
    emulator.inject_fault("POST", CREATE, action=action, count=2)

    with pytest.raises(AmbiguousCreateError):
        client.create_deployment_token(emulator.deployment_ids[0], name="lost answer")

    assert len(logged(emulator, "POST")) == 1
    # The token exists after a commit: cleaning it up is the provider's job, not the client's.
    assert len(token_ids(emulator)) == (1 if committed else 0)


def test_a_create_that_times_out_is_ambiguous_and_not_retried(emulator: Emulator, settings: AstroSettings) -> None:
    client = AstroClient(settings, timeout=0.2, retry=FAST, rate_limits=None)
    emulator.inject_fault("POST", CREATE, action="commit-then-delay", delay_seconds=1, count=2)

    with pytest.raises(AmbiguousCreateError):
        client.create_deployment_token(emulator.deployment_ids[0], name="slow answer")

    assert [f["count"] for f in emulator.faults()] == [1]  # one attempt hit the fault
    assert len(token_ids(emulator)) == 1


def test_a_create_that_cannot_connect_is_retried_since_nothing_was_sent() -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts: list[httpx.Request] = []
    real = httpx.HTTPTransport()

    class Counting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(request)
            return real.handle_request(request)

    settings = resolve_settings(
        host=f"http://127.0.0.1:{port}", api_token="unused", organization_id="c" + "0" * 24, environ={}
    )
    client = AstroClient(
        settings, transport=Counting(), retry=RetryPolicy(max_attempts=3, initial_backoff=0.01), rate_limits=None
    )

    with pytest.raises(NetworkError) as raised:
        client.create_deployment_token("c" + "1" * 24, name="ci")

    assert not isinstance(raised.value, AmbiguousCreateError)
    assert len(attempts) == 3


# -- DELETE's 404 ---------------------------------------------------------------------------


def test_a_first_attempt_404_on_delete_raises_not_found(emulator: Emulator, client: AstroClient) -> None:
    with pytest.raises(NotFoundError):
        client.delete_token("c" + "0" * 24)
    assert [r["status"] for r in logged(emulator, "DELETE")] == [404]


def test_a_delete_whose_answer_was_lost_counts_as_done_when_the_retry_gets_404(
    emulator: Emulator, client: AstroClient, token_id: str
) -> None:
    emulator.inject_fault("DELETE", ONE_TOKEN, action="commit-then-drop")

    client.delete_token(token_id)

    assert [(r["fault"], r["status"]) for r in logged(emulator, "DELETE")] == [("commit-then-drop", 204), (None, 404)]
    assert token_id not in token_ids(emulator)


def test_a_deployment_delete_whose_answer_was_lost_counts_as_done(emulator: Emulator, client: AstroClient) -> None:
    deployment = emulator.create_deployment("short-lived")
    emulator.inject_fault("DELETE", r"/deployments/", action="commit-then-drop")

    delete_deployment(client, deployment)

    assert [r["status"] for r in logged(emulator, "DELETE")] == [204, 404]


# -- attempts, backoff, timeouts ---------------------------------------------------------------


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_the_client_gives_up_after_max_attempts(
    emulator: Emulator, settings: AstroSettings, token_id: str, max_attempts: int
) -> None:
    client = AstroClient(settings, retry=RetryPolicy(max_attempts=max_attempts, initial_backoff=0.01), rate_limits=None)
    emulator.inject_fault("GET", ONE_TOKEN, status=503, count=10)

    with pytest.raises(ServerError) as raised:
        client.get_token(token_id)

    assert raised.value.status_code == 503
    assert len(logged(emulator, "GET")) == max_attempts


def retry_lines(caplog: pytest.LogCaptureFixture, says: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pulumi_astrokeys" and says in r.getMessage()]


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [
        (RetryPolicy(max_attempts=3, initial_backoff=0.01), 3),
        (RetryPolicy(max_attempts=6, initial_backoff=0.01, max_elapsed=0.0), 1),  # out of time after the first
    ],
)
def test_a_retry_is_announced_only_for_a_wait_that_happens(
    emulator: Emulator,
    settings: AstroSettings,
    token_id: str,
    caplog: pytest.LogCaptureFixture,
    policy: RetryPolicy,
    attempts: int,
) -> None:
    client = AstroClient(settings, retry=policy, rate_limits=None)
    emulator.inject_fault("GET", ONE_TOKEN, status=503, count=10)

    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"), pytest.raises(ServerError):
        client.get_token(token_id)

    assert len(logged(emulator, "GET")) == attempts
    lines = retry_lines(caplog, "retrying in")
    announced = [attempt for line in lines for attempt in re.findall(r"\(attempt (\d+)\)", line)]
    assert announced == [str(n) for n in range(2, attempts + 1)]


def test_a_clean_up_step_announces_only_the_waits_that_happen(
    emulator: Emulator,
    settings: AstroSettings,
    token_id: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pulumi_astrokeys._operations as operations

    monkeypatch.setattr(operations, "_SWEEP_BUDGET", 0.3)
    client = AstroClient(settings, retry=RetryPolicy(max_attempts=1, initial_backoff=0.01), rate_limits=None)
    emulator.inject_fault("DELETE", ONE_TOKEN, status=503, count=1000)

    with caplog.at_level(logging.INFO, logger="pulumi_astrokeys"):
        assert not operations._delete_made_token(client, token_id, "Deployment API key 'ci'")

    tries = len(logged(emulator, "DELETE"))
    assert tries >= 2, "the clean-up kept trying within its budget"
    assert len(retry_lines(caplog, "trying again in")) == tries - 1


def test_backoff_grows_exponentially_to_its_cap_with_full_jitter(
    emulator: Emulator, client: AstroClient, token_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        ranges.append((low, high))
        return high

    monkeypatch.setattr(client_module, "random", SimpleNamespace(uniform=uniform))
    emulator.inject_fault("GET", ONE_TOKEN, status=503, count=10)

    with pytest.raises(ServerError):
        client.get_token(token_id)  # FAST: 6 attempts, 0.01 s doubling, capped at 0.05 s

    # Tenacity also asks for a wait after the last attempt, before it decides to stop.
    assert ranges[:5] == [(0, 0.01), (0, 0.02), (0, 0.04), (0, 0.05), (0, 0.05)]


def test_a_get_slower_than_the_timeout_raises_network_error_after_retries(
    emulator: Emulator, settings: AstroSettings
) -> None:
    client = AstroClient(
        settings, timeout=0.2, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01), rate_limits=None
    )
    emulator.inject_fault("GET", r"/deployments/", action="delay", delay_seconds=1.5, count=5)

    with pytest.raises(NetworkError) as raised:
        client.get_deployment(emulator.deployment_ids[0])

    assert "ReadTimeout" in str(raised.value)
    assert [f["count"] for f in emulator.faults()] == [3]  # two attempts, each timed out
