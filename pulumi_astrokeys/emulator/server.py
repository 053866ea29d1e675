"""Run the emulator: open the database, seed it, serve it with uvicorn.

:class:`EmulatorServer` serves either in the foreground (the CLI) or on a
background thread (tests). Once the socket accepts connections it knows its
:class:`Bootstrap` (host, ids, the owner token) and, if asked, writes it to a
file atomically.

A restart on the same database keeps the host and the owner token, so settings
stored with ``pulumi config set`` keep working: the database records the port it
was served on, and the token's value, which the database keeps only as a hash,
is taken back from the previous bootstrap file (readable by its owner only).
:class:`Continuity` says what a start kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import uvicorn

from .app import create_app
from .clock import Clock
from .ratelimit import RateLimiter, RateLimits
from .service import Service
from .state import EmulatorState
from .store import Store

__all__ = ["Bootstrap", "Continuity", "EmulatorServer", "PortInUseError"]

logger = logging.getLogger("pulumi_astrokeys.emulator")


@dataclass(frozen=True)
class Bootstrap:
    """Where the emulator listens and what a client needs to use it."""

    host: str
    organization_id: str
    workspace_id: str
    deployment_ids: list[str] = field(default_factory=list)
    api_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return (
            f"Bootstrap(host={self.host!r}, organization_id={self.organization_id!r}, "
            f"workspace_id={self.workspace_id!r}, deployment_ids={self.deployment_ids!r}, "
            "api_token='***')"
        )

    def to_json(self) -> dict[str, Any]:
        """The bootstrap file's content."""
        return {
            "host": self.host,
            "organizationId": self.organization_id,
            "workspaceId": self.workspace_id,
            "deploymentIds": list(self.deployment_ids),
            "apiToken": self.api_token,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bootstrap:
        return cls(
            host=data["host"],
            organization_id=data["organizationId"],
            workspace_id=data["workspaceId"],
            deployment_ids=list(data["deploymentIds"]),
            api_token=data["apiToken"],
        )

    def env(self) -> dict[str, str]:
        """The environment Astronomer's tools (and this project's client) read."""
        return {
            "ASTRO_API_HOST": self.host,
            "ASTRO_API_TOKEN": self.api_token,
            "ASTRO_ORGANIZATION_ID": self.organization_id,
        }

    def export_lines(self) -> list[str]:
        """``export NAME=value`` lines for a POSIX shell."""
        return [f"export {name}={shlex.quote(value)}" for name, value in self.env().items()]

    def write(self, path: str | Path) -> None:
        """Write the JSON atomically (temp file + rename), readable by the owner only."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class Continuity:
    """What a start kept of the previous start on the same database."""

    new_database: bool
    """The database was created (and seeded) by this start."""
    same_host: bool
    """The host (address and port) is the previous start's."""
    same_token: bool
    """The owner token's value is the previous start's, so it still works."""


class PortInUseError(RuntimeError):
    """The port the database was served on before is taken; the message says how to go on."""


def read_bootstrap_file(path: str | Path) -> dict[str, Any] | None:
    """A bootstrap file's content, or ``None`` when it is missing or not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port}, where the emulator on this database listened before, is in use: stop what holds "
                "it, or start with --port 0 for a free port (settings holding the old host then need the new one)"
            ) from None


def _url_host(host: str) -> str:
    """The host a client should dial: wildcards become loopback, IPv6 gets brackets."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class _UvicornServer(uvicorn.Server):
    """uvicorn's server, telling us the moment its sockets listen."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            self._on_started(port)

    async def main_loop(self) -> None:
        # uvicorn's loop polls should_exit every 0.1 s; waking it on request lets
        # a test's emulator stop without that wait.
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def request_exit(self) -> None:
        """Ask the server to shut down (from any thread)."""
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                self._loop.call_soon_threadsafe(self._wake.set)


class EmulatorServer:
    """The local Astro API on loopback, backed by a SQLite file.

    Use :meth:`serve` to run in the foreground (signals stop it), or
    :meth:`start` / :meth:`stop` (or ``with``) to run on a background thread.
    Rate limits are per API token and method class; ``rate_limits=False`` turns
    them off. ``port=None`` serves on the port the database was served on before
    (a free one the first time); ``0`` always picks a free one. With a
    ``bootstrap_file``, the owner token of the previous start (read back from that
    file) stays valid unless ``new_token`` is set.
    """

    def __init__(
        self,
        db_path: str | Path = "astrokeys-emulator.db",
        *,
        host: str = "127.0.0.1",
        port: int | None = 0,
        rate_limits: bool = True,
        post_per_second: float = 10.0,
        delete_per_second: float = 5.0,
        get_per_second: float = 25.0,
        bootstrap_file: str | Path | None = None,
        on_ready: Callable[[Bootstrap], None] | None = None,
        log_level: str | None = None,
        new_token: bool = False,
    ) -> None:
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.limits = RateLimits(
            post_per_second=post_per_second,
            delete_per_second=delete_per_second,
            get_per_second=get_per_second,
            enabled=rate_limits,
        )
        self.bootstrap_file = None if bootstrap_file is None else Path(bootstrap_file)
        self.on_ready = on_ready
        self.log_level = log_level
        self.new_token = new_token
        self.bootstrap: Bootstrap | None = None
        self.continuity: Continuity | None = None
        self.state: EmulatorState | None = None
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _prepare(self) -> _UvicornServer:
        previous: dict[str, Any] = {}
        if self.bootstrap_file is not None:
            previous = read_bootstrap_file(self.bootstrap_file) or {}
        store = Store(self.db_path)
        new_database = store.get_meta("primary_organization_id") is None
        stored_host = store.get_meta("host")
        port = self.port
        if port is None:
            port = int(store.get_meta("port") or 0)
            if port:
                try:
                    _check_port_free(self.host, port)
                except PortInUseError:
                    store.close()
                    raise  # the bootstrap file, and the token it holds, stay for the next start
        if self.bootstrap_file is not None:
            # A stale file must not be mistaken for this start's.
            self.bootstrap_file.unlink(missing_ok=True)
        clock = Clock()
        service = Service(store, clock)
        kept = previous.get("apiToken")
        primary = service.start_primary(keep_token=None if self.new_token or not isinstance(kept, str) else kept)
        self.state = EmulatorState(
            store=store,
            clock=clock,
            service=service,
            limiter=RateLimiter(self.limits, monotonic=clock.monotonic),
            organization_id=primary.organization_id,
            workspace_id=primary.workspace_id,
        )

        def on_started(bound: int) -> None:
            host = f"http://{_url_host(self.host)}:{bound}"
            store.set_meta("port", str(bound))
            store.set_meta("host", host)
            self.continuity = Continuity(
                new_database=new_database,
                same_host=stored_host == host,
                same_token=primary.api_token == kept,
            )
            self.bootstrap = Bootstrap(
                host=host,
                organization_id=primary.organization_id,
                workspace_id=primary.workspace_id,
                deployment_ids=primary.deployment_ids,
                api_token=primary.api_token,
            )
            if self.bootstrap_file is not None:
                self.bootstrap.write(self.bootstrap_file)
            logger.info("Astro API emulator listening on %s (database %s)", self.bootstrap.host, self.db_path)
            if self.on_ready is not None:
                self.on_ready(self.bootstrap)
            self._ready.set()

        config = uvicorn.Config(
            create_app(self.state),
            host=self.host,
            port=port,
            http="h11",
            ws="none",
            loop="asyncio",
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            date_header=False,  # the middleware sends the emulator clock's Date
            access_log=False,
            log_config=None,
            log_level=self.log_level,
            timeout_graceful_shutdown=2,
        )
        self._server = _UvicornServer(config, on_started)
        return self._server

    def _close_store(self) -> None:
        if self.state is not None:
            self.state.store.close()

    def serve(self) -> None:
        """Serve in the foreground until interrupted (SIGINT/SIGTERM)."""
        server = self._prepare()
        try:
            server.run()
        finally:
            self._close_store()

    def start(self, timeout: float = 30.0) -> Bootstrap:
        """Serve on a background thread; return once connections are accepted."""
        server = self._prepare()

        def run() -> None:
            try:
                server.run()
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                self._error = exc
            finally:
                self._ready.set()

        self._thread = threading.Thread(target=run, name="astrokeys-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self.bootstrap is None:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self._error!r}")
        return self.bootstrap

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a background server and close the database."""
        if self._server is not None:
            self._server.request_exit()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_store()
        self.state = None

    def __enter__(self) -> Bootstrap:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
