"""SQLite persistence: organizations (with their custom Deployment roles), workspaces, Deployments and API tokens.

One connection, guarded by a lock, in WAL mode with ``synchronous=NORMAL``: a
committed write survives the process being killed, and every write runs in one
``BEGIN IMMEDIATE`` transaction so it lands whole or not at all. Token values are
never stored; a token is found by the SHA-256 hash of its value.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from .ids import new_id

__all__ = [
    "DagRole",
    "DeploymentRecord",
    "Organization",
    "Page",
    "Store",
    "Token",
    "TokenFilter",
    "Workspace",
]

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS organizations (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workspaces (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    name            TEXT NOT NULL,
    spec            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_by      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_org ON deployments(organization_id, workspace_id);
CREATE TABLE IF NOT EXISTS tokens (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    scope           TEXT NOT NULL CHECK (scope IN ('ORGANIZATION', 'WORKSPACE', 'DEPLOYMENT')),
    entity_id       TEXT NOT NULL,
    role            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    short_token     TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    start_at        TEXT NOT NULL,
    end_at          TEXT,
    expiry_days     INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    last_used_at    TEXT,
    last_rotated_at TEXT,
    created_by      TEXT NOT NULL,
    updated_by      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_entity ON tokens(organization_id, scope, entity_id);
CREATE TABLE IF NOT EXISTS token_roles (
    seq           INTEGER PRIMARY KEY,
    token_id      TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    entity_type   TEXT NOT NULL CHECK (entity_type IN ('DAG', 'DAG_TAG')),
    entity_id     TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    role          TEXT NOT NULL,
    UNIQUE (token_id, entity_type, entity_id, deployment_id)
);
CREATE TABLE IF NOT EXISTS deployment_roles (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    PRIMARY KEY (organization_id, name)
);
"""


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class Workspace:
    id: str
    organization_id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class DeploymentRecord:
    """A stored Deployment; ``spec`` keeps the validated create request."""

    id: str
    organization_id: str
    workspace_id: str
    workspace_name: str
    name: str
    spec: dict[str, Any]
    created_at: str
    updated_at: str
    created_by: dict[str, Any]
    updated_by: dict[str, Any]


@dataclass(frozen=True)
class DagRole:
    """A role a token holds on one DAG (``DAG``: a DAG ID) or on the DAGs with a tag (``DAG_TAG``)."""

    entity_type: str
    entity_id: str
    deployment_id: str
    role: str


@dataclass(frozen=True)
class Token:
    """A stored API token (its value is not here: only its hash is kept).

    ``role`` is its role on its own entity (``scope``, ``entity_id``); ``dag_roles`` are
    the DAG-level roles ``POST /tokens/{id}/roles`` gave it.
    """

    id: str
    organization_id: str
    name: str
    description: str
    scope: str
    entity_id: str
    role: str
    kind: str
    short_token: str
    start_at: str
    end_at: str | None
    expiry_days: int | None
    created_at: str
    updated_at: str
    last_used_at: str | None
    last_rotated_at: str | None
    created_by: dict[str, Any]
    updated_by: dict[str, Any]
    dag_roles: tuple[DagRole, ...] = ()


@dataclass(frozen=True)
class TokenFilter:
    """The list filters of ``GET /tokens``; ``None`` means "not filtered"."""

    deployment_id: str | None = None
    deployment_workspace_id: str | None = None
    workspace_id: str | None = None
    only_organization: bool = False
    kind: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of a list and the total count before paging."""

    items: list[Any]
    total: int


_TOKEN_SORTS = {
    "name": "name",
    "description": "description",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "tokenStartAt": "start_at",
}
_DEPLOYMENT_SORTS = {"name": "d.name", "createdAt": "d.created_at", "updatedAt": "d.updated_at"}


_SQLITE_MAX_INT = 2**63 - 1


def _page_bounds(limit: int | None, offset: int) -> list[int]:
    """LIMIT and OFFSET for SQLite, whose integers end at 2**63 - 1 (a bigger one raises).

    A page bigger than that holds everything; an offset beyond it is past the end.
    """
    return [-1 if limit is None else min(limit, _SQLITE_MAX_INT), min(offset, _SQLITE_MAX_INT)]


def _order_by(sorts: Sequence[str], columns: dict[str, str], prefix: str = "", *, newest_first: bool = False) -> str:
    terms = []
    for sort in sorts:
        key, _, direction = sort.partition(":")
        terms.append(f"{columns[key]} {'DESC' if direction == 'desc' else 'ASC'}")
    # Creation order breaks ties, so paging is stable.
    tie = "DESC" if newest_first and not sorts else "ASC"
    terms += [f"{prefix}created_at {tie}", f"{prefix}seq {tie}"]
    return ", ".join(terms)


class Store:
    """All reads and writes of the emulator's SQLite database."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=10
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")
        with self.transaction() as conn:
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )

    def close(self) -> None:
        """Checkpoint the WAL and close the connection."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction: all of it commits, or none."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- meta -----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- organizations and workspaces -----------------------------------------

    def create_organization(self, name: str, now: str) -> Organization:
        org = Organization(id=new_id(), name=name, created_at=now)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO organizations(id, name, created_at) VALUES (?, ?, ?)",
                (org.id, org.name, org.created_at),
            )
        return org

    def list_organizations(self) -> list[Organization]:
        rows = self._query("SELECT id, name, created_at FROM organizations ORDER BY seq")
        return [Organization(**dict(row)) for row in rows]

    def deployment_roles(self, organization_id: str) -> list[str]:
        """The organization's custom Deployment roles, by name, sorted."""
        rows = self._query(
            "SELECT name FROM deployment_roles WHERE organization_id = ? ORDER BY name", (organization_id,)
        )
        return [row["name"] for row in rows]

    def set_deployment_roles(self, organization_id: str, names: Sequence[str]) -> list[str]:
        """Replace the organization's custom Deployment roles; the new list, sorted."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM deployment_roles WHERE organization_id = ?", (organization_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO deployment_roles(organization_id, name) VALUES (?, ?)",
                [(organization_id, name) for name in names],
            )
        return self.deployment_roles(organization_id)

    def create_workspace(self, organization_id: str, name: str, now: str) -> Workspace:
        ws = Workspace(id=new_id(), organization_id=organization_id, name=name, created_at=now)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO workspaces(id, organization_id, name, created_at) VALUES (?, ?, ?, ?)",
                (ws.id, ws.organization_id, ws.name, ws.created_at),
            )
        return ws

    def get_workspace(self, organization_id: str, workspace_id: str) -> Workspace | None:
        rows = self._query(
            "SELECT id, organization_id, name, created_at FROM workspaces "
            "WHERE organization_id = ? AND id = ?",
            (organization_id, workspace_id),
        )
        return Workspace(**dict(rows[0])) if rows else None

    def list_workspaces(self, organization_id: str) -> list[Workspace]:
        rows = self._query(
            "SELECT id, organization_id, name, created_at FROM workspaces "
            "WHERE organization_id = ? ORDER BY seq",
            (organization_id,),
        )
        return [Workspace(**dict(row)) for row in rows]

    # -- deployments ----------------------------------------------------------

    _DEPLOYMENT_COLUMNS = (
        "d.id, d.organization_id, d.workspace_id, w.name AS workspace_name, d.name, d.spec, "
        "d.created_at, d.updated_at, d.created_by, d.updated_by"
    )

    @staticmethod
    def _deployment(row: sqlite3.Row) -> DeploymentRecord:
        data = dict(row)
        for key in ("spec", "created_by", "updated_by"):
            data[key] = json.loads(data[key])
        return DeploymentRecord(**data)

    def insert_deployment(self, deployment: DeploymentRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO deployments(id, organization_id, workspace_id, name, spec, "
                "created_at, updated_at, created_by, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    deployment.id,
                    deployment.organization_id,
                    deployment.workspace_id,
                    deployment.name,
                    json.dumps(deployment.spec),
                    deployment.created_at,
                    deployment.updated_at,
                    json.dumps(deployment.created_by),
                    json.dumps(deployment.updated_by),
                ),
            )

    def get_deployment(self, organization_id: str, deployment_id: str) -> DeploymentRecord | None:
        rows = self._query(
            f"SELECT {self._DEPLOYMENT_COLUMNS} FROM deployments d "
            "JOIN workspaces w ON w.id = d.workspace_id "
            "WHERE d.organization_id = ? AND d.id = ?",
            (organization_id, deployment_id),
        )
        return self._deployment(rows[0]) if rows else None

    def list_deployments(
        self,
        organization_id: str,
        *,
        ids: Sequence[str] = (),
        names: Sequence[str] = (),
        workspace_ids: Sequence[str] = (),
        sorts: Sequence[str] = (),
        offset: int = 0,
        limit: int | None = None,
    ) -> Page:
        """Deployments of an organization, filtered (each filter: any of the values)."""
        where = ["d.organization_id = ?"]
        params: list[Any] = [organization_id]
        for column, values in (("d.id", ids), ("d.name", names), ("d.workspace_id", workspace_ids)):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        condition = " AND ".join(where)
        with self._lock:
            total = self._conn.execute(
                f"SELECT COUNT(*) FROM deployments d WHERE {condition}", params
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {self._DEPLOYMENT_COLUMNS} FROM deployments d "
                f"JOIN workspaces w ON w.id = d.workspace_id WHERE {condition} "
                f"ORDER BY {_order_by(sorts, _DEPLOYMENT_SORTS, 'd.')} LIMIT ? OFFSET ?",
                [*params, *_page_bounds(limit, offset)],
            ).fetchall()
        return Page([self._deployment(row) for row in rows], total)

    def delete_deployment(self, organization_id: str, deployment_id: str) -> int | None:
        """Delete a Deployment and its Deployment-scoped tokens, in one transaction.

        Returns how many tokens went with it, or ``None`` if there was no such Deployment.
        """
        with self.transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM deployments WHERE organization_id = ? AND id = ?",
                (organization_id, deployment_id),
            ).rowcount
            if not deleted:
                return None
            return conn.execute(
                "DELETE FROM tokens WHERE organization_id = ? AND scope = 'DEPLOYMENT' "
                "AND entity_id = ?",
                (organization_id, deployment_id),
            ).rowcount

    # -- tokens ---------------------------------------------------------------

    _TOKEN_COLUMNS = (
        "id, organization_id, name, description, scope, entity_id, role, kind, short_token, "
        "start_at, end_at, expiry_days, created_at, updated_at, last_used_at, last_rotated_at, "
        "created_by, updated_by"
    )

    def _token(self, row: sqlite3.Row) -> Token:
        return self._tokens([row])[0]

    def _tokens(self, rows: Sequence[sqlite3.Row]) -> list[Token]:
        """Tokens from their rows, each with its DAG roles (one query for all of them)."""
        roles: dict[str, list[DagRole]] = {}
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for role_row in self._query(
                "SELECT token_id, entity_type, entity_id, deployment_id, role FROM token_roles "
                f"WHERE token_id IN ({', '.join('?' * len(chunk))}) ORDER BY seq",
                chunk,
            ):
                data = dict(role_row)
                roles.setdefault(data.pop("token_id"), []).append(DagRole(**data))
        tokens = []
        for row in rows:
            data = dict(row)
            data["created_by"] = json.loads(data["created_by"])
            data["updated_by"] = json.loads(data["updated_by"])
            tokens.append(Token(**data, dag_roles=tuple(roles.get(data["id"], ()))))
        return tokens

    def insert_token(self, token: Token, token_hash: str) -> None:
        """Store a new token under the hash of its value."""
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO tokens({self._TOKEN_COLUMNS}, token_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    token.organization_id,
                    token.name,
                    token.description,
                    token.scope,
                    token.entity_id,
                    token.role,
                    token.kind,
                    token.short_token,
                    token.start_at,
                    token.end_at,
                    token.expiry_days,
                    token.created_at,
                    token.updated_at,
                    token.last_used_at,
                    token.last_rotated_at,
                    json.dumps(token.created_by),
                    json.dumps(token.updated_by),
                    token_hash,
                ),
            )

    def get_token(self, organization_id: str, token_id: str) -> Token | None:
        rows = self._query(
            f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE organization_id = ? AND id = ?",
            (organization_id, token_id),
        )
        return self._token(rows[0]) if rows else None

    def find_token_by_hash(self, token_hash: str) -> Token | None:
        rows = self._query(
            f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,)
        )
        return self._token(rows[0]) if rows else None

    def list_tokens(
        self,
        organization_id: str | None,
        token_filter: TokenFilter = TokenFilter(),
        *,
        sorts: Sequence[str] = (),
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Page:
        """Tokens of an organization (all organizations if ``None``), filtered and paged.

        Ordered by ``sorts``, then by creation; ``newest_first`` reverses the creation order
        when no sort is given.
        """
        where: list[str] = []
        params: list[Any] = []
        if organization_id is not None:
            where.append("organization_id = ?")
            params.append(organization_id)
        f = token_filter
        if f.deployment_id is not None:
            # Every token with a role on the Deployment: its own, its workspace's, the org's.
            where.append(
                "((scope = 'DEPLOYMENT' AND entity_id = ?) "
                "OR (scope = 'WORKSPACE' AND entity_id = ?) OR scope = 'ORGANIZATION')"
            )
            params += [f.deployment_id, f.deployment_workspace_id or ""]
        if f.workspace_id is not None:
            where.append("((scope = 'WORKSPACE' AND entity_id = ?) OR scope = 'ORGANIZATION')")
            params.append(f.workspace_id)
        if f.only_organization:
            where.append("scope = 'ORGANIZATION'")
        if f.kind is not None:
            where.append("kind = ?")
            params.append(f.kind)
        condition = " AND ".join(where) or "1 = 1"
        with self._lock:
            total = self._conn.execute(
                f"SELECT COUNT(*) FROM tokens WHERE {condition}", params
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE {condition} "
                f"ORDER BY {_order_by(sorts, _TOKEN_SORTS, newest_first=newest_first)} LIMIT ? OFFSET ?",
                [*params, *_page_bounds(limit, offset)],
            ).fetchall()
        return Page(self._tokens(rows), total)

    def set_token_roles(
        self,
        organization_id: str,
        token_id: str,
        *,
        role: str,
        dag_roles: Sequence[DagRole],
        now: str,
        updated_by: dict[str, Any],
    ) -> Token | None:
        """Replace a token's roles: its role on its own entity and its DAG roles; ``None`` if it does not exist."""
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE tokens SET role = ?, updated_at = ?, updated_by = ? WHERE organization_id = ? AND id = ?",
                (role, now, json.dumps(updated_by), organization_id, token_id),
            ).rowcount
            if not changed:
                return None
            conn.execute("DELETE FROM token_roles WHERE token_id = ?", (token_id,))
            conn.executemany(
                "INSERT INTO token_roles(token_id, entity_type, entity_id, deployment_id, role) VALUES (?, ?, ?, ?, ?)",
                [(token_id, r.entity_type, r.entity_id, r.deployment_id, r.role) for r in dag_roles],
            )
        return self.get_token(organization_id, token_id)

    def update_token(
        self,
        organization_id: str,
        token_id: str,
        *,
        name: str,
        description: str | None,
        now: str,
        updated_by: dict[str, Any],
    ) -> Token | None:
        """Rename (and optionally re-describe) a token; ``None`` if it does not exist."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE tokens SET name = ?, description = COALESCE(?, description), "
                "updated_at = ?, updated_by = ? WHERE organization_id = ? AND id = ?",
                (name, description, now, json.dumps(updated_by), organization_id, token_id),
            )
            rows = conn.execute(
                f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE organization_id = ? AND id = ?",
                (organization_id, token_id),
            ).fetchall()
        return self._token(rows[0]) if rows else None

    def rotate_token(
        self,
        organization_id: str,
        token_id: str,
        *,
        token_hash: str,
        short_token: str,
        now: str,
        end_at: str | None,
        updated_by: dict[str, Any],
    ) -> Token | None:
        """Give a token a new value (by hash); the old value stops matching at once."""
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE tokens SET token_hash = ?, short_token = ?, start_at = ?, end_at = ?, "
                "last_rotated_at = ?, updated_at = ?, updated_by = ? "
                "WHERE organization_id = ? AND id = ?",
                (
                    token_hash,
                    short_token,
                    now,
                    end_at,
                    now,
                    now,
                    json.dumps(updated_by),
                    organization_id,
                    token_id,
                ),
            ).rowcount
            if not changed:
                return None
            rows = conn.execute(
                f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)
            ).fetchall()
        return self._token(rows[0])

    def delete_token(self, organization_id: str, token_id: str) -> bool:
        with self.transaction() as conn:
            return bool(
                conn.execute(
                    "DELETE FROM tokens WHERE organization_id = ? AND id = ?",
                    (organization_id, token_id),
                ).rowcount
            )

    def touch_token(self, token: Token, now: str) -> Token:
        """Record that a token was used (at most one write per token per second)."""
        if token.last_used_at == now:
            return token
        with self.transaction() as conn:
            conn.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now, token.id))
        return replace(token, last_used_at=now)

