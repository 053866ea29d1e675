"""``make demo``: the README's "Try it locally", command by command, on the real Pulumi CLI.

Copies ``examples/quickstart`` into a work folder whose ``.venv`` is the virtualenv this
script runs in (``make demo``'s: the package and its ``emulator`` extra, what the README's
install lines give), starts the local Astro API emulator there with the README's command,
then runs the README's commands one after another in one shell, printing each as
``$ pulumi up --yes`` before the CLI's own output. The commands are read from README.md,
so the demo shows exactly what a user types. Pulumi keeps its state in a local file
backend: no account is needed.

    .venv-demo/bin/python examples/demo.py [--workdir .demo]

The tests run the same walkthrough (``tests/test_readme_walkthrough.py``), so the README,
the demo and the tests cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TextIO

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "Try it locally"
QUICKSTART = ROOT / "examples" / "quickstart"
#: Variables of the caller's environment that would send the walkthrough elsewhere.
_AMBIENT = re.compile(r"^(ASTRO_|PULUMI_)")


def shell_blocks(markdown: str, heading: str) -> list[list[str]]:
    """The lines of each ``sh`` code block in the section ``heading`` of a Markdown text, up to
    the next heading of the same or a higher level; blank lines and whole-line comments left out."""
    lines = markdown.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.fullmatch(rf"(#+) {re.escape(heading)}", line.strip())), None
    )
    if start is None:
        raise ValueError(f"no section {heading!r}")
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    blocks: list[list[str]] = []
    current: Optional[list[str]] = None
    for line in lines[start + 1 :]:
        if current is None:
            heading_level = len(line) - len(line.lstrip("#"))
            if line.startswith("#") and heading_level <= level and line[heading_level : heading_level + 1] == " ":
                break
            if line.strip() == "```sh":
                current = []
        elif line.strip() == "```":
            blocks.append(current)
            current = None
        elif line.strip() and not line.lstrip().startswith("#"):
            current.append(line.strip())
    return blocks


@dataclass(frozen=True)
class Walkthrough:
    """A README's walkthrough: install lines, the command that starts the emulator in a terminal
    of its own, and the commands typed in the project folder."""

    install: list[str]
    emulator: str
    commands: list[str]

    @classmethod
    def from_markdown(cls, markdown: str, heading: str) -> Walkthrough:
        blocks = shell_blocks(markdown, heading)
        if len(blocks) != 3 or len(blocks[1]) != 1:
            raise ValueError(
                f"section {heading!r} must hold three sh blocks: the install, the one command that starts "
                "the emulator, and the commands to type"
            )
        return cls(install=blocks[0], emulator=blocks[1][0], commands=blocks[2])


@dataclass(frozen=True)
class Step:
    """One command typed in the shell: what it printed (stdout and stderr together) and its exit code."""

    command: str
    output: str
    exit_code: int


class Shell:
    """One ``bash`` in a folder, fed commands one at a time, as a user types them.

    State carries from one command to the next (``export``, an activated virtualenv). Each
    command reads nothing from the terminal (its standard input is empty unless it is
    piped), and its output is read up to a marker printed with its exit code.
    """

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

    def run(self, command: str, echo: Callable[[str], None] = lambda line: None) -> Step:
        """Run ``command``; ``echo`` gets each line of its output as it comes."""
        assert self._process.stdin is not None and self._process.stdout is not None
        marker = f"__walkthrough_{secrets.token_hex(8)}__"
        self._process.stdin.write(f"{{ {command}\n}} </dev/null 2>&1\nprintf '\\n{marker} %s\\n' \"$?\"\n")
        self._process.stdin.flush()
        lines: list[str] = []
        held: Optional[str] = None  # a line is passed on once the next one shows it is not the marker's newline
        for raw in self._process.stdout:
            line = raw.rstrip("\n")
            if line.startswith(f"{marker} "):
                if held:
                    echo(held)
                    lines.append(held)
                return Step(command, "\n".join(lines), int(line.split()[1]))
            if held is not None:
                echo(held)
                lines.append(held)
            held = line
        raise RuntimeError(f"the shell ended during `{command}`")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def project_folder(source: Path, destination: Path, venv: Path) -> Path:
    """A copy of the project folder ``source`` whose ``.venv`` is ``venv``."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".venv", "__pycache__", "Pulumi.*.yaml"))
    (destination / ".venv").symlink_to(venv, target_is_directory=True)
    return destination


def user_environment(pulumi_home: Path) -> dict[str, str]:
    """This process's environment without its Astro and Pulumi settings, with a Pulumi home of
    its own (nothing of the user's ``~/.pulumi`` is touched), no update check and no plugin download."""
    environment = {name: value for name, value in os.environ.items() if not _AMBIENT.match(name)}
    environment.pop("VIRTUAL_ENV", None)
    pulumi_home.mkdir(parents=True, exist_ok=True)
    environment.update(
        PULUMI_HOME=str(pulumi_home),
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    return environment


@contextmanager
def emulator_running(command: str, cwd: Path, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """Run the README's emulator command in ``cwd`` (as in a terminal of its own); yield its host."""
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"^export ASTRO_API_HOST=(\S+)$", log.read_text(encoding="utf-8"), re.MULTILINE)
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`{command}` did not start the emulator; its output is in {log}")
            time.sleep(0.05)
        yield found[1]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def find_cli(env: Mapping[str, str], venv: Path) -> Optional[tuple[str, str]]:
    """The ``pulumi`` the walkthrough will run (the virtualenv's first, as once it is activated) and its version."""
    found = shutil.which("pulumi", path=os.pathsep.join([str(venv / "bin"), env.get("PATH", "")]))
    if found is None:
        return None
    version = subprocess.run(
        [found, "version"], env=dict(env), capture_output=True, text=True, check=False
    ).stdout.strip()
    return found, version


def demo(
    workdir: Path,
    *,
    venv: Path = Path(sys.prefix),
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    after_each: Optional[Callable[[Step, str], None]] = None,
) -> int:
    """Run the README's walkthrough in a copy of the quickstart under ``workdir``; return the exit status.

    ``after_each`` is called with each step and the emulator's host, once the step's output is printed.
    """

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    walkthrough = Walkthrough.from_markdown(README.read_text(encoding="utf-8"), SECTION)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = user_environment(workdir / "pulumi-home")
    cli = find_cli(env, venv)
    if cli is None:
        print(
            "make demo: no Pulumi CLI: run `make pulumi` (it builds one with Go) or install it from "
            "https://www.pulumi.com/docs/install/",
            file=err,
        )
        return 1
    say(f"=== Engine: the real Pulumi CLI {cli[1]} ({cli[0]}), with a local file backend: no Pulumi account needed")
    folder = project_folder(QUICKSTART, workdir / "quickstart", venv)
    say(f"=== README.md, {SECTION}: in {folder}, whose .venv is {venv} (the package and its emulator extra)")
    say(f"=== In a terminal of its own:\n$ {walkthrough.emulator}")
    with emulator_running(walkthrough.emulator, folder, env, workdir / "emulator.log") as host:
        say(f"(the local Astro API emulator listens on {host}; its output is in {workdir / 'emulator.log'})")
        say("=== Then, in the same folder:")
        shell = Shell(folder, env)
        try:
            for command in walkthrough.commands:
                say(f"\n$ {command}")
                step = shell.run(command, echo=say)
                if after_each is not None:
                    after_each(step, host)
                if step.exit_code != 0:
                    print(f"\nmake demo: `{command}` failed with exit code {step.exit_code}; its output is above.", file=err)
                    return 1
        finally:
            shell.close()
    say(f"\n=== Done. The emulator has stopped; the project folder, its state and the emulator's files are in {workdir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``make demo``'s entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", default=str(ROOT / ".demo"), help="where the demo keeps its files")
    args = parser.parse_args(argv)
    return demo(Path(args.workdir).resolve())


if __name__ == "__main__":
    sys.exit(main())
