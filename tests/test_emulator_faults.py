"""Injected faults, the request log, the clock and the rate limits."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from spec import schema_validator, validate_response

from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

TOKENS = "/organizations/{organizationId}/tokens"
CREATE_PATH = r"/tokens$"


def token_request(emulator: Emulator, name: str = "ci") -> dict[str, Any]:
    return {"name": name, "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"}


def names(emulator: Emulator) -> list[str]:
    return [t["name"] for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT"]


def test_a_status_fault_answers_that_status_with_the_error_body_and_retry_after(emulator: Emulator) -> None:
    emulator.inject_fault("POST", CREATE_PATH, status=503, retry_after=2, count=2)
    with emulator.client() as owner:
        failed = [owner.post("/tokens", json=token_request(emulator)) for _ in range(2)]
        passed = owner.post("/tokens", json=token_request(emulator))

    for response in failed:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        body = response.json()
        schema_validator("Error").validate(body)
        assert body["statusCode"] == 503 and body["requestId"] == response.headers["x-request-id"]
    assert passed.status_code == 200
    assert names(emulator) == ["ci"]
    assert emulator.faults() == []


def test_a_status_fault_without_retry_after_sends_no_such_header(emulator: Emulator) -> None:
    emulator.inject_fault("GET", r"/deployments/", status=500, message="boom")
    with emulator.client() as owner:
        response = owner.get(f"/deployments/{emulator.deployment_ids[0]}")
    assert response.status_code == 500 and "retry-after" not in response.headers
    assert response.json()["message"] == "boom"


def test_a_drop_closes_the_connection_without_answer_and_does_nothing(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emulator.inject_fault("POST", CREATE_PATH, action="drop")
    with emulator.client() as owner:
        with pytest.raises(httpx.TransportError):
            owner.post("/tokens", json=token_request(emulator))
        assert owner.post("/tokens", json=token_request(emulator, "after")).status_code == 200
    assert names(emulator) == ["after"]
    dropped, answered = emulator.requests()[:2]
    assert (dropped["fault"], dropped["status"]) == ("drop", None)
    assert dropped["tokenId"] == answered["tokenId"] is not None, "the log names the caller of a dropped request"
    # The installed uvicorn exposes its transport: a real abort, no fallback, no stray 500.
    assert "cannot reach the server's transport" not in caplog.text
    assert "returned without" not in caplog.text


def test_commit_then_drop_commits_the_token_but_never_answers(emulator: Emulator) -> None:
    emulator.inject_fault("POST", CREATE_PATH, action="commit-then-drop")
    with emulator.client() as owner:
        with pytest.raises(httpx.TransportError):
            owner.post("/tokens", json=token_request(emulator, "lost answer"))
    assert names(emulator) == ["lost answer"]
    logged = emulator.requests()[0]
    assert (logged["fault"], logged["status"]) == ("commit-then-drop", 200)


def test_commit_then_delay_commits_before_a_short_client_timeout(emulator: Emulator) -> None:
    emulator.inject_fault("POST", CREATE_PATH, action="commit-then-delay", delay_seconds=1.5)
    with emulator.client(timeout=0.4) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post("/tokens", json=token_request(emulator, "slow answer"))
    assert names(emulator) == ["slow answer"]


def test_delay_then_commit_commits_after_the_client_has_gone(emulator: Emulator) -> None:
    emulator.inject_fault("POST", CREATE_PATH, action="delay-then-commit", delay_seconds=0.8)
    with emulator.client(timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post("/tokens", json=token_request(emulator, "late commit"))
    assert "late commit" not in names(emulator), "the work must wait until the client is gone"
    deadline = time.monotonic() + 10
    while "late commit" not in names(emulator) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "late commit" in names(emulator)
    logged = [r for r in emulator.requests() if r["method"] == "POST"]
    assert [(r["fault"], r["status"]) for r in logged] == [("delay-then-commit", 200)]


def test_commit_then_garble_commits_and_answers_half_the_body(emulator: Emulator) -> None:
    emulator.inject_fault("POST", CREATE_PATH, action="commit-then-garble")
    with emulator.client() as owner:
        response = owner.post("/tokens", json=token_request(emulator, "garbled"))
        whole = owner.post("/tokens", json=token_request(emulator, "whole"))
    assert response.status_code == 200 and int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(ValueError):
        response.json()
    assert response.content.startswith(b'{"id":') and len(response.content) < len(whole.content)
    assert sorted(names(emulator)) == ["garbled", "whole"]


def test_a_delay_waits_then_handles_the_request(emulator: Emulator) -> None:
    emulator.inject_fault("GET", r"/deployments$", action="delay", delay_seconds=0.4)
    with emulator.client() as owner:
        started = time.monotonic()
        response = owner.get("/deployments")
        elapsed = time.monotonic() - started
        owner.get("/deployments")
    assert response.status_code == 200 and elapsed >= 0.4
    assert [r["fault"] for r in emulator.requests()] == ["delay", None]


def test_a_hold_keeps_the_request_undone_until_released_then_does_it_even_if_the_client_has_gone(
    emulator: Emulator,
) -> None:
    hold = emulator.inject_fault("POST", CREATE_PATH, action="hold")
    with ThreadPoolExecutor(1) as pool, emulator.client(timeout=30) as owner:
        answer = pool.submit(owner.post, "/tokens", json=token_request(emulator, "held"))
        state = emulator.wait_until_held(hold)
        assert (state["arrived"], state["held"], state["released"]) == (1, 1, False)
        assert "held" not in names(emulator), "nothing is done while the request is held"
        emulator.release(hold)
        assert answer.result().status_code == 200
    assert names(emulator) == ["held"] and emulator.hold_state(hold)["held"] == 0

    gone = emulator.inject_fault("POST", CREATE_PATH, action="hold")
    with emulator.client(timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post("/tokens", json=token_request(emulator, "after the client left"))
    emulator.release(gone)
    deadline = time.monotonic() + 10
    while "after the client left" not in names(emulator) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "after the client left" in names(emulator)


def test_a_hold_released_with_drop_does_nothing_and_answers_nothing(emulator: Emulator) -> None:
    hold = emulator.inject_fault("POST", CREATE_PATH, action="hold")
    with ThreadPoolExecutor(1) as pool, emulator.client(timeout=30) as owner:
        answer = pool.submit(owner.post, "/tokens", json=token_request(emulator, "never"))
        emulator.wait_until_held(hold)
        assert emulator.release(hold, drop=True)["dropped"] is True
        with pytest.raises(httpx.TransportError):
            answer.result()
    assert "never" not in names(emulator)


def test_commit_then_hold_does_the_work_and_keeps_the_answer_until_released(emulator: Emulator) -> None:
    hold = emulator.inject_fault("POST", CREATE_PATH, action="commit-then-hold")
    with ThreadPoolExecutor(1) as pool, emulator.client(timeout=30) as owner:
        answer = pool.submit(owner.post, "/tokens", json=token_request(emulator, "committed"))
        emulator.wait_until_held(hold)
        assert names(emulator) == ["committed"] and not answer.done()
        emulator.release(hold)
        assert answer.result().status_code == 200


def test_holds_cannot_be_drawn_by_chaos_and_an_unknown_hold_is_404(emulator: Emulator) -> None:
    response = httpx.post(
        f"{emulator.host}/_emulator/chaos", json={"probability": 1, "actions": [{"action": "hold"}]}, trust_env=False
    )
    assert response.status_code == 400
    assert httpx.get(f"{emulator.host}/_emulator/faults/cnosuchfault000000000000", trust_env=False).status_code == 404


def test_a_fault_hits_only_its_method_and_path(emulator: Emulator) -> None:
    with emulator.client() as owner:
        existing = owner.post("/tokens", json=token_request(emulator)).json()
        emulator.inject_fault("POST", CREATE_PATH, status=503)

        assert owner.get("/tokens").status_code == 200
        assert owner.post(f"/tokens/{existing['id']}/rotate").status_code == 200
        assert owner.post(f"/tokens/{existing['id']}", json={"name": "renamed"}).status_code == 200
        assert [f["count"] for f in emulator.faults()] == [1]

        assert owner.post("/tokens", json=token_request(emulator)).status_code == 503
    assert emulator.faults() == []


def test_faults_are_listed_with_remaining_counts_and_cleared(emulator: Emulator) -> None:
    fault_id = emulator.inject_fault("*", r"/deployments", status=502, count=3)
    with emulator.client() as owner:
        assert owner.get("/deployments").status_code == 502
    [fault] = emulator.faults()
    assert (fault["id"], fault["count"], fault["method"]) == (fault_id, 2, "*")
    emulator.clear_faults()
    assert emulator.faults() == []
    with emulator.client() as owner:
        assert owner.get("/deployments").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"path": "("},
        {"path": "/x", "action": "explode"},
        {"path": "/x", "count": 0},
        {"path": "/x", "status": 200},
        {"path": "/x", "delaySeconds": -1},
        {"method": "GET"},
    ],
)
def test_an_invalid_fault_is_refused_with_400(emulator: Emulator, body: dict[str, Any]) -> None:
    response = httpx.post(f"{emulator.host}/_emulator/faults", json=body, trust_env=False)
    assert response.status_code == 400
    schema_validator("Error").validate(response.json())


def test_the_request_log_records_astro_requests_in_order_without_secrets(emulator: Emulator) -> None:
    with emulator.client() as owner:
        created = owner.post("/tokens", json=token_request(emulator)).json()
        owner.get("/tokens", params={"limit": 5})
        owner.get("/no/such/path")
    with emulator.client(created["token"]) as deployment_token:
        deployment_token.get(f"/deployments/{emulator.deployment_ids[1]}")
    emulator.state()  # control calls are not logged

    log = emulator.requests()

    owner_id = emulator.list_all_tokens()[0]["id"]
    assert [(r["method"], r["status"], r["tokenId"]) for r in log] == [
        ("POST", 200, owner_id),
        ("GET", 200, owner_id),
        ("GET", 404, None),
        ("GET", 403, created["id"]),
    ]
    assert [r["seq"] for r in log] == sorted(r["seq"] for r in log)
    assert log[1]["query"] == "limit=5" and log[1]["path"].endswith("/tokens")
    assert all(r["fault"] is None and r["at"].endswith("Z") for r in log)
    text = json.dumps(log)
    assert created["token"] not in text and emulator.api_token not in text and "Bearer" not in text

    emulator.clear_requests()
    assert emulator.requests() == []


def test_the_clock_moves_forward_only(emulator: Emulator) -> None:
    before = emulator.clock()
    after = emulator.advance_clock(3 * 86_400)
    assert after[:10] > before[:10]
    response = httpx.post(f"{emulator.host}/_emulator/clock", json={"advanceSeconds": -5}, trust_env=False)
    assert response.status_code == 400


def test_tokens_created_after_advancing_the_clock_carry_the_new_time(emulator: Emulator) -> None:
    now = emulator.advance_clock(400 * 86_400)
    with emulator.client() as owner:
        created = owner.post("/tokens", json=token_request(emulator)).json()
    assert created["createdAt"][:10] == now[:10]


def test_the_date_header_follows_the_emulator_clock(emulator: Emulator) -> None:
    now = emulator.advance_clock(400 * 86_400)
    with emulator.client() as owner:
        response = owner.get("/deployments")
    served = parsedate_to_datetime(response.headers["Date"])
    assert served.strftime("%Y-%m-%d") == now[:10]
    assert len(response.headers.get_list("Date")) == 1


def test_rate_limits_answer_429_with_retry_after_per_token_and_method() -> None:
    # One request per 1000 s and method: the second is refused however slowly the test runs.
    rate = {"post_per_second": 0.001, "delete_per_second": 0.001, "get_per_second": 0.001}
    with run_emulator(rate_limits=True, **rate) as emulator:
        with emulator.client() as owner:
            first, limited = (owner.post("/tokens", json=token_request(emulator, name)) for name in ("t0", "t1"))
            gets = [owner.get("/deployments") for _ in range(2)]
        assert [first.status_code, limited.status_code] == [200, 429]
        assert [r.status_code for r in gets] == [200, 429]
        body = validate_response(TOKENS, "POST", limited)
        assert body["statusCode"] == 429 and body["requestId"] == limited.headers["x-request-id"]
        assert limited.headers["retry-after"] == "1000"
        assert names(emulator) == ["t0"]

        with emulator.client(first.json()["token"]) as other_caller:
            assert other_caller.get(f"/deployments/{emulator.deployment_ids[0]}").status_code == 200

        emulator.advance_clock(1000)
        with emulator.client() as owner:
            assert owner.post("/tokens", json=token_request(emulator, "t1")).status_code == 200
            assert owner.delete(f"/tokens/{first.json()['id']}").status_code == 204
        assert names(emulator) == ["t1"]


def test_default_rate_limits_are_the_documented_ones() -> None:
    with run_emulator(rate_limits=True) as emulator:
        limits = emulator.state()["rateLimits"]
        assert limits == {"enabled": True, "postPerSecond": 10, "deletePerSecond": 5, "getPerSecond": 25}
        with emulator.client() as owner:
            statuses = [owner.post("/tokens", json=token_request(emulator, f"t{i}")).status_code for i in range(10)]
        assert statuses == [200] * 10, "a burst of one second's worth passes"


def test_rate_limits_off_lets_every_request_through() -> None:
    with run_emulator(rate_limits=False, post_per_second=1) as emulator:
        with emulator.client() as owner:
            statuses = [owner.post("/tokens", json=token_request(emulator, f"t{i}")).status_code for i in range(6)]
        assert statuses == [200] * 6
        assert emulator.state()["rateLimits"]["enabled"] is False
