"""A fault campaign: whole lifecycles of small stacks, on the real Pulumi CLI, while the API fails at random.

Each run takes a program of 2 or 3 keys over the emulator's two Deployments through
``up``, an ``up`` that replaces one key, ``refresh`` and ``destroy``, each run by the
``pulumi`` CLI and engine (Automation API inline programs, a file backend of the run's
own; see ``real_cli_support``), with about one Astro request in five failing (429 with
and without ``Retry-After``, 500, 502, 503, dropped connections, slow answers, creates
whose answer is lost, answers cut in half, requests the server commits after the client
gave up on them). In half the runs of 3 keys, the third has the first one's name and
Deployment (Astro allows duplicate names), so a clean-up that deleted by name would
delete a live key. Each run has a Workspace API token of its own, so its requests are its
own in the emulator's request log.

A failed operation is run again, at most three times; the last rerun runs with the chaos
paused, and must succeed. Every failure is judged against the request log
(``fault_judgement``): excused only when the request it cites by ID met an injected fault
the client may let through; a failure on a 429, a 502, a 503 or a lost answer of an
idempotent request is a bug, always. The excused failures are counted and bounded
(:func:`fault_judgement.excused_bound`): one for each fault let through on a request sent
once, and a few for those on creates, which try twice. After every operation, reading the state with
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

And the campaign met injected faults, each kind the client must absorb among them, counted
from its runs' requests in the log.

Runs go to a pool of processes, each taking its runs one after another (an inline
program runs in the process that drives the stack), all against one emulator. Much of
a run's cost is its provider processes, each of which spends most of a second of CPU
importing Pulumi and this package before it serves a single call; so, unless
``CAMPAIGN_FORK=0``, the CLI's dynamic-provider launcher is given a ``python``
(``PULUMI_PYTHON_CMD``) that has each forked from a parent that has already imported
them, which then runs ``python -m pulumi.dynamic`` as usual, in a fresh process of its
own with the launcher's pipes, environment and working directory. That parent is also
where a test breaks the client on purpose, to show that the campaign catches it.

``CAMPAIGN_RUNS`` (default 8, under a minute on 2 cores), ``CAMPAIGN_SEED`` (default
20261203; ``draw`` draws one; either way it is printed, with the command that replays a
failure) and ``CAMPAIGN_WORKERS`` (default 2) steer it; ``make campaign`` runs a bigger
one with a drawn seed. A seed fixes each run's program and the chaos's sequence of
draws; which request meets which draw still varies with timing.
"""

from __future__ import annotations

import io
import json
import math
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
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_judgement import (
    REQUEST_ID,
    Bound,
    Excuse,
    Failure,
    deletes_of_others,
    excused_bound,
    judge,
    kinds_injected,
    must_absorb,
    split,
)
from grpc_provider.props import SIG_KEY
from real_cli_support import KEY_TYPE, RealStack, Run, Specs, StackFailed, keys_program, plain

from pulumi_astrokeys.emulator import Bootstrap
from pulumi_astrokeys.testing.emulator import Emulator
from pulumi_astrokeys.testing.stacks import new_stack

FIXED_SEED = 20261203
RUNS = int(os.environ.get("CAMPAIGN_RUNS", "8"))
WORKERS = int(os.environ.get("CAMPAIGN_WORKERS", "2"))
FORK = os.environ.get("CAMPAIGN_FORK", "1") != "0"
_SEED = os.environ.get("CAMPAIGN_SEED", "").strip()
SEED = random.SystemRandom().randrange(2**31) if _SEED == "draw" else int(_SEED or FIXED_SEED)
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
# The kinds of fault the client must absorb on an idempotent request, as the request log names them.
ABSORBED_KINDS = ("429", "502", "503", "drop")
REQUEST_TIMEOUT = "1"
# Eleven tries a request: a run of absorbable faults long enough to exhaust them (about 0.15 to the
# eleventh) never happens, so a failure on one is the client's, not the dice's. At the default six
# it would, about once in 100 runs.
MAX_RETRIES = "10"
# Every request the provider sends; the checks below authenticate with GET /deployments, which this spares.
PROVIDER_PATHS = r"/tokens|/deployments/"
OPERATIONS = ("up", "replace", "refresh", "destroy")
# The last line of a provider's error: the package's exception class, then its sentence.
PROVIDER_ERROR = re.compile(r"(?P<exception>pulumi_astrokeys\.[\w.]+): (?P<sentence>.+)")
# What the engine and the SDK add, without a resource, once a step has failed.
ENGINE_FOLLOW_UPS = re.compile(
    r"(update|refresh|destroy) failed|Resource monitor has terminated, shutting down|"
    r"one or more errors occurred"
)
# How the test that breaks the client tells the fork server (below) to: never a setting of the package.
BREAK_CLIENT = "CAMPAIGN_TEST_BREAK_CLIENT"


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
    if os.environ.get(BREAK_CLIENT) == "no-429-retry":
        break_429_retry()
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


def break_429_retry() -> None:
    """Make every provider process's client give up on a 429 at once, as a client without its
    429 retry would: its ``Retry-After`` becomes one that no retry budget can wait out."""
    from pulumi_astrokeys._client import AstroClient
    from pulumi_astrokeys._errors import RateLimitedError

    send_once = AstroClient._send_once

    def without_429_retry(self: AstroClient, *args: Any, **kwargs: Any) -> httpx.Response:
        try:
            return send_once(self, *args, **kwargs)
        except RateLimitedError as error:
            error.retry_after = math.inf
            raise

    AstroClient._send_once = without_429_retry  # type: ignore[method-assign]


def _exit_with_launcher(fd: int) -> None:
    while os.read(fd, 1):
        pass
    os._exit(0)


@contextmanager
def provider_launcher(workdir: Path, breakage: str | None = None) -> Iterator[str]:
    """The ``python`` for the CLI's launcher to run provider processes with (see the module
    docstring); with ``breakage`` (``no-429-retry``), whose providers have a broken client."""
    if not FORK and breakage is None:
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
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
                **({BREAK_CLIENT: breakage} if breakage else {}),
            },
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
    """What one run saw: reruns, its failures as the request log judged them, and every broken promise."""

    index: int
    reruns: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    excused: list[Excuse] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return self.bugs + self.orphans + self.missing + self.secrets + self.unclear


@dataclass(frozen=True)
class Caller:
    """A run's own Workspace API token: its ID (how the request log names it) and value."""

    token_id: str
    token: str

    def __repr__(self) -> str:
        return f"Caller(token_id={self.token_id!r})"


_emulators: dict[str, tuple[Emulator, httpx.Client]] = {}


def emulator_for(bootstrap: Bootstrap) -> tuple[Emulator, httpx.Client]:
    """This process's handles on the campaign's emulator: its controls, and an API client without a token."""
    if bootstrap.host not in _emulators:
        emulator = Emulator(bootstrap)
        _emulators[bootstrap.host] = (emulator, httpx.Client(base_url=emulator.base_url, trust_env=False, timeout=30))
    return _emulators[bootstrap.host]


def callers(emulator: Emulator, count: int) -> list[Caller]:
    """One Workspace API token per run, made before the chaos starts."""
    made = []
    with emulator.client() as owner:
        for index in range(count):
            body = {
                "name": f"campaign caller {index}",
                "scope": "WORKSPACE",
                "entityId": emulator.workspace_id,
                "role": "WORKSPACE_OWNER",
            }
            response = owner.post("/tokens", json=body)
            response.raise_for_status()
            made.append(Caller(response.json()["id"], response.json()["token"]))
    return made


def authenticates(api: httpx.Client, secret: str, deployment_id: str) -> bool:
    """Whether the secret is a working token for its Deployment (``GET /deployments``, spared by the chaos)."""
    response = api.get("/deployments", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code == 200 and deployment_id in [d["id"] for d in response.json()["deployments"]]


def explain(run: Run, key_names: dict[str, str]) -> tuple[list[tuple[str, str | None, str]], list[str]]:
    """What a failed operation told the user: each error's resource, failed step and sentence,
    and the errors that were not one clear sentence naming the key they are about.

    A provider's error is attached to its resource, and its last line is the package's
    exception class and the sentence. Errors without a resource are the engine's follow-ups
    to those, and unclear if they are anything else or if no resource's error came first.
    """
    failed_steps = {
        event.res_op_failed_event.metadata.urn: event.res_op_failed_event.metadata.op.value
        for event in run.events
        if event.res_op_failed_event is not None
    }
    errors: list[tuple[str, str | None, str]] = []
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
        errors.append((resource, failed_steps.get(diagnostic.urn or ""), sentence))
        if not (matched and sentence.endswith(".") and f"'{key_names.get(resource, resource)}'" in sentence):
            unclear.append(f"{resource}: {message!r}")
        elif "quote the requestId" in sentence and not REQUEST_ID.search(sentence):
            unclear.append(f"{resource}: asks to quote a requestId it does not give: {sentence!r}")
    if not errors:
        unclear.append(f"no resource's error explains the failure: {run.error_text() or run.stdout!r}")
    return errors, unclear


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


def run_lifecycle(index: int, seed: int, bootstrap: Bootstrap, caller: Caller, workdir: str, python: str) -> RunReport:
    """One run, in a pool process: up, replace, refresh, destroy, each rerun up to three times,
    the last time with the chaos paused; then its failures judged against its requests."""
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
            config={
                "astrokeys:retryBackoff": "0.01",
                "astrokeys:requestTimeout": REQUEST_TIMEOUT,
                "astrokeys:maxRetries": MAX_RETRIES,
            },
            secret_config={"astrokeys:apiToken": caller.token},
            env={"PULUMI_PYTHON_CMD": python},
            passphrase="campaign",
        ),
        root,
    )
    steps = {"up": stack.up, "replace": stack.up, "refresh": stack.refresh, "destroy": stack.destroy}
    report = RunReport(index)
    failures: list[Failure] = []
    entries: list[dict[str, Any]] = []

    def last_seq() -> int:
        entries.extend(emulator.requests(token_id=caller.token_id, after=entries[-1]["seq"] if entries else 0))
        return entries[-1]["seq"] if entries else 0

    for operation in OPERATIONS:
        if operation == "replace":
            replaced = rng.choice(names)
            specs[replaced]["description"] = f"campaign key {replaced}, rotated"
        ok = False
        for attempt in range(1 + RERUNS):
            faults_off = attempt == RERUNS
            began = last_seq()
            try:
                with emulator.chaos_paused() if faults_off else nullcontext():
                    steps[operation]()
                ok = True
                break
            except StackFailed as failed:
                report.reruns[operation] += attempt < RERUNS
                errors, unclear = explain(failed.run, key_names)
                where = f"run {index} {operation} (attempt {attempt + 1})"
                report.unclear += [f"{where}: {problem}" for problem in unclear]
                if faults_off:
                    report.bugs.append(f"{where} failed with the chaos paused: {[e[2] for e in errors]}")
                else:
                    failures += [Failure(where, *error, after_seq=began) for error in errors]
        check_state(stack, bootstrap, prefix, operation, ok, report)
    last_seq()
    judgement = judge(failures, entries)
    report.failures = len(failures)
    report.excused, report.bugs = judgement.excused, report.bugs + judgement.bugs
    report.requests = len(entries)
    report.injected = kinds_injected(entries)
    return report


# -- the campaign ----------------------------------------------------------------------------------


@dataclass
class Campaign:
    """What a campaign saw, over all its runs; ``text`` is what it prints."""

    reports: list[RunReport]
    injected: Counter[str]
    absorbed: Counter[str]
    bound: Bound
    others_touched: list[str]
    text: str

    @property
    def excused(self) -> list[Excuse]:
        return [excuse for report in self.reports for excuse in report.excused]

    def problems(self) -> list[str]:
        problems = [problem for report in self.reports for problem in report.problems()]
        return problems + self.others_touched + self.bound.exceeded_by(self.excused)


BROKEN_CLIENT_REPLAY = (
    f"CAMPAIGN_SEED={SEED} .venv/bin/python -m pytest tests/test_fault_campaign.py -k does_not_retry_429s"
)


def replay_command(runs: int) -> str:
    return f"make campaign CAMPAIGN_RUNS={runs} CAMPAIGN_SEED={SEED} CAMPAIGN_WORKERS={WORKERS}"


def run_campaign(
    emulator: Emulator, workdir: Path, runs: int, faults: list[Any], *, breakage: str | None = None
) -> Campaign:
    """``runs`` lifecycles in a pool of ``WORKERS`` processes under chaos of ``faults``, judged."""
    bootstrap = Bootstrap(
        host=emulator.host,
        organization_id=emulator.organization_id,
        workspace_id=emulator.workspace_id,
        deployment_ids=emulator.deployment_ids,
        api_token=emulator.api_token,
    )
    started = time.monotonic()
    run_callers = callers(emulator, runs)
    with provider_launcher(workdir, breakage) as python, ProcessPoolExecutor(
        min(WORKERS, runs), mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        emulator.chaos(PROBABILITY, faults, seed=SEED, path=PROVIDER_PATHS)
        arguments = [(i, SEED, bootstrap, run_callers[i], str(workdir), python) for i in range(runs)]
        reports = list(pool.map(run_lifecycle, *zip(*arguments)))
        emulator.clear_chaos()
    mine = {caller.token_id for caller in run_callers}
    log = [entry for entry in emulator.requests() if entry["tokenId"] in mine]
    others_touched = deletes_of_others(log)
    injected = kinds_injected(log)
    absorbed = kinds_injected(entry for entry in log if must_absorb(entry))
    bound = excused_bound(log)
    excused = [excuse for report in reports for excuse in report.excused]
    sent_once, on_creates = split(excused)
    faultless = sum(1 for report in reports if not report.injected)
    reruns = sum((report.reruns for report in reports), Counter())
    faulted = sum(injected.values())
    lines = [
        (
            f"fault campaign on the real Pulumi CLI: {runs} runs in {time.monotonic() - started:.0f} s "
            f"({min(WORKERS, runs)} worker{'s' if min(WORKERS, runs) > 1 else ''}{', forked providers' if FORK or breakage else ''}"
            f"{', client broken: ' + breakage if breakage else ''}), seed {SEED}"
        ),
        f"  replay: {replay_command(runs) if breakage is None else BROKEN_CLIENT_REPLAY}",
        (
            f"  faults injected: {faulted} of {len(log)} provider requests ({faulted / max(1, len(log)):.0%}): "
            + ", ".join(f"{kind} {count}" for kind, count in sorted(injected.items()))
        ),
        f"  of them on requests the client must get past: {sum(absorbed.values())} ("
        + ", ".join(f"{kind} {count}" for kind, count in sorted(absorbed.items()))
        + ")",
        (
            f"  reruns: {sum(reruns.values())} ({', '.join(f'{op} {reruns[op]}' for op in OPERATIONS)}); "
            f"failures reported: {sum(report.failures for report in reports)}, "
            f"excused by the request log: {len(excused)} (on requests sent once {sent_once}, "
            f"bound {bound.sent_once}; on creates {on_creates}, bound {bound.creates}), "
            f"bugs: {sum(len(r.bugs) for r in reports)}"
        ),
        (
            f"  orphans found: {sum(len(r.orphans) for r in reports)}; "
            f"keys the API lacked after refresh: {sum(len(r.missing) for r in reports)}; "
            f"secrets lost or not working: {sum(len(r.secrets) for r in reports)}; "
            f"unclear errors: {sum(len(r.unclear) for r in reports)}; runs that met no fault: {faultless}"
        ),
        f"  keys of other runs deleted: {len(others_touched)}",
    ]
    return Campaign(reports, injected, absorbed, bound, others_touched, "\n".join(lines))


def show(campaign: Campaign, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        # stderr: pytest-xdist workers pass it through to the terminal, stdout they do not.
        print("\n" + campaign.text, file=sys.stderr)


# A run takes about 9 s of CPU (the CLI, the engine, the providers and four exports).
@pytest.mark.timeout(180 + RUNS * 30 // max(1, WORKERS))
def test_a_fault_campaign_leaves_no_orphan_loses_no_secret_and_excuses_only_faults_the_log_shows(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = run_campaign(emulator, tmp_path, RUNS, FAULTS)
    show(campaign, capsys)

    assert len(campaign.reports) == RUNS
    # Every kind the client must get past was met where it must, so a client that stopped doing so fails.
    assert set(ABSORBED_KINDS) <= set(campaign.absorbed), campaign.text
    if RUNS >= 50:  # enough requests for every kind of fault, near the chosen rate
        assert set(campaign.injected) == {
            "429", "500", "502", "503", "drop", "delay", "commit-then-drop", "commit-then-delay",
            "commit-then-garble", "delay-then-commit",
        }
        assert 0.15 < sum(campaign.injected.values()) / sum(r.requests for r in campaign.reports) < 0.25
    problems = campaign.problems()
    assert problems == [], f"{campaign.text}\nreplay: {replay_command(RUNS)}\n" + "\n".join(problems)


@pytest.mark.timeout(240)
def test_the_campaign_fails_a_client_that_does_not_retry_429s(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_429s = [FAULTS[0], 429]
    campaign = run_campaign(emulator, tmp_path, 1, only_429s, breakage="no-429-retry")
    show(campaign, capsys)

    bugs = [bug for report in campaign.reports for bug in report.bugs]
    assert bugs, campaign.text
    assert all(re.search(r"failed on an injected 429 to .*, which the client must absorb", bug) for bug in bugs), bugs
    assert campaign.excused == []
