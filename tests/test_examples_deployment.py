"""The examples' stand-in Deployment resource: its provider against the emulator over real HTTP."""

from __future__ import annotations

import base64
from typing import Any

import dill
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys.testing import BareDeployment, BareDeploymentProvider


def configured(config: dict[str, str]) -> BareDeploymentProvider:
    provider = BareDeploymentProvider()
    provider.configure(ConfigureRequest(Config(config, "test")))
    return provider


@pytest.fixture
def provider(emulator: Any) -> BareDeploymentProvider:
    return configured({**emulator.stack_config(), **emulator.secret_stack_config()})


def deployment_exists(emulator: Any, deployment_id: str) -> bool:
    with emulator.client() as client:
        return client.get(f"/deployments/{deployment_id}").status_code == 200


def test_the_type_token_is_the_documented_one() -> None:
    assert f"pulumi-python:{BareDeployment._resource_type_name}" == "pulumi-python:dynamic/astrokeys:Deployment"


def test_create_makes_a_deployment_whose_id_is_the_resource_id(emulator: Any, provider: BareDeploymentProvider) -> None:
    result = provider.create({"workspace_id": emulator.workspace_id, "name": "etl"})

    assert result.id == result.outs["deployment_id"]
    assert result.outs == {
        "deployment_id": result.id,
        "name": "etl",
        "workspace_id": emulator.workspace_id,
        "organization_id": emulator.organization_id,
    }
    assert deployment_exists(emulator, result.id)


def test_read_refreshes_and_a_deleted_deployment_reads_as_gone(emulator: Any, provider: BareDeploymentProvider) -> None:
    created = provider.create({"workspace_id": emulator.workspace_id, "name": "etl"})

    assert provider.read(created.id, created.outs).outs == created.outs

    emulator.delete_deployment(created.id)
    gone = provider.read(created.id, created.outs)
    assert gone.id == ""


def test_delete_removes_it_and_a_second_delete_is_done_too(emulator: Any, provider: BareDeploymentProvider) -> None:
    created = provider.create({"workspace_id": emulator.workspace_id, "name": "etl"})

    provider.delete(created.id, created.outs)
    assert not deployment_exists(emulator, created.id)
    provider.delete(created.id, created.outs)


def test_credentials_come_from_the_environment_when_config_is_empty(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    provider = configured({})

    created = provider.create({"workspace_id": emulator.workspace_id, "name": "from-env"})
    assert deployment_exists(emulator, created.id)


def test_an_unknown_workspace_fails_with_one_sentence(emulator: Any, provider: BareDeploymentProvider) -> None:
    with pytest.raises(KeyOperationError, match=r"^Could not create Deployment 'etl' in Workspace c0{24}: "):
        provider.create({"workspace_id": "c" + "0" * 24, "name": "etl"})


def test_check_names_each_bad_input_and_lets_unknowns_pass() -> None:
    provider = BareDeploymentProvider()

    bad = provider.check({}, {"workspace_id": "not-an-id", "name": " "})
    assert sorted(f.property for f in bad.failures) == ["name", "workspace_id"]

    pending = provider.check({}, {"workspace_id": Unknown(), "name": "etl"})
    assert pending.failures == []


def test_any_input_change_replaces_and_the_pickled_provider_is_never_compared() -> None:
    provider = BareDeploymentProvider()
    olds = {"workspace_id": "w1", "name": "etl", "deployment_id": "d1", "__provider": "old-bytes"}

    same = provider.diff("d1", olds, {"workspace_id": "w1", "name": "etl", "__provider": "new-bytes"})
    assert not same.changes

    renamed = provider.diff("d1", olds, {"workspace_id": "w1", "name": "etl-2"})
    assert renamed.replaces == ["name"] and renamed.delete_before_replace is False

    moved = provider.diff("d1", olds, {"workspace_id": Unknown(), "name": "etl"})
    assert moved.replaces == ["workspace_id"]


def test_the_provider_pickles_by_reference_without_what_configure_gave_it(
    emulator: Any, provider: BareDeploymentProvider
) -> None:
    pickled = base64.b64decode(serialize_provider(provider))

    assert emulator.api_token.encode() not in pickled
    assert b"pulumi_astrokeys.testing.deployment" in pickled
    assert b"BareDeploymentProvider" in pickled
    assert len(pickled) < 200
    assert isinstance(dill.loads(pickled), BareDeploymentProvider)
