"""Pulumi stacks for tests: the real Pulumi CLI and engine, offline, against the emulator.

Everything here is Pulumi's own Automation API (:mod:`pulumi.automation`); this module
only sets up what a test needs so that nothing leaves the machine:

- a local file backend and a ``PULUMI_HOME`` of the stack's own, in a directory the
  test owns (no Pulumi account, nothing shared between tests);
- the passphrase secrets provider, so secrets in the state are encrypted as a user's
  would be;
- no update checks and no plugin downloads;
- stack config pointing the package's provider at an emulator (``astrokeys:host``,
  ``astrokeys:organizationId`` and the secret ``astrokeys:apiToken``).

The program is an inline program (a Python function run in this process), so only the
``pulumi`` CLI and the ``pulumi-resource-pulumi-python`` launcher are needed, no
language host. A program directory (``examples/quickstart``) runs through
:func:`program_from_directory`.

    stack = new_stack(program, work_dir=tmp_path, emulator=emulator)
    result = stack.up()
"""

from __future__ import annotations

import functools
import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from pulumi import automation as auto

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = [
    "DEFAULT_PASSPHRASE",
    "PulumiCliMissingError",
    "find_pulumi",
    "new_stack",
    "offline_environment",
    "program_from_directory",
    "set_secret_config",
]

#: Encrypts the test stacks' secrets; a real stack uses its own passphrase or a cloud KMS.
DEFAULT_PASSPHRASE = "astrokeys test passphrase"
#: The provider reads its credentials in ``configure``, which dynamic providers gained in
#: Pulumi 3.139; the package's SDK floor is 3.140.
MINIMUM_CLI_VERSION = "3.140.0"

#: Variables of the caller's environment that would point a test stack somewhere else.
_AMBIENT = ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_BACKEND_URL", "PULUMI_HOME")


class PulumiCliMissingError(RuntimeError):
    """No usable ``pulumi`` CLI was found; the message says how to get one."""


def find_pulumi() -> auto.PulumiCommand:
    """The Pulumi CLI: the one beside this Python (a virtualenv's ``bin``) first, then the PATH.

    The CLI's own directory is put first on the ``PATH`` of every command it runs, so the
    ``pulumi-resource-pulumi-python`` launcher beside it, and the Python beside that, serve
    the dynamic providers. Its version is checked once per process and CLI.
    """
    beside_python = Path(sys.executable).parent / "pulumi"
    return _pulumi_command(str(beside_python) if beside_python.is_file() else shutil.which("pulumi"))


@functools.lru_cache(maxsize=None)
def _pulumi_command(found: Optional[str]) -> auto.PulumiCommand:
    from semver import VersionInfo

    if found is None:
        raise PulumiCliMissingError(
            "the Pulumi CLI is not installed: run `make pulumi` in a clone of pulumi-astrokeys (it builds one "
            "with Go) or install it from https://www.pulumi.com/docs/install/, then put it on the PATH"
        )
    path = Path(found).absolute()
    # The SDK takes an installation root holding bin/pulumi, or runs `pulumi` from the PATH; a
    # CLI elsewhere (the project's cached build) is on the PATH, where `found` came from.
    root = str(path.parent.parent) if path.parent.name == "bin" else None
    try:
        command = auto.PulumiCommand(root=root, version=VersionInfo.parse(MINIMUM_CLI_VERSION))
    except auto.InvalidVersionError as error:
        raise PulumiCliMissingError(f"the Pulumi CLI at {found} is too old: {error}") from None
    command.command = str(path)
    return command


def offline_environment(work_dir: Path, passphrase: str = DEFAULT_PASSPHRASE) -> dict[str, str]:
    """Environment for the CLI: a file backend and Pulumi home under ``work_dir``, no network.

    The variables of the caller's environment that would send the stack elsewhere (a
    Pulumi Cloud token, another backend or home, a passphrase file) are blanked.
    """
    backend = work_dir / "backend"
    home = work_dir / "pulumi-home"
    backend.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    environment = {name: "" for name in _AMBIENT if name in os.environ}
    environment.update(
        {
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_HOME": str(home),
            "PULUMI_CONFIG_PASSPHRASE": passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # The dynamic-provider launcher runs this interpreter, where the package is installed.
            "PULUMI_PYTHON_CMD": sys.executable,
            "PULUMI_SKIP_CONFIRMATIONS": "true",
        }
    )
    return environment


def program_from_directory(directory: str | os.PathLike[str]) -> Callable[[], None]:
    """An inline program that runs ``directory/__main__.py`` as ``pulumi up`` would run the project."""
    main = Path(directory) / "__main__.py"
    if not main.is_file():
        raise FileNotFoundError(f"{directory} has no __main__.py to run as a Pulumi program")

    def program() -> None:
        sys.path.insert(0, str(main.parent))
        try:
            runpy.run_path(str(main), run_name="__main__")
        finally:
            sys.path.remove(str(main.parent))

    return program


def new_stack(
    program: Callable[[], None],
    *,
    work_dir: str | os.PathLike[str],
    emulator: Optional[Emulator] = None,
    project_name: str = "astrokeys-test",
    stack_name: str = "test",
    config: Optional[Mapping[str, str]] = None,
    secret_config: Optional[Mapping[str, str]] = None,
    env: Optional[Mapping[str, str]] = None,
    passphrase: str = DEFAULT_PASSPHRASE,
) -> auto.Stack:
    """A new stack of an inline ``program``, with its own backend and home under ``work_dir``.

    With ``emulator``, the stack config points the package's provider at it (the API token
    as a secret). ``config`` and ``secret_config`` add stack config (keys without a
    namespace belong to the project); ``env`` adds variables for the CLI and the providers
    it starts.
    """
    root = Path(work_dir)
    environment = {**offline_environment(root, passphrase), **(env or {})}
    workspace_dir = root / "workspace"
    workspace_dir.mkdir(parents=True, exist_ok=True)
    options = auto.LocalWorkspaceOptions(
        work_dir=str(workspace_dir),
        pulumi_home=environment["PULUMI_HOME"],
        env_vars=environment,
        secrets_provider="passphrase",
        project_settings=auto.ProjectSettings(
            name=project_name,
            runtime="python",
            backend=auto.ProjectBackend(url=environment["PULUMI_BACKEND_URL"]),
        ),
        pulumi_command=find_pulumi(),
    )
    stack = auto.create_stack(stack_name, project_name=project_name, program=program, opts=options)
    plain = {**(emulator.stack_config() if emulator is not None else {}), **(config or {})}
    if plain:
        stack.set_all_config({key: auto.ConfigValue(value) for key, value in plain.items()})
    secrets = {**(emulator.secret_stack_config() if emulator is not None else {}), **(secret_config or {})}
    for key, value in secrets.items():
        set_secret_config(stack, key, value)
    return stack


def set_secret_config(stack: auto.Stack, key: str, value: str) -> None:
    """``pulumi config set --secret key`` with the value piped in, never on a command line.

    The Automation API's ``set_config`` passes the value as an argument of the ``pulumi``
    process, where any user of the machine can read it in the process list.
    """
    workspace = stack.workspace
    if not isinstance(workspace, auto.LocalWorkspace) or workspace.pulumi_command is None:
        raise TypeError("set_secret_config needs a stack of a LocalWorkspace")
    done = subprocess.run(
        [workspace.pulumi_command.command, "config", "set", "--secret", key, "--stack", stack.name, "--non-interactive"],
        input=value,
        capture_output=True,
        text=True,
        cwd=workspace.work_dir,
        env={**os.environ, **(workspace.env_vars or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pulumi config set --secret {key} failed: {done.stderr.strip()}")
