"""``make demo``: the quickstart through a whole lifecycle on the local Astro API emulator.

Starts the emulator, then runs ``examples/quickstart`` through preview, up, a change
that replaces a key, and destroy, printing each step's plan and the outputs with the
secrets masked. With the Pulumi CLI on the PATH it uses the real CLI (a local file
backend, no account needed); without it, the lifecycle harness that plays the
engine. It says which.

    python -m pulumi_astrokeys.demo [--workdir .demo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = REPO_ROOT / "examples" / "quickstart"
PROJECT = "astrokeys-quickstart"
STACK = "demo"
PASSPHRASE = "demo-passphrase"  # encrypts the demo stack's secrets; a real stack uses its own


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(REPO_ROOT / ".demo"), help="where the demo keeps its files")
    parser.add_argument("--engine", choices=("auto", "cli", "harness"), default="auto", help="which engine to use")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    use_cli = args.engine == "cli" or (args.engine == "auto" and shutil.which("pulumi") is not None)

    with _emulator(workdir) as bootstrap:
        deployment_id = bootstrap["deploymentIds"][0]
        config = {
            "astrokeys:host": bootstrap["host"],
            "astrokeys:organizationId": bootstrap["organizationId"],
            f"{PROJECT}:deploymentId": deployment_id,
            f"{PROJECT}:workspaceId": bootstrap["workspaceId"],
        }
        secret_config = {"astrokeys:apiToken": bootstrap["apiToken"]}
        run: _CliRun | _HarnessRun
        if use_cli:
            _banner("Engine: the Pulumi CLI found on the PATH (local file backend, no account needed)")
            run = _CliRun(workdir, config, secret_config)
        else:
            _banner(
                "Engine: pulumi-astrokeys' lifecycle harness (no Pulumi CLI on the PATH). It runs the program "
                "with the real Pulumi SDK and the real dynamic-provider server, and plays the engine's part."
            )
            run = _HarnessRun(workdir, config, secret_config)

        _banner("1. pulumi preview: what the first up will do (nothing is written)")
        run.preview()
        _banner("2. pulumi up: create the keys")
        run.up()
        _banner("3. A new description: keys are immutable, so the preview shows a replacement")
        run.set_config(f"{PROJECT}:description", "CI/CD deploys, rotated")
        run.preview()
        _banner("4. pulumi up: the new key is created before the old one is deleted")
        httpx.delete(f"{bootstrap['host']}/_emulator/requests")
        run.up()
        _print_replacement_order(bootstrap["host"])
        _banner("5. pulumi destroy: every key goes")
        run.destroy()
    _banner("Done. The emulator has stopped; its files are in " + str(workdir))
    return 0


def _banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


@contextmanager
def _emulator(workdir: Path) -> Iterator[dict[str, Any]]:
    from pulumi_astrokeys.testing.emulator import start_emulator_process

    process, bootstrap = start_emulator_process(
        workdir / "emulator.db", workdir / "emulator.json", log_file=workdir / "emulator.log"
    )
    _banner(f"The local Astro API emulator is listening on {bootstrap['host']}")
    print(f"Organization {bootstrap['organizationId']}, Deployments {', '.join(bootstrap['deploymentIds'])}")
    print("It stops when the demo ends. To run your own programs against one, start it yourself:")
    print("  astrokeys-emulator --bootstrap-file .emulator.json   # prints the ASTRO_API_* export lines")
    try:
        yield bootstrap
    finally:
        process.terminate()
        process.wait(timeout=10)


def _print_replacement_order(host: str) -> None:
    log = httpx.get(f"{host}/_emulator/requests").json()["requests"]
    writes = [r for r in log if r["method"] in ("POST", "DELETE") and "/tokens" in r["path"]]
    print("The writes the Astro API saw during that up, in order:")
    for request in writes:
        print(f"    {request['method']:<6} {request['path']} -> {request['status']}")


class _HarnessRun:
    """The demo's steps through the lifecycle harness."""

    def __init__(self, workdir: Path, config: dict[str, str], secret_config: dict[str, str]) -> None:
        from pulumi_astrokeys.testing.lifecycle import Stack

        self._config = dict(config)
        self._make_stack = lambda: Stack(
            program=QUICKSTART,
            state_file=workdir / "state.json",
            project=PROJECT,
            stack_name=STACK,
            config=self._config,
            secret_config=secret_config,
            passphrase=PASSPHRASE,
        )

    def set_config(self, key: str, value: str) -> None:
        self._config[key] = value

    def _run(self, operation: str) -> None:
        from pulumi_astrokeys.testing.lifecycle import LifecycleError, render

        stack = self._make_stack()
        try:
            result = getattr(stack, operation)()
        except LifecycleError as error:
            print(render(error.result))
            raise SystemExit(f"{operation} failed: {error}") from None
        print(render(result, show_same=True))

    def preview(self) -> None:
        self._run("preview")

    def up(self) -> None:
        self._run("up")

    def destroy(self) -> None:
        self._run("destroy")


class _CliRun:
    """The demo's steps through the real Pulumi CLI, with a local file backend."""

    def __init__(self, workdir: Path, config: dict[str, str], secret_config: dict[str, str]) -> None:
        backend = workdir / "backend"
        backend.mkdir()
        self._env = {
            **os.environ,
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }
        self._config_file = workdir / f"Pulumi.{STACK}.yaml"
        self._pulumi("stack", "init", STACK, "--non-interactive")
        for key, value in config.items():
            self.set_config(key, value)
        for key, value in secret_config.items():
            # Piped in, not passed as an argument, so the token never shows in the process list.
            self._pulumi("config", "set", "--secret", key, quiet=True, stdin=value)

    def _pulumi(self, *args: str, quiet: bool = False, stdin: str | None = None) -> None:
        command = ["pulumi", *args, "--cwd", str(REPO_ROOT), "--stack", STACK, "--config-file", str(self._config_file)]
        if args[:2] == ("stack", "init"):
            command = ["pulumi", *args, "--cwd", str(REPO_ROOT)]
        output = subprocess.run(command, env=self._env, text=True, capture_output=quiet, input=stdin)
        if output.returncode != 0:
            raise SystemExit(f"`pulumi {args[0]}` failed" + (f": {output.stderr.strip()}" if quiet else ""))

    def set_config(self, key: str, value: str) -> None:
        self._pulumi("config", "set", key, value, quiet=True)

    def preview(self) -> None:
        self._pulumi("preview", "--non-interactive", "--diff")

    def up(self) -> None:
        self._pulumi("up", "--yes", "--non-interactive", "--skip-preview")
        self._pulumi("stack", "output")

    def destroy(self) -> None:
        self._pulumi("destroy", "--yes", "--non-interactive", "--skip-preview")
        self._pulumi("stack", "rm", "--yes", "--force")


if __name__ == "__main__":
    sys.exit(main())
