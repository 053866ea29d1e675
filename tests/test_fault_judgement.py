"""The fault campaign's judge: a failure is excused by the request log, never by its wording."""

from __future__ import annotations

from typing import Any

from fault_judgement import Excuse, Failure, deletes_of_others, excused_bound, judge

ORG = "/v1/organizations/org1"
CREATE = f"{ORG}/tokens"


def entry(seq: int, method: str, path: str, fault: str | None, status: int | None = None) -> dict[str, Any]:
    return {
        "seq": seq,
        "method": method,
        "path": path,
        "status": status,
        "fault": fault,
        "requestId": f"{seq:08d}-0000-4000-8000-000000000000",
    }


def failure(sentence: str, step: str = "refresh", after_seq: int = 0) -> Failure:
    return Failure("run 1 refresh (attempt 1)", "ci", step, sentence, after_seq)


def cites(logged: dict[str, Any]) -> str:
    return f"Could not read key 'ci': the API answered {logged['status']}, requestId {logged['requestId']}."


def test_a_failure_citing_a_500_it_met_is_excused_once() -> None:
    five_hundred = entry(1, "GET", f"{ORG}/tokens/t1", "status", 500)

    judgement = judge([failure(cites(five_hundred)), failure(cites(five_hundred))], [five_hundred])

    assert [e.on_create for e in judgement.excused] == [False]
    assert len(judgement.bugs) == 1 and "excused another failure already" in judgement.bugs[0]


def test_a_failure_on_a_fault_the_client_must_absorb_is_a_bug_whatever_it_says() -> None:
    log = [
        entry(1, "GET", f"{ORG}/tokens/t1", "status", 429),
        entry(2, "DELETE", f"{ORG}/tokens/t1", "status", 503),
        entry(3, "GET", f"{ORG}/tokens/t1", "drop"),
    ]
    sentences = [cites(logged) + " The API kept refusing after retries; no answer from the host" for logged in log]

    judgement = judge([failure(sentence) for sentence in sentences], log)

    assert judgement.excused == []
    assert [bug.split(" to ")[0].rsplit(" ", 1)[-1] for bug in judgement.bugs] == ["429", "503", "drop"]


def test_a_failure_citing_an_answer_without_a_fault_or_a_request_of_another_run_is_a_bug() -> None:
    clean = entry(1, "GET", f"{ORG}/tokens/t1", None, 400)
    elsewhere = entry(9, "GET", f"{ORG}/tokens/t1", "status", 500)

    judgement = judge([failure(cites(clean)), failure(cites(elsewhere))], [clean])

    assert judgement.excused == []
    assert "without an injected fault" in judgement.bugs[0]
    assert "no request of its run has in the log" in judgement.bugs[1]


def test_a_failure_citing_no_request_is_excused_only_by_a_lost_create_answer_after_it_began() -> None:
    before = entry(1, "POST", CREATE, "commit-then-drop")
    lost = entry(5, "POST", CREATE, "drop")
    sentence = "Could not create key 'ci': no answer from the host."

    judged = judge([failure(sentence, "create", after_seq=2), failure(sentence, "create", after_seq=2)], [before, lost])
    not_a_create = judge([failure(sentence, "delete", after_seq=0)], [before, lost])

    assert judged.excused == [Excuse(judged.excused[0].text, True)] and len(judged.bugs) == 1
    assert not_a_create.excused == [] and "cites no request" in not_a_create.bugs[0]


def test_the_bound_allows_each_fault_let_through_on_a_request_sent_once_but_few_on_creates() -> None:
    log = [entry(i, "GET", f"{ORG}/tokens/t{i}", "status", 500) for i in range(1, 4)]
    log += [entry(i, "POST", CREATE, "commit-then-drop") for i in range(4, 10)]
    log += [entry(20, "GET", f"{ORG}/tokens/t1", "status", 429), entry(21, "GET", f"{ORG}/tokens/t1", None, 200)]

    bound = excused_bound(log)

    assert (bound.sent_once, bound.creates) == (3, 4)
    assert bound.exceeded_by([Excuse("x", False)] * 3 + [Excuse("y", True)] * 4) == []
    assert len(bound.exceeded_by([Excuse("y", True)] * 5)) == 1


def test_a_delete_of_a_token_another_caller_made_is_named_and_one_of_its_own_is_not() -> None:
    made_by_a = {**entry(1, "POST", CREATE, None, 200), "tokenId": "a", "madeId": "t1"}
    made_by_b = {**entry(2, "POST", CREATE, None, 200), "tokenId": "b", "madeId": "t2"}
    own = {**entry(3, "DELETE", f"{ORG}/tokens/t1", "commit-then-drop", 204), "tokenId": "a"}
    refused = {**entry(4, "DELETE", f"{ORG}/tokens/t2", "status", 503), "tokenId": "a"}
    others = {**entry(5, "DELETE", f"{ORG}/tokens/t2", None, 204), "tokenId": "a"}

    touched = deletes_of_others([made_by_a, made_by_b, own, refused, others])

    assert len(touched) == 1 and "tokens/t2" in touched[0] and "made by b" in touched[0]
