"""A fault campaign: whole lifecycles of small stacks, on the real Pulumi CLI, while the API fails at random.

Each run takes a program of 2 or 3 keys over the emulator's two Deployments through
``up``, an ``up`` that replaces one key, ``refresh`` and ``destroy``, each run by the
``pulumi`` CLI and engine (Automation API inline programs, a file backend of the run's
own; see ``real_cli_support``), with about one Astro request in five failing (429 with
and without ``Retry-After``, 500, 502, 503, dropped connections, slow answers, creates
whose answer is lost, answers cut in half, requests the server commits after the client
gave up on them). In half the runs of 3 keys, the third has the first one's name and
Deployment (Astro allows duplicate names), so a clean-up that deleted by name would
delete a live key. A failed operation is run again, at most three times; one that still
fails is a bug unless each of its failures was a fault the emulator injected (its request
log holds the requestId the sentence cites, with the fault; or no whole answer arrived),
as four in a row now and then are. After every operation, reading the state with
``pulumi stack export``:

- no orphan: every token of the run's keys that the API holds is in the state, and
  after ``destroy`` there is none;
- after ``refresh``, no key in the state that the API lacks;
- every live key's secret is in the state, kept as a secret, and authenticates against
  the API;
- every failure was reported as one sentence, on one line, naming the key (and giving
  the requestId, if it asks the user to quote it). The SDK's
  dynamic-provider server sends a provider's error as a short Python traceback, so the
  sentence is its last line, after the name of the package's exception class; the
  engine's own follow-ups without a resource ("update failed") are not judged.

Runs go to a pool of processes, each taking its runs one after another (an inline
program runs in the process that drives the stack), all against one emulator. Much of
a run's cost is its provider processes, each of which spends most of a second of CPU
importing Pulumi and this package before it serves a single call; so, unless
``CAMPAIGN_FORK=0``, the CLI's dynamic-provider launcher is given a ``python``
(``PULUMI_PYTHON_CMD``) that has each forked from a parent that has already imported
them, which then runs ``python -m pulumi.dynamic`` as usual, in a fresh process of its
own with the launcher's pipes, environment and working directory.

``CAMPAIGN_RUNS`` (default 8, about a minute and a half on 2 cores), ``CAMPAIGN_SEED``
(default: drawn, and printed) and ``CAMPAIGN_WORKERS`` (default 2) steer it; ``make
campaign`` runs a bigger one.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
import re
import runpy
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from grpc_provider.props import SIG_KEY
from real_cli_support import KEY_TYPE, RealStack, Run, Specs, StackFailed, keys_program, plain

from pulumi_astrokeys.emulator import Bootstrap
from pulumi_astrokeys.testing.emulator import Emulator
from pulumi_astrokeys.testing.stacks import new_stack

RUNS = int(os.environ.get("CAMPAIGN_RUNS", "8"))
WORKERS = int(os.environ.get("CAMPAIGN_WORKERS", "2"))
FORK = os.environ.get("CAMPAIGN_FORK", "1") != "0"
SEED = int(os.environ.get("CAMPAIGN_SEED") or random.SystemRandom().randrange(2**31))
RERUNS = 3
PROBABILITY = 0.2
FAULTS: list[Any] = [
    {"action": "status", "status": 429, "retry_after": 0},
    429,
    500,
    502,
    503,
    {"action": "drop"},
    {"action": "delay", "delay_seconds": 0.05},
    {"action": "commit-then-drop"},
    {"action": "commit-then-delay", "delay_seconds": 0.05},
    {"action": "commit-then-garble"},
    # Past the provider's request timeout (below), within its grace for late commits.
    {"action": "delay-then-commit", "delay_seconds": 1.5},
]
REQUEST_TIMEOUT = "1"
# Every request the provider sends; the checks below authenticate with GET /deployments, which this spares.
PROVIDER_PATHS = r"/tokens|/deployments/"
OPERATIONS = ("up", "replace", "refresh", "destroy")
# The last line of a provider's error: the package's exception class, then its sentence.
PROVIDER_ERROR = re.compile(r"(?P<exception>pulumi_astrokeys\.[\w.]+): (?P<sentence>.+)")
# How a failure cites the API's answer, and says that no whole answer arrived.
REQUEST_ID = re.compile(r"requestId ([0-9a-f-]{36})")
TRANSPORT_FAILURES = ("failed: no answer from", "with a body that is not the API's")
# What the engine and the SDK add, without a resource, once a step has failed.
ENGINE_FOLLOW_UPS = re.compile(
    r"(update|refresh|destroy) failed|Resource monitor has terminated, shutting down|"
    r"one or more errors occurred"
)


# -- provider processes forked from a preloaded parent ------------------------------------------

# What a provider process imports before it answers: loaded once, in the fork server.
PRELOAD = (
    "dill",
    "grpc",
    "google.protobuf.empty_pb2",
    "pulumi.dynamic",
    "pulumi.runtime",
    "pulumi.runtime._serialization",
    "pulumi.runtime.proto.provider_pb2_grpc",
    "pulumi_astrokeys.provider",
    "pulumi_astrokeys._client",
    "pulumi_astrokeys._inputs",
    "pulumi_astrokeys._operations",
)

# The "python" the CLI's dynamic-provider launcher (``pulumi-resource-pulumi-python``) runs
# as ``$PULUMI_PYTHON_CMD -u -m pulumi.dynamic <engine>``: stdlib only, started with -S -E
# so it costs a few ms. It hands its stdin, stdout and stderr to the fork server with two
# pipes: the child holds one open while it lives (the launcher exits when it closes), and
# watches the other, which closes when the launcher dies (the CLI killing the plugin), to
# exit with it.
LAUNCHER = """\
import json, os, socket, sys
child_alive_r, child_alive_w = os.pipe()
launcher_alive_r, launcher_alive_w = os.pipe()
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.connect({socket_path!r})
payload = json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}}).encode()
socket.send_fds(server, [len(payload).to_bytes(4, "big") + payload], [0, 1, 2, child_alive_w, launcher_alive_r])
os.close(child_alive_w)
os.close(launcher_alive_r)
server.close()
while os.read(child_alive_r, 1):
    pass
"""


def serve_forks(socket_path: str) -> None:
    """The fork server: preload, then fork one provider process per launcher that connects.

    It stops when its stdin closes: the test that started it is gone.
    """
    for module in PRELOAD:
        __import__(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they exit
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):
            return
        if listener not in readable:
            continue
        connection, _ = listener.accept()
        data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 5)
        size = int.from_bytes(data[:4], "big")
        while len(data) < size + 4:
            data += connection.recv(size + 4 - len(data))
        request = json.loads(data[4:])
        if os.fork() == 0:
            listener.close()
            connection.close()
            _become_provider(request, fds)
        connection.close()
        for fd in fds:
            os.close(fd)


def _become_provider(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: take the launcher's pipes, environment and directory, run the module."""
    code = 1
    try:
        stdin, stdout, stderr, _alive, launcher_alive = fds
        for target, fd in enumerate((stdin, stdout, stderr)):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
        threading.Thread(target=_exit_with_launcher, args=(launcher_alive,), daemon=True).start()
        argv = [arg for arg in request["argv"] if arg != "-u"]  # -u: stdout and stderr write through already
        option, module, *rest = argv
        assert option == "-m", request["argv"]
        sys.argv = ["", *rest]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must end here whatever happened, with the reason on stderr
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _exit_with_launcher(fd: int) -> None:
    while os.read(fd, 1):
        pass
    os._exit(0)


@contextmanager
def provider_launcher(workdir: Path) -> Iterator[str]:
    """The ``python`` for the CLI's launcher to run provider processes with (see the module docstring)."""
    if not FORK:
        yield sys.executable
        return
    with tempfile.TemporaryDirectory(prefix="campaign-") as short:  # a socket path has ~100 bytes at most
        socket_path = str(Path(short) / "forks")
        server = subprocess.Popen(
            [sys.executable, "-c", f"import test_fault_campaign as c; c.serve_forks({socket_path!r})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            launcher = workdir / "python"
            launcher.write_text(f"#!{sys.executable} -SE\n" + LAUNCHER.format(socket_path=socket_path))
            launcher.chmod(0o755)
            yield str(launcher)
        finally:
            os.killpg(server.pid, signal.SIGTERM)  # the server and any provider still running
            server.wait()


# -- one run -----------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one run saw: reruns and failures by operation, and every broken promise."""

    index: int
    reruns: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    unrecovered: list[tuple[str, list[str]]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)


_emulators: dict[str, tuple[Emulator, httpx.Client]] = {}


def emulator_for(bootstrap: Bootstrap) -> tuple[Emulator, httpx.Client]:
    """This process's handles on the campaign's emulator: its controls, and an API client without a token."""
    if bootstrap.host not in _emulators:
        emulator = Emulator(bootstrap)
        _emulators[bootstrap.host] = (emulator, httpx.Client(base_url=emulator.base_url, trust_env=False, timeout=30))
    return _emulators[bootstrap.host]


def authenticates(api: httpx.Client, secret: str, deployment_id: str) -> bool:
    """Whether the secret is a working token for its Deployment (``GET /deployments``, spared by the chaos)."""
    response = api.get("/deployments", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code == 200 and deployment_id in [d["id"] for d in response.json()["deployments"]]


def explain(run: Run, key_names: dict[str, str]) -> tuple[list[str], list[str]]:
    """What a failed operation told the user: each error's sentence, and the errors that were not
    one clear sentence naming the key they are about.

    A provider's error is attached to its resource, and its last line is the package's
    exception class and the sentence. Errors without a resource are the engine's follow-ups
    to those, and unclear if they are anything else or if no resource's error came first.
    """
    sentences: list[str] = []
    unclear: list[str] = []
    for event in run.events:
        diagnostic = event.diagnostic_event
        if diagnostic is None or diagnostic.severity != "error":
            continue
        message = diagnostic.message.strip()
        resource = diagnostic.urn.rsplit("::", 1)[-1] if diagnostic.urn else None
        if resource is None:
            if not ENGINE_FOLLOW_UPS.fullmatch(message):
                unclear.append(f"an error naming no resource: {message!r}")
            continue
        last = message.splitlines()[-1] if message else ""
        matched = PROVIDER_ERROR.fullmatch(last)
        sentence = matched["sentence"] if matched else last
        sentences.append(sentence)
        if not (matched and sentence.endswith(".") and f"'{key_names.get(resource, resource)}'" in sentence):
            unclear.append(f"{resource}: {message!r}")
        elif "quote the requestId" in sentence and not REQUEST_ID.search(sentence):
            unclear.append(f"{resource}: asks to quote a requestId it does not give: {sentence!r}")
    if not sentences:
        unclear.append(f"no resource's error explains the failure: {run.error_text() or run.stdout!r}")
    return sentences, unclear


def by_injected_faults(sentences: list[str], faulted: set[str]) -> bool:
    """Whether each of an operation's failures was the chaos's doing: an answer the emulator
    logged as a fault (by the requestId the sentence cites), or one that never arrived whole
    (dropped, timed out, cut short), which only the faults cause here. Four such failures in
    a row are bad luck, not a bug; a failure on an answer the API gave without a fault is."""

    def injected(sentence: str) -> bool:
        cited = REQUEST_ID.findall(sentence)
        if cited:
            return any(request_id in faulted for request_id in cited)
        return any(words in sentence for words in TRANSPORT_FAILURES)

    return bool(sentences) and all(injected(sentence) for sentence in sentences)


def check_state(stack: RealStack, bootstrap: Bootstrap, prefix: str, operation: str, ok: bool, report: RunReport) -> None:
    """The promises that hold after every operation, failed or not; the state as ``pulumi stack export`` has it."""
    emulator, api = emulator_for(bootstrap)
    live = {t["id"]: t for t in emulator.list_all_tokens(emulator.organization_id) if t["name"].startswith(prefix)}
    # Keys pending deletion (an old key whose delete failed) count: the next up deletes them.
    keys = {r["id"]: r for r in stack.resources(show_secrets=True) if r["type"] == KEY_TYPE}
    where = f"run {report.index} after {operation}"
    report.orphans += [
        f"{where}: token {i} ({live[i]['name']}, {live[i]['description']!r}, created {live[i]['createdAt']}) "
        "is not in the state"
        for i in live.keys() - keys.keys()
    ]
    if operation == "refresh" and ok:
        report.missing += [f"{where}: key {i} is in the state, not in the API" for i in keys.keys() - live.keys()]
    if operation == "destroy" and ok and live:
        report.orphans.append(f"{where}: {sorted(live)} outlived destroy")
    for key_id in live.keys() & keys.keys():
        outputs = keys[key_id].get("outputs") or {}
        stored = outputs.get("secret")
        secret = plain(stored)
        if not isinstance(secret, str) or not secret:
            report.secrets.append(f"{where}: key {key_id} has no secret in the state")
        elif not (isinstance(stored, dict) and SIG_KEY in stored):
            report.secrets.append(f"{where}: key {key_id}'s secret is in the state in plain text")
        elif not authenticates(api, secret, outputs["deployment_id"]):
            report.secrets.append(f"{where}: key {key_id}'s secret in the state does not authenticate")


def run_lifecycle(index: int, seed: int, bootstrap: Bootstrap, workdir: str, python: str) -> RunReport:
    """One run, in a pool process: up, replace, refresh, destroy, each rerun up to three times."""
    rng = random.Random(seed + index)
    prefix = f"run{index:05d}-"
    names = [prefix + letter for letter in "abc"[: rng.choice((2, 3))]]
    specs: Specs = {
        name: {"name": name, "deployment_id": rng.choice(bootstrap.deployment_ids), "description": f"campaign key {name}"}
        for name in names
    }
    if len(names) == 3 and rng.random() < 0.5:  # two keys of the same name on the same Deployment
        specs[names[2]].update(name=names[0], deployment_id=specs[names[0]]["deployment_id"])
    key_names = {name: spec["name"] for name, spec in specs.items()}
    emulator, _ = emulator_for(bootstrap)
    root = Path(workdir) / f"run{index:05d}"
    stack = RealStack(
        new_stack(
            keys_program(specs),
            work_dir=root,
            emulator=emulator,
            project_name="campaign",
            stack_name=f"run{index}",
            config={"astrokeys:retryBackoff": "0.01", "astrokeys:requestTimeout": REQUEST_TIMEOUT},
            env={"PULUMI_PYTHON_CMD": python},
            passphrase="campaign",
        ),
        root,
    )
    steps = {"up": stack.up, "replace": stack.up, "refresh": stack.refresh, "destroy": stack.destroy}
    report = RunReport(index)
    for operation in OPERATIONS:
        if operation == "replace":
            replaced = rng.choice(names)
            specs[replaced]["description"] = f"campaign key {replaced}, rotated"
        ok = False
        sentences_of_operation: list[str] = []
        for attempt in range(1 + RERUNS):
            try:
                steps[operation]()
                ok = True
                break
            except StackFailed as failed:
                report.reruns[operation] += attempt < RERUNS
                sentences, unclear = explain(failed.run, key_names)
                report.failures += sentences
                sentences_of_operation += sentences
                report.unclear += [f"run {index} {operation}: {problem}" for problem in unclear]
        if not ok:
            report.unrecovered.append(
                (f"run {index}: {operation} still failed after {RERUNS} reruns", sentences_of_operation)
            )
        check_state(stack, bootstrap, prefix, operation, ok, report)
    return report


def summary(reports: list[RunReport], chaos: dict[str, Any], seconds: float, unlucky: int) -> str:
    reruns = sum((r.reruns for r in reports), Counter())
    injected = ", ".join(f"{kind} {count}" for kind, count in chaos["injected"].items())
    rate = chaos["total"] / max(1, chaos["considered"])
    return "\n".join(
        [
            (
                f"fault campaign on the real Pulumi CLI: {len(reports)} runs in {seconds:.0f} s ({WORKERS} workers, "
                f"seed {SEED}{', forked providers' if FORK else ''})"
            ),
            f"  faults injected: {chaos['total']} of {chaos['considered']} provider requests ({rate:.0%}): {injected}",
            (
                f"  reruns needed: {sum(reruns.values())} ({', '.join(f'{op} {reruns[op]}' for op in OPERATIONS)}); "
                f"operations failed for good: {sum(len(r.unrecovered) for r in reports)} "
                f"({unlucky} of them by injected faults alone, each time)"
            ),
            (
                f"  failures reported: {sum(len(r.failures) for r in reports)}, "
                f"unclear: {sum(len(r.unclear) for r in reports)}"
            ),
            (
                f"  orphans found: {sum(len(r.orphans) for r in reports)}; "
                f"keys the API lacked after refresh: {sum(len(r.missing) for r in reports)}; "
                f"secrets lost or not working: {sum(len(r.secrets) for r in reports)}"
            ),
        ]
    )


# A run takes about 9 s of CPU (the CLI, the engine, the providers and four exports).
@pytest.mark.timeout(180 + RUNS * 30 // max(1, WORKERS))
def test_a_fault_campaign_leaves_no_orphan_loses_no_secret_and_explains_every_failure(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = Bootstrap(
        host=emulator.host,
        organization_id=emulator.organization_id,
        workspace_id=emulator.workspace_id,
        deployment_ids=emulator.deployment_ids,
        api_token=emulator.api_token,
    )
    started = time.monotonic()
    with provider_launcher(tmp_path) as python, ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        emulator.chaos(PROBABILITY, FAULTS, seed=SEED, path=PROVIDER_PATHS)
        arguments = [(i, SEED, bootstrap, str(tmp_path), python) for i in range(RUNS)]
        reports = list(pool.map(run_lifecycle, *zip(*arguments)))
        chaos = emulator.clear_chaos()
    faulted = {request["requestId"] for request in emulator.requests() if request["fault"]}
    # An operation that failed for good is a bug unless every one of its failures was an injected fault.
    unrecovered = [
        what for report in reports for what, sentences in report.unrecovered
        if not by_injected_faults(sentences, faulted)
    ]
    unlucky = sum(len(report.unrecovered) for report in reports) - len(unrecovered)
    text = summary(reports, chaos, time.monotonic() - started, unlucky)
    with capsys.disabled():
        # stderr: pytest-xdist workers pass it through to the terminal, stdout they do not.
        print("\n" + text, file=sys.stderr)

    assert len(reports) == RUNS
    if RUNS >= 50:  # enough requests for every kind of fault, near the chosen rate
        assert set(chaos["injected"]) == {
            "429 retry-after 0", "429", "500", "502", "503", "drop", "delay", "commit-then-drop", "commit-then-delay",
            "commit-then-garble", "delay-then-commit",
        }
        assert 0.15 < chaos["total"] / chaos["considered"] < 0.25
    problems = unrecovered + [
        problem for report in reports for problem in report.orphans + report.missing + report.secrets + report.unclear
    ]
    assert problems == [], text + "\n" + "\n".join(problems)


def test_an_operation_that_fails_for_good_is_bad_luck_only_if_each_failure_was_an_injected_fault() -> None:
    faulted = {"5456c595-7132-4875-9b8e-ff8b7b8aaea7"}
    answered_with_a_fault = (
        "Could not read Deployment API key 'a' (k1): the Astro API answered GET /tokens/k1 with 500 Internal "
        "Server Error, requestId 5456c595-7132-4875-9b8e-ff8b7b8aaea7; run the same command again in a moment."
    )
    cut_short = (
        "Could not read Deployment API key 'a' (k1): GET /tokens/k1 answered 200 with a body that is not the "
        "API's ApiToken JSON (Content-Type application/json); run the same command again."
    )
    answered_without_a_fault = answered_with_a_fault.replace("5456c595", "00000000")
    no_request = "Could not read Deployment API key 'a' (k1): the key's state is not readable."

    assert by_injected_faults([answered_with_a_fault, cut_short], faulted)
    assert not by_injected_faults([answered_with_a_fault, answered_without_a_fault], faulted)
    assert not by_injected_faults([cut_short, no_request], faulted)
    assert not by_injected_faults([], faulted)
