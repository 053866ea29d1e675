"""Stacks on the real Pulumi CLI for the benchmarks: programs, timed operations, seeded state, memory.

Every stack is an Automation API stack of an inline program
(:func:`pulumi_astrokeys.testing.stacks.new_stack`): its own file backend and
``PULUMI_HOME``, the emulator in stack config, the provider in its own
``python -m pulumi.dynamic`` process started by the engine, as for a user.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pulumi import automation as auto

from pulumi_astrokeys._ownership import OWNER_PROPERTY
from pulumi_astrokeys.testing.emulator import Emulator
from pulumi_astrokeys.testing.stacks import new_stack

from ._common import REPO_ROOT

PROJECT = "astrokeys-bench"
STACK_TYPE = "pulumi:pulumi:Stack"


def keys_program(deployment_id: str, count: int, prefix: str = "key") -> Callable[[], None]:
    """A program of ``count`` keys on one Deployment."""

    def program() -> None:
        from pulumi_astrokeys import DeploymentApiKey

        for index in range(count):
            DeploymentApiKey(f"{prefix}-{index:04d}", deployment_id=deployment_id)

    return program


def shaped_program(resource: str, deployment_id: str, count: int, prefix: str = "key") -> Callable[[], None]:
    """A program of ``count`` resources of :mod:`benchmarks.noop` (``NoopKey`` or ``OnePostKey``)."""

    def program() -> None:
        from . import noop

        kind = getattr(noop, resource)
        for index in range(count):
            kind(f"{prefix}-{index:04d}", deployment_id=deployment_id)

    return program


def bench_stack(program: Callable[[], None], work_dir: Path, emulator: Optional[Emulator] = None) -> auto.Stack:
    """A stack of ``program`` under ``work_dir``; its provider processes can import :mod:`benchmarks`."""
    return new_stack(
        program,
        work_dir=work_dir,
        emulator=emulator,
        project_name=PROJECT,
        stack_name="bench",
        env={"PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)},
    )


@dataclass
class Outcome:
    """What one timed operation did: its time, its change summary and the errors it reported."""

    seconds: float
    changes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failed_steps: int = 0

    @property
    def surfaced_429s(self) -> int:
        return sum(1 for error in self.errors if "429" in error or "rate limit" in error.lower())

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def timed(operation: Callable[..., Any]) -> Outcome:
    """Run ``stack.up``/``destroy``/``preview``; time it and collect its errors and failed steps."""
    events: list[auto.EngineEvent] = []
    started = time.monotonic()
    failure: Optional[auto.CommandError] = None
    changes: dict[str, int] = {}
    try:
        result = operation(on_event=events.append)
    except auto.CommandError as error:
        failure = error
    else:
        if isinstance(result, auto.PreviewResult):
            changes = dict(result.change_summary)
        else:
            changes = dict(result.summary.resource_changes or {})
    seconds = time.monotonic() - started
    errors = [
        " ".join(e.diagnostic_event.message.split())
        for e in events
        if e.diagnostic_event is not None and e.diagnostic_event.severity == "error"
    ]
    if failure is not None and not errors:
        errors = [str(failure)[-500:]]
    failed = sum(1 for e in events if e.res_op_failed_event is not None)
    return Outcome(seconds, changes, errors, failed)


# -- seeded state ---------------------------------------------------------------------


def seed(stack: auto.Stack, copies: Iterable[dict[str, Any]]) -> int:
    """Clone the stack's one resource of the program in its state, once per entry of ``copies``.

    Each entry gives the clone's ``name`` and the outputs that differ from the template's
    (an ID, a secret); the state goes back with ``pulumi stack import``, its secrets in
    plain text for the secrets provider to encrypt. Returns how many resources were added.
    """
    state = _cli(stack, "stack", "export", "--show-secrets")
    resources = state["deployment"]["resources"]
    (template,) = [r for r in resources if r.get("custom") and not r["type"].startswith("pulumi:providers:")]
    added = 0
    for copy in copies:
        clone = json.loads(json.dumps(template))
        name = copy.pop("name")
        clone["urn"] = template["urn"].rsplit("::", 1)[0] + "::" + name
        clone["id"] = copy.get("key_id", clone["id"])
        clone["inputs"]["name"] = name
        owner = clone["inputs"].get(OWNER_PROPERTY)
        if isinstance(owner, dict):  # whose key, as the program registers the clone
            clone["inputs"][OWNER_PROPERTY] = {**owner, "name": name}
        clone["outputs"]["name"] = name
        for key, value in copy.items():
            old = clone["outputs"].get(key)
            if isinstance(old, dict) and "plaintext" in old:
                old["plaintext"] = json.dumps(value)
            else:
                clone["outputs"][key] = value
        resources.append(clone)
        added += 1
    path = Path(stack.workspace.work_dir) / "seeded-state.json"  # type: ignore[attr-defined]
    path.write_text(json.dumps(state), encoding="utf-8")
    try:
        _cli(stack, "stack", "import", "--file", str(path))
    finally:
        path.unlink()
    return added


def _cli(stack: auto.Stack, *args: str) -> Any:
    workspace = stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace) and workspace.pulumi_command is not None
    result = workspace.pulumi_command.run(
        [*args, "--stack", stack.name, "--non-interactive"],
        cwd=workspace.work_dir,
        additional_env=dict(workspace.env_vars or {}),
    )
    if result.code != 0:
        raise RuntimeError(f"pulumi {' '.join(args)} exited with {result.code}: {result.stderr[-2000:]}")
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else result.stdout


# -- memory of the provider processes ---------------------------------------------------


class ProviderMemory:
    """Peak resident memory (``VmHWM``) of the dynamic-provider processes this process started.

    A thread polls ``/proc`` for descendants of this process whose command line runs
    ``pulumi.dynamic`` (the engine starts them through the ``pulumi-resource-pulumi-python``
    launcher), keeping each one's high-water mark until it exits. Linux only.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ProviderMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_bytes(self) -> int:
        """The largest high-water mark among the provider processes seen (0 if none was)."""
        return max(self.peaks.values(), default=0)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for pid in _descendants(os.getpid()):
                peak = _provider_peak(pid)
                if peak is not None:
                    self.peaks[pid] = max(peak, self.peaks.get(pid, 0))
            self._stop.wait(self.interval)


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _provider_peak(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"pulumi.dynamic" not in cmdline.read():
                return None
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None
