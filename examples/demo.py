"""``make demo``: the quickstart through a whole lifecycle, on the real Pulumi CLI and the local emulator.

Starts the Astro API emulator, then runs ``examples/quickstart`` through ``pulumi
preview``, ``pulumi up``, a change that replaces a key, and ``pulumi destroy`` with the
real Pulumi CLI and engine (a local file backend and a passphrase: no account needed),
printing the CLI's own output with the secrets masked.

The program runs as an Automation API inline program, so all it needs is the ``pulumi``
CLI and the dynamic-provider launcher that ``make pulumi`` puts in ``.venv/bin``.

    .venv/bin/python examples/demo.py [--workdir .demo]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pulumi import automation as auto

from pulumi_astrokeys.testing.emulator import start_emulator_process
from pulumi_astrokeys.testing.stacks import PulumiCliMissingError, find_pulumi, new_stack, program_from_directory

HERE = Path(__file__).resolve().parent
QUICKSTART = HERE / "quickstart"
PROJECT = "astrokeys-quickstart"
STACK = "demo"
PASSPHRASE = "demo-passphrase"  # encrypts the demo stack's secrets; a real stack uses its own


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", default=str(HERE.parent / ".demo"), help="where the demo keeps its files")
    args = parser.parse_args(argv)

    try:
        pulumi_cli = find_pulumi()
    except PulumiCliMissingError as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 1
    print(
        f"=== Engine: the real Pulumi CLI v{pulumi_cli.version} ({pulumi_cli.command}), "
        "with a local file backend: no Pulumi account needed",
        flush=True,
    )

    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with _emulator(workdir) as bootstrap:
        stack = new_stack(
            program_from_directory(QUICKSTART),
            work_dir=workdir / "pulumi",
            project_name=PROJECT,
            stack_name=STACK,
            config={
                "astrokeys:host": bootstrap["host"],
                "astrokeys:organizationId": bootstrap["organizationId"],
                f"{PROJECT}:deploymentId": bootstrap["deploymentIds"][0],
                f"{PROJECT}:workspaceId": bootstrap["workspaceId"],
            },
            secret_config={"astrokeys:apiToken": bootstrap["apiToken"]},
            passphrase=PASSPHRASE,
        )
        try:
            _run(stack, bootstrap["host"])
        except auto.CommandError as error:
            print(f"\nmake demo: a Pulumi command failed (exit code {error.code}); its output is above.", file=sys.stderr)
            return 1
    _banner("Done. The emulator has stopped; its files and the stack's backend are in " + str(workdir))
    return 0


def _run(stack: auto.Stack, host: str) -> None:
    _banner("1. pulumi preview: what the first up will do (nothing is written)")
    stack.preview(diff=True, on_output=_print)
    _banner("2. pulumi up: create the keys")
    stack.up(on_output=_print)
    _print_outputs(stack)
    _banner("3. A new description: keys are immutable, so the preview shows a replacement")
    stack.set_config(f"{PROJECT}:description", auto.ConfigValue("CI/CD deploys, rotated"))
    stack.preview(diff=True, on_output=_print)
    _banner("4. pulumi up: the new key is created before the old one is deleted")
    httpx.delete(f"{host}/_emulator/requests", trust_env=False)
    stack.up(on_output=_print)
    _print_replacement_order(host)
    _banner("5. pulumi destroy: every key goes (the linked key with its Deployment)")
    stack.destroy(on_output=_print)


def _banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _print(line: str) -> None:
    print(line, end="" if line.endswith("\n") else "\n", flush=True)


def _print_outputs(stack: auto.Stack) -> None:
    print("pulumi stack output (secrets masked):")
    for name, output in sorted(stack.outputs().items()):
        print(f"    {name:<24}: {'[secret]' if output.secret else output.value}")


@contextmanager
def _emulator(workdir: Path) -> Iterator[dict[str, Any]]:
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
    log = httpx.get(f"{host}/_emulator/requests", trust_env=False).json()["requests"]
    writes = [r for r in log if r["method"] in ("POST", "DELETE") and "/tokens" in r["path"]]
    print("The writes the Astro API saw during that up, in order:")
    for request in writes:
        print(f"    {request['method']:<6} {request['path']} -> {request['status']}")


if __name__ == "__main__":
    sys.exit(main())
