"""Project folders run by the real Pulumi CLI as a user runs them: the commands of a README, in a shell.

The walkthrough machinery is ``make demo``'s own (``examples/demo.py``), so the demo, the
READMEs and these tests run the same commands the same way. A :class:`Recorder` notes, after
each command, what the CLI printed and which requests reached the emulator.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

from real_cli_support import World

from pulumi_astrokeys.emulator import Bootstrap
from pulumi_astrokeys.testing.emulator import Emulator

REPO = Path(__file__).resolve().parent.parent
#: The connection settings, as stack config keys without their namespace.
SETTINGS = ("host", "organizationId", "apiToken")
#: The test virtualenv: the package (editable, with its emulator extra) and, in its bin, the Pulumi CLI.
VENV = Path(sys.prefix)


def _load_demo() -> ModuleType:
    name = "astrokeys_demo"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


@dataclass
class Recorded:
    """One command of a walkthrough: what it printed, its exit code, and the API requests it made."""

    command: str
    output: str
    exit_code: int
    requests: list[tuple[str, str]]

    @property
    def writes(self) -> list[tuple[str, str]]:
        """The POSTs and DELETEs among :attr:`requests`, in the order the API received them."""
        return [(method, path) for method, path in self.requests if method in ("POST", "DELETE")]


@dataclass
class Recorder:
    """Called after each command (``after_each``): keeps what the command did, then clears the request log."""

    folder: Path
    steps: list[Recorded] = field(default_factory=list)
    _emulator: Optional[Emulator] = None

    def emulator(self) -> Emulator:
        """The emulator the walkthrough started, from its bootstrap file in the project folder."""
        if self._emulator is None:
            data = json.loads((self.folder / "astrokeys-emulator.json").read_text(encoding="utf-8"))
            self._emulator = Emulator(Bootstrap.from_json(data))
        return self._emulator

    def __call__(self, step: Any, host: str) -> None:
        emulator = self.emulator()
        assert emulator.host == host
        prefix = f"/v1/organizations/{emulator.organization_id}"
        requests = [(r["method"], r["path"].removeprefix(prefix)) for r in emulator.requests()]
        emulator.clear_requests()
        self.steps.append(Recorded(step.command, step.output, step.exit_code, requests))

    def step(self, command: str, occurrence: int = 0) -> Recorded:
        """The ``occurrence``-th step (from 0) whose command is ``command``."""
        return [s for s in self.steps if s.command == command][occurrence]

    def world(self) -> World:
        """The emulator as the real-CLI tests see it: who may use a secret, which tokens exist."""
        return World(self.emulator(), self.folder)

    def answer_to(self, secret: str, deployment_id: str) -> int:
        """The status the API gives a key's holder who reads the key's Deployment."""
        return self.world().answer_to(secret, deployment_id)

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.close()


def typed(shell: Any, command: str) -> str:
    """Run ``command`` in ``shell``; what it printed. It must succeed."""
    step = shell.run(command)
    assert step.exit_code == 0, f"`{command}` exited with {step.exit_code}:\n{step.output}"
    return str(step.output)


def user_shell(folder: Path, workdir: Path, **env: str) -> Any:
    """A shell in the project folder ``folder`` set up as a user's: its virtualenv active, a local
    file backend in the folder; ``env`` adds variables (a secret to pipe in, never typed)."""
    shell = demo.Shell(folder, {**demo.user_environment(workdir / "pulumi-home"), **env})
    for command in (". .venv/bin/activate", 'export PULUMI_BACKEND_URL="file://$PWD" PULUMI_CONFIG_PASSPHRASE=test'):
        step = shell.run(command)
        assert step.exit_code == 0, step.output
    return shell


def init_stack(shell: Any, emulator: Emulator, settings: tuple[str, ...] = SETTINGS, deployment: bool = True) -> None:
    """Type `pulumi stack init dev` in ``shell``, then the emulator's ``settings`` (the API token piped
    from the shell's EMULATOR_TOKEN, see :func:`user_shell`) and, with ``deployment``, its first Deployment."""
    values = {"host": emulator.host, "organizationId": emulator.organization_id}
    commands = ["pulumi stack init dev"] + [
        'printf %s "$EMULATOR_TOKEN" | pulumi config set --secret astrokeys:apiToken'
        if setting == "apiToken"
        else f"pulumi config set astrokeys:{setting} {values[setting]}"
        for setting in settings
    ]
    if deployment:
        commands.append(f"pulumi config set deploymentId {emulator.deployment_ids[0]}")
    for command in commands:
        step = shell.run(command)
        assert step.exit_code == 0, f"`{command}`: {step.output}"


@contextmanager
def walkthrough_run(
    readme: Path,
    section: str,
    source: Path,
    workdir: Path,
    probe: Optional[Callable[[Recorder, Any], None]] = None,
) -> Iterator[tuple[Any, Recorder, Any]]:
    """Run the walkthrough of ``section`` in ``readme`` in a copy of the project folder ``source``:
    the emulator as its command says, then each command in one shell, every one of which must
    succeed. ``probe`` is called after each command with the recorder (``steps[-1]`` is that
    command) and the shell, to look (``shell.run("pulumi stack output --json")``) without
    changing anything. Yields the
    walkthrough, the recorder and the shell, the emulator still running."""
    walkthrough = demo.Walkthrough.from_markdown(readme.read_text(encoding="utf-8"), section)
    env = demo.user_environment(workdir / "pulumi-home")
    folder = demo.project_folder(source, workdir / source.name, VENV)
    recorder = Recorder(folder)
    with demo.emulator_running(walkthrough.emulator, folder, env, workdir / "emulator.log") as host:
        shell = demo.Shell(folder, env)
        try:
            for command in walkthrough.commands:
                step = shell.run(command)
                recorder(step, host)
                assert step.exit_code == 0, f"`{command}` exited with {step.exit_code}:\n{step.output}"
                if probe is not None:
                    probe(recorder, shell)
                    recorder.emulator().clear_requests()
            yield walkthrough, recorder, shell
        finally:
            shell.close()
            recorder.close()
