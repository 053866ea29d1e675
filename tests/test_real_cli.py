"""Issue 4's scenarios 1, 3, 5 and 7 with the real Pulumi CLI and engine, against the emulator.

The same claims the lifecycle-harness scenarios make (``test_lifecycle_scenarios.py``),
checked with ``pulumi preview --json``, ``pulumi up``, ``pulumi refresh``, ``pulumi destroy``,
``pulumi stack export`` and ``pulumi stack output --json``. Skipped, saying what is missing,
where the Pulumi CLI is not on the PATH.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from real_cli_support import RealProject, is_encrypted_secret, missing_requirements

from pulumi_astrokeys.testing.emulator import Emulator

_MISSING = missing_requirements()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"real Pulumi CLI scenarios: {_MISSING}")


@pytest.fixture
def project(emulator: Emulator, tmp_path: Path) -> Iterator[RealProject]:
    project = RealProject(
        tmp_path,
        host=emulator.host,
        organization_id=emulator.organization_id,
        api_token=emulator.api_token,
    )
    yield project
    # Leave nothing in the emulator or the backend if a test stopped half-way.
    project.run("destroy", "--yes", "--skip-preview", check=False)


def writes(emulator: Emulator) -> list[tuple[str, str]]:
    """POSTs and DELETEs the API received since the log was cleared, paths relative to the organization."""
    prefix = f"/v1/organizations/{emulator.organization_id}"
    return [
        (r["method"], r["path"].removeprefix(prefix))
        for r in emulator.requests()
        if r["method"] in ("POST", "DELETE")
    ]


def answer_to(emulator: Emulator, secret: str, deployment_id: str) -> int:
    response = httpx.get(
        f"{emulator.base_url}/deployments/{deployment_id}",
        headers={"Authorization": f"Bearer {secret}"},
        trust_env=False,
    )
    return response.status_code


def deployment_tokens(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in emulator.list_all_tokens(emulator.organization_id) if t["scope"] == "DEPLOYMENT"}


def key_ops(digest: dict[str, Any]) -> dict[str, list[str]]:
    """The preview digest's step operations per key name (a replacement may show as several steps)."""
    ops: dict[str, list[str]] = {}
    for step in digest.get("steps") or []:
        if "::pulumi-python:dynamic/astrokeys:DeploymentApiKey::" in step["urn"]:
            ops.setdefault(step["urn"].rsplit("::", 1)[-1], []).append(step["op"])
    return ops


# -- 1. first up -------------------------------------------------------------------------------


def test_first_up_creates_a_key_per_deployment_and_keeps_the_secrets_out_of_the_state(
    project: RealProject, emulator: Emulator
) -> None:
    etl_deployment, reports_deployment = emulator.deployment_ids[:2]
    project.set_keys(
        {
            "etl": {"deployment_id": etl_deployment, "description": "ETL deploys"},
            "reports": {"deployment_id": reports_deployment},
        }
    )

    project.up()

    tokens = deployment_tokens(emulator)
    assert {(t["name"], t["entityId"]) for t in tokens.values()} == {
        ("etl", etl_deployment),
        ("reports", reports_deployment),
    }
    masked, shown = project.outputs(), project.outputs(show_secrets=True)
    keys = project.keys()
    for name, deployment in (("etl", etl_deployment), ("reports", reports_deployment)):
        assert masked[f"{name}_secret"] == "[secret]", f"{name}_secret must be a Pulumi secret"
        assert masked[f"{name}_id"] == keys[name]["id"] and keys[name]["id"] in tokens
        assert is_encrypted_secret(keys[name]["outputs"]["secret"])
        assert answer_to(emulator, shown[f"{name}_secret"], deployment) == 200
    for text in (shown["etl_secret"], shown["reports_secret"], emulator.api_token):
        assert project.files_holding(text) == [], "a secret is stored in plain text"
    assert shown["etl_secret"] not in project.run("stack", "export").stdout


# -- 3. a changed input replaces the key, new one first ------------------------------------------


def test_a_changed_description_replaces_the_key_creating_the_new_one_before_deleting_the_old(
    project: RealProject, emulator: Emulator
) -> None:
    deployment = emulator.deployment_ids[0]
    project.set_keys({"etl": {"deployment_id": deployment, "description": "ETL deploys"}})
    project.up()
    old_id = project.keys()["etl"]["id"]
    old_secret = project.outputs(show_secrets=True)["etl_secret"]
    emulator.clear_requests()

    project.set_keys({"etl": {"deployment_id": deployment, "description": "Nightly ETL deploys"}})
    digest = project.preview()
    assert "replace" in key_ops(digest)["etl"] or "create-replacement" in key_ops(digest)["etl"]
    assert digest["changeSummary"].get("replace") == 1
    replace = next(s for s in digest["steps"] if s["urn"].endswith("::etl") and s["op"] in ("replace", "create-replacement"))
    assert "description" in (replace.get("replaceReasons") or [])
    assert writes(emulator) == [], "preview must not touch the API"

    project.up()

    new_id = project.keys()["etl"]["id"]
    new_secret = project.outputs(show_secrets=True)["etl_secret"]
    assert new_id != old_id
    assert writes(emulator) == [("POST", "/tokens"), ("DELETE", f"/tokens/{old_id}")]
    assert answer_to(emulator, old_secret, deployment) == 401, "the old key must stop working"
    assert answer_to(emulator, new_secret, deployment) == 200, "the new key must work"
    assert list(deployment_tokens(emulator)) == [new_id]


# -- 5. a key deleted by hand ----------------------------------------------------------------------


def test_a_key_deleted_by_hand_leaves_the_state_on_refresh_and_the_next_up_recreates_it(
    project: RealProject, emulator: Emulator
) -> None:
    deployment = emulator.deployment_ids[0]
    project.set_keys({"etl": {"deployment_id": deployment}, "reports": {"deployment_id": deployment}})
    project.up()
    gone = project.keys()["etl"]["id"]
    with emulator.client() as api:
        assert api.delete(f"/tokens/{gone}").status_code == 204
    emulator.clear_requests()

    project.refresh()

    assert set(project.keys()) == {"reports"}
    assert writes(emulator) == [], "refresh only reads"

    project.up()

    keys = project.keys()
    assert set(keys) == {"etl", "reports"} and keys["etl"]["id"] != gone
    assert writes(emulator) == [("POST", "/tokens")]
    assert answer_to(emulator, project.outputs(show_secrets=True)["etl_secret"], deployment) == 200
    assert set(deployment_tokens(emulator)) == {k["id"] for k in keys.values()}


# -- 7. destroy ----------------------------------------------------------------------------------


def test_destroy_deletes_every_key_and_a_second_destroy_does_nothing(project: RealProject, emulator: Emulator) -> None:
    first, second = emulator.deployment_ids[:2]
    project.set_keys(
        {
            "etl": {"deployment_id": first},
            "reports": {"deployment_id": second},
            "backfill": {"deployment_id": second, "expiry_period_in_days": 7},
        }
    )
    project.up()
    created = {name: key["id"] for name, key in project.keys().items()}
    secrets = project.outputs(show_secrets=True)
    emulator.clear_requests()

    project.destroy()

    assert sorted(writes(emulator)) == sorted(("DELETE", f"/tokens/{key_id}") for key_id in created.values())
    assert deployment_tokens(emulator) == {}
    assert answer_to(emulator, secrets["etl_secret"], first) == 401
    assert project.resources() == []
    assert project.outputs() == {}
    emulator.clear_requests()

    project.destroy()

    assert emulator.requests() == [], "a second destroy has nothing to ask the API"
    assert project.resources() == []
