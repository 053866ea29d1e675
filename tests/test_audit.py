"""``astrokeys audit``: every key of some Deployments, what needs attention, and orphans.

Against the emulator over real HTTP; input as Deployment IDs, as a `pulumi stack export`
document from a file or from standard input, and as the real ``pulumi stack export`` of a
stack the real Pulumi CLI brought up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from audit_support import (
    assert_no_secret,
    json_audit,
    make_key,
    marked_key,
    past_the_commit_bound,
    run_audit,
    stack_export,
    table_rows,
    use,
)
from real_cli_support import World, keys_program, secret_of

from pulumi_astrokeys.audit import EXIT_ERROR, EXIT_EXPIRING, EXIT_OK, EXIT_ORPHANS, EXIT_USAGE, KEY_RESOURCE_TYPE
from pulumi_astrokeys.testing.emulator import Emulator

# -- findings and exit codes ----------------------------------------------------------------


def test_ids_table_shows_each_key_its_creator_expiry_and_last_use(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    used = make_key(astro_env, deployment, "used-by-ci")
    unused = make_key(astro_env, deployment, "never-touched")
    soon = make_key(astro_env, deployment, "expires-soon", days=5)
    later = make_key(astro_env, deployment, "expires-later", days=60)
    for key in (used, soon, later):
        use(astro_env, key)

    code, out, err = run_audit(deployment, "--expiring-within", "7")

    assert code == EXIT_EXPIRING, out + err
    rows = {row["NAME"]: row for row in table_rows(out)}
    assert set(rows) == {"used-by-ci", "never-touched", "expires-soon", "expires-later"}
    never = rows["never-touched"]
    assert never["KEY ID"] == unused["id"] and never["FINDINGS"] == "never-used"
    assert never["CREATED BY"] == unused["createdBy"]["apiTokenName"]
    assert never["CREATED"] == unused["createdAt"][:16].replace("T", " ") and never["DEPLOYMENT"] == deployment
    assert never["LAST USED"] == "never" and never["EXPIRES"] == "never"
    assert never["MANAGED"] == "-", "without a stack's state, whether the stack manages a key is unknown"
    assert rows["expires-soon"]["FINDINGS"] == "expiring"
    assert rows["expires-soon"]["EXPIRES"] == soon["endAt"][:16].replace("T", " ") + " (in 5 days)"
    assert rows["expires-later"]["FINDINGS"] == rows["used-by-ci"]["FINDINGS"] == "-"
    assert rows["used-by-ci"]["LAST USED"] >= used["createdAt"][:16].replace("T", " ")
    assert "Exit status 4" in out
    assert_no_secret(out + err, astro_env, used, unused, soon, later)


def test_nothing_to_report_exits_zero_and_a_window_of_zero_ignores_future_expiry(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    key = make_key(astro_env, deployment, "fine", days=3)
    use(astro_env, key)
    assert run_audit(deployment, "--expiring-within", "0")[0] == EXIT_OK
    assert run_audit(deployment, "--expiring-within", "3")[0] == EXIT_EXPIRING


def test_a_key_past_its_end_is_expired_on_the_servers_clock(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    key = make_key(astro_env, deployment, "short-lived", days=1)
    use(astro_env, key)
    assert json_audit(deployment, "--expiring-within", "0")[0] == EXIT_OK

    astro_env.advance_clock(2 * 86400)
    code, report = json_audit(deployment, "--expiring-within", "0")

    assert code == EXIT_EXPIRING
    (entry,) = report["keys"]
    assert entry["findings"] == ["expired"] and entry["daysLeft"] < 0
    assert report["auditedAt"] > entry["endAt"], "now is the emulator's clock, not this machine's"


def test_last_used_follows_the_emulators_clock(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    key = make_key(astro_env, deployment, "nightly")
    use(astro_env, key)
    later = astro_env.advance_clock(3 * 86400)
    use(astro_env, key)

    _, report = json_audit(deployment)

    (entry,) = report["keys"]
    assert entry["lastUsedAt"][:16] == later[:16], "recorded when the key authenticated, on the server's clock"
    assert entry["lastUsedAt"] > entry["createdAt"]


def test_json_report_shape(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    key = make_key(astro_env, deployment, "ci", days=10)
    use(astro_env, key)

    code, report = json_audit(deployment)

    assert code == EXIT_EXPIRING
    assert set(report) == {
        "auditedAt",
        "organizationId",
        "deploymentIds",
        "expiringWithinDays",
        "stack",
        "keys",
        "summary",
        "exitCode",
    }
    assert report["organizationId"] == astro_env.organization_id
    assert report["deploymentIds"] == [deployment] and report["expiringWithinDays"] == 30
    assert report["stack"] is None and report["exitCode"] == code
    (entry,) = report["keys"]
    listed = next(t for t in astro_env.list_all_tokens() if t["id"] == key["id"])
    assert entry == {
        "deploymentId": deployment,
        "keyId": key["id"],
        "name": "ci",
        "managed": None,
        "resourceUrn": None,
        "createdBy": key["createdBy"],
        "createdAt": key["createdAt"],
        "endAt": key["endAt"],
        "expiryPeriodInDays": 10,
        "daysLeft": entry["daysLeft"],
        "lastUsedAt": listed["lastUsedAt"],
        "kind": "STANDARD",
        "role": "DEPLOYMENT_ADMIN",
        "findings": ["expiring"],
        "createMarker": None,
        "reason": None,
        "pendingCreate": None,
        "deleted": False,
    }
    assert 9 < entry["daysLeft"] <= 10
    assert report["summary"] == {
        "keys": 1,
        "expired": 0,
        "expiring": 1,
        "neverUsed": 0,
        "unmanaged": 0,
        "lookedUp": 0,
        "orphans": 0,
        "inFlight": 0,
        "suspects": 0,
        "deletedOrphans": 0,
        "missingFromAstro": 0,
    }


# -- a stack's state: managed, unmanaged, orphans --------------------------------------------


def stack_scene(emulator: Emulator) -> dict[str, Any]:
    """Two managed keys; what an interrupted `pulumi up` left (its marker, abandoned on Astro's clock);
    a hand-made key; a same-named key made by another API token; and a key on another Deployment
    no one asked about."""
    deployment, other = emulator.deployment_ids
    with emulator.client() as http:
        second_token = http.post(
            "/tokens", json={"name": "colleague", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"}
        ).json()
    scene = {
        "ci": make_key(emulator, deployment, "ci"),
        "deploy": make_key(emulator, deployment, "deploy"),
        "orphan": marked_key(emulator, deployment, "ci"),
        "by_hand": make_key(emulator, deployment, "airflow-ui"),
        "colleagues": make_key(emulator, deployment, "deploy", as_token=second_token["token"]),
        "elsewhere": make_key(emulator, other, "ci"),
        "second_token": second_token,
    }
    for name in ("ci", "deploy", "by_hand", "colleagues"):
        use(emulator, scene[name])
    past_the_commit_bound(emulator)
    return scene


def test_stack_file_marks_managed_unmanaged_and_the_orphan(astro_env: Emulator, tmp_path: Path) -> None:
    scene = stack_scene(astro_env)
    export = tmp_path / "stack.json"
    export.write_text(json.dumps(stack_export(scene["ci"], scene["deploy"])))

    code, report = json_audit("--stack", str(export))

    assert code == EXIT_ORPHANS
    by_id = {entry["keyId"]: entry for entry in report["keys"]}
    assert set(by_id) == {scene[n]["id"] for n in ("ci", "deploy", "orphan", "by_hand", "colleagues")}
    assert by_id[scene["ci"]["id"]]["managed"] is True and by_id[scene["ci"]["id"]]["findings"] == []
    assert by_id[scene["ci"]["id"]]["resourceUrn"].endswith(f"{KEY_RESOURCE_TYPE}::ci")
    assert by_id[scene["orphan"]["id"]]["findings"] == ["never-used", "orphan"]
    assert by_id[scene["orphan"]["id"]]["managed"] is False
    assert by_id[scene["by_hand"]["id"]]["findings"] == ["unmanaged"]
    assert by_id[scene["colleagues"]["id"]]["findings"] == ["unmanaged"], "another token's key is no orphan"
    assert by_id[scene["orphan"]["id"]]["createMarker"]["stack"] == "keys/dev"
    assert report["stack"]["stacks"] == ["keys/dev"] and report["stack"]["creators"] == []
    assert report["stack"]["orphanCheck"] == "done"
    assert report["summary"]["orphans"] == 1 and report["summary"]["unmanaged"] == 2

    code, out, err = run_audit("--stack", str(export))
    assert code == EXIT_ORPHANS
    rows = {row["KEY ID"]: row for row in table_rows(out)}
    assert rows[scene["orphan"]["id"]]["MANAGED"] == "no" and rows[scene["orphan"]["id"]]["FINDINGS"] == "never-used, orphan"
    assert rows[scene["ci"]["id"]]["MANAGED"] == "yes" and rows[scene["ci"]["id"]]["FINDINGS"] == "-"
    assert "--delete-orphans" in out and "Exit status 8: an orphan or a suspect is left." in out
    assert_no_secret(out + err + json.dumps(report), astro_env, *(scene[n] for n in ("ci", "deploy", "orphan")))


def test_stack_export_from_standard_input(astro_env: Emulator) -> None:
    scene = stack_scene(astro_env)
    export = json.dumps(stack_export(scene["ci"], scene["deploy"]))

    code, report = json_audit("--stack", "-", stdin=export)

    assert code == EXIT_ORPHANS
    assert [e["keyId"] for e in report["keys"] if "orphan" in e["findings"]] == [scene["orphan"]["id"]]


def test_ids_and_a_stack_together_audit_both_deployments(astro_env: Emulator) -> None:
    scene = stack_scene(astro_env)
    _, other = astro_env.deployment_ids
    export = json.dumps(stack_export(scene["ci"], scene["deploy"]))

    code, report = json_audit(other, "--stack", "-", stdin=export)

    assert report["deploymentIds"] == [other, astro_env.deployment_ids[0]]
    elsewhere = next(e for e in report["keys"] if e["keyId"] == scene["elsewhere"]["id"])
    assert elsewhere["findings"] == ["never-used", "unmanaged"], "named like a stack key, but on another Deployment"


def test_the_console_script_reads_stdin_and_sets_the_exit_status(emulator: Emulator) -> None:
    scene = stack_scene(emulator)
    export = json.dumps(stack_export(scene["ci"], scene["deploy"]))
    env = {**os.environ, **emulator.env()}

    done = subprocess.run(
        [sys.executable, "-m", "pulumi_astrokeys", "audit", "--stack", "-"],
        input=export,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert done.returncode == EXIT_ORPHANS, done.stderr
    assert scene["orphan"]["id"] in {row["KEY ID"] for row in table_rows(done.stdout)}
    assert_no_secret(done.stdout + done.stderr, emulator, scene["ci"], scene["orphan"])


def test_delete_orphans_deletes_only_the_orphans(astro_env: Emulator) -> None:
    scene = stack_scene(astro_env)
    export = json.dumps(stack_export(scene["ci"], scene["deploy"]))
    before = {t["id"] for t in astro_env.list_all_tokens()}

    code, out, err = run_audit("--stack", "-", "--delete-orphans", stdin=export)

    assert code == EXIT_OK, out + err
    assert {t["id"] for t in astro_env.list_all_tokens()} == before - {scene["orphan"]["id"]}
    assert f"Deleted orphan ci ({scene['orphan']['id']})" in out
    deletes = [r for r in astro_env.requests() if r["method"] == "DELETE"]
    assert [r["path"].rsplit("/", 1)[-1] for r in deletes] == [scene["orphan"]["id"]]

    code, report = json_audit("--stack", "-", "--delete-orphans", stdin=export)
    assert code == EXIT_OK and report["summary"]["orphans"] == 0
    assert_no_secret(out + err, astro_env, scene["orphan"])


def test_delete_orphans_in_json_marks_what_it_deleted(astro_env: Emulator) -> None:
    scene = stack_scene(astro_env)
    export = json.dumps(stack_export(scene["ci"], scene["deploy"]))

    code, report = json_audit("--stack", "-", "--delete-orphans", stdin=export)

    assert code == EXIT_OK
    (orphan,) = [e for e in report["keys"] if "orphan" in e["findings"]]
    assert orphan["keyId"] == scene["orphan"]["id"] and orphan["deleted"] is True
    assert report["summary"]["deletedOrphans"] == 1
    assert scene["orphan"]["id"] not in {t["id"] for t in astro_env.list_all_tokens()}


def test_an_orphan_changed_since_the_listing_is_not_deleted(emulator: Emulator, settings: Any) -> None:
    from pulumi_astrokeys._client import AstroClient
    from pulumi_astrokeys.audit import audit, delete_orphans, read_stack_keys

    scene = stack_scene(emulator)
    client = AstroClient(settings)
    report = audit(client, stack=read_stack_keys(stack_export(scene["ci"], scene["deploy"])))
    assert [k.key.key_id for k in report.orphans] == [scene["orphan"]["id"]]
    with emulator.client() as http:  # someone adopts it in the meantime
        adopted = {"name": "adopted", "description": "ours now"}
        assert http.post(f"/tokens/{scene['orphan']['id']}", json=adopted).status_code == 200

    after = delete_orphans(client, report)

    (entry,) = after.orphans
    assert not entry.deleted and entry.delete_error == "changed since it was listed; not deleted"
    assert scene["orphan"]["id"] in {t["id"] for t in emulator.list_all_tokens()}
    assert after.exit_code() == EXIT_ORPHANS


def test_an_orphan_of_an_interrupted_first_create_is_proven_without_any_key_in_the_state(
    astro_env: Emulator,
) -> None:
    deployment = astro_env.deployment_ids[0]
    orphan = marked_key(astro_env, deployment, "first-key")
    past_the_commit_bound(astro_env)
    export = json.dumps(stack_export(pending=((deployment, "first-key"),)))

    code, report = json_audit("--stack", "-", stdin=export)
    assert code == EXIT_ORPHANS
    (entry,) = report["keys"]
    assert entry["findings"] == ["never-used", "orphan"]
    assert entry["pendingCreate"] == f"urn:pulumi:dev::keys::{KEY_RESOURCE_TYPE}::first-key"

    code, report = json_audit("--stack", "-", "--created-by", "cnotthetoken000000000000", stdin=export)
    assert code == EXIT_ORPHANS and report["keys"][0]["findings"] == ["never-used", "suspect"]
    assert orphan["createdBy"]["id"] in report["keys"][0]["reason"]


def test_a_key_the_state_holds_but_astro_lost_is_reported(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    kept, lost = make_key(astro_env, deployment, "kept"), make_key(astro_env, deployment, "lost")
    with astro_env.client() as http:
        assert http.delete(f"/tokens/{lost['id']}").status_code == 204

    code, out, _ = run_audit("--stack", "-", stdin=json.dumps(stack_export(kept, lost)))

    assert code == EXIT_OK
    assert f"The state holds key lost ({lost['id']})" in out and "pulumi refresh" in out


def test_a_real_pulumi_stack_export_shows_the_managed_key_expiring_and_the_orphan(
    astro_env: Emulator, tmp_path: Path
) -> None:
    deployment = astro_env.deployment_ids[0]
    stack = World(astro_env, tmp_path).stack(
        keys_program({"ci": {"deployment_id": deployment, "expiry_period_in_days": 3}}), project="audit"
    )
    stack.up()
    managed = stack.keys()["ci"]
    orphan = marked_key(astro_env, deployment, "ci", project="audit")
    past_the_commit_bound(astro_env)
    export = tmp_path / "stack.json"
    stack.cli("stack", "export", "--file", str(export))

    code, out, err = run_audit("--stack", str(export), "--expiring-within", "7")

    assert code == EXIT_EXPIRING | EXIT_ORPHANS, out + err
    rows = {row["KEY ID"]: row for row in table_rows(out)}
    assert rows[managed["id"]]["MANAGED"] == "yes" and rows[managed["id"]]["FINDINGS"] == "expiring, never-used"
    assert rows[orphan["id"]]["MANAGED"] == "no" and rows[orphan["id"]]["FINDINGS"] == "never-used, orphan"
    assert secret_of(managed) not in out + err and astro_env.api_token not in out + err


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((), "", "nothing to audit: give Deployment IDs, or a stack's state with --stack FILE"),
        (("not-an-id",), "", "Deployment ID 'not-an-id' is not an Astro ID"),
        (("--stack", "/nonexistent/stack.json"), "", "--stack /nonexistent/stack.json: cannot read it"),
        (("--stack", "-"), "", "--stack -: standard input is empty"),
        (("--stack", "-"), "{not json", "--stack -: standard input is not JSON (line 1, column 2)"),
        (("--stack", "-"), "[1, 2]", "standard input is not a stack export"),
        (("--stack", "-"), '{"version": 3}', "standard input has no `deployment` object"),
        (
            ("--stack", "-"),
            '{"deployment": {"pending_operations": {"type": "creating"}}}',
            "`deployment.pending_operations` is not a list",
        ),
        (("--stack", "-"), '{"deployment": {"pending_operations": [1]}}', "`deployment.pending_operations[0]` is not an object"),
        (("--stack", "-"), '{"deployment": {"resources": ["x"]}}', "`deployment.resources[0]` is not an object"),
        (("--stack", "-"), "[" * 100_000 + "]" * 100_000, "nests JSON too deeply for a stack export"),
        (("--stack", "/dev/zero"), "", "/dev/zero is larger than 128 MiB, which no stack export is"),
    ],
    ids=[
        "no-input",
        "bad-id",
        "missing-file",
        "empty-stdin",
        "not-json",
        "not-an-object",
        "no-deployment",
        "pending-not-a-list",
        "pending-not-objects",
        "resources-not-objects",
        "nested-too-deep",
        "endless-input",
    ],
)
def test_bad_input_names_the_problem_and_the_fix(
    astro_env: Emulator, args: tuple[str, ...], stdin: str, message: str
) -> None:
    code, out, err = run_audit(*args, stdin=stdin)
    assert code == EXIT_ERROR
    assert out == ""
    assert err.startswith("astrokeys audit: error: ") and message in err
    assert "Traceback" not in err


def test_a_state_file_that_is_not_utf8_is_one_sentence(astro_env: Emulator, tmp_path: Path) -> None:
    export = tmp_path / "stack.json"
    export.write_bytes(b'{"deployment": {"resources": []}, "note": "caf\xe9"}')
    code, out, err = run_audit("--stack", str(export))
    assert code == EXIT_ERROR and out == "" and "Traceback" not in err
    assert f"--stack {export}: {export} is not UTF-8 text (byte 46)" in err


def test_a_deployment_without_keys_and_a_stack_without_keys_are_clean_audits(astro_env: Emulator) -> None:
    empty = astro_env.deployment_ids[1]
    code, out, err = run_audit(empty)
    assert code == EXIT_OK, err
    assert f"Deployment {empty}\n  (no Deployment API keys)" in out and "Findings: none" in out

    destroyed = json.dumps({"version": 3, "deployment": {"manifest": {}, "resources": []}})
    code, out, err = run_audit("--stack", "-", stdin=destroyed)
    assert code == EXIT_OK, err
    assert "No Deployment to audit: the state holds no key" in out and "Exit status 0" in out
    code, report = json_audit("--stack", "-", stdin=destroyed)
    assert code == EXIT_OK and report["keys"] == [] and report["deploymentIds"] == []


def test_names_that_would_forge_or_hide_table_lines_are_escaped_and_json_stays_exact(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    forged = make_key(astro_env, deployment, "ci\nFindings: none.\nExit status 0: nothing fails the audit.")
    hidden = make_key(astro_env, deployment, "\x1b[8mhidden\x1b[0m")

    code, out, _ = run_audit(deployment)

    lines = out.splitlines()
    assert "\x1b" not in out
    assert [line for line in lines if line.startswith(("Findings: ", "Exit status"))] == [
        "Findings: 2 never used.",
        "Exit status 0: nothing fails the audit.",
    ]
    rows = {row["KEY ID"]: row["NAME"] for row in table_rows(out)}
    assert rows[forged["id"]] == "ci\\nFindings: none.\\nExit status 0: nothing fails the audit."
    assert rows[hidden["id"]] == "\\x1b[8mhidden\\x1b[0m"
    _, report = json_audit(deployment)
    assert {e["keyId"]: e["name"] for e in report["keys"]} == {forged["id"]: forged["name"], hidden["id"]: hidden["name"]}


def test_an_unknown_deployment_is_an_error_naming_it(astro_env: Emulator) -> None:
    code, _, err = run_audit("clm8q7f6q000008lcgyougpsk")
    assert code == EXIT_ERROR
    assert f"Deployment clm8q7f6q000008lcgyougpsk was not found in organization {astro_env.organization_id}" in err


def test_missing_settings_name_the_environment_variables_and_not_stack_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run_audit("clm8q7f6q000008lcgyougpsk")
    assert code == EXIT_ERROR and "Traceback" not in err
    assert err == (
        "astrokeys audit: error: No Astro API token and no Astro organization ID are set: set the environment "
        "variables ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID. (astrokeys reads the environment, not stack config)\n"
    )

    monkeypatch.setenv("ASTRO_ORGANIZATION_ID", "corganization000000000001")
    code, _, err = run_audit("clm8q7f6q000008lcgyougpsk")
    assert code == EXIT_ERROR and "ASTRO_API_TOKEN" in err
    assert "pulumi config" not in err, "the audit reads no stack config, so it must not ask for it"


def test_a_wrong_api_token_is_one_line_without_the_token(astro_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTRO_API_TOKEN", "not-a-token-anyone-minted")
    code, _, err = run_audit(astro_env.deployment_ids[0])
    assert code == EXIT_ERROR and "401" in err and "not-a-token-anyone-minted" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_bad_window_is_a_usage_error(astro_env: Emulator) -> None:
    code, out, err = run_audit(astro_env.deployment_ids[0], "--expiring-within", "soon")
    assert code == EXIT_USAGE and out == ""
    assert "--expiring-within: 'soon' is not a whole number of days, 0 or more" in err
