"""README.md's "Try it locally", exactly as written, as `make demo` runs it: the real Pulumi CLI in
the quickstart's project folder, against the emulator the README starts.

The commands come from README.md itself (``examples/demo.py`` reads them), so the README, the
demo and this test cannot drift apart. What each command did is read from what the CLI
printed, as a user sees it, and from the emulator's request log.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from walkthrough_support import REPO, Recorder, demo

README = REPO / "README.md"
DESCRIPTION_CHANGE = 'pulumi config set description "CI/CD deploys, rotated"'


def test_the_readme_walkthrough_names_each_step_a_user_takes() -> None:
    walkthrough = demo.Walkthrough.from_markdown(README.read_text(encoding="utf-8"), demo.SECTION)

    assert walkthrough.install == [
        "cd examples/quickstart",
        "python3 -m venv .venv",
        ".venv/bin/pip install -r requirements.txt '../..[emulator]'",
    ]
    assert walkthrough.emulator == ".venv/bin/astrokeys-emulator"
    commands = walkthrough.commands
    for expected in (
        "pulumi stack init dev",
        "astrokeys-emulator --show apiToken | pulumi config set --secret astrokeys:apiToken",
        "pulumi preview",
        "pulumi up --yes",
        "pulumi stack output --show-secrets key_secret",
        DESCRIPTION_CHANGE,
        "pulumi refresh --yes",
        "pulumi destroy --yes",
    ):
        assert expected in commands, expected
    assert commands.count("pulumi up --yes") == 2
    order = [commands.index(c) for c in ("pulumi stack init dev", "pulumi preview", DESCRIPTION_CHANGE)]
    assert order == sorted(order)
    assert commands[-2:] == ["pulumi refresh --yes", "pulumi destroy --yes"]


@pytest.mark.timeout(900)
def test_the_readme_walkthrough_runs_as_written_through_the_whole_lifecycle(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "demo" / "quickstart")
    statuses: dict[str, int] = {}
    secrets: dict[str, str] = {}

    def after_each(step: Any, host: str) -> None:
        recorder(step, host)
        deployment = recorder.emulator().deployment_ids[0]
        if step.command == "pulumi stack output --show-secrets key_secret":
            secrets["first"] = step.output.strip()
            statuses["first key, once up"] = recorder.answer_to(secrets["first"], deployment)
        if recorder.steps[-1].command == "pulumi up --yes" and "first" in secrets:
            statuses["first key, once replaced"] = recorder.answer_to(secrets["first"], deployment)
        recorder.emulator().clear_requests()  # the probes' own requests

    out, err = io.StringIO(), io.StringIO()
    try:
        code = demo.demo(tmp_path / "demo", out=out, err=err, after_each=after_each)
    finally:
        recorder.close()
    printed = out.getvalue()
    assert code == 0, printed[-4000:] + err.getvalue()

    assert re.match(r"=== Engine: the real Pulumi CLI v3\.\d+\.\d+ \(\S+/pulumi\)", printed.splitlines()[0])
    for step in recorder.steps:
        assert f"\n$ {step.command}\n" in printed, "each command is printed before its output"
        assert step.exit_code == 0
    api_token = json.loads((recorder.folder / "astrokeys-emulator.json").read_text())["apiToken"]
    assert api_token not in printed + err.getvalue(), "the API token is piped, never shown"

    preview = recorder.step("pulumi preview")
    assert preview.requests == [], "a preview asks nothing of the API"
    for resource in ("DeploymentApiKey ci create", "Deployment quickstart create", "DeploymentApiKey linked create"):
        assert f"pulumi-python:dynamic/astrokeys:{resource}" in preview.output
    assert "+ 4 to create" in preview.output

    first_up = recorder.step("pulumi up --yes", 0)
    assert "+ 4 created" in first_up.output
    assert re.search(r"key_secret\s+: \[secret\]", first_up.output)
    shapes = Counter((method, re.sub(r"^/(\w+)/\w+$", r"/\1/{id}", path)) for method, path in first_up.writes)
    # Each key: its create, then its description; and the Deployment.
    assert shapes == {("POST", "/tokens"): 2, ("POST", "/tokens/{id}"): 2, ("POST", "/deployments"): 1}
    assert statuses["first key, once up"] == 200, "the secret --show-secrets prints works"

    assert recorder.step(DESCRIPTION_CHANGE).requests == []
    replacing = recorder.step("pulumi up --yes", 1)
    assert "+-1 replaced" in replacing.output and "3 unchanged" in replacing.output
    assert replacing.output.index("created replacement") < replacing.output.index("deleted original"), "new first"
    (old_id,) = [path.rsplit("/", 1)[1] for method, path in replacing.writes if method == "DELETE"]
    assert [method for method, _ in replacing.writes] == ["POST", "POST", "DELETE"], replacing.writes
    assert replacing.writes[0] == ("POST", "/tokens")
    assert statuses["first key, once replaced"] == 401, "the replaced key no longer works"

    refresh = recorder.step("pulumi refresh --yes")
    assert refresh.writes == [] and refresh.requests, "refresh reads, and only reads"

    destroy = recorder.step("pulumi destroy --yes")
    assert "- 4 deleted" in destroy.output
    deletes = [path for method, path in destroy.writes if method == "DELETE"]
    assert len(deletes) == 2 and sum(path.startswith("/deployments/") for path in deletes) == 1, (
        "the ci key and the Deployment go; the linked key goes with its Deployment"
    )
    assert f"/tokens/{old_id}" not in deletes

    files = [p for p in recorder.folder.rglob("*") if p.is_file() and ".venv" not in p.relative_to(recorder.folder).parts]
    assert any(".pulumi" in p.parts for p in files), "the state is in the project folder"
    stored = "\n".join(p.read_text(errors="replace") for p in files if p.name != "astrokeys-emulator.json")
    assert secrets["first"] not in stored and api_token not in stored, "no secret in plain text in the state"


def test_the_demo_stops_at_a_failed_command_with_its_own_message(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "demo" / "quickstart")

    def after_each(step: Any, host: str) -> None:
        recorder(step, host)
        if len(recorder.steps) == 1:  # the project file breaks before the first pulumi command
            (recorder.folder / "Pulumi.yaml").write_text("name: [\n", encoding="utf-8")

    out, err = io.StringIO(), io.StringIO()
    try:
        code = demo.demo(tmp_path / "demo", out=out, err=err, after_each=after_each)
    finally:
        recorder.close()

    assert code == 1
    failed = recorder.steps[-1]
    assert failed.command == "pulumi stack init dev" and failed.exit_code != 0
    assert "Pulumi.yaml" in failed.output and failed.output in out.getvalue(), "the CLI's own words are shown"
    assert err.getvalue() == (
        f"\nmake demo: `pulumi stack init dev` failed with exit code {failed.exit_code}; its output is above.\n"
    )
    host = json.loads((recorder.folder / "astrokeys-emulator.json").read_text())["host"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{host}/_emulator/state", trust_env=False, timeout=5)


def test_make_demo_installs_the_package_and_its_emulator_extra_only_in_a_virtualenv_of_its_own() -> None:
    outer_make = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # set when `make test` runs this
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "demo"],
        cwd=REPO,
        env={name: value for name, value in os.environ.items() if name not in outer_make},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    installs = [line for line in recipe if " install " in line and "--upgrade pip" not in line]
    assert installs == ["PYTHONWARNINGS=ignore::UserWarning .venv-demo/bin/pip install --quiet -e '.[emulator]'"]
    assert ".ci/pulumi-cli.sh .venv-demo/bin" in recipe
    assert recipe[-1] == ".venv-demo/bin/python examples/demo.py"
    assert not any(".venv/" in line for line in recipe), "nothing of the test virtualenv"
