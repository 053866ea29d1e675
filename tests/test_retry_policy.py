"""The one retry policy of the client and the clean-up: which errors may pass, and how long to wait.

The client's requests and the clean-up's steps both ask :class:`RetryPolicy`; these are its
rules stated as a table. ``tests/test_client_retries.py`` and ``tests/test_create_ownership.py``
show the same rules at work over real HTTP.
"""

from __future__ import annotations

import pytest

from pulumi_astrokeys import RetryPolicy
from pulumi_astrokeys._errors import (
    AmbiguousCreateError,
    AstroAPIError,
    DecodingError,
    ForbiddenError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)

WHERE = {"method": "GET", "path": "/tokens"}
POLICY = RetryPolicy(initial_backoff=0.5, max_backoff=4.0)


def status(kind: type[Exception], code: int, **extra: object) -> Exception:
    return kind("refused", status_code=code, **WHERE, **extra)


# error, passes for the client (idempotent), for the client (a create), for the clean-up (outlast)
TABLE = [
    ("429", status(RateLimitedError, 429), True, True, True),
    ("429, Retry-After within the time left", status(RateLimitedError, 429, retry_after=5.0), True, True, True),
    ("429, Retry-After past the time left", status(RateLimitedError, 429, retry_after=50.0), False, False, False),
    ("502", status(ServerError, 502), True, False, True),
    ("503", status(ServerError, 503), True, False, True),
    ("500", status(ServerError, 500), False, False, True),
    ("400", status(InvalidRequestError, 400), False, False, False),
    ("403", status(ForbiddenError, 403), False, False, False),
    ("404", status(NotFoundError, 404), False, False, False),
    ("a dropped connection", NetworkError("dropped", **WHERE), True, True, True),
    ("a create cut off", AmbiguousCreateError("cut off", **WHERE), False, False, True),
    ("an answer not the API's", DecodingError("garbled", **WHERE), False, False, True),
    ("a listing that kept changing", AstroAPIError("changed", **WHERE), False, False, True),
]


@pytest.mark.parametrize(
    ("error", "client_read", "client_create", "clean_up"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_which_errors_may_pass(error: Exception, client_read: bool, client_create: bool, clean_up: bool) -> None:
    assert POLICY.may_pass(error, idempotent=True, seconds_left=30) is client_read
    assert POLICY.may_pass(error, idempotent=False, seconds_left=30) is client_create
    assert POLICY.may_pass(error, idempotent=True, seconds_left=30, outlast=True) is clean_up


def test_waits_grow_exponentially_with_full_jitter_up_to_the_cap() -> None:
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [POLICY.wait_before(attempt, None) for _ in range(400)]
        assert all(0 <= wait <= cap for wait in waits)
        assert min(waits) < cap * 0.25 and max(waits) > cap * 0.75, "full jitter spans the whole range"


def test_a_retry_after_is_a_floor_and_the_time_left_a_ceiling() -> None:
    limited = status(RateLimitedError, 429, retry_after=3.0)
    assert all(POLICY.wait_before(1, limited) >= 3.0 for _ in range(50))
    assert all(POLICY.wait_before(9, None, seconds_left=0.2) <= 0.2 for _ in range(50))
    assert POLICY.wait_before(1, None, seconds_left=-1) == 0.0


def test_a_policy_without_backoff_still_waits_a_little_so_a_timed_retry_cannot_spin() -> None:
    no_backoff = RetryPolicy(initial_backoff=0.0)
    assert max(no_backoff.wait_before(5, None) for _ in range(200)) > 0.0
