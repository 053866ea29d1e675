"""A throwaway Pulumi project driven by the real Pulumi CLI, for ``test_real_cli.py``.

The project lives in a temporary directory with its own local file backend
(``PULUMI_BACKEND_URL=file://...``), its own ``PULUMI_HOME`` and a passphrase secrets
provider, so it needs no Pulumi account and leaves nothing behind. Its ``Pulumi.yaml``
points the Python runtime at the virtualenv running the tests (``options.virtualenv``),
where ``pulumi-astrokeys`` is installed; the program declares one key per entry of the
stack config ``keys``, so a test changes the program by setting config.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

KEY_TYPE = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"
PROJECT = "astrokeys-real-cli"
STACK = "dev"
PASSPHRASE = "real cli passphrase"
#: The provider reads its credentials in ``configure``, which dynamic providers gained in
#: Pulumi 3.139 (pulumi/pulumi#17673); 3.140 is also the SDK version this package requires.
MIN_CLI_VERSION = (3, 140, 0)
_TIMEOUT = 600

PROGRAM = '''\
"""One Deployment API key per entry of the stack config `keys` (resource name -> inputs)."""

import pulumi

from pulumi_astrokeys import DeploymentApiKey

for name, inputs in pulumi.Config().require_object("keys").items():
    key = DeploymentApiKey(name, **inputs)
    pulumi.export(f"{name}_id", key.key_id)
    pulumi.export(f"{name}_secret", key.secret)
'''


def missing_requirements() -> Optional[str]:
    """Why the real-CLI tests cannot run here, or None if they can."""
    cli = shutil.which("pulumi")
    if cli is None:
        return (
            "needs the Pulumi CLI (>= {}) on the PATH: install it from https://www.pulumi.com/docs/install/ "
            "(no Pulumi account needed: the tests use a local file backend and the local Astro API emulator)"
        ).format(".".join(map(str, MIN_CLI_VERSION)))
    if sys.prefix == sys.base_prefix:
        return "needs pytest to run from the virtualenv pulumi-astrokeys is installed in (e.g. .venv/bin/python -m pytest)"
    version = cli_version(cli)
    if version is None:
        return f"could not read the version of the Pulumi CLI at {cli}"
    if version < MIN_CLI_VERSION:
        return "needs Pulumi CLI >= {}, found {} at {}".format(
            ".".join(map(str, MIN_CLI_VERSION)), ".".join(map(str, version)), cli
        )
    return None


def cli_version(cli: str) -> Optional[tuple[int, int, int]]:
    try:
        text = subprocess.run([cli, "version"], check=False, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


class PulumiError(AssertionError):
    """A ``pulumi`` command failed; the message carries its output."""


class RealProject:
    """A Pulumi project and stack in ``root``, configured for the emulator at ``host``."""

    def __init__(self, root: Path, *, host: str, organization_id: str, api_token: str) -> None:
        self.root = root
        self.project_dir = root / "project"
        self.backend_dir = root / "backend"
        for directory in (self.project_dir, self.backend_dir, root / "home"):
            directory.mkdir(parents=True, exist_ok=True)
        (self.project_dir / "Pulumi.yaml").write_text(
            "\n".join(
                [
                    f"name: {PROJECT}",
                    "description: Deployment API keys against the local Astro API emulator",
                    "runtime:",
                    "  name: python",
                    "  options:",
                    "    toolchain: pip",
                    # The virtualenv running the tests, where pulumi-astrokeys is installed.
                    f"    virtualenv: {json.dumps(sys.prefix)}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        (self.project_dir / "__main__.py").write_text(PROGRAM, encoding="utf-8")
        env = {
            key: value
            for key, value in os.environ.items()
            # Credentials come from the stack config only; no ambient backend or passphrase file.
            if not key.startswith("ASTRO_") and key not in ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE")
        }
        env.update(
            {
                "PULUMI_BACKEND_URL": self.backend_dir.as_uri(),
                "PULUMI_HOME": str(root / "home"),
                "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                # The virtualenv also holds provider packages this program never uses (the
                # ci-handoff example's pulumi-github and pulumi-vault): the engine loads providers
                # only when a resource needs one, so nothing needs downloading.
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "NO_COLOR": "1",
            }
        )
        self.env = env
        self.run("stack", "init", STACK, "--secrets-provider", "passphrase", stack=False)
        self.config_set("astrokeys:host", host)
        self.config_set("astrokeys:organizationId", organization_id)
        self.config_set("astrokeys:apiToken", api_token, secret=True)

    # -- running the CLI -------------------------------------------------------------------

    def run(
        self, *args: str, stack: bool = True, check: bool = True, values: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pulumi <args>`` in the project; ``values`` go after ``--``, so one starting
        with a dash is never read as a flag."""
        command = ["pulumi", *args, "--cwd", str(self.project_dir), "--non-interactive"]
        if stack:
            command += ["--stack", STACK]
        if values:
            command += ["--", *values]
        result = subprocess.run(
            command, check=False, env=self.env, capture_output=True, text=True, timeout=_TIMEOUT
        )
        if check and result.returncode != 0:
            raise PulumiError(
                f"`pulumi {' '.join(args)}` exited with {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def config_set(self, key: str, value: str, secret: bool = False) -> None:
        self.run("config", "set", "--secret" if secret else "--plaintext", key, values=[value])

    def set_keys(self, keys: dict[str, dict[str, Any]]) -> None:
        """The program's keys: resource name -> DeploymentApiKey inputs."""
        self.config_set("keys", json.dumps(keys))

    # -- operations ------------------------------------------------------------------------

    def preview(self) -> dict[str, Any]:
        """``pulumi preview --json``: the preview digest (``steps``, ``changeSummary``, ...)."""
        return dict(json.loads(self.run("preview", "--json").stdout))

    def up(self) -> None:
        self.run("up", "--yes", "--json", "--skip-preview")

    def refresh(self) -> None:
        self.run("refresh", "--yes", "--skip-preview")

    def destroy(self) -> None:
        self.run("destroy", "--yes", "--skip-preview")

    # -- the stack -------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """``pulumi stack export``: the stack's deployment, secrets encrypted."""
        return dict(json.loads(self.run("stack", "export").stdout))

    def keys(self) -> dict[str, dict[str, Any]]:
        """The keys in the stack's state by resource name (outputs as exported, secrets encrypted)."""
        resources = self.export().get("deployment", {}).get("resources") or []
        return {
            r["urn"].rsplit("::", 1)[-1]: r for r in resources if r["type"] == KEY_TYPE and not r.get("delete")
        }

    def resources(self) -> list[dict[str, Any]]:
        return list(self.export().get("deployment", {}).get("resources") or [])

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        """``pulumi stack output --json`` (secrets shown as ``[secret]`` unless ``show_secrets``)."""
        args = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else [])]
        return dict(json.loads(self.run(*args).stdout or "{}"))

    def files_holding(self, text: str) -> list[Path]:
        """Files of the project and its backend (state, backups, history, stack config) holding ``text``."""
        needle = text.encode("utf-8")
        return [
            path
            for directory in (self.project_dir, self.backend_dir)
            for path in directory.rglob("*")
            if path.is_file() and needle in path.read_bytes()
        ]


def is_encrypted_secret(value: Any) -> bool:
    """Whether an exported property value is a secret sealed by the secrets provider."""
    return (
        isinstance(value, dict)
        and value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270"
        and "ciphertext" in value
    )
