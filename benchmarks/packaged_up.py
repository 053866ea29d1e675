"""An ``up`` and a ``destroy`` of 200 keys from a YAML program, through the packaged provider plugin.

The same floors as the dynamic provider's ``up`` (:mod:`benchmarks.rate_limit_floor`): a
key's create is two POSTs, so 200 keys need 400 POSTs, 40 s at Astro's documented 10 POST/s;
their destroy needs 200 DELETEs, 40 s at 5/s. The program is a project folder
(``runtime: yaml``) run by the real CLI as a user types the commands, the plugin found on
the ``PATH`` (``.venv/bin``), against the emulator with its rate limits on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pulumi_astrokeys.testing.stacks import offline_environment

from ._common import Figure, emulator_process, note, quick, report

TARGET = 1.15
POST_PER_SECOND = 10
DELETE_PER_SECOND = 5
POSTS_PER_KEY = 2


def run() -> list[Figure]:
    count = 50 if quick() else 200
    with tempfile.TemporaryDirectory(prefix="astrokeys-bench-yaml-") as tmp, emulator_process(rate_limits=True) as emulator:
        folder = Path(tmp) / "keys"
        folder.mkdir()
        resources = {
            f"key-{index:04d}": {
                "type": "astrokeys:DeploymentApiKey",
                "properties": {"deploymentId": emulator.deployment_ids[0]},
            }
            for index in range(count)
        }
        project = {"name": "astrokeys-bench-yaml", "runtime": "yaml", "resources": resources}
        (folder / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        env = {**os.environ, **offline_environment(Path(tmp))}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])

        def pulumi(*args: str, stdin: str | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
            started = time.monotonic()
            done = subprocess.run(
                ["pulumi", *args], cwd=folder, env=env, input=stdin, capture_output=True, text=True, timeout=1800
            )
            return time.monotonic() - started, done

        pulumi("stack", "init", "bench")
        pulumi("config", "set", "astrokeys:host", emulator.host)
        pulumi("config", "set", "astrokeys:organizationId", emulator.organization_id)
        pulumi("config", "set", "--secret", "astrokeys:apiToken", stdin=emulator.api_token)
        emulator.clear_requests()
        up_seconds, up = pulumi("up", "--yes", "--skip-preview")
        alive = sum(1 for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT")
        destroy_seconds, destroy = pulumi("destroy", "--yes", "--skip-preview")
        left = sum(1 for t in emulator.list_all_tokens() if t["scope"] == "DEPLOYMENT")
        answered_429 = sum(1 for e in emulator.requests() if e["status"] == 429)

    up_floor = count * POSTS_PER_KEY / POST_PER_SECOND
    destroy_floor = count / DELETE_PER_SECOND
    figures = [
        report(Figure(f"packaged_yaml_up_{count}_keys_over_{up_floor:.0f}s_floor_of_{count * POSTS_PER_KEY}_posts", up_seconds / up_floor, TARGET, unit="x")),
        report(Figure(f"packaged_yaml_up_{count}_keys.keys_missing", count - alive + (up.returncode != 0), 0)),
        report(Figure(f"packaged_yaml_destroy_{count}_keys_over_{destroy_floor:.0f}s_floor_of_{count}_deletes", destroy_seconds / destroy_floor, TARGET, unit="x")),
        report(Figure(f"packaged_yaml_destroy_{count}_keys.keys_left", left + (destroy.returncode != 0), 0)),
    ]
    note(f"YAML up of {count} keys: {up_seconds:.1f} s (floor {up_floor:.0f} s), {alive} alive after; destroy {destroy_seconds:.1f} s, {left} left")
    note(f"429s the emulator answered (the plugin's client retried them): {answered_429}")
    for run_ in (up, destroy):
        if run_.returncode != 0:
            note(f"error: {(run_.stderr or run_.stdout)[-300:]}")
    return figures
