"""No key secret and no API token in plain text anywhere a lifecycle leaves traces.

One story through the real Pulumi CLI and engine, with failures injected along the way and
debug logging everywhere: this process's loggers (where the inline program runs) through
caplog, the emulator's, the provider processes' (which log to stderr at DEBUG through a
``sitecustomize`` on the ``PYTHONPATH`` the CLI passes to its plugins), and the CLI's own
(``--debug``, ``-v=11 --logtostderr --logflow``). Then every secret the keys ever had, and
the API token, is looked for in: the CLI's stdout and stderr of every operation, every
engine event (the provider's stderr among them), every file under the stack's directory
after each operation (workspace, file backend with its state, backups and history, and
``PULUMI_HOME``), ``pulumi stack export`` and ``pulumi stack output`` as a user sees them,
the pickled provider in the state, every log line, every exception's message, repr,
attributes and traceback, the reprs of the client's objects and the models, and the
emulator's database files. The figure is printed; it must be zero.

Not searched: the dump ``PULUMI_DEBUG_GRPC`` asks for and ``--tracing`` files. They record
the engine's traffic with its plugins, secret values and the API token included, whatever
the provider does: tools to turn on for one debugging session, never in CI.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi import automation as auto
from real_cli_support import RealStack, Specs, World, keys_program, plain

from pulumi_astrokeys import AstroKeysError
from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._settings import resolve_settings
from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

#: The provider processes' ``sitecustomize``: DEBUG logs to stderr, and everything written to
#: their stderr also kept in a file of their own (the engine hides config secrets in the
#: stderr it passes on, so the raw stream is searched as well).
DEBUG_EVERYWHERE = """\
import logging, os, sys


class Tee:
    def __init__(self, stream, copy):
        self.stream, self.copy = stream, copy

    def write(self, text):
        self.copy.write(text)
        self.copy.flush()
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


sys.stderr = Tee(sys.stderr, open(os.path.join({raw!r}, f"provider-{{os.getpid()}}.stderr"), "a"))
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
for name in ("pulumi_astrokeys", "httpx", "httpcore"):
    logging.getLogger(name).setLevel(logging.DEBUG)
"""
#: The CLI's own logging: debug diagnostics, and verbose logs at level 11 to stderr, passed on
#: to the plugins it starts.
CLI_DEBUG: dict[str, Any] = {"debug": True, "log_verbosity": 11, "log_to_std_err": True, "log_flow": True}
# One try whatever the answer: a 429 spends no attempt, so no time left for a second is what ends it.
ONCE = RetryPolicy(max_attempts=1, max_elapsed=0.0)


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

    def add_files(self, where: str, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.add(f"{where}: {path.relative_to(root)}", path.read_bytes())

    def text(self, suffix: str) -> str:
        return "".join(trace.decode("utf-8", "replace") for where, trace in self.places if where.endswith(suffix))

    def occurrences(self, needles: set[str]) -> Counter[str]:
        """How often any needle appears, by place (the needles themselves are never shown)."""
        found: Counter[str] = Counter()
        for where, trace in self.places:
            for needle in needles:
                found[where] += trace.count(needle.encode())
        return +found


def as_data(value: Any) -> Any:
    """An engine event (or any part of one) as plain data, every attribute included: the
    Automation API's event classes have no repr of their own."""
    if isinstance(value, dict):
        return {str(key): as_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_data(item) for item in value]
    if hasattr(value, "__dict__"):
        return {type(value).__name__: as_data(vars(value))}
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def provider_stderr(events: list[auto.EngineEvent]) -> str:
    """What the provider processes wrote to stderr: the engine passes each line on as an
    ``info#err`` diagnostic."""
    return "".join(
        event.diagnostic_event.message
        for event in events
        if event.diagnostic_event is not None and event.diagnostic_event.severity == "info#err"
    )


def run_story(world: World, tmp_path: Path, traces: Traces, control: Traces, secrets: set[str]) -> None:
    """up (failing, then again), a replacement whose old key's delete fails, refresh (failing, then again), destroy."""
    emulator = world.emulator
    debug_path, raw_stderr = tmp_path / "debug-path", tmp_path / "provider-stderr"
    debug_path.mkdir()
    raw_stderr.mkdir()
    (debug_path / "sitecustomize.py").write_text(DEBUG_EVERYWHERE.format(raw=str(raw_stderr)))
    deployment = emulator.deployment_ids[0]
    specs: Specs = {
        "deploys": {"deployment_id": deployment, "description": "CI/CD deploys"},
        "reports": {"deployment_id": deployment, "description": "nightly reports"},
    }
    stack = world.stack(keys_program(specs), project="hygiene", env={"PYTHONPATH": str(debug_path)})
    stack.stack.set_config("astrokeys:retryBackoff", auto.ConfigValue("0.01"))

    def operation(name: str, command: str, *, fails: bool = False) -> None:
        events: list[auto.EngineEvent] = []
        try:
            result = getattr(stack.stack, command)(on_event=events.append, **CLI_DEBUG)
            traces.add(f"{name}: CLI stdout", result.stdout)
            traces.add(f"{name}: CLI stderr", result.stderr)
            traces.add(f"{name}: result", repr(result) + repr(vars(result)))
            assert not fails, f"{name} was meant to fail"
        except auto.CommandError as error:  # its message is the CLI's stdout and stderr
            assert fails, str(error)
            traces.add_exception(f"{name}: error", error)
        traces.add(f"{name}: engine events", json.dumps(as_data(events)))
        traces.add(f"{name}: provider stderr", provider_stderr(events))
        for path in sorted(raw_stderr.iterdir()):  # a new provider process for each operation
            traces.add(f"{name}: provider stderr, raw", path.read_bytes())
            path.unlink()
        look_at_the_stack(name, stack, traces, control, secrets)

    emulator.inject_fault("POST", r"/tokens$", status=500, count=4)  # both attempts of both creates
    operation("up, creates refused", "up", fails=True)
    operation("up", "up")
    specs["deploys"]["description"] = "CI/CD deploys, rotated"
    emulator.inject_fault("DELETE", r"/tokens/", status=500)  # not retried: the old key stays pending
    operation("replace, old key's delete refused", "up", fails=True)
    operation("replace, finished", "up")
    emulator.inject_fault("GET", r"/tokens/", status=500)
    operation("refresh, read refused", "refresh", fails=True)
    operation("refresh", "refresh")
    emulator.inject_fault("DELETE", r"/tokens/", action="drop")  # retried
    operation("destroy", "destroy")
    assert world.tokens() == {}


def look_at_the_stack(name: str, stack: RealStack, traces: Traces, control: Traces, secrets: set[str]) -> None:
    """What a user reads with the CLI, and every file the stack has, after one operation; the
    secrets of every key in the state, shown on request, are collected (and kept as the control)."""
    traces.add_files(f"{name}: file", stack.root)
    traces.add(f"{name}: stack export", json.dumps(stack.export()))
    traces.add(f"{name}: stack output", json.dumps(stack.outputs()))
    exported = stack.export(show_secrets=True)
    control.add(f"{name}: stack export --show-secrets", json.dumps(exported))
    for resource in exported["deployment"].get("resources") or []:
        secret = plain((resource.get("outputs") or {}).get("secret"))
        if secret:
            secrets.add(secret)
        for output in ("deploys_secret", "reports_secret"):  # the stack's outputs
            secret = plain((resource.get("outputs") or {}).get(output))
            if secret:
                control.add(f"{name}: stack output {output}, shown", secret)
        pickled = plain((resource.get("inputs") or {}).get("__provider"))  # sealed as a secret in the state
        if pickled:
            traces.add(f"{name}: pickled provider", base64.b64decode(pickled))


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
        run_story(World(emulator, tmp_path / "stacks"), tmp_path, traces, control, secrets)
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
    stderr = traces.text("provider stderr, raw")
    assert len([where for where, _ in traces.places if where.endswith("provider stderr, raw")]) >= 7
    assert "httpx INFO HTTP Request" in stderr and "httpcore.http11 DEBUG" in stderr and "pulumi_astrokeys DEBUG" in stderr
    assert "httpcore.http11 DEBUG" in traces.text("provider stderr"), "the engine passed the provider's stderr on"
    cli_log = traces.text("CLI stderr") + traces.text("error: str")
    assert "Provider[" in cli_log, "the CLI logged verbosely to stderr"
    events = traces.text("engine events")
    assert '"StepEventStateMetadata"' in events and '"DiagnosticEvent"' in events, "events are searched in full"
    assert "pulumi_astrokeys.emulator" in {r.name for r in caplog.records}
    assert {p for p, _ in traces.places if p.startswith("database")} >= {
        "database, running: emulator.db-wal",
        "database, stopped: emulator.db",
    }
    assert any("pulumi-home" in where for where, _ in traces.places)
    assert sum("pickled provider" in where for where, _ in traces.places) >= 7
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
