"""How the client reports failures: the exception for each status, what its message says, what it never says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._errors import (
    AmbiguousCreateError,
    APIStatusError,
    AstroAPIError,
    DecodingError,
    FieldError,
    ForbiddenError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    describe_field_errors,
)
from pulumi_astrokeys._settings import AstroSettings, resolve_settings
from pulumi_astrokeys.testing.emulator import Emulator

# One try whatever the answer: a 429 spends no attempt, so no time left for a second is what ends it.
ONCE = RetryPolicy(max_attempts=1, max_elapsed=0.0)
MISSING_ID = "c" + "0" * 24


@pytest.fixture
def client(settings: AstroSettings) -> AstroClient:
    return AstroClient(settings, retry=ONCE, rate_limits=None)


def client_with_token(emulator: Emulator, token: str) -> AstroClient:
    settings = resolve_settings(
        host=emulator.host, api_token=token, organization_id=emulator.organization_id, environ={}
    )
    return AstroClient(settings, retry=ONCE, rate_limits=None)


def assert_reveals_none_of(secrets: list[str], *objects: object) -> None:
    for obj in objects:
        shown = [repr(obj), str(obj), repr(getattr(obj, "__dict__", ""))]
        for secret in secrets:
            assert all(secret not in text for text in shown), f"{type(obj).__name__} shows a secret"


def assert_describes_the_failed_request(
    error: APIStatusError, emulator: Emulator, method: str, path_end: str, status: int
) -> None:
    """The message names the method, the path, the status, the API's message and the request ID."""
    answer = emulator.requests()[-1]
    path = f"/v1/organizations/{emulator.organization_id}{path_end}"
    assert (error.method, error.path, error.status_code) == (method, path, status)
    assert answer["status"] == status and answer["path"] == path
    assert error.request_id == answer["requestId"]
    assert error.api_message
    message = str(error)
    for part in (method, path, str(status), error.api_message, answer["requestId"]):
        assert part in message


# -- each status, produced for real ---------------------------------------------------------


def test_a_name_too_long_is_an_invalid_request_with_the_field_error(emulator: Emulator, client: AstroClient) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        client.create_deployment_token(emulator.deployment_ids[0], name="n" * 300)

    error = raised.value
    assert_describes_the_failed_request(error, emulator, "POST", "/tokens", 400)
    assert [field.field for field in error.field_errors] == ["name"]
    assert error.field_errors[0].message in str(error)
    assert_reveals_none_of([emulator.api_token], error)


def test_an_unknown_token_is_unauthorized_and_the_message_omits_it(emulator: Emulator) -> None:
    bad_token = "not-a-real-token-8d1f0e"
    with pytest.raises(UnauthorizedError) as raised:
        client_with_token(emulator, bad_token).get_deployment(emulator.deployment_ids[0])

    assert_describes_the_failed_request(
        raised.value, emulator, "GET", f"/deployments/{emulator.deployment_ids[0]}", 401
    )
    assert_reveals_none_of([bad_token], raised.value)


def test_a_deployment_token_acting_on_another_deployment_is_forbidden(emulator: Emulator, client: AstroClient) -> None:
    own, other = emulator.deployment_ids[:2]
    key = client.create_deployment_token(own, name="ci")
    assert key.token is not None
    as_key = client_with_token(emulator, key.token.get_secret_value())
    assert as_key.get_deployment(own).id == own  # the key works on its own Deployment

    with pytest.raises(ForbiddenError) as raised:
        as_key.get_deployment(other)

    assert_describes_the_failed_request(raised.value, emulator, "GET", f"/deployments/{other}", 403)
    assert_reveals_none_of([key.token.get_secret_value(), emulator.api_token], raised.value, as_key)


@pytest.mark.parametrize(
    ("call", "method", "path_end"),
    [
        (lambda c: c.get_token(MISSING_ID), "GET", f"/tokens/{MISSING_ID}"),
        (lambda c: c.get_deployment(MISSING_ID), "GET", f"/deployments/{MISSING_ID}"),
        (lambda c: c.delete_token(MISSING_ID), "DELETE", f"/tokens/{MISSING_ID}"),
    ],
)
def test_a_missing_id_is_not_found(
    emulator: Emulator, client: AstroClient, call: Callable[[AstroClient], Any], method: str, path_end: str
) -> None:
    with pytest.raises(NotFoundError) as raised:
        call(client)

    assert_describes_the_failed_request(raised.value, emulator, method, path_end, 404)
    assert MISSING_ID in raised.value.api_message


def test_a_429_left_after_the_last_attempt_is_rate_limited_with_its_retry_after(
    emulator: Emulator, client: AstroClient
) -> None:
    emulator.inject_fault("GET", r"/deployments/", status=429, retry_after=7, message="slow down")

    with pytest.raises(RateLimitedError) as raised:
        client.get_deployment(emulator.deployment_ids[0])

    assert raised.value.retry_after == 7
    assert raised.value.api_message == "slow down"
    assert_describes_the_failed_request(
        raised.value, emulator, "GET", f"/deployments/{emulator.deployment_ids[0]}", 429
    )


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_is_a_server_error(emulator: Emulator, client: AstroClient, status: int) -> None:
    emulator.inject_fault("POST", r"/tokens$", status=status, message="database unavailable")

    with pytest.raises(ServerError) as raised:
        client.create_deployment_token(emulator.deployment_ids[0], name="ci")

    assert raised.value.api_message == "database unavailable"
    assert_describes_the_failed_request(raised.value, emulator, "POST", "/tokens", status)


# -- no token or secret in what the client shows ------------------------------------------------


def test_no_client_settings_token_or_error_shows_the_api_token_or_a_secret(
    emulator: Emulator, settings: AstroSettings, client: AstroClient
) -> None:
    created = client.create_deployment_token(emulator.deployment_ids[0], name="ci")
    assert created.token is not None
    secret = created.token.get_secret_value()
    errors: list[AstroAPIError] = []
    faults: list[tuple[str, dict[str, Any]]] = [
        ("GET", {"action": "drop"}),
        ("GET", {"status": 429}),
        ("GET", {"status": 502}),
        ("POST", {"action": "commit-then-drop"}),
    ]
    for method, fault in faults:
        emulator.inject_fault(method, r"/tokens", **fault)
        with pytest.raises(AstroAPIError) as raised:
            if method == "GET":
                client.get_token(created.id)
            else:
                client.create_deployment_token(emulator.deployment_ids[0], name="lost")
        errors.append(raised.value)
    with pytest.raises(AstroAPIError) as raised:
        client_with_token(emulator, secret).delete_token(created.id)  # a key may not delete keys: 403
    errors.append(raised.value)

    assert [type(e) for e in errors] == [
        NetworkError,
        RateLimitedError,
        ServerError,
        AmbiguousCreateError,
        ForbiddenError,
    ]
    assert_reveals_none_of([emulator.api_token, secret], client, settings, created, *errors)


# -- faults the emulator cannot produce, at the transport ------------------------------------------


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> AstroClient:
    settings = AstroSettings(host="https://astro.test", api_token=SecretStr("mock-token"), organization_id=MISSING_ID)
    kwargs.setdefault("retry", ONCE)
    return AstroClient(settings, transport=httpx.MockTransport(handler), rate_limits=None, **kwargs)


def test_an_error_answer_that_is_not_json_still_names_the_request_and_its_id() -> None:
    def proxy_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, headers={"X-Request-Id": "edge-42"}, html="<html>Bad Gateway</html>")

    with pytest.raises(ServerError) as raised:
        mock_client(proxy_page).get_token("c" + "1" * 24)

    error = raised.value
    assert (error.status_code, error.request_id, error.api_message) == (502, "edge-42", "")
    assert (
        str(error)
        == f"GET /v1/organizations/{MISSING_ID}/tokens/{'c' + '1' * 24} failed with 502 Bad Gateway [requestId edge-42]"
    )


def rate_limited(retry_after: str, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"statusCode": 429, "message": "slow down", "requestId": "r-1"}
        return httpx.Response(429, headers={"Retry-After": retry_after, **headers}, json=body)

    return answer


@pytest.mark.parametrize("value", ["soon", "", "inf", "-inf", "nan", "1e400"])
def test_a_malformed_retry_after_is_ignored(value: str) -> None:
    with pytest.raises(RateLimitedError) as raised:
        mock_client(rate_limited(value)).get_token("c" + "1" * 24)
    assert raised.value.retry_after is None


def test_a_negative_retry_after_means_no_wait() -> None:
    with pytest.raises(RateLimitedError) as raised:
        mock_client(rate_limited("-3")).get_token("c" + "1" * 24)
    assert raised.value.retry_after == 0


def test_a_retry_after_given_as_a_date_counts_from_the_answers_own_date() -> None:
    sent_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)  # a server clock 2 h behind
    retry_at = sent_at + timedelta(seconds=4)

    with pytest.raises(RateLimitedError) as raised:
        mock_client(
            rate_limited(format_datetime(retry_at, usegmt=True), Date=format_datetime(sent_at, usegmt=True))
        ).get_token("c" + "1" * 24)

    assert raised.value.retry_after == 4


def test_a_malformed_retry_after_falls_back_to_backoff_and_retries() -> None:
    answers = iter([rate_limited("inf"), rate_limited("nan")])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers, None)
        return answer(request) if answer else httpx.Response(200, json={"id": MISSING_ID, "name": "d"})

    deployment = mock_client(handler, retry=RetryPolicy(initial_backoff=0.01, max_backoff=0.05)).get_deployment(
        MISSING_ID
    )

    assert deployment.name == "d"


def test_a_success_answer_that_is_not_the_documented_json_is_an_api_error() -> None:
    def captive_portal(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>Sign in to the Wi-Fi</html>")

    with pytest.raises(AstroAPIError) as raised:
        mock_client(captive_portal).get_token("c" + "1" * 24)

    message = str(raised.value)
    assert message.startswith(f"GET /v1/organizations/{MISSING_ID}/tokens/")
    assert "not the API's ApiToken JSON" in message and "text/html" in message


def test_a_success_answer_that_is_not_the_documented_json_is_a_decoding_error(
    client: AstroClient, emulator: Emulator
) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.inject_fault("GET", rf"/deployments/{deployment}$", action="commit-then-garble")

    with pytest.raises(DecodingError) as garbled:
        client.get_deployment(deployment)

    assert not isinstance(garbled.value, APIStatusError)
    assert garbled.value.method == "GET" and garbled.value.path.endswith(f"/deployments/{deployment}")
    assert "not the API's Deployment JSON" in str(garbled.value)


def test_a_garbled_success_answer_gives_the_request_id_the_failure_sentence_asks_to_quote(
    client: AstroClient, emulator: Emulator
) -> None:
    deployment = emulator.deployment_ids[0]
    emulator.inject_fault("GET", rf"/deployments/{deployment}$", action="commit-then-garble")

    with pytest.raises(DecodingError) as garbled:
        client.get_deployment(deployment)

    from pulumi_astrokeys._messages import api_failure

    [answered] = [r for r in emulator.requests() if r["fault"] == "commit-then-garble"]
    sentence = str(api_failure("read", "Deployment API key 'etl'", garbled.value))
    assert "quote the requestId to Astronomer support" in sentence
    assert f"[requestId {answered['requestId']}]" in sentence


def test_field_errors_are_described_once_in_one_clause() -> None:
    error = InvalidRequestError(
        "POST /tokens failed with 400",
        method="POST",
        path="/tokens",
        field_errors=[FieldError("name", "max", "too long"), FieldError("role", "oneof", "unknown role")],
    )
    assert describe_field_errors(error.field_errors) == "name: too long; role: unknown role"
    assert error.status_code == 400


def test_the_apis_reason_is_said_once_when_its_field_error_repeats_it(
    client: AstroClient, emulator: Emulator
) -> None:
    from pulumi_astrokeys._messages import api_failure

    with pytest.raises(InvalidRequestError) as refused:
        client.create_deployment_token(emulator.deployment_ids[0], name="x", role="WORKSPACE_OWNER")

    reason = refused.value.api_message
    assert reason and [e.message for e in refused.value.field_errors] == [reason], "the API repeats itself"
    assert str(refused.value).count(reason) == 1
    assert str(api_failure("create", "key 'x'", refused.value)).count(reason) == 1
