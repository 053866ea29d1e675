"""check and diff: field-named failures at preview, replacement on any input change."""

from __future__ import annotations

from typing import Any

import pytest
from key_state_support import DEPLOYMENT, stored_key
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.output import Unknown

from pulumi_astrokeys.provider import DeploymentApiKeyProvider

OTHER_DEPLOYMENT = "clm8q7f6q000008lcgyougpsz"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, unreachable_config: dict[str, str]) -> DeploymentApiKeyProvider:
    # Settings that resolve, for a host where nothing listens: check and diff make no API call.
    for var in ("ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_API_HOST"):
        monkeypatch.delenv(var, raising=False)
    provider = DeploymentApiKeyProvider()
    provider.configure(ConfigureRequest(Config(unreachable_config, "test")))
    return provider


def news(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"deployment_id": DEPLOYMENT, "name": "ci", "__provider": "opaque"}
    values.update(overrides)
    return values


def failures(provider: DeploymentApiKeyProvider, props: dict[str, Any]) -> dict[str, str]:
    result = provider.check({}, props)
    return {f.property: f.reason for f in result.failures}


def test_valid_inputs_pass_with_defaults_filled_in(provider: DeploymentApiKeyProvider) -> None:
    result = provider.check({}, news())
    assert result.failures == []
    assert result.inputs == {
        "deployment_id": DEPLOYMENT,
        "name": "ci",
        "description": "",
        "role": "DEPLOYMENT_ADMIN",
        "keepers": {},
        "kind": "STANDARD",
        "dag_roles": [],
    }


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("name", "", "1 to 256 characters"),
        ("name", "x" * 257, "1 to 256 characters"),
        ("name", "   ", "1 to 256 characters"),
        ("description", "d" * 501, "at most 500 characters"),
        ("expiry_period_in_days", 0, "from 1 to 3650"),
        ("expiry_period_in_days", 3651, "from 1 to 3650"),
        ("expiry_period_in_days", 1.5, "whole number of days"),
        ("expiry_period_in_days", "30", "whole number of days"),
        ("role", "", "DEPLOYMENT_ADMIN or the name of a custom Deployment role"),
        ("deployment_id", "not-an-id", "ID of an existing Astro Deployment"),
        ("deployment_id", "CLM8Q7F6Q000008LCGYOUGPSK", "ID of an existing Astro Deployment"),
        ("keepers", {"month": 5}, "map of string keys to string values"),
        ("keepers", ["a"], "map of string keys to string values"),
        ("kind", "PERSONAL", "STANDARD (the default) or DIRECT_ACCESS"),
        ("kind", "standard", "STANDARD (the default) or DIRECT_ACCESS"),
        ("dag_roles", {"dag_id": "etl", "role": "DAG_VIEWER"}, "give a list of roles"),
        ("dag_roles", [{"role": "DAG_VIEWER"}], "exactly one of dag_id and dag_tag"),
        ("dag_roles", [{"dag_id": "etl", "dag_tag": "team-a", "role": "DAG_VIEWER"}], "exactly one of dag_id"),
        ("dag_roles", [{"dag_id": "etl"}], "[0].role: field required"),
        ("dag_roles", [{"dag_id": "etl", "role": "DEPLOYMENT_ADMIN"}], "DEPLOYMENT_ADMIN is not a DAG role"),
        ("dag_roles", [{"dagId": "etl", "role": "DAG_VIEWER"}], "[0].dagId: extra inputs are not permitted"),
        ("dag_roles", [{"dag_id": "etl", "role": "DAG_VIEWER"}, {"dag_id": "etl", "role": "DAG_AUTHOR"}], "one role per"),
        ("rotate_before_days", 0, "from 1 to one less than expiry_period_in_days"),
        ("rotate_before_days", 7, "set expiry_period_in_days too"),
        ("rotate_before_days", 2.5, "whole number of days"),
    ],
)
def test_each_invalid_input_fails_naming_the_property_and_the_fix(
    provider: DeploymentApiKeyProvider, field: str, value: Any, fix: str
) -> None:
    found = failures(provider, news(**{field: value}))
    assert list(found) == [field]
    assert fix in found[field]
    assert found[field].startswith(f"{field} is invalid")


def test_missing_deployment_id_is_reported_as_required(provider: DeploymentApiKeyProvider) -> None:
    props = news()
    del props["deployment_id"]
    found = failures(provider, props)
    assert list(found) == ["deployment_id"]
    assert found["deployment_id"].startswith("deployment_id is required")


def test_several_invalid_inputs_are_all_reported(provider: DeploymentApiKeyProvider) -> None:
    found = failures(provider, news(name="", description="d" * 600, expiry_period_in_days=0))
    assert set(found) == {"name", "description", "expiry_period_in_days"}


def test_whole_number_floats_from_the_wire_are_days(provider: DeploymentApiKeyProvider) -> None:
    result = provider.check({}, news(expiry_period_in_days=30.0))
    assert result.failures == []
    assert result.inputs["expiry_period_in_days"] == 30


def test_unknown_values_pass_untouched_at_preview(provider: DeploymentApiKeyProvider) -> None:
    unknown_id, unknown_keeper = Unknown(), Unknown()
    result = provider.check({}, news(deployment_id=unknown_id, keepers={"month": unknown_keeper}))
    assert result.failures == []
    assert result.inputs["deployment_id"] is unknown_id
    assert result.inputs["keepers"]["month"] is unknown_keeper


def test_unknown_values_do_not_hide_failures_of_known_ones(provider: DeploymentApiKeyProvider) -> None:
    found = failures(provider, news(deployment_id=Unknown(), name="x" * 300))
    assert list(found) == ["name"]


def test_check_accepts_empty_olds_as_before_a_replacement(provider: DeploymentApiKeyProvider) -> None:
    assert provider.check({}, news()).failures == []


def stored(**overrides: Any) -> dict[str, Any]:
    """Old outputs as the state keeps them after a create."""
    return stored_key(**overrides)


def checked(provider: DeploymentApiKeyProvider, **overrides: Any) -> dict[str, Any]:
    inputs = provider.check({}, news(**overrides)).inputs
    inputs["__provider"] = "new-release-bytes"
    return inputs


def test_no_change_says_so_explicitly_even_with_a_new_provider(provider: DeploymentApiKeyProvider) -> None:
    result = provider.diff("id", stored(), checked(provider))
    assert result.changes is False
    assert result.replaces == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "ci-2"),
        ("description", "now described"),
        ("role", "CUSTOM_DEPLOY_ROLE"),
        ("expiry_period_in_days", 90),
        ("keepers", {"month": "2026-12"}),
        ("deployment_id", OTHER_DEPLOYMENT),
        ("kind", "DIRECT_ACCESS"),
        ("dag_roles", [{"dag_tag": "team-a", "role": "DAG_VIEWER"}]),
    ],
)
def test_any_changed_input_replaces_the_key_new_one_first(
    provider: DeploymentApiKeyProvider, field: str, value: Any
) -> None:
    result = provider.diff("id", stored(), checked(provider, **{field: value}))
    assert result.changes is True
    assert result.replaces == [field]
    assert result.delete_before_replace is False


def test_an_unknown_input_replaces_the_key(provider: DeploymentApiKeyProvider) -> None:
    result = provider.diff("id", stored(), checked(provider, deployment_id=Unknown()))
    assert result.replaces == ["deployment_id"]


def test_state_from_an_older_release_without_an_input_replaces_nothing(provider: DeploymentApiKeyProvider) -> None:
    old = stored()
    del old["keepers"]
    del old["description"]
    assert provider.diff("id", old, checked(provider)).changes is False


@pytest.mark.parametrize(
    "written",
    [
        {},
        {"kind": "STANDARD"},
        {"dag_roles": []},
        {"kind": "STANDARD", "dag_roles": []},
    ],
)
def test_state_without_kind_or_dag_roles_diffs_as_no_change_against_their_defaults(
    provider: DeploymentApiKeyProvider, written: dict[str, Any]
) -> None:
    # stored() is what the release before kind, dag_roles and rotate_before_days wrote.
    result = provider.diff("id", stored(), checked(provider, **written))
    assert (result.changes, result.replaces) == (False, [])


def test_expiry_read_back_as_a_float_is_no_change(provider: DeploymentApiKeyProvider) -> None:
    result = provider.diff("id", stored(expiry_period_in_days=30.0), checked(provider, expiry_period_in_days=30))
    assert result.changes is False


def test_update_refuses_and_changes_nothing(provider: DeploymentApiKeyProvider) -> None:
    from pulumi_astrokeys import KeyOperationError

    with pytest.raises(KeyOperationError, match="immutable"):
        provider.update("id", stored(), checked(provider, description="x"))


@pytest.mark.parametrize("role", ["ORGANIZATION_OWNER", "WORKSPACE_OWNER", " WORKSPACE_OPERATOR", "ORGANIZATION_MEMBER"])
def test_a_role_of_another_scope_is_refused_at_preview(provider: DeploymentApiKeyProvider, role: str) -> None:
    found = failures(provider, news(role=role))
    assert list(found) == ["role"]
    assert role.strip() in found["role"] and "cannot have" in found["role"]
    assert "DEPLOYMENT_ADMIN or the name of a custom Deployment role" in found["role"]


@pytest.mark.parametrize("role", [" DEPLOYMENT_ADMIN", "DEPLOYMENT_ADMIN\n", "\tCUSTOM_DEPLOY_ROLE "])
def test_spaces_around_a_role_never_cause_a_replacement(provider: DeploymentApiKeyProvider, role: str) -> None:
    # The state as the API echoes the role back: without the spaces.
    result = provider.diff("id", stored(role=role.strip()), checked(provider, role=role))
    assert (result.changes, result.replaces) == (False, [])
