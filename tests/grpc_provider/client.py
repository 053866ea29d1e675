"""The engine's side of the provider protocol, for the SDK's dynamic provider server.

:class:`DynamicProviderProcess` launches ``python -m pulumi.dynamic`` (the plugin the
engine runs for ``pulumi-python:dynamic:*`` resources), reads the port it prints, and
calls it over gRPC the way the engine's plugin layer does
(sdk/go/common/resource/plugin/provider_plugin.go): ``Configure`` first, then
``Check``/``Diff``/``Create``/``Read``/``Update``/``Delete``. Because the dynamic
provider answers ``acceptSecrets: false``, secret markers are stripped from what is
sent and secretness is re-applied to what comes back (``annotateSecrets``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from .props import PropertyMap, Secret, annotate_secrets, from_struct, to_struct

_PORT_TIMEOUT_SECONDS = 30.0


class ProviderError(Exception):
    """A provider call failed. ``message`` is the provider's own message; ``detail`` the full text."""

    def __init__(self, method: str, urn: str, message: str, detail: str) -> None:
        super().__init__(message)
        self.method = method
        self.urn = urn
        self.message = message
        self.detail = detail


@dataclass
class CheckFailure:
    property: str
    reason: str


@dataclass
class DiffResult:
    changes: int  # provider_pb2.DiffResponse.DIFF_UNKNOWN / DIFF_NONE / DIFF_SOME
    replaces: list[str] = field(default_factory=list)
    changed_keys: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


def clean_error_message(detail: str) -> str:
    """Reduce a provider error (often a Python traceback) to the exception's message."""
    text = detail.strip()
    if "Traceback (most recent call last)" not in text:
        return text
    lines = text.splitlines()
    last_frame = max((i for i, line in enumerate(lines) if line.startswith("  ")), default=-1)
    message = "\n".join(lines[last_frame + 1 :]).strip() or lines[-1].strip()
    # A generic exception type says nothing; a specific one (KeyError, a provider's own
    # error class) is part of the message.
    for generic in ("Exception: ", "RuntimeError: "):
        if message.startswith(generic):
            return message[len(generic) :]
    return message


def provider_environment(extra_env: Mapping[str, str], project: str, stack: str, organization: str) -> dict[str, str]:
    """The environment the provider process runs with.

    The program's environment plus the import path the program ran with, so a provider
    class pickled by reference (e.g. from an importable test module) can be unpickled.
    """
    env = dict(os.environ)
    env.update(extra_env)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if env.get("PYTHONPATH"):
        paths = env["PYTHONPATH"].split(os.pathsep) + paths
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PULUMI_PROJECT", project)
    env.setdefault("PULUMI_STACK", stack)
    env.setdefault("PULUMI_ORGANIZATION", organization)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class DynamicProviderProcess:
    """One dynamic provider plugin process, used for the length of one operation."""

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Optional[Path] = None,
        python: str = sys.executable,
        *,
        engine_pipe: bool = False,
        command: Optional[Sequence[str]] = None,
    ) -> None:
        """``engine_pipe``: give the process a pipe for stdin, as the engine does (its write end
        held here, so :meth:`engine_dies` can close it), instead of ``/dev/null``. ``command``: the
        plugin to run instead of the dynamic provider (``python -m pulumi.dynamic``)."""
        self._command = list(command) if command else [python, "-m", "pulumi.dynamic"]
        self._engine_pipe = engine_pipe
        self._env = dict(env)
        self._cwd = str(cwd) if cwd else None
        self._python = python
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._stderr = tempfile.TemporaryFile()
        self._channel: Optional[grpc.Channel] = None
        self._stub: Optional[provider_pb2_grpc.ResourceProviderStub] = None
        self._lock = threading.Lock()
        self._configured = False
        self.accept_secrets = False

    # -- calls ------------------------------------------------------------------------

    def start(self) -> None:
        """Launch the plugin process (the port is read when first needed)."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                self._command,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                stdin=subprocess.PIPE if self._engine_pipe else subprocess.DEVNULL,
                env=self._env,
                cwd=self._cwd,
            )

    def engine_dies(self) -> None:
        """Close this end of the process's stdin, as the kernel does when the engine dies."""
        assert self._proc is not None and self._proc.stdin is not None, "started with engine_pipe=True"
        self._proc.stdin.close()

    def wait_for_exit(self, timeout: float) -> Optional[int]:
        """The process's exit status once it has ended, or ``None`` if it still runs after ``timeout``."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _connect(self) -> provider_pb2_grpc.ResourceProviderStub:
        with self._lock:
            if self._stub is not None:
                return self._stub
            self.start()
            assert self._proc is not None and self._proc.stdout is not None
            port_line: list[bytes] = []
            reader = threading.Thread(target=lambda: port_line.append(self._proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
            reader.start()
            reader.join(_PORT_TIMEOUT_SECONDS)
            raw = port_line[0].strip() if port_line else b""
            if not raw.isdigit():
                raise ProviderError(
                    "Start",
                    "",
                    "the provider process did not start",
                    self.stderr_text() or f"unexpected output: {raw!r}",
                )
            self._channel = grpc.insecure_channel(f"127.0.0.1:{int(raw)}")
            self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
            return self._stub

    def close(self) -> None:
        """Shut the plugin down (the engine kills plugins at the end of an operation)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc is not None and self._proc.stdout is not None:
                self._proc.stdout.close()

    def stderr_text(self) -> str:
        """Everything the provider process wrote to stderr so far (for debugging)."""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    # -- calls --------------------------------------------------------------------------

    def _call(self, method: str, urn: str, request: Any) -> Any:
        stub = self._connect()
        try:
            return getattr(stub, method)(request)
        except grpc.RpcError as exn:
            detail = exn.details() or str(exn)
            raise ProviderError(method, urn, clean_error_message(detail), detail) from None

    def configure(self, config: Mapping[str, str], secret_keys: Sequence[str]) -> None:
        """Send the stack configuration: all keys in ``namespace:key`` form.

        Secrets are sent as secrets (the engine marshals provider config with
        ``KeepSecrets: true``); the dynamic provider unwraps them itself.
        """
        self._configure(config, {k: str(v) for k, v in config.items()}, secret_keys, accept_resources=False)

    def configure_inputs(self, package: str, inputs: Mapping[str, Any], secret_keys: Sequence[str] = ()) -> None:
        """Configure a packaged provider as the engine does: ``args`` are the provider's inputs by
        their own names (secrets marked), ``variables`` the same as ``package:name`` text."""
        variables = {f"{package}:{k}": str(v) for k, v in inputs.items()}
        self._configure(inputs, variables, secret_keys, accept_resources=True)

    def _configure(
        self, args: Mapping[str, Any], variables: Mapping[str, str], secret_keys: Sequence[str], accept_resources: bool
    ) -> None:
        marked: PropertyMap = {k: (Secret(v) if k in secret_keys else v) for k, v in args.items()}
        request = provider_pb2.ConfigureRequest(
            variables=dict(variables),
            args=to_struct(marked, keep_secrets=True),
            acceptSecrets=True,
            acceptResources=accept_resources,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        response = self._call("Configure", "", request)
        self.accept_secrets = bool(response.acceptSecrets)
        self._configured = True

    def _marshal(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        return to_struct(props, keep_secrets=self.accept_secrets)

    def check(self, urn: str, olds: PropertyMap, news: PropertyMap) -> tuple[PropertyMap, list[CheckFailure]]:
        response = self._call(
            "Check",
            urn,
            provider_pb2.CheckRequest(
                urn=urn, olds=self._marshal(olds), news=self._marshal(news), name=_name(urn), type=_type(urn)
            ),
        )
        inputs = from_struct(response.inputs)
        if not self.accept_secrets:
            annotate_secrets(inputs, news)
        return inputs, [CheckFailure(f.property, f.reason) for f in response.failures]

    def diff(
        self,
        urn: str,
        id_: str,
        old_inputs: PropertyMap,
        old_outputs: PropertyMap,
        news: PropertyMap,
        ignore_changes: Sequence[str],
    ) -> DiffResult:
        response = self._call(
            "Diff",
            urn,
            provider_pb2.DiffRequest(
                id=id_,
                urn=urn,
                olds=self._marshal(old_outputs),
                news=self._marshal(news),
                old_inputs=self._marshal(old_inputs),
                ignoreChanges=list(ignore_changes),
                name=_name(urn),
                type=_type(urn),
            ),
        )
        return DiffResult(
            changes=int(response.changes),
            replaces=list(response.replaces),
            changed_keys=list(response.diffs),
            delete_before_replace=bool(response.deleteBeforeReplace),
        )

    def create(self, urn: str, props: PropertyMap, *, preview: bool = False) -> tuple[str, PropertyMap]:
        response = self._call(
            "Create",
            urn,
            provider_pb2.CreateRequest(
                urn=urn, properties=self._marshal(props), name=_name(urn), type=_type(urn), preview=preview
            ),
        )
        outs = from_struct(response.properties)
        if not self.accept_secrets:
            annotate_secrets(outs, props)
        return response.id, outs

    def read(
        self, urn: str, id_: str, properties: PropertyMap, inputs: PropertyMap
    ) -> tuple[str, PropertyMap, Optional[PropertyMap]]:
        request = provider_pb2.ReadRequest(
            id=id_, urn=urn, inputs=self._marshal(inputs), name=_name(urn), type=_type(urn)
        )
        if properties:
            request.properties.CopyFrom(self._marshal(properties))
        response = self._call("Read", urn, request)
        outs = from_struct(response.properties)
        new_inputs = from_struct(response.inputs) if response.HasField("inputs") else None
        if not self.accept_secrets:
            annotate_secrets(outs, properties or inputs)
            if new_inputs is not None:
                annotate_secrets(new_inputs, inputs)
        return response.id, outs, new_inputs

    def update(
        self,
        urn: str,
        id_: str,
        old_outputs: PropertyMap,
        old_inputs: PropertyMap,
        news: PropertyMap,
        ignore_changes: Sequence[str],
        *,
        preview: bool = False,
    ) -> PropertyMap:
        response = self._call(
            "Update",
            urn,
            provider_pb2.UpdateRequest(
                id=id_,
                urn=urn,
                olds=self._marshal(old_outputs),
                news=self._marshal(news),
                old_inputs=self._marshal(old_inputs),
                ignoreChanges=list(ignore_changes),
                name=_name(urn),
                type=_type(urn),
                preview=preview,
            ),
        )
        outs = from_struct(response.properties)
        if not self.accept_secrets:
            annotate_secrets(outs, news)
        return outs

    def delete(self, urn: str, id_: str, outputs: PropertyMap, old_inputs: PropertyMap) -> None:
        self._call(
            "Delete",
            urn,
            provider_pb2.DeleteRequest(
                id=id_,
                urn=urn,
                properties=self._marshal(outputs),
                old_inputs=self._marshal(old_inputs),
                name=_name(urn),
                type=_type(urn),
            ),
        )


def _name(urn: str) -> str:
    """The ``name`` request field, derived from the URN."""
    return urn.rsplit("::", 1)[-1] if urn else ""


def _type(urn: str) -> str:
    """The ``type`` request field: the URN's type without its parent qualifiers."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) > 3 else ""


def plugin_command() -> list[str]:
    """The packaged provider plugin as the engine starts it: the console script, given an engine address."""
    script = Path(sys.executable).with_name("pulumi-resource-astrokeys")
    return [str(script), "127.0.0.1:1"]


def emulator_plugin_process(
    emulator: Any,
    *,
    engine_pipe: bool = False,
    inputs: Optional[Mapping[str, Any]] = None,
    credentials: bool = True,
    command: Optional[Sequence[str]] = None,
) -> DynamicProviderProcess:
    """The packaged provider plugin (``pulumi-resource-astrokeys``), configured as the engine configures
    the default provider for ``emulator``: credentials as provider inputs only (none without
    ``credentials``), none from the environment; plus ``inputs``. ``command``: another plugin
    to start and configure so (default :func:`plugin_command`)."""
    env = provider_environment({}, "project", "stack", "organization")
    for var in emulator.env():
        env.pop(var, None)
    process = DynamicProviderProcess(env, engine_pipe=engine_pipe, command=command or plugin_command())
    config: dict[str, Any] = {"host": emulator.host}
    if credentials:
        config.update(organizationId=emulator.organization_id, apiToken=emulator.api_token)
    config.update(inputs or {})
    process.configure_inputs("astrokeys", config, secret_keys=["apiToken"])
    return process


def emulator_provider_process(
    emulator: Any,
    project: str = "project",
    stack: str = "stack",
    *,
    engine_pipe: bool = False,
    config: Optional[Mapping[str, str]] = None,
    credentials: bool = True,
) -> DynamicProviderProcess:
    """The SDK's dynamic-provider server (``python -m pulumi.dynamic``), configured as the
    engine would for ``emulator``: credentials through stack config only (none without
    ``credentials``), none from the environment, plus ``config``. Drive it with
    Check/Diff/Create/Read/Delete; ``close()`` it when done."""
    env = provider_environment({}, project, stack, "organization")
    for var in emulator.env():
        env.pop(var, None)
    process = DynamicProviderProcess(env, engine_pipe=engine_pipe)
    secrets = emulator.secret_stack_config() if credentials else {}
    stack_config = emulator.stack_config() if credentials else {"astrokeys:host": emulator.host}
    process.configure({**stack_config, **(config or {}), **secrets}, secret_keys=list(secrets))
    return process
