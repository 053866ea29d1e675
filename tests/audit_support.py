"""Keys, stack exports and runs of ``astrokeys`` for the audit's tests, against the emulator over real HTTP."""

from __future__ import annotations

import io
import json
import re
from typing import Any, Optional

from grpc_provider.props import SECRET_SIG, SIG_KEY

from pulumi_astrokeys._ownership import COMMIT_BOUND, CreateMarker, KeyOwner
from pulumi_astrokeys.audit import KEY_RESOURCE_TYPE
from pulumi_astrokeys.cli import main
from pulumi_astrokeys.testing.emulator import Emulator

PROJECT, STACK = "keys", "dev"


def make_key(
    emulator: Emulator,
    deployment_id: str,
    name: str,
    *,
    as_token: Optional[str] = None,
    days: Optional[int] = None,
    description: Optional[str] = None,
) -> dict[str, Any]:
    """A Deployment API key made through the API (as the owner's token unless told)."""
    body: dict[str, Any] = {"name": name, "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN"}
    if days is not None:
        body["tokenExpiryPeriodInDays"] = days
    if description is not None:
        body["description"] = description
    with emulator.client(as_token) as http:
        response = http.post("/tokens", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def marked_key(
    emulator: Emulator, deployment_id: str, name: str, *, project: str = PROJECT, stack: str = STACK
) -> dict[str, Any]:
    """A token as an interrupted create of ``project/stack`` leaves it: its description still the marker."""
    marker = CreateMarker.new(KeyOwner(project, stack, name))
    return make_key(emulator, deployment_id, name, description=marker.text)


def past_the_commit_bound(emulator: Emulator) -> None:
    """Astro's clock moves past the bound of every create so far: markers made before are abandoned."""
    emulator.advance_clock(COMMIT_BOUND.total_seconds())


def use(emulator: Emulator, key: dict[str, Any]) -> None:
    """Authenticate one request with the key, as a pipeline would."""
    with emulator.client(key["token"]) as http:
        assert http.get(f"/deployments/{key['roles'][0]['entityId']}").status_code == 200


def stack_export(
    *keys: dict[str, Any],
    pending: tuple[tuple[str, str], ...] = (),
    lookups: tuple[dict[str, Any], ...] = (),
    project: str = PROJECT,
    stack: str = STACK,
) -> dict[str, Any]:
    """A `pulumi stack export` document (version 3) of ``project/stack`` holding these keys (secrets
    encrypted), ``lookups`` read with ``DeploymentApiKey.get``, and ``pending`` creates ``(deployment, name)``."""
    prefix = f"urn:pulumi:{stack}::{project}::"
    stack_urn = f"{prefix}pulumi:pulumi:Stack::{project}-{stack}"
    resources: list[dict[str, Any]] = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"}]
    for key in keys:
        deployment_id = key["roles"][0]["entityId"]
        inputs = {
            "deployment_id": deployment_id,
            "name": key["name"],
            "role": "DEPLOYMENT_ADMIN",
            "description": key.get("description", ""),
        }
        resources.append(
            {
                "urn": f"{prefix}{KEY_RESOURCE_TYPE}::{key['name']}",
                "custom": True,
                "id": key["id"],
                "type": KEY_RESOURCE_TYPE,
                "inputs": {"__provider": "gASVKAAAAAAAAACMGXB1bHVtaV9hc3Ryb2tleXMucHJvdmlkZXI=", **inputs},
                "outputs": {
                    **inputs,
                    "key_id": key["id"],
                    "secret": {SIG_KEY: SECRET_SIG, "ciphertext": "v1:Zm9vYmFyYmF6:c2VjcmV0LWNpcGhlcnRleHQ="},
                    "short_token": key["shortToken"],
                    "organization_id": None,
                    "created_at": key["createdAt"],
                    "start_at": key["startAt"],
                    "end_at": key.get("endAt"),
                },
                "parent": stack_urn,
                "additionalSecretOutputs": ["secret"],
            }
        )
    for looked_up in lookups:
        resources.append(
            {
                "urn": f"{prefix}{KEY_RESOURCE_TYPE}::theirs-{looked_up['name']}",
                "custom": True,
                "external": True,
                "id": looked_up["id"],
                "type": KEY_RESOURCE_TYPE,
                "outputs": {"key_id": looked_up["id"], "deployment_id": looked_up["roles"][0]["entityId"]},
                "parent": stack_urn,
            }
        )
    deployment: dict[str, Any] = {
        "manifest": {"time": "2026-11-28T10:00:00Z", "magic": "", "version": "v3.200.0"},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdA==:v1:bm9uY2U=:Y2hlY2s="}},
        "resources": resources,
    }
    if pending:
        deployment["pending_operations"] = [
            {
                "type": "creating",
                "resource": {
                    "urn": f"{prefix}{KEY_RESOURCE_TYPE}::{name}",
                    "custom": True,
                    "type": KEY_RESOURCE_TYPE,
                    "inputs": {"deployment_id": deployment_id, "name": name, "description": "", "role": "DEPLOYMENT_ADMIN"},
                },
            }
            for deployment_id, name in pending
        ]
    return {"version": 3, "deployment": deployment}


def run_astrokeys(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def run_audit(*args: str, stdin: str = "") -> tuple[int, str, str]:
    return run_astrokeys("audit", *args, stdin=stdin)


def json_audit(*args: str, stdin: str = "") -> tuple[int, dict[str, Any]]:
    code, out, err = run_audit(*args, "--json", stdin=stdin)
    assert err == ""
    return code, json.loads(out)


def table_rows(out: str) -> list[dict[str, str]]:
    """Every table row as {column: cell} (cut at the header's column starts), plus its DEPLOYMENT."""
    rows: list[dict[str, str]] = []
    deployment, columns = "", None
    for line in out.splitlines():
        if line.startswith("Deployment "):
            deployment, columns = line.split()[1], None
        elif line.startswith("  NAME "):
            starts = [m.start() for m in re.finditer(r"(?<!\S)\S+(?: \S+)*", line)]
            columns = [(line[a:b].strip(), a, b) for a, b in zip(starts, [*starts[1:], None])]
        elif columns and line.startswith("  "):
            rows.append({"DEPLOYMENT": deployment, **{n: line[a:b].strip() for n, a, b in columns}})
        else:
            columns = None
    return rows


def live_ids(emulator: Emulator) -> set[str]:
    return {t["id"] for t in emulator.list_all_tokens()}


def assert_no_secret(text: str, emulator: Emulator, *keys: dict[str, Any]) -> None:
    assert emulator.api_token not in text
    for key in keys:
        assert key["token"] not in text
    assert "ciphertext" not in text and "c2VjcmV0LWNpcGhlcnRleHQ=" not in text
