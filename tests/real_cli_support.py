"""Stacks run by the real Pulumi CLI and engine against the emulator, for the real-CLI tests.

A :class:`World` holds the emulator and hands out :class:`RealStack` objects: Automation API
stacks (``pulumi_astrokeys.testing.stacks``) with their own file backend, ``PULUMI_HOME``
and passphrase, whose programs are inline Python functions run in this process. A test
edits a program between runs by editing the data the function reads.

What each operation did is read from the engine's own events (``on_event``) and from
``pulumi stack export`` and ``pulumi stack output``, as a user would see them; what
reached the Astro API, from the emulator's request log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import httpx
import pulumi
from grpc_provider.props import SECRET_SIG, SIG_KEY
from pulumi import automation as auto

from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys._schema import TYPE_TOKEN
from pulumi_astrokeys.testing.emulator import Emulator
from pulumi_astrokeys.testing.stacks import new_stack, program_from_directory

KEY_TYPE = TYPE_TOKEN
DEPLOYMENT_TYPE = "pulumi-python:dynamic/astrokeys:Deployment"
PROJECT = "scenarios"
STACK = "dev"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_REPLACEMENT_OPS = {"replace", "create-replacement"}

Specs = dict[str, dict[str, Any]]


class Run:
    """What one ``preview``/``up``/``refresh``/``destroy`` did, from the engine's events."""

    def __init__(self, events: list[auto.EngineEvent], stdout: str = "", outputs: Optional[auto.OutputMap] = None):
        self.events = events
        self.stdout = stdout
        self.outputs: auto.OutputMap = outputs or {}

    def steps(self, name: Optional[str] = None) -> list[auto.StepEventMetadata]:
        """The steps the engine announced (resource pre-events), of resource ``name`` if given;
        the stack and provider resources left out."""
        return [
            event.resource_pre_event.metadata
            for event in self.events
            if event.resource_pre_event is not None
            and _is_program_resource(event.resource_pre_event.metadata.urn)
            and (name is None or _name(event.resource_pre_event.metadata.urn) == name)
        ]

    def step_ops(self, name: str) -> list[str]:
        return [step.op.value for step in self.steps(name)]

    def ops(self) -> dict[str, str]:
        """One operation per resource name: ``replace`` for a replacement (whose steps are
        ``create-replacement``, ``replace`` and ``delete-replaced``). The deletion of an old
        key left pending by an earlier run (a lone ``delete-replaced``) is in :meth:`step_ops`."""
        by_name: dict[str, list[str]] = {}
        for step in self.steps():
            by_name.setdefault(_name(step.urn), []).append(step.op.value)
        folded = {}
        for name, ops in by_name.items():
            if "replace" in ops or "create-replacement" in ops:
                folded[name] = "replace"
            else:
                folded[name] = next((op for op in ops if op != "delete-replaced"), ops[0])
        return folded

    def replaces(self, name: str) -> list[str]:
        """The inputs the engine gave as the reason for replacing ``name``."""
        return sorted(
            {key for step in self.steps(name) if step.op.value in _REPLACEMENT_OPS for key in step.keys or []}
        )

    def failed(self) -> set[str]:
        """Names of the resources whose step failed, or that an error diagnostic names (a
        failed check has no step)."""
        failed_steps = {
            _name(event.res_op_failed_event.metadata.urn)
            for event in self.events
            if event.res_op_failed_event is not None
        }
        named_in_errors = {
            _name(event.diagnostic_event.urn)
            for event in self.events
            if event.diagnostic_event is not None
            and event.diagnostic_event.severity == "error"
            and event.diagnostic_event.urn
            and _is_program_resource(event.diagnostic_event.urn)
        }
        return failed_steps | named_in_errors

    def errors(self) -> list[str]:
        """The error diagnostics, as the CLI prints them."""
        return [
            event.diagnostic_event.message
            for event in self.events
            if event.diagnostic_event is not None and event.diagnostic_event.severity == "error"
        ]

    def error_text(self) -> str:
        """The error diagnostics as one line each, the engine's own line breaks undone."""
        return "\n".join(" ".join(message.split()) for message in self.errors())

    def plain(self, key: Optional[str] = None) -> Any:
        """Stack outputs, secrets in plain text (one output's value if ``key`` is given)."""
        values = {name: output.value for name, output in self.outputs.items()}
        return values if key is None else values[key]

    def is_secret(self, key: str) -> bool:
        return bool(self.outputs[key].secret)


class StackFailed(AssertionError):
    """A Pulumi operation failed; ``run`` holds its events, ``str()`` the CLI's output."""

    def __init__(self, error: auto.CommandError, run: Run) -> None:
        super().__init__(str(error))
        self.run = run


class RealStack:
    """An Automation API stack with the helpers the scenarios use."""

    def __init__(self, stack: auto.Stack, root: Path) -> None:
        self.stack = stack
        self.root = root

    @contextmanager
    def _recording(self) -> Iterator[list[auto.EngineEvent]]:
        events: list[auto.EngineEvent] = []
        try:
            yield events
        except auto.CommandError as error:
            raise StackFailed(error, Run(events, str(error))) from None

    def preview(self, **options: Any) -> Run:
        with self._recording() as events:
            result = self.stack.preview(on_event=events.append, **options)
        return Run(events, result.stdout)

    def up(self, **options: Any) -> Run:
        with self._recording() as events:
            result = self.stack.up(on_event=events.append, **options)
        return Run(events, result.stdout, result.outputs)

    def refresh(self, **options: Any) -> Run:
        with self._recording() as events:
            result = self.stack.refresh(on_event=events.append, **options)
        return Run(events, result.stdout)

    def destroy(self, **options: Any) -> Run:
        with self._recording() as events:
            result = self.stack.destroy(on_event=events.append, **options)
        return Run(events, result.stdout)

    def cli(self, *args: str) -> auto.CommandResult:
        """``pulumi <args> --stack <this stack>`` in the stack's workspace, as a user would type it."""
        workspace = self.stack.workspace
        assert isinstance(workspace, auto.LocalWorkspace)
        assert workspace.pulumi_command is not None
        result = workspace.pulumi_command.run(
            [*args, "--stack", self.stack.name, "--non-interactive"],
            cwd=workspace.work_dir,
            additional_env=dict(workspace.env_vars or {}),
        )
        if result.code != 0:
            raise AssertionError(f"pulumi {' '.join(args)} exited with {result.code}:\n{result.stderr}")
        return result

    # -- the state -------------------------------------------------------------------------

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        """``pulumi stack export`` (``--show-secrets`` if asked)."""
        return dict(json.loads(self.cli("stack", "export", *(["--show-secrets"] if show_secrets else [])).stdout))

    def resources(self, show_secrets: bool = True) -> list[dict[str, Any]]:
        return list(self.export(show_secrets).get("deployment", {}).get("resources") or [])

    def keys(self, show_secrets: bool = True) -> dict[str, dict[str, Any]]:
        """The keys in the state by resource name (not those pending deletion)."""
        return {
            _name(r["urn"]): r for r in self.resources(show_secrets) if r["type"] == KEY_TYPE and not r.get("delete")
        }

    def custom_names(self) -> list[str]:
        """Names of the program's custom resources in the state, in state order."""
        return [_name(r["urn"]) for r in self.resources(False) if _is_program_resource(r["urn"]) and r.get("custom")]

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        """``pulumi stack output --json`` (secrets shown as ``[secret]`` unless ``show_secrets``)."""
        args = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else [])]
        return dict(json.loads(self.cli(*args).stdout or "{}"))

    def stored_text(self) -> str:
        """Every file of the backend and workspace (state, backups, history, stack config)."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.root.rglob("*"))
            if path.is_file() and "pulumi-home" not in path.parts
        )


class World:
    """The emulator, and real-CLI stacks wired to it through stack config."""

    def __init__(self, emulator: Emulator, root: Path) -> None:
        self.emulator = emulator
        self.root = root
        self._stacks = 0

    def stack(
        self,
        program: Callable[[], None] | Path,
        project: str = PROJECT,
        env: Optional[Mapping[str, str]] = None,
        stack_name: str = STACK,
        **config: str,
    ) -> RealStack:
        """A new stack (its own backend) of ``program``; ``config`` is the project's config."""
        self._stacks += 1
        root = self.root / f"stack-{self._stacks}"
        stack = new_stack(
            program_from_directory(program) if isinstance(program, Path) else program,
            work_dir=root,
            emulator=self.emulator,
            project_name=project,
            stack_name=stack_name,
            config={f"{project}:{key}": value for key, value in config.items()},
            env=env,
        )
        return RealStack(stack, root)

    # -- what reached the API ----------------------------------------------------------

    def clear(self) -> None:
        self.emulator.clear_requests()

    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every API request since the last :meth:`clear`; paths
        relative to the organization (``/tokens/...``, ``/deployments/...``)."""
        prefix = f"/v1/organizations/{self.emulator.organization_id}"
        return [(r["method"], r["path"].removeprefix(prefix)) for r in self.emulator.requests()]

    def writes(self) -> list[tuple[str, str]]:
        """The POSTs and DELETEs among :meth:`requests`, in the order the API received them."""
        return [(method, path) for method, path in self.requests() if method in ("POST", "DELETE")]

    # -- the API as a key's holder or an operator sees it -------------------------------

    def answer_to(self, secret: str, deployment_id: str) -> int:
        """The status the API gives a key's holder who reads the key's Deployment."""
        response = httpx.get(
            f"{self.emulator.base_url}/deployments/{deployment_id}",
            headers={"Authorization": f"Bearer {secret}"},
            trust_env=False,
        )
        return response.status_code

    def tokens(self, names: Optional[set[str]] = None) -> dict[str, dict[str, Any]]:
        """The Deployment tokens in the emulator by ID, only those named in ``names`` if given."""
        return {
            t["id"]: t
            for t in self.emulator.list_all_tokens(self.emulator.organization_id)
            if t["scope"] == "DEPLOYMENT" and (names is None or t["name"] in names)
        }

    def delete_token_by_hand(self, token_id: str) -> None:
        """An operator deletes a key in the Astro UI."""
        with self.emulator.client() as api:
            assert api.delete(f"/tokens/{token_id}").status_code == 204


#: ``pulumi up`` of a keys program, in a process of its own: the CLI and the program die
#: together when a test kills that process group (Pulumi starts the providers in groups
#: of their own, so they do not).
_UP_IN_ANOTHER_PROCESS = """
import json, sys
from pulumi import automation as auto
from pulumi_astrokeys import DeploymentApiKey
from pulumi_astrokeys.testing.stacks import find_pulumi

settings = json.loads(sys.argv[1])

def program():
    for name, inputs in settings["keys"].items():
        DeploymentApiKey(name, **inputs)

workspace = auto.LocalWorkspace(
    work_dir=settings["work_dir"], env_vars=settings["env"], program=program, pulumi_command=find_pulumi()
)
auto.Stack.select(settings["stack"], workspace).up()
"""


def start_up(stack: RealStack, specs: Specs) -> subprocess.Popen[bytes]:
    """``pulumi up`` of one key per entry of ``specs``, in a new session (its own process group)."""
    workspace = stack.stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace)
    settings = {
        "keys": specs,
        "work_dir": workspace.work_dir,
        "env": dict(workspace.env_vars),
        "stack": stack.stack.name,
    }
    return subprocess.Popen(
        [sys.executable, "-c", _UP_IN_ANOTHER_PROCESS, json.dumps(settings)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_9(up: subprocess.Popen[bytes]) -> None:
    """``kill -9`` of ``pulumi up``'s process group: the CLI and the program; its providers live on."""
    os.killpg(up.pid, signal.SIGKILL)
    up.wait(timeout=30)


def providers_of(stack: RealStack) -> list[int]:
    """The PIDs of the dynamic provider processes the CLI started for this stack (by its ``PULUMI_HOME``)."""
    workspace = stack.stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace)
    home = f"PULUMI_HOME={workspace.env_vars['PULUMI_HOME']}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if b"pulumi.dynamic" in command and home in environment:
            found.append(int(entry.name))
    return found


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` runs (a zombie counts as gone); the ones still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        running = [pid for pid in pids if _running(pid)]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def keys_program(specs: Specs, opts: Optional[dict[str, dict[str, Any]]] = None) -> Callable[[], None]:
    """Program: one key per entry of ``specs`` (read at each run, so a test edits the program by
    editing ``specs``), exporting each key's ID and secret."""
    options = opts if opts is not None else {}

    def program() -> None:
        for name, spec in specs.items():
            key = DeploymentApiKey(name, **spec, opts=pulumi.ResourceOptions(**options.get(name, {})))
            pulumi.export(f"{name}_id", key.key_id)
            pulumi.export(f"{name}_secret", key.secret)

    return program


def plain(value: Any) -> Any:
    """A property of ``pulumi stack export --show-secrets``, a secret's plaintext unwrapped."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return json.loads(value["plaintext"]) if "plaintext" in value else value
    return value


def is_encrypted_secret(value: Any) -> bool:
    """Whether an exported property value is a secret sealed by the secrets provider."""
    return (
        isinstance(value, dict)
        and value.get(SIG_KEY) == SECRET_SIG
        and "ciphertext" in value
    )


def secret_of(key: dict[str, Any]) -> str:
    """A key's secret from ``export(show_secrets=True)``; it must have been stored as a secret."""
    value = key["outputs"]["secret"]
    assert isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG, "a key's secret is kept as a secret in the state"
    return str(plain(value))


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _is_program_resource(urn: str) -> bool:
    kind = urn.split("::")[-2] if urn.count("::") >= 3 else ""
    return not kind.startswith("pulumi:providers:") and kind != "pulumi:pulumi:Stack"
