"""A fault campaign: whole lifecycles of small stacks while the API fails at random.

Each run takes a program of 2 or 3 keys over the emulator's two Deployments through
``up``, an ``up`` that replaces one key, ``refresh`` and ``destroy``, with about one
Astro request in five failing (429 with and without ``Retry-After``, 500, 502, 503,
dropped connections, slow answers, creates whose answer is lost, answers cut in half,
requests the server commits after the client gave up on them). In half the runs of 3
keys, the third has the first one's name and Deployment (Astro allows duplicate names),
so a clean-up that deleted by name would delete a live key. A failed operation is run
again, at most three times. After every operation:

- no orphan: every token of the run's keys that the API holds is in the state, and
  after ``destroy`` there is none;
- after ``refresh``, no key in the state that the API lacks;
- every live key's secret is in the state and authenticates against the API;
- every failure was reported as one sentence, on one line, naming the key.

Runs go to a pool of processes (the lifecycle harness runs one program at a time per
process), all against one emulator. The cost of a run is its provider processes, each
of which spends about 0.4 s of CPU importing Pulumi and this package before it serves
a single call; so, unless ``CAMPAIGN_FORK=0``, each is forked from a parent that has
already imported them, and then runs ``python -m pulumi.dynamic`` as usual, in a
fresh process of its own with the harness's pipes, environment and working directory.

``CAMPAIGN_RUNS`` (default 200), ``CAMPAIGN_SEED`` (default: drawn, and printed) and
``CAMPAIGN_WORKERS`` (default 2) steer it; ``make campaign`` runs a bigger one.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
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
from lifecycle import LifecycleError, Stack
from lifecycle.stack import reveal

from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys.emulator import Bootstrap
from pulumi_astrokeys.testing.emulator import Emulator

RUNS = int(os.environ.get("CAMPAIGN_RUNS", "200"))
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
KEY_TYPE = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"
OPERATIONS = ("up", "replace", "refresh", "destroy")


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

# The "python" the harness launches: stdlib only, started with -S -E so it costs a few ms.
# It hands its stdin, stdout and stderr to the fork server with two pipes: the child holds
# one open while it lives (the launcher exits when it closes), and watches the other,
# which closes when the launcher dies (the harness terminating it), to exit with it.
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
        option, module, *rest = request["argv"]
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
    """The ``python`` for the harness to launch provider processes with (see the module docstring)."""
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
    unrecovered: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)


def key_program(keys: dict[str, tuple[str, str]], names: dict[str, str]) -> Any:
    """Program: one key per entry, ``resource name -> (deployment_id, description)``, named by ``names``."""

    def program() -> None:
        for resource_name, (deployment_id, description) in keys.items():
            DeploymentApiKey(
                resource_name, name=names[resource_name], deployment_id=deployment_id, description=description
            )

    return program


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


def single_sentence_naming(message: str, names: list[str]) -> bool:
    return (
        "\n" not in message
        and "Traceback" not in message
        and message.rstrip().endswith(".")
        and any(f"'{name}'" in message for name in names)
    )


def check_state(stack: Stack, bootstrap: Bootstrap, prefix: str, operation: str, ok: bool, report: RunReport) -> None:
    """The promises that hold after every operation, failed or not."""
    emulator, api = emulator_for(bootstrap)
    live = {t["id"]: t for t in emulator.list_all_tokens(emulator.organization_id) if t["name"].startswith(prefix)}
    keys = {r.id: r for r in stack.resources() if r.type == KEY_TYPE}
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
        outputs = keys[key_id].outputs
        secret = reveal(outputs.get("secret"))
        if not isinstance(secret, str) or not secret:
            report.secrets.append(f"{where}: key {key_id} has no secret in the state")
        elif not authenticates(api, secret, outputs["deployment_id"]):
            report.secrets.append(f"{where}: key {key_id}'s secret in the state does not authenticate")


def run_lifecycle(index: int, seed: int, bootstrap: Bootstrap, workdir: str, python: str) -> RunReport:
    """One run, in a pool process: up, replace, refresh, destroy, each rerun up to three times."""
    rng = random.Random(seed + index)
    prefix = f"run{index:05d}-"
    names = [prefix + letter for letter in "abc"[: rng.choice((2, 3))]]
    keys = {name: (rng.choice(bootstrap.deployment_ids), f"campaign key {name}") for name in names}
    key_names = {name: name for name in names}
    if len(names) == 3 and rng.random() < 0.5:  # two keys of the same name on the same Deployment
        key_names[names[2]] = names[0]
        keys[names[2]] = (keys[names[0]][0], keys[names[2]][1])
    stack = Stack(
        key_program(keys, key_names),
        state_file=Path(workdir) / f"{prefix}state.json",
        project="campaign",
        stack_name=f"run{index}",
        config={
            "astrokeys:host": bootstrap.host,
            "astrokeys:organizationId": bootstrap.organization_id,
            "astrokeys:retryBackoff": "0.01",
            "astrokeys:requestTimeout": REQUEST_TIMEOUT,
        },
        secret_config={"astrokeys:apiToken": bootstrap.api_token},
        passphrase="campaign",
        kdf_iterations=1000,
        python=python,
    )
    steps = {"up": stack.up, "replace": stack.up, "refresh": stack.refresh, "destroy": stack.destroy}
    report = RunReport(index)
    for operation in OPERATIONS:
        if operation == "replace":
            replaced = rng.choice(names)
            keys[replaced] = (keys[replaced][0], f"campaign key {replaced}, rotated")
        ok = False
        for attempt in range(1 + RERUNS):
            try:
                steps[operation]()
                ok = True
                break
            except LifecycleError as error:
                report.reruns[operation] += attempt < RERUNS
                for problem in error.errors:
                    report.failures.append(problem.message)
                    if problem.kind != "step" or not single_sentence_naming(problem.message, names):
                        report.unclear.append(f"run {index} {operation} ({problem.kind}): {problem.message!r}")
        if not ok:
            report.unrecovered.append(f"run {index}: {operation} still failed after {RERUNS} reruns")
        check_state(stack, bootstrap, prefix, operation, ok, report)
    return report


def summary(reports: list[RunReport], chaos: dict[str, Any], seconds: float) -> str:
    reruns = sum((r.reruns for r in reports), Counter())
    injected = ", ".join(f"{kind} {count}" for kind, count in chaos["injected"].items())
    rate = chaos["total"] / max(1, chaos["considered"])
    return "\n".join(
        [
            (
                f"fault campaign: {len(reports)} runs in {seconds:.0f} s ({WORKERS} workers, seed {SEED}"
                f"{', forked providers' if FORK else ''})"
            ),
            f"  faults injected: {chaos['total']} of {chaos['considered']} provider requests ({rate:.0%}): {injected}",
            (
                f"  reruns needed: {sum(reruns.values())} ({', '.join(f'{op} {reruns[op]}' for op in OPERATIONS)}); "
                f"operations failed for good: {sum(len(r.unrecovered) for r in reports)}"
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


@pytest.mark.timeout(120 + RUNS * 4)
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
    text = summary(reports, chaos, time.monotonic() - started)
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
    problems = [
        problem
        for report in reports
        for problem in report.unrecovered + report.orphans + report.missing + report.secrets + report.unclear
    ]
    assert problems == [], text + "\n" + "\n".join(problems)
