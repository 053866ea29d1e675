"""``astrokeys audit``: every key of some Deployments, what needs attention, and orphans.

Against the emulator over real HTTP; input as Deployment IDs, as a `pulumi stack export`
document from a file or from standard input, and as the real ``pulumi stack export`` of a
stack the real Pulumi CLI brought up.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
from real_cli_support import World, keys_program, secret_of

from pulumi_astrokeys.audit import EXIT_ERROR, EXIT_EXPIRING, EXIT_OK, EXIT_ORPHANS, EXIT_USAGE, KEY_RESOURCE_TYPE
from pulumi_astrokeys.cli import main
from pulumi_astrokeys.testing.emulator import Emulator

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def make_key(
    emulator: Emulator, deployment_id: str, name: str, *, as_token: Optional[str] = None, days: Optional[int] = None
) -> dict[str, Any]:
    """A Deployment API key made through the API (as the owner's token unless told)."""
    body: dict[str, Any] = {"name": name, "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN"}
    if days is not None:
        body["tokenExpiryPeriodInDays"] = days
    with emulator.client(as_token) as http:
        response = http.post("/tokens", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def use(emulator: Emulator, key: dict[str, Any]) -> None:
    """Authenticate one request with the key, as a pipeline would."""
    with emulator.client(key["token"]) as http:
        assert http.get(f"/deployments/{key['roles'][0]['entityId']}").status_code == 200


def stack_export(*keys: dict[str, Any], pending: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """A `pulumi stack export` document (version 3) holding these keys, their secrets encrypted."""
    stack_urn = "urn:pulumi:dev::keys::pulumi:pulumi:Stack::keys-dev"
    resources: list[dict[str, Any]] = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"}]
    for key in keys:
        deployment_id = key["roles"][0]["entityId"]
        inputs = {"deployment_id": deployment_id, "name": key["name"], "role": "DEPLOYMENT_ADMIN", "description": ""}
        resources.append(
            {
                "urn": f"urn:pulumi:dev::keys::{KEY_RESOURCE_TYPE}::{key['name']}",
                "custom": True,
                "id": key["id"],
                "type": KEY_RESOURCE_TYPE,
                "inputs": {"__provider": "gASVKAAAAAAAAACMGXB1bHVtaV9hc3Ryb2tleXMucHJvdmlkZXI=", **inputs},
                "outputs": {
                    **inputs,
                    "key_id": key["id"],
                    "secret": {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": "v1:Zm9vYmFyYmF6:c2VjcmV0LWNpcGhlcnRleHQ="},
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
                    "urn": f"urn:pulumi:dev::keys::{KEY_RESOURCE_TYPE}::{name}",
                    "custom": True,
                    "type": KEY_RESOURCE_TYPE,
                    "inputs": {"deployment_id": deployment_id, "name": name},
                },
            }
            for deployment_id, name in pending
        ]
    return {"version": 3, "deployment": deployment}


@pytest.fixture
def astro_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator's settings in the environment, where the command reads them."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ASTROKEYS_MAX_RETRIES", "0")
    return emulator


def run_audit(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", *args], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


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


def json_audit(*args: str, stdin: str = "") -> tuple[int, dict[str, Any]]:
    code, out, err = run_audit(*args, "--json", stdin=stdin)
    assert err == ""
    return code, json.loads(out)


def assert_no_secret(text: str, emulator: Emulator, *keys: dict[str, Any]) -> None:
    assert emulator.api_token not in text
    for key in keys:
        assert key["token"] not in text
    assert "ciphertext" not in text and "c2VjcmV0LWNpcGhlcnRleHQ=" not in text


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
        "deleted": False,
    }
    assert 9 < entry["daysLeft"] <= 10
    assert report["summary"] == {
        "keys": 1,
        "expired": 0,
        "expiring": 1,
        "neverUsed": 0,
        "unmanaged": 0,
        "orphans": 0,
        "deletedOrphans": 0,
        "missingFromAstro": 0,
    }


# -- a stack's state: managed, unmanaged, orphans --------------------------------------------


def stack_scene(emulator: Emulator) -> dict[str, Any]:
    """Two managed keys; what an interrupted `pulumi up` left; a hand-made key; a same-named
    key made by another API token; and a key on another Deployment no one asked about."""
    deployment, other = emulator.deployment_ids
    with emulator.client() as http:
        second_token = http.post(
            "/tokens", json={"name": "colleague", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"}
        ).json()
    scene = {
        "ci": make_key(emulator, deployment, "ci"),
        "deploy": make_key(emulator, deployment, "deploy"),
        "orphan": make_key(emulator, deployment, "ci"),
        "by_hand": make_key(emulator, deployment, "airflow-ui"),
        "colleagues": make_key(emulator, deployment, "deploy", as_token=second_token["token"]),
        "elsewhere": make_key(emulator, other, "ci"),
        "second_token": second_token,
    }
    for name in ("ci", "deploy", "by_hand", "colleagues"):
        use(emulator, scene[name])
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
    assert report["stack"]["creators"] == [scene["ci"]["createdBy"]["id"]]
    assert report["stack"]["orphanCheck"] == "done"
    assert report["summary"]["orphans"] == 1 and report["summary"]["unmanaged"] == 2

    code, out, err = run_audit("--stack", str(export))
    assert code == EXIT_ORPHANS
    rows = {row["KEY ID"]: row for row in table_rows(out)}
    assert rows[scene["orphan"]["id"]]["MANAGED"] == "no" and rows[scene["orphan"]["id"]]["FINDINGS"] == "never-used, orphan"
    assert rows[scene["ci"]["id"]]["MANAGED"] == "yes" and rows[scene["ci"]["id"]]["FINDINGS"] == "-"
    assert "--delete-orphans" in out and "Exit status 8: an orphan exists." in out
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
    with emulator.client() as http:  # someone adopts it under another name in the meantime
        assert http.post(f"/tokens/{scene['orphan']['id']}", json={"name": "adopted"}).status_code == 200

    after = delete_orphans(client, report)

    (entry,) = after.orphans
    assert not entry.deleted and entry.delete_error == "changed since it was listed; not deleted"
    assert scene["orphan"]["id"] in {t["id"] for t in emulator.list_all_tokens()}
    assert after.exit_code() == EXIT_ORPHANS


def test_an_orphan_of_an_interrupted_first_create_needs_the_tokens_id(astro_env: Emulator) -> None:
    deployment = astro_env.deployment_ids[0]
    orphan = make_key(astro_env, deployment, "first-key")
    export = json.dumps(stack_export(pending=((deployment, "first-key"),)))

    code, report = json_audit("--stack", "-", stdin=export)
    assert code == EXIT_OK, "no key in the state says which API token is the stack's"
    assert "--created-by" in report["stack"]["orphanCheck"]
    assert report["keys"][0]["findings"] == ["never-used", "unmanaged"]

    code, report = json_audit("--stack", "-", "--created-by", orphan["createdBy"]["id"], stdin=export)
    assert code == EXIT_ORPHANS
    assert report["keys"][0]["findings"] == ["never-used", "orphan"]


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
    orphan = make_key(astro_env, deployment, "ci")
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
    ],
    ids=["no-input", "bad-id", "missing-file", "empty-stdin", "not-json", "not-an-object", "no-deployment"],
)
def test_bad_input_names_the_problem_and_the_fix(
    astro_env: Emulator, args: tuple[str, ...], stdin: str, message: str
) -> None:
    code, out, err = run_audit(*args, stdin=stdin)
    assert code == EXIT_ERROR
    assert out == ""
    assert err.startswith("astrokeys audit: error: ") and message in err
    assert "Traceback" not in err


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
