"""Program-side lookups: DeploymentApiKey.get and list_deployment_api_keys, metadata only.

Programs that look keys up run through the real Pulumi CLI and engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from real_cli_support import RealStack, World

from pulumi_astrokeys import (
    ConfigurationError,
    DeploymentApiKey,
    list_deployment_api_keys,
    list_deployment_api_keys_output,
)


def make_token(emulator: Any, deployment_id: str, name: str) -> dict[str, Any]:
    with emulator.client() as http:
        response = http.post(
            "/tokens",
            json={"name": name, "scope": "DEPLOYMENT", "entityId": deployment_id, "role": "DEPLOYMENT_ADMIN"},
        )
    response.raise_for_status()
    return response.json()


def stack_for(emulator: Any, tmp_path: Path, program: Any) -> RealStack:
    return World(emulator, tmp_path).stack(program, project="lookups")


def test_list_returns_the_deployments_own_keys_without_secrets(emulator: Any) -> None:
    deployment, other = emulator.deployment_ids
    first = make_token(emulator, deployment, "first")
    second = make_token(emulator, deployment, "second")
    make_token(emulator, other, "elsewhere")

    keys = list_deployment_api_keys(
        deployment, host=emulator.host, api_token=emulator.api_token, organization_id=emulator.organization_id
    )

    assert [k.key_id for k in keys] == [first["id"], second["id"]]
    assert {k.name for k in keys} == {"first", "second"}
    assert all(k.deployment_id == deployment and k.role == "DEPLOYMENT_ADMIN" for k in keys)
    assert first["token"] not in repr(keys) and "secret" not in keys[0].__dataclass_fields__


def test_list_reads_the_environment_when_no_argument_is_given(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    make_token(emulator, emulator.deployment_ids[0], "from-env")
    assert [k.name for k in list_deployment_api_keys(emulator.deployment_ids[0])] == ["from-env"]


def test_list_without_credentials_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="ASTRO_API_TOKEN"):
        list_deployment_api_keys("clm8q7f6q000008lcgyougpsk")


def test_get_and_list_in_a_program_read_metadata_and_change_nothing(emulator: Any, tmp_path: Path) -> None:
    deployment = emulator.deployment_ids[0]
    existing = make_token(emulator, deployment, "made-by-hand")

    def program() -> None:
        found = DeploymentApiKey.get("existing", existing["id"])
        pulumi.export("name", found.name)
        pulumi.export("deployment_id", found.deployment_id)
        pulumi.export("secret", found.secret)
        listed = list_deployment_api_keys_output(deployment)
        pulumi.export("listed", listed.apply(lambda keys: [k.key_id for k in keys]))

    stack = stack_for(emulator, tmp_path, program)
    before = {t["id"] for t in emulator.list_all_tokens()}
    result = stack.up()

    assert result.ops() == {"existing": "read"}
    outputs = result.plain()
    assert outputs["name"] == "made-by-hand"
    assert outputs["deployment_id"] == deployment
    assert outputs.get("secret") is None
    assert outputs["listed"] == [existing["id"]]
    assert existing["token"] not in stack.stored_text() + json.dumps(stack.export(show_secrets=True))

    stack.destroy()
    assert {t["id"] for t in emulator.list_all_tokens()} == before, "a looked-up key is never deleted"


def test_list_tells_when_a_key_was_last_used_who_created_it_and_its_kind(emulator: Any) -> None:
    deployment = emulator.deployment_ids[0]
    used = make_token(emulator, deployment, "used")
    unused = make_token(emulator, deployment, "unused")
    with emulator.client(used["token"]) as http:
        assert http.get(f"/deployments/{deployment}").status_code == 200

    keys = {
        k.name: k
        for k in list_deployment_api_keys(
            deployment, host=emulator.host, api_token=emulator.api_token, organization_id=emulator.organization_id
        )
    }

    assert keys["used"].last_used_at is not None and keys["used"].last_used_at >= used["createdAt"]
    assert keys["unused"].last_used_at is None
    creator = keys["unused"].created_by
    assert creator is not None and creator.id == unused["createdBy"]["id"]
    assert creator.subject_type == "SERVICEKEY" and creator.display_name == unused["createdBy"]["apiTokenName"]
    assert {k.kind for k in keys.values()} == {"STANDARD"}


def test_get_adds_audit_metadata_but_a_managed_key_keeps_none_in_its_state(emulator: Any, tmp_path: Path) -> None:
    deployment = emulator.deployment_ids[0]
    existing = make_token(emulator, deployment, "made-by-hand")
    with emulator.client(existing["token"]) as http:
        assert http.get(f"/deployments/{deployment}").status_code == 200

    def program() -> None:
        found = DeploymentApiKey.get("existing", existing["id"])
        pulumi.export("last_used_at", found.last_used_at)
        pulumi.export("created_by", found.created_by)
        pulumi.export("kind", found.kind)
        DeploymentApiKey("managed", deployment_id=deployment)

    stack = stack_for(emulator, tmp_path, program)
    outputs = stack.up().plain()

    assert outputs["last_used_at"] >= existing["createdAt"]
    assert outputs["created_by"] == {
        "id": existing["createdBy"]["id"],
        "subject_type": "SERVICEKEY",
        "api_token_name": existing["createdBy"]["apiTokenName"],
    }
    assert outputs["kind"] == "STANDARD"
    managed = stack.keys()["managed"]
    assert not {"last_used_at", "created_by"} & set(managed["outputs"])
    assert managed["outputs"]["kind"] == "STANDARD", "kind is an input of a managed key, echoed"

    stack.refresh()
    managed = stack.keys()["managed"]
    assert not {"last_used_at", "created_by"} & set(managed["outputs"]), "a refresh adds nothing that changes"
    looked_up = stack.keys()["existing"]["outputs"]
    assert looked_up["created_by"]["id"] == existing["createdBy"]["id"], "a lookup's refresh stays a lookup"
    assert "keepers" not in looked_up


def test_a_read_is_a_lookups_only_when_the_lookup_says_so_whatever_the_shape_of_the_state(emulator: Any) -> None:
    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config

    from pulumi_astrokeys._schema import LOOKUP_OUTPUT_NAMES, LOOKUP_PROPERTY
    from pulumi_astrokeys.provider import DeploymentApiKeyProvider

    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config({**emulator.stack_config(), **emulator.secret_stack_config()}, "t")))
    existing = make_token(emulator, emulator.deployment_ids[0], "made-by-hand")
    # A managed key's state without keepers or kind, as no release wrote but a hand-edited state may hold.
    bare_state = {"deployment_id": emulator.deployment_ids[0], "name": "made-by-hand", "key_id": existing["id"]}

    managed = provider.read(existing["id"], bare_state).outs or {}
    looked_up = provider.read(existing["id"], {LOOKUP_PROPERTY: True}).outs or {}
    refreshed = provider.read(existing["id"], looked_up).outs or {}

    assert not set(LOOKUP_OUTPUT_NAMES) - {"kind"} & set(managed) and LOOKUP_PROPERTY not in managed
    assert looked_up[LOOKUP_PROPERTY] is True and looked_up["keepers"] is None
    assert looked_up["created_by"]["id"] == existing["createdBy"]["id"]
    assert refreshed[LOOKUP_PROPERTY] is True and refreshed["created_by"] == looked_up["created_by"]
