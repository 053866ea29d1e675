"""No key secret and no API token in plain text anywhere a lifecycle leaves traces.

One story, with failures injected along the way and debug logging everywhere (this
process's loggers through caplog, the emulator's, and the provider processes', which
log to stderr at DEBUG through a ``sitecustomize`` on their path). Then every secret
the keys ever had, and the API token, is looked for in: the state file after each
operation (raw bytes), the pickled provider, every log line, every exception's
message, repr, attributes and traceback, the reprs of the client's objects and the
models, and the emulator's database files. The figure is printed; it must be zero.
"""

from __future__ import annotations

import base64
import logging
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pulumi
import pytest
from lifecycle import LifecycleError, OperationResult, Stack, render
from lifecycle.stack import reveal

from pulumi_astrokeys import AstroKeysError, DeploymentApiKey
from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._settings import resolve_settings
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

DEBUG_EVERYWHERE = """\
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
for name in ("pulumi_astrokeys", "httpx", "httpcore"):
    logging.getLogger(name).setLevel(logging.DEBUG)
"""
ONCE = RetryPolicy(max_attempts=1)


class Traces:
    """Everything the story left behind, by where it was found."""

    def __init__(self) -> None:
        self.places: list[tuple[str, bytes]] = []

    def add(self, where: str, trace: str | bytes) -> None:
        self.places.append((where, trace if isinstance(trace, bytes) else trace.encode("utf-8", "replace")))

    def add_exception(self, where: str, error: BaseException) -> None:
        self.add(f"{where}: str", str(error))
        self.add(f"{where}: repr", repr(error))
        self.add(f"{where}: attributes", repr(vars(error)))
        self.add(f"{where}: traceback", "".join(traceback.format_exception(error)))

    def occurrences(self, needles: set[str]) -> Counter[str]:
        """How often any needle appears, by place (the needles themselves are never shown)."""
        found: Counter[str] = Counter()
        for where, trace in self.places:
            for needle in needles:
                found[where] += trace.count(needle.encode())
        return +found


def keys_program(descriptions: dict[str, str], deployment_id: str) -> Callable[[], None]:
    def program() -> None:
        for name, description in descriptions.items():
            key = DeploymentApiKey(name, deployment_id=deployment_id, description=description)
            pulumi.export(f"{name}_secret", key.secret)

    return program


def run_story(emulator: Emulator, tmp_path: Path, traces: Traces, control: Traces, secrets: set[str]) -> None:
    """up (failing, then again), a replacement whose old key's delete fails, refresh (failing, then again), destroy."""
    debug_path = tmp_path / "debug-path"
    debug_path.mkdir()
    (debug_path / "sitecustomize.py").write_text(DEBUG_EVERYWHERE)
    state_file = tmp_path / "state.json"
    descriptions = {"deploys": "CI/CD deploys", "reports": "nightly reports"}
    stack = Stack(
        keys_program(descriptions, emulator.deployment_ids[0]),
        state_file=state_file,
        project="hygiene",
        stack_name="dev",
        config={**emulator.stack_config(), "astrokeys:retryBackoff": "0.01"},
        secret_config=emulator.secret_stack_config(),
        env={"PYTHONPATH": str(debug_path)},
        passphrase="hygiene",
        kdf_iterations=1000,
    )

    def operation(name: str, run: Callable[[], OperationResult], *, fails: bool = False) -> None:
        try:
            result = run()
            traces.add(f"{name}: result", repr(result) + render(result))
            assert not fails, f"{name} was meant to fail"
        except LifecycleError as error:
            assert fails, error.result.full_error_text()
            traces.add_exception(f"{name}: error", error)
            traces.add(f"{name}: full error text", error.result.full_error_text() + render(error.result))
        traces.add(f"{name}: provider stderr", stack.last_provider_stderr)
        traces.add(f"{name}: state file", state_file.read_bytes())
        traces.add(f"{name}: stack outputs", repr(stack.outputs()) + str(stack.outputs()))
        shown = stack.outputs(show_secrets=True)
        secrets.update(v for k, v in shown.items() if k.endswith("_secret") and v)
        control.add(f"{name}: outputs, shown", repr(shown))
        for resource in stack.resources():  # __provider is sealed as a secret in the file: decrypted here
            pickled = reveal(resource.inputs.get("__provider"))
            if pickled:
                traces.add(f"{name}: pickled provider", base64.b64decode(pickled))

    emulator.inject_fault("POST", r"/tokens$", status=500, count=4)  # both attempts of both creates
    operation("up, creates refused", stack.up, fails=True)
    operation("up", stack.up)
    descriptions["deploys"] = "CI/CD deploys, rotated"
    emulator.inject_fault("DELETE", r"/tokens/", status=500)  # not retried: the old key stays pending
    operation("replace, old key's delete refused", stack.up, fails=True)
    operation("replace, finished", stack.up)
    emulator.inject_fault("GET", r"/tokens/", status=500)
    operation("refresh, read refused", stack.refresh, fails=True)
    operation("refresh", stack.refresh)
    emulator.inject_fault("DELETE", r"/tokens/", action="drop")  # retried
    operation("destroy", stack.destroy)


def use_the_client(emulator: Emulator, traces: Traces, secrets: set[str]) -> None:
    """The client's objects, models and every kind of exception it raises, as a program using it sees them."""
    settings = resolve_settings(host=emulator.host, api_token=emulator.api_token, organization_id=emulator.organization_id)
    client = AstroClient(settings, retry=ONCE, transport=httpx.HTTPTransport())
    deployment_id = emulator.deployment_ids[1]
    token = client.create_deployment_token(deployment_id, name="direct", description="made by hand")
    assert token.token is not None
    secrets.add(token.token.get_secret_value())
    page = list(client.iter_deployment_tokens(deployment_id))
    objects: dict[str, Any] = {
        "client": client,
        "settings": settings,
        "settings.api_token": settings.api_token,
        "created token": token,
        "token's secret field": token.token,
        "listed tokens": page,
        "deployment": client.get_deployment(deployment_id),
    }
    for name, value in objects.items():
        traces.add(f"{name}: repr", repr(value))
        traces.add(f"{name}: str", str(value))
    traces.add("created token: JSON", token.model_dump_json())
    traces.add("created token: dump", repr(token.model_dump()))

    failures: dict[str, Callable[[], Any]] = {
        "server error": lambda: client.get_token(token.id),
        "rate limited": lambda: client.get_token(token.id),
        "no answer": lambda: client.get_token(token.id),
        "ambiguous create": lambda: client.create_deployment_token(deployment_id, name="lost"),
        "not found": lambda: client.get_token("clm8q7f6q000008lcgyougpsk"),
        "invalid request": lambda: client.create_deployment_token(deployment_id, name="x", expiry_period_in_days=0),
        "unauthorized": lambda: AstroClient(
            resolve_settings(host=emulator.host, api_token="not-a-token", organization_id=emulator.organization_id),
            retry=ONCE,
        ).get_deployment(deployment_id),
    }
    emulator.inject_fault("GET", r"/tokens/", status=500)
    emulator.inject_fault("GET", r"/tokens/", status=429, retry_after=0)
    emulator.inject_fault("GET", r"/tokens/", action="drop")
    emulator.inject_fault("POST", r"/tokens$", action="drop")
    for name, call in failures.items():
        with pytest.raises(AstroKeysError) as caught:
            call()
        traces.add_exception(f"client, {name}", caught.value)
    client.delete_token(token.id)
    client.close()


def test_no_secret_or_api_token_appears_in_plain_text_anywhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("pulumi_astrokeys", "pulumi_astrokeys.emulator", "httpx", "httpcore", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    traces = Traces()
    control = Traces()  # where the secrets are meant to be: the outputs shown on request
    secrets: set[str] = set()
    database = tmp_path / "emulator" / "emulator.db"
    database.parent.mkdir()

    with run_emulator(database) as emulator:
        api_token = emulator.api_token
        run_story(emulator, tmp_path, traces, control, secrets)
        use_the_client(emulator, traces, secrets)
        for path in sorted(database.parent.iterdir()):  # -wal and -shm while they exist
            traces.add(f"database, running: {path.name}", path.read_bytes())
    for path in sorted(database.parent.iterdir()):
        traces.add(f"database, stopped: {path.name}", path.read_bytes())
    traces.add("log records", caplog.text)
    traces.add("log record arguments", repr([(r.msg, r.args) for r in caplog.records]))

    # The story did what it claims: four distinct secrets, failures, debug logs, the emulator's log.
    assert len(secrets) == 4  # deploys, its replacement, reports, and the client's own token
    assert sum(where.endswith(": traceback") for where, _ in traces.places) == 3 + 7
    stderr = "".join(trace.decode() for where, trace in traces.places if where.endswith("provider stderr"))
    assert "httpx INFO HTTP Request" in stderr and "httpcore.http11 DEBUG" in stderr and "pulumi_astrokeys DEBUG" in stderr
    assert "pulumi_astrokeys.emulator" in {r.name for r in caplog.records}
    assert {p for p, _ in traces.places if p.startswith("database")} >= {
        "database, running: emulator.db-wal",
        "database, stopped: emulator.db",
    }
    # ... and the search finds a secret where one is.
    shown = sum(control.occurrences(secrets).values())
    assert shown >= 3

    found = traces.occurrences(secrets | {api_token})
    figure = sum(found.values())
    with capsys.disabled():
        print(
            f"\nsecret hygiene: {figure} plain-text occurrences of {len(secrets)} key secrets and the API token "
            f"in {len(traces.places)} traces",
            file=sys.stderr,
        )
    assert figure == 0, f"secrets found in: {sorted(found)}"
