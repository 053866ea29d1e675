"""Whether a failure in the fault campaign was the chaos's doing, judged from the emulator's request log.

A failure is excused only when the request it cites by ID is in its run's request log,
with an injected fault the client may let through. A fault the client must absorb never
excuses one: a 429 (any request), a 502, a 503, a dropped or unanswered connection on an
idempotent request (anything but the create, ``POST .../tokens``), or a slow answer within
the timeout. What it may let through: a 500 (not retried, it may be a bug of the server's),
an answer cut in half (not retried: the request may have taken effect), and on the create,
which is never sent twice blindly, a 502, a 503 or a lost answer.

The one failure that cites no request is a create whose answer never arrived (there was
none to carry a request ID): it is excused only by a lost create answer of its run in the
log, after its attempt began. Each logged fault excuses one failure at most. Nothing in
a sentence's wording excuses anything.

How many may be excused (:func:`excused_bound`): one for each fault the client lets
through on a request it sends once (a 500 or a cut answer on a read, a delete, a
Deployment's lookup), since each such fault may end its operation; but only 2 plus one in
3 of the faults it lets through on creates, since a create whose answer is lost or
refused with a 5xx tries once more, and only two faults in a row end it (about one in
six: 10 of 55 in a campaign of 100 runs). A create that stopped trying again would end far
above that bound, even where each failure cites a fault.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Bound",
    "Excuse",
    "Failure",
    "Judgement",
    "deletes_of_others",
    "excused_bound",
    "fault_kind",
    "judge",
    "kinds_injected",
    "must_absorb",
    "split",
]

# How a sentence cites the API's answer: the request ID the error prints.
REQUEST_ID = re.compile(r"requestId ([0-9a-f-]{36})")
_CREATE = re.compile(r"/organizations/[^/]+/tokens$")
_ALWAYS_ABSORBED = frozenset({"429", "delay", "commit-then-delay"})
_ABSORBED_WHEN_IDEMPOTENT = frozenset({"502", "503", "drop", "commit-then-drop", "delay-then-commit"})
_ANSWER_LOST = frozenset({"drop", "commit-then-drop", "delay-then-commit"})
_CREATE_STEPS = frozenset({"create", "create-replacement"})


@dataclass(frozen=True)
class Failure:
    """One error a failed operation reported: on which resource and step, its sentence, and
    the last request of its run logged before the attempt began."""

    where: str
    resource: str
    step: str | None
    sentence: str
    after_seq: int


@dataclass(frozen=True)
class Excuse:
    """An excused failure: what it was and the fault that excuses it, and whether that fault met a create."""

    text: str
    on_create: bool


@dataclass
class Judgement:
    """The failures the log excuses and those it does not (bugs, in words)."""

    excused: list[Excuse] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)


def fault_kind(entry: dict[str, Any]) -> str | None:
    """The injected fault a logged request met: ``429``, ``502``, ``drop``, ...; ``None`` for none."""
    fault = entry.get("fault")
    if fault is None:
        return None
    return str(entry["status"]) if fault == "status" else str(fault)


def _is_create(entry: dict[str, Any]) -> bool:
    return entry["method"] == "POST" and _CREATE.search(entry["path"]) is not None


def must_absorb(entry: dict[str, Any]) -> bool:
    """Whether the client must get past the fault this logged request met (see the module docstring)."""
    kind = fault_kind(entry)
    if kind in _ALWAYS_ABSORBED:
        return True
    return kind in _ABSORBED_WHEN_IDEMPOTENT and not _is_create(entry)


def _request(entry: dict[str, Any]) -> str:
    return f"{entry['method']} {entry['path']} (requestId {entry['requestId']})"


def judge(failures: Iterable[Failure], entries: Sequence[dict[str, Any]]) -> Judgement:
    """Excuse each failure by a distinct logged fault of its run, or call it a bug."""
    by_id = {entry["requestId"]: entry for entry in entries}
    used: set[str] = set()
    judgement = Judgement()
    for failure in failures:
        about = f"{failure.where}: {failure.resource} ({failure.step or 'no step'})"
        cited = REQUEST_ID.findall(failure.sentence)
        if cited:
            verdict = _cited(cited, by_id, used)
            if verdict.startswith("met"):
                on_create = any(_is_create(by_id[request_id]) for request_id in cited)
                judgement.excused.append(Excuse(f"{about} {verdict}", on_create))
                used.update(cited)
            else:
                judgement.bugs.append(f"{about} {verdict}: {failure.sentence!r}")
            continue
        lost = [
            entry
            for entry in entries
            if entry["seq"] > failure.after_seq
            and _is_create(entry)
            and fault_kind(entry) in _ANSWER_LOST
            and entry["requestId"] not in used
        ]
        if failure.step in _CREATE_STEPS and lost:
            used.add(lost[0]["requestId"])
            judgement.excused.append(Excuse(f"{about} lost the answer of {_request(lost[0])}: {fault_kind(lost[0])}", True))
        else:
            judgement.bugs.append(
                f"{about} cites no request, and is not a create whose answer the chaos lost: {failure.sentence!r}"
            )
    return judgement


def _cited(cited: list[str], by_id: dict[str, dict[str, Any]], used: set[str]) -> str:
    """``met ...`` when every cited request met a fault the client may let through; else why not."""
    met = []
    for request_id in cited:
        entry = by_id.get(request_id)
        if entry is None:
            return f"cites requestId {request_id}, which no request of its run has in the log"
        kind = fault_kind(entry)
        if kind is None:
            return f"failed on an answer of the API without an injected fault: {_request(entry)} {entry['status']}"
        if must_absorb(entry):
            return f"failed on an injected {kind} to {_request(entry)}, which the client must absorb"
        if request_id in used:
            return f"cites {_request(entry)}, whose fault excused another failure already"
        met.append(f"{kind} on {_request(entry)}")
    return "met " + ", ".join(met)


def kinds_injected(entries: Iterable[dict[str, Any]]) -> Counter[str]:
    """How many requests met each kind of fault, from the request log."""
    return Counter(kind for kind in map(fault_kind, entries) if kind is not None)


@dataclass(frozen=True)
class Bound:
    """The most excused failures a campaign may have: ``sent_once`` for the faults let through on
    requests sent once, ``creates`` for those let through on creates (see the module docstring)."""

    sent_once: int
    creates: int

    def exceeded_by(self, excuses: Sequence[Excuse]) -> list[str]:
        """What the excuses exceed, in words; none when they keep within the bound."""
        sent_once, on_creates = split(excuses)
        problems = []
        if on_creates > self.creates:
            problems.append(f"{on_creates} failures excused by faults on creates, more than the bound of {self.creates}")
        if sent_once > self.sent_once:
            problems.append(f"{sent_once} failures excused by faults on requests sent once, more than {self.sent_once}")
        return problems


def split(excuses: Sequence[Excuse]) -> tuple[int, int]:
    """How many ``excuses`` cite faults on requests sent once, and how many faults on creates."""
    on_creates = sum(excuse.on_create for excuse in excuses)
    return len(excuses) - on_creates, on_creates


def excused_bound(entries: Iterable[dict[str, Any]]) -> Bound:
    """The bound on excused failures for a campaign whose requests the log ``entries`` are."""
    let_through = [entry for entry in entries if fault_kind(entry) is not None and not must_absorb(entry)]
    on_creates = sum(_is_create(entry) for entry in let_through)
    return Bound(sent_once=len(let_through) - on_creates, creates=2 + on_creates // 3)


def deletes_of_others(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Every delete the API carried out of a token that the deleting API token did not make
    (``madeId`` of its own creates), in words: each run owns only what its creates made."""
    logged = list(entries)
    maker = {entry["madeId"]: entry["tokenId"] for entry in logged if entry.get("madeId")}
    return [
        f"{_request(entry)} by {entry['tokenId']} deleted a token made by {maker.get(token_id, 'none of the runs')}"
        for entry in logged
        if entry["method"] == "DELETE" and entry["status"] == 204
        and maker.get(token_id := entry["path"].rsplit("/", 1)[-1]) != entry["tokenId"]
    ]
