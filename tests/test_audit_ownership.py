"""What ``astrokeys audit --delete-orphans`` must never delete, and the orphan it must see.

Only a token still carrying the create marker of one of the given stacks, abandoned for
good on Astro's clock, is an orphan; everything else that looks like one is left alone
(a suspect at most, for a person). Each case is what a user of shared API tokens,
Deployments and key names runs into.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from audit_support import (
    json_audit,
    live_ids,
    make_key,
    marked_key,
    past_the_commit_bound,
    run_astrokeys,
    run_audit,
    stack_export,
    table_rows,
)
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_astrokeys._ownership import OWNER_PROPERTY
from pulumi_astrokeys.audit import EXIT_ERROR, EXIT_IN_FLIGHT, EXIT_OK, EXIT_ORPHANS
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

DESCRIBE = r"/tokens/c[a-z0-9]{24}$"


def deletes(emulator: Emulator) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in emulator.requests() if r["method"] == "DELETE"]


# -- wrong deletions the audit must never make ---------------------------------------------------


def test_another_stacks_key_of_the_same_name_on_the_same_deployment_is_never_deleted(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    ours = make_key(astro_env, deployment, "ci")
    theirs = make_key(astro_env, deployment, "ci")  # the same API token, name and Deployment
    past_the_commit_bound(astro_env)
    export = json.dumps(stack_export(ours, project="shop", stack="a"))
    astro_env.clear_requests()

    code, out, err = run_audit("--stack", "-", "--delete-orphans", stdin=export)

    assert code == EXIT_OK, out + err
    assert theirs["id"] in live_ids(astro_env) and deletes(astro_env) == []
    rows = {row["KEY ID"]: row for row in table_rows(out)}
    assert rows[theirs["id"]]["FINDINGS"] == "never-used, unmanaged"


def test_another_stacks_abandoned_create_is_left_to_that_stacks_audit(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    ours = make_key(astro_env, deployment, "ci")
    theirs = marked_key(astro_env, deployment, "ci", project="shop", stack="b")
    past_the_commit_bound(astro_env)

    code, report = json_audit("--stack", "-", "--delete-orphans", stdin=json.dumps(stack_export(ours, project="shop", stack="a")))

    assert code == EXIT_OK and theirs["id"] in live_ids(astro_env)
    entry = next(e for e in report["keys"] if e["keyId"] == theirs["id"])
    assert entry["findings"] == ["never-used", "unmanaged"] and "shop/b" in entry["reason"]

    code, report = json_audit(
        deployment, "--stack", "-", "--delete-orphans", stdin=json.dumps(stack_export(project="shop", stack="b"))
    )
    assert code == EXIT_OK and report["summary"]["deletedOrphans"] == 1
    assert theirs["id"] not in live_ids(astro_env)


def test_a_key_kept_on_purpose_with_retain_on_delete_is_no_orphan(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    retained = make_key(astro_env, deployment, "ci", days=30)  # replaced, left to expire for its consumers
    current = make_key(astro_env, deployment, "ci", days=30)
    past_the_commit_bound(astro_env)

    code, out, err = run_audit(
        "--stack", "-", "--delete-orphans", "--expiring-within", "7", stdin=json.dumps(stack_export(current))
    )

    assert code == EXIT_OK, out + err
    assert retained["id"] in live_ids(astro_env)
    assert {row["KEY ID"]: row for row in table_rows(out)}[retained["id"]]["FINDINGS"] == "never-used, unmanaged"


def test_a_stale_export_never_costs_the_stack_its_current_key(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    old = make_key(astro_env, deployment, "ci")
    stale = json.dumps(stack_export(old))  # exported, then an `up` replaced ci
    current = make_key(astro_env, deployment, "ci")
    with astro_env.client() as http:
        assert http.delete(f"/tokens/{old['id']}").status_code == 204
    past_the_commit_bound(astro_env)

    code, out, err = run_audit("--stack", "-", "--delete-orphans", stdin=stale)

    assert code == EXIT_OK, out + err
    assert current["id"] in live_ids(astro_env)
    assert f"The state holds key ci ({old['id']})" in out and "the export may be older than the stack" in out


def test_a_create_in_flight_is_never_deleted_and_its_own_stack_is_told_to_wait(
    astro_env: Emulator, tmp_path: Path
) -> None:
    deployment = astro_env.deployment_ids[0]
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config({**astro_env.stack_config(), "astrokeys:apiToken": astro_env.api_token}, "b")))
    inputs = provider.check(
        {}, {"deployment_id": deployment, "name": "ci", OWNER_PROPERTY: {"project": "shop", "stack": "b", "name": "ci"}}
    ).inputs
    hold = astro_env.inject_fault("POST", DESCRIBE, action="hold")
    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(provider.create, inputs)
        astro_env.wait_until_held(hold)  # stack B sits between its token request and its description request

        code_a, _ = json_audit("--stack", "-", "--delete-orphans", stdin=json.dumps(stack_export(project="shop", stack="a")))
        code_b, report_b = json_audit(
            "--stack", "-", "--delete-orphans", stdin=json.dumps(stack_export(pending=((deployment, "ci"),), project="shop", stack="b"))
        )

        astro_env.release(hold)
        created = creating.result()

    assert code_a == EXIT_OK
    assert code_b == EXIT_IN_FLIGHT
    (entry,) = report_b["keys"]
    assert entry["findings"] == ["never-used", "in-flight"] and "run the audit again after" in entry["reason"]
    assert [t["id"] for t in astro_env.list_all_tokens() if t["scope"] == "DEPLOYMENT"] == [created.id]


def test_a_lookup_of_another_teams_key_makes_nothing_of_theirs_the_stacks(astro_env: Emulator) -> None:
    ours_deployment, their_deployment = astro_env.deployment_ids
    with astro_env.client() as http:
        other_team = http.post("/tokens", json={"name": "team-b", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"}).json()
    ours = make_key(astro_env, ours_deployment, "deploy")
    looked_up = make_key(astro_env, their_deployment, "shared", as_token=other_team["token"])
    their_ci = make_key(astro_env, ours_deployment, "ci", as_token=other_team["token"])  # made by hand
    past_the_commit_bound(astro_env)
    export = json.dumps(stack_export(ours, lookups=(looked_up,), pending=((ours_deployment, "ci"),)))

    code, report = json_audit("--stack", "-", "--delete-orphans", stdin=export)

    assert their_ci["id"] in live_ids(astro_env), "a lookup is not the stack's key, nor its creator the stack's"
    assert report["deploymentIds"] == [ours_deployment], "a lookup's Deployment is not the stack's"
    entry = next(e for e in report["keys"] if e["keyId"] == their_ci["id"])
    assert "suspect" in entry["findings"], "it fits the pending create's inputs, so a person is asked"
    assert code == EXIT_ORPHANS and report["summary"]["deletedOrphans"] == 0

    code, report = json_audit(their_deployment, "--stack", "-", stdin=export)
    entry = next(e for e in report["keys"] if e["keyId"] == looked_up["id"])
    assert entry["findings"] == ["never-used", "looked-up"] and entry["managed"] is False
    assert entry["resourceUrn"].endswith("::theirs-shared")


def test_a_suspect_is_listed_with_its_evidence_and_the_command_a_person_can_use(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    committed = make_key(astro_env, deployment, "reports")  # described, then the engine died before its checkpoint
    past_the_commit_bound(astro_env)
    export = json.dumps(stack_export(pending=((deployment, "reports"),)))

    code, out, _ = run_audit("--stack", "-", "--delete-orphans", stdin=export)

    assert code == EXIT_ORPHANS and committed["id"] in live_ids(astro_env)
    (note,) = [line for line in out.splitlines() if line.startswith("Suspect:")]
    assert "pending create urn:pulumi:dev::keys::" in note and "nothing proves" in note
    assert f"astrokeys delete-key {committed['id']} --deployment {deployment} --name reports" in note


# -- the orphan the audit must see ------------------------------------------------------------------


def test_an_abandoned_create_of_the_stack_is_an_orphan_after_its_pending_create_was_cleared(
    astro_env: Emulator,
) -> None:
    deployment = astro_env.deployment_ids[0]
    kept = make_key(astro_env, deployment, "etl")
    orphan = marked_key(astro_env, deployment, "reports")
    export = json.dumps(stack_export(kept))  # refreshed with --clear-pending-creates; reports left the program

    code, report = json_audit("--stack", "-", stdin=export)
    assert code == EXIT_IN_FLIGHT, "within the bound the create may still be under way"

    past_the_commit_bound(astro_env)
    code, report = json_audit("--stack", "-", stdin=export)
    assert code == EXIT_ORPHANS
    entry = next(e for e in report["keys"] if e["keyId"] == orphan["id"])
    assert entry["findings"] == ["never-used", "orphan"] and entry["createMarker"]["resource"] == "reports"

    code, out, err = run_audit("--stack", "-", "--delete-orphans", stdin=export)
    assert code == EXIT_OK, out + err
    assert live_ids(astro_env) >= {kept["id"]} and orphan["id"] not in live_ids(astro_env)


def test_an_orphan_whose_create_was_finished_after_the_listing_is_not_deleted(
    astro_env: Emulator, settings: Any
) -> None:
    from pulumi_astrokeys._client import AstroClient
    from pulumi_astrokeys.audit import audit, delete_orphans, read_stack_keys

    deployment = astro_env.deployment_ids[0]
    orphan = marked_key(astro_env, deployment, "reports")
    past_the_commit_bound(astro_env)
    with AstroClient(settings) as client:
        report = audit(client, [deployment], stack=read_stack_keys(stack_export()))
        assert [k.key.key_id for k in report.orphans] == [orphan["id"]]
        with astro_env.client() as http:
            assert http.post(f"/tokens/{orphan['id']}", json={"name": "reports", "description": ""}).status_code == 200
        after = delete_orphans(client, report)

    assert orphan["id"] in live_ids(astro_env)
    assert after.orphans[0].delete_error == "changed since it was listed; not deleted"


# -- one key, by hand -------------------------------------------------------------------------


def test_delete_key_reads_the_key_again_and_deletes_only_the_one_named(astro_env: Emulator) -> None:
    deployment, other = astro_env.deployment_ids
    key = make_key(astro_env, deployment, "reports")
    managed = make_key(astro_env, deployment, "etl")

    for args, message in (
        ((key["id"], "--deployment", deployment, "--name", "report"), "is named 'reports', not 'report'"),
        ((key["id"], "--deployment", other, "--name", "reports"), f"is not a Deployment API key of Deployment {other}"),
        ((managed["id"], "--deployment", deployment, "--name", "etl", "--stack", "-"), "is managed by the given stack"),
        (("not-an-id", "--deployment", deployment, "--name", "reports"), "is not an Astro ID"),
    ):
        code, out, err = run_astrokeys("delete-key", *args, stdin=json.dumps(stack_export(managed)))
        assert code == EXIT_ERROR and message in err and out == "", err
        assert err.startswith("astrokeys delete-key: error: ") and len(err.strip().splitlines()) == 1
    assert {key["id"], managed["id"]} <= live_ids(astro_env)

    code, out, _ = run_astrokeys("delete-key", key["id"], "--deployment", deployment, "--name", "reports")
    assert code == EXIT_OK and out == f"Deleted: key reports ({key['id']}) on Deployment {deployment}.\n"
    assert key["id"] not in live_ids(astro_env) and managed["id"] in live_ids(astro_env)
    code, out, _ = run_astrokeys("delete-key", key["id"], "--deployment", deployment, "--name", "reports")
    assert code == EXIT_OK and out.startswith("Already gone: ")
