"""Random faults: each matching Astro request fails with a probability, the fault drawn by weight."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pulumi_astrokeys.testing.emulator import Emulator


def token_request(emulator: Emulator, name: str) -> dict[str, Any]:
    return {"name": name, "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"}


def outcomes(emulator: Emulator, count: int) -> list[Any]:
    """GET a Deployment ``count`` times; each answer's status, or ``"dropped"``."""
    seen: list[Any] = []
    with emulator.client() as owner:
        for _ in range(count):
            try:
                seen.append(owner.get(f"/deployments/{emulator.deployment_ids[0]}").status_code)
            except httpx.TransportError:
                seen.append("dropped")
    return seen


def test_certain_chaos_fails_every_request_and_counts_each_kind(emulator: Emulator) -> None:
    emulator.chaos(1.0, [500, {"action": "status", "status": 429, "retry_after": 0}, {"action": "drop"}], seed=7)

    seen = outcomes(emulator, 30)

    stats = emulator.chaos_stats()
    assert 200 not in seen
    assert stats["injected"] == {
        "500": seen.count(500),
        "429 retry-after 0": seen.count(429),
        "drop": seen.count("dropped"),
    }
    assert stats["total"] == stats["considered"] == 30
    assert all(stats["injected"].values())  # with this seed, every kind was drawn


def test_a_429_drawn_with_retry_after_zero_says_so(emulator: Emulator) -> None:
    emulator.chaos(1.0, [{"action": "status", "status": 429, "retryAfter": 0}])
    with emulator.client() as owner:
        response = owner.get(f"/deployments/{emulator.deployment_ids[0]}")
    assert (response.status_code, response.headers["retry-after"]) == (429, "0")


def test_zero_probability_draws_for_every_request_and_injects_nothing(emulator: Emulator) -> None:
    emulator.chaos(0.0, [503])
    assert outcomes(emulator, 10) == [200] * 10
    stats = emulator.chaos_stats()
    assert (stats["active"], stats["considered"], stats["injected"], stats["total"]) == (True, 10, {}, 0)


def test_the_same_seed_draws_the_same_faults(emulator: Emulator) -> None:
    actions: list[int | dict[str, Any]] = [500, 502, {"action": "drop"}]
    first_settings = emulator.chaos(0.5, actions, seed=123)
    first = outcomes(emulator, 40)
    emulator.chaos(0.5, actions, seed=123)
    second = outcomes(emulator, 40)

    assert first == second
    assert {200, 500, 502, "dropped"} == set(first)
    assert first_settings["seed"] == 123


def test_without_a_seed_the_chosen_one_is_reported_and_replays_the_draws(emulator: Emulator) -> None:
    seed = emulator.chaos(0.5, [500, 503])["seed"]
    first = outcomes(emulator, 30)
    emulator.chaos(0.5, [500, 503], seed=seed)
    assert outcomes(emulator, 30) == first


def test_weights_steer_the_draw(emulator: Emulator) -> None:
    emulator.chaos(1.0, [{"status": 500, "weight": 1_000_000}, {"status": 502, "weight": 0.000001}], seed=1)
    assert outcomes(emulator, 25) == [500] * 25


def test_only_the_chosen_methods_and_paths_are_subject_to_chaos(emulator: Emulator) -> None:
    emulator.chaos(1.0, [503], methods=["POST"], path=r"/tokens$")
    with emulator.client() as owner:
        created = owner.post("/tokens", json=token_request(emulator, "ci"))
        listed = owner.get("/tokens")
        deployment = owner.get(f"/deployments/{emulator.deployment_ids[0]}")
    assert (created.status_code, listed.status_code, deployment.status_code) == (503, 200, 200)
    assert emulator.chaos_stats()["considered"] == 1


def test_the_control_surface_is_never_subject_to_chaos(emulator: Emulator) -> None:
    emulator.chaos(1.0, [500, {"action": "drop"}])
    assert emulator.state()["organizationId"] == emulator.organization_id
    assert emulator.list_all_tokens(emulator.organization_id)
    assert emulator.chaos_stats()["considered"] == 0


def test_an_armed_fault_comes_before_the_chaos(emulator: Emulator) -> None:
    emulator.chaos(1.0, [500])
    emulator.inject_fault("GET", r"/deployments/", status=409)
    assert outcomes(emulator, 2) == [409, 500]
    assert emulator.chaos_stats()["injected"] == {"500": 1}


def test_commit_then_drop_drawn_by_chaos_commits_the_work(emulator: Emulator) -> None:
    emulator.chaos(1.0, [{"action": "commit-then-drop"}], methods=["POST"])
    with emulator.client() as owner, pytest.raises(httpx.TransportError):
        owner.post("/tokens", json=token_request(emulator, "lost answer"))
    assert "lost answer" in [t["name"] for t in emulator.list_all_tokens()]
    assert emulator.requests()[-1]["fault"] == "commit-then-drop"


def test_clearing_stops_the_chaos_and_keeps_its_counts(emulator: Emulator) -> None:
    emulator.chaos(1.0, [503])
    outcomes(emulator, 3)

    final = emulator.clear_chaos()

    assert (final["active"], final["injected"]) == (False, {"503": 3})
    assert outcomes(emulator, 3) == [200] * 3
    assert emulator.chaos_stats()["injected"] == {"503": 3}


def test_before_any_chaos_the_stats_are_empty(emulator: Emulator) -> None:
    assert emulator.chaos_stats() == {"active": False, "considered": 0, "injected": {}, "total": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"probability": 1.5, "actions": [500]}, "probability"),
        ({"actions": [500]}, "probability"),
        ({"probability": 0.5, "actions": []}, "actions"),
        ({"probability": 0.5, "actions": ["500"]}, "actions[0]"),
        ({"probability": 0.5, "actions": [{"action": "explode"}]}, "actions[0]"),
        ({"probability": 0.5, "actions": [{"status": 200}]}, "actions[0]"),
        ({"probability": 0.5, "actions": [{"status": 500, "weight": 0}]}, "actions[0].weight"),
        ({"probability": 0.5, "actions": [500], "seed": "x"}, "seed"),
        ({"probability": 0.5, "actions": [500], "methods": []}, "methods"),
        ({"probability": 0.5, "actions": [500], "path": "("}, "path"),
    ],
)
def test_invalid_chaos_is_refused_naming_the_field(emulator: Emulator, body: dict[str, Any], field: str) -> None:
    response = httpx.post(f"{emulator.host}/_emulator/chaos", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["fieldErrors"]] == [field]
    assert emulator.chaos_stats()["active"] is False


def test_a_paused_chaos_injects_nothing_until_every_pause_is_resumed(emulator: Emulator) -> None:
    emulator.chaos(1.0, [503], seed=3)
    emulator.pause_chaos()
    with emulator.chaos_paused():  # a second pause, as a parallel worker's
        assert outcomes(emulator, 3) == [200] * 3
    assert outcomes(emulator, 2) == [200] * 2  # the first pause still holds
    emulator.resume_chaos()

    assert outcomes(emulator, 2) == [503] * 2
    stats = emulator.chaos_stats()
    assert (stats["paused"], stats["considered"], stats["total"]) == (0, 2, 2)


def test_resuming_a_chaos_that_is_not_paused_is_refused(emulator: Emulator) -> None:
    with pytest.raises(RuntimeError, match="409"):
        emulator.pause_chaos()  # no chaos yet
    emulator.chaos(0.5, [503])
    with pytest.raises(RuntimeError, match="409"):
        emulator.resume_chaos()


def test_the_request_log_is_read_by_api_token_and_after_a_given_entry(emulator: Emulator) -> None:
    with emulator.client() as owner:
        created = owner.post("/tokens", json={**token_request(emulator, "reader"), "role": "DEPLOYMENT_ADMIN"}).json()
        deployment = emulator.deployment_ids[0]
        owner.get(f"/deployments/{deployment}")
        with emulator.client(created["token"]) as other:
            other.get(f"/deployments/{deployment}")
            other.get(f"/tokens/{created['id']}")
    everything = emulator.requests()

    by_other = emulator.requests(token_id=created["id"])
    after_second = emulator.requests(after=everything[1]["seq"])

    assert [r["path"].rsplit("/", 2)[-2] for r in by_other] == ["deployments", "tokens"]
    assert {r["tokenId"] for r in by_other} == {created["id"]}
    assert after_second == everything[2:]
    assert [r["madeId"] for r in everything] == [created["id"], None, None, None]




def test_a_request_a_fault_answers_before_the_api_sees_it_is_logged_with_its_callers_token(emulator: Emulator) -> None:
    with emulator.client() as owner:
        caller = owner.post("/tokens", json=token_request(emulator, "caller")).json()
    emulator.chaos(1.0, [503, {"action": "drop"}], seed=5)
    for token in (caller["token"], caller["token"], caller["token"], "not-a-token"):
        with emulator.client(token) as client:
            try:
                client.get(f"/deployments/{emulator.deployment_ids[0]}")
            except httpx.TransportError:
                pass

    logged = emulator.requests()[-4:]

    assert {r["fault"] for r in logged} == {"status", "drop"}
    assert [r["tokenId"] for r in logged] == [caller["id"]] * 3 + [None]
