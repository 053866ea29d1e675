"""Start the local Astro API emulator from tests and drive its control surface.

``run_emulator()`` serves it on a background thread of this process (fast, one
per test); ``start_emulator_process()`` runs it as a child process, for tests
that restart or kill it. Either way tests talk to it over real HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import httpx

from pulumi_astrokeys.emulator import Bootstrap, EmulatorServer

__all__ = ["Emulator", "run_emulator", "start_emulator_process"]


class Emulator:
    """A running emulator: where it is, what it holds, and its test controls.

    ``api_token`` is the organization owner's token; ``repr`` masks it.
    """

    def __init__(
        self, bootstrap: Bootstrap, db_path: Path | None = None, server: EmulatorServer | None = None
    ) -> None:
        self.host: str = bootstrap.host
        self.organization_id: str = bootstrap.organization_id
        self.workspace_id: str = bootstrap.workspace_id
        self.deployment_ids: list[str] = list(bootstrap.deployment_ids)
        self.api_token: str = bootstrap.api_token
        self.db_path = db_path
        self.server = server
        self._control = httpx.Client(base_url=f"{self.host}/_emulator", timeout=30, trust_env=False)

    def __repr__(self) -> str:
        return (
            f"Emulator(host={self.host!r}, organization_id={self.organization_id!r}, "
            f"deployment_ids={self.deployment_ids!r}, api_token='***', db_path={str(self.db_path)!r})"
        )

    def close(self) -> None:
        self._control.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self._control.request(method, path, json=body, params=params or None)
        if response.status_code >= 400:
            raise RuntimeError(f"emulator control {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    # -- Astro API access ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``{host}/v1/organizations/{organizationId}``: the root of the org's endpoints."""
        return f"{self.host}/v1/organizations/{self.organization_id}"

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on :attr:`base_url`, authenticated as ``token`` (default: owner)."""
        kwargs.setdefault("timeout", 30)
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token or self.api_token}"},
            trust_env=False,
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        """``ASTRO_API_HOST``, ``ASTRO_API_TOKEN`` and ``ASTRO_ORGANIZATION_ID`` for this emulator."""
        return {
            "ASTRO_API_HOST": self.host,
            "ASTRO_API_TOKEN": self.api_token,
            "ASTRO_ORGANIZATION_ID": self.organization_id,
        }

    def stack_config(self) -> dict[str, str]:
        """Stack config pointing a program and its provider here: ``astrokeys:host`` and
        ``astrokeys:organizationId``. The token is in :meth:`secret_stack_config`."""
        return {"astrokeys:host": self.host, "astrokeys:organizationId": self.organization_id}

    def secret_stack_config(self) -> dict[str, str]:
        """``astrokeys:apiToken``, the stack config to keep secret."""
        return {"astrokeys:apiToken": self.api_token}

    # -- control surface ------------------------------------------------------------

    def inject_fault(
        self,
        method: str,
        path: str,
        *,
        action: str = "status",
        status: int | None = None,
        count: int = 1,
        retry_after: int | None = None,
        delay_seconds: float | None = None,
        message: str | None = None,
    ) -> str:
        """Arm a fault for the next ``count`` requests matching ``method`` and ``path``.

        ``path`` is a regular expression searched in the URL path (anchor it, e.g.
        ``r"/tokens$"``, to hit only the create). ``method`` may be ``"*"``.
        ``action`` is one of ``status`` (default 503), ``drop``, ``commit-then-drop``,
        ``commit-then-delay``, ``commit-then-garble``, ``delay``, ``delay-then-commit``,
        ``hold`` and ``commit-then-hold`` (see :meth:`wait_until_held`). Returns the fault's id.
        """
        body: dict[str, Any] = {"method": method, "path": path, "action": action, "count": count}
        for key, value in (
            ("status", status),
            ("retryAfter", retry_after),
            ("delaySeconds", delay_seconds),
            ("message", message),
        ):
            if value is not None:
                body[key] = value
        return str(self._call("POST", "/faults", body)["id"])

    def wait_until_held(self, fault_id: str, count: int = 1, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until a ``hold`` or ``commit-then-hold`` fault keeps ``count`` requests; its state.

        The explicit event a test acts on (kill a process, move the clock) while a request
        sits at a known point; :meth:`release` lets the requests go.
        """
        deadline = time.monotonic() + timeout
        while True:
            fault = dict(self._call("GET", f"/faults/{fault_id}"))
            if fault["held"] >= count:
                return fault
            if time.monotonic() > deadline:
                raise TimeoutError(f"fault {fault_id} holds {fault['held']} request(s) after {timeout} s, not {count}")
            time.sleep(0.02)

    def release(self, fault_id: str, *, drop: bool = False) -> dict[str, Any]:
        """Let the requests a ``hold`` fault keeps go on (and any later ones pass at once); with
        ``drop``, end them unanswered instead, nothing done (a ``commit-then-hold`` did its work)."""
        return dict(self._call("POST", f"/faults/{fault_id}/release", {"drop": drop}))

    def hold_state(self, fault_id: str) -> dict[str, Any]:
        """A hold fault's state: ``arrived`` (requests it hit), ``held`` (kept now), ``released``."""
        return dict(self._call("GET", f"/faults/{fault_id}"))

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults with their remaining counts."""
        return list(self._call("GET", "/faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def chaos(
        self,
        probability: float,
        actions: Sequence[int | Mapping[str, Any]],
        *,
        seed: int | None = None,
        methods: Sequence[str] = ("*",),
        path: str = "",
    ) -> dict[str, Any]:
        """Fail each Astro request matching ``methods`` and ``path`` with ``probability``.

        Each failure is one of ``actions``, drawn by weight: a status code (``503``) or a
        fault as for :meth:`inject_fault` (``{"action": "drop", "weight": 2}``,
        ``{"action": "status", "status": 429, "retry_after": 0}``; camelCase keys work too).
        A seed makes the draws repeatable; without one the emulator picks it and reports
        it. Armed faults still come first. Returns the chaos's settings.
        """
        body: dict[str, Any] = {
            "probability": probability,
            "actions": [action if isinstance(action, int) else _camel(action) for action in actions],
            "methods": list(methods),
            "path": path,
        }
        if seed is not None:
            body["seed"] = seed
        return dict(self._call("POST", "/chaos", body))

    def chaos_stats(self) -> dict[str, Any]:
        """``injected`` (counts by kind: ``429``, ``429 retry-after 0``, ``drop``, ...), ``total``,
        ``considered`` (requests that were drawn for), ``active``, and the settings."""
        return dict(self._call("GET", "/chaos"))

    def clear_chaos(self) -> dict[str, Any]:
        """Stop the chaos; returns its final :meth:`chaos_stats`."""
        return dict(self._call("DELETE", "/chaos"))

    def pause_chaos(self) -> dict[str, Any]:
        """Hold one pause of the chaos: no request meets it until every pause is resumed."""
        return dict(self._call("POST", "/chaos/pause"))

    def resume_chaos(self) -> dict[str, Any]:
        """Let go of one pause of the chaos."""
        return dict(self._call("POST", "/chaos/resume"))

    @contextmanager
    def chaos_paused(self) -> Iterator[None]:
        """No chaos inside this block (other pauses, say of a parallel worker, still count)."""
        self.pause_chaos()
        try:
            yield
        finally:
            self.resume_chaos()

    def requests(self, *, token_id: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        """The Astro-path request log, oldest first: those sent with the API token ``token_id``
        (its id, as in ``tokenId``) if given, and after the entry numbered ``after``.

        Each entry: ``seq, method, path, query, status, tokenId, fault, at, requestId, madeId``
        (``madeId``: the token a create made).
        ``status`` is ``None`` for a dropped request; for ``commit-then-drop`` it is the
        status of the committed work that never reached the client.
        """
        params: dict[str, Any] = {"after": after} if after else {}
        if token_id is not None:
            params["tokenId"] = token_id
        return list(self._call("GET", "/requests", **params)["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def advance_clock(self, seconds: float) -> str:
        """Move the emulator's clock forward; returns its new time."""
        return str(self._call("POST", "/clock", {"advanceSeconds": seconds})["now"])

    def clock(self) -> str:
        return str(self._call("GET", "/clock")["now"])

    def list_all_tokens(self, organization_id: str | None = None) -> list[dict[str, Any]]:
        """Every token in the database (all organizations unless one is named), no secrets.

        Each is an ``ApiToken`` plus ``organizationId`` and ``entityId``; no rate limits apply.
        """
        params = {"organizationId": organization_id} if organization_id else {}
        return list(self._call("GET", "/tokens", **params)["tokens"])

    def create_deployment(self, name: str, *, workspace_id: str | None = None, **fields: Any) -> str:
        """Create a Deployment (default: in the bootstrap workspace); returns its id."""
        body = {"name": name, **fields}
        if workspace_id is not None:
            body["workspaceId"] = workspace_id
        return str(self._call("POST", "/deployments", body)["id"])

    def delete_deployment(self, deployment_id: str) -> int:
        """Delete a Deployment and its Deployment tokens; returns how many tokens went."""
        return int(self._call("DELETE", f"/deployments/{deployment_id}")["deletedTokens"])

    def create_organization(self, name: str | None = None) -> dict[str, Any]:
        """Another organization: ``{organizationId, workspaceId, deploymentIds, apiToken}``."""
        return dict(self._call("POST", "/organizations", {"name": name} if name else {}))

    def set_deployment_roles(self, roles: Sequence[str], organization_id: str | None = None) -> list[str]:
        """Declare the organization's custom Deployment roles (default: this emulator's organization).

        Replaces the list; returns it, sorted. A Deployment token's role must be
        ``DEPLOYMENT_ADMIN`` or one of these, as in Astro: another is refused with a 400.
        """
        path = f"/organizations/{organization_id or self.organization_id}/deployment-roles"
        return list(self._call("PUT", path, {"roles": list(roles)})["roles"])

    def deployment_roles(self, organization_id: str | None = None) -> list[str]:
        """The organization's custom Deployment roles (default: this emulator's organization), sorted."""
        path = f"/organizations/{organization_id or self.organization_id}/deployment-roles"
        return list(self._call("GET", path)["roles"])

    def state(self) -> dict[str, Any]:
        """``organizationId``, ``workspaceId``, current ``deploymentIds``, clock and limits."""
        return dict(self._call("GET", "/state"))

    def reset_rate_limits(self) -> None:
        """Refill every caller's rate-limit buckets."""
        self._call("POST", "/rate-limits/reset")


def _camel(action: Mapping[str, Any]) -> dict[str, Any]:
    """A fault's keys as the control surface spells them (``retry_after`` -> ``retryAfter``)."""
    names = {"retry_after": "retryAfter", "delay_seconds": "delaySeconds"}
    return {names.get(key, key): value for key, value in action.items()}


@contextmanager
def run_emulator(
    db_path: str | Path | None = None,
    *,
    rate_limits: bool = False,
    post_per_second: float = 10,
    delete_per_second: float = 5,
    get_per_second: float = 25,
) -> Iterator[Emulator]:
    """Serve the emulator on a free loopback port for the duration of the block.

    Without ``db_path`` the database lives in a temporary directory removed
    afterwards. Rate limits are off unless asked for (tests opt in).
    """
    with tempfile.TemporaryDirectory(prefix="astrokeys-emulator-") as tmp:
        path = Path(db_path) if db_path is not None else Path(tmp) / "emulator.db"
        server = EmulatorServer(
            path,
            rate_limits=rate_limits,
            post_per_second=post_per_second,
            delete_per_second=delete_per_second,
            get_per_second=get_per_second,
        )
        bootstrap = server.start()
        emulator = Emulator(bootstrap, path, server)
        try:
            yield emulator
        finally:
            emulator.close()
            server.stop()


def start_emulator_process(
    db_path: str | Path,
    bootstrap_file: str | Path,
    extra_args: Sequence[str] = (),
    *,
    port: int | None = 0,
    timeout: float = 30.0,
    log_file: str | Path | None = None,
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Run ``python -m pulumi_astrokeys.emulator``; wait for this start's bootstrap file.

    ``port=0`` (the default) serves on a free port; ``None`` leaves the emulator its own
    default, the port the database was served on before. Returns the process (stdout
    piped: it carries the comment line on what the start kept, then the export lines) and
    the bootstrap JSON. Logs go to ``log_file`` if given, else are discarded. The caller
    stops the process (``terminate()`` / ``kill()``, then ``wait()``).
    """
    bootstrap_path = Path(bootstrap_file)
    previous = _file_version(bootstrap_path)
    log = open(log_file, "a", encoding="utf-8") if log_file is not None else None
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pulumi_astrokeys.emulator",
                *(["--port", str(port)] if port is not None else []),
                "--db",
                str(db_path),
                "--bootstrap-file",
                str(bootstrap_path),
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=log if log is not None else subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        if log is not None:
            log.close()  # the child holds its own descriptor
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = _file_version(bootstrap_path)
        if current is not None and current != previous:
            return process, json.loads(bootstrap_path.read_text(encoding="utf-8"))
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with status {process.returncode} before starting")
        time.sleep(0.02)
    process.kill()
    process.wait()
    raise RuntimeError(f"the emulator did not write {bootstrap_path} within {timeout} s")


def _file_version(path: Path) -> tuple[int, int] | None:
    """A file's inode and modification time: a rewrite (a new file renamed in place) changes them."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns
