"""Schema-driven fuzzing of the emulator with schemathesis, from the official spec.

Each of the ten operations the emulator implements (tokens: list, create, get, update,
rotate, delete; Deployments: list, get, create, delete) gets schema-valid requests
(positive) and, where it takes a body or query parameters, schema-violating ones
(negative). Every answer goes through all of schemathesis' response checks: no 5xx,
a status the spec declares, a conforming content type, headers and body, invalid data
rejected, valid data accepted, and a request without credentials refused.

Configuration:

* the spec's server URL becomes the emulator's ``{host}/v1``; every request carries
  the organization owner's token as ``Authorization: Bearer``;
* ``organizationId`` is always the emulator's organization (any other is a 403 before
  anything else is looked at); token, Deployment and workspace IDs are drawn from the
  real ones seeded below most of the time, so requests get past 404 to the real work;
* ``FUZZ_EXAMPLES`` (default 40) examples per operation and mode, with a fixed seed so
  ``make test`` is repeatable. Setting it (``FUZZ_EXAMPLES=1000 pytest
  tests/test_emulator_fuzz.py``) runs that many examples with fresh random seeds.

Excluded, each because the official spec under-declares what the real API does:

* ``positive_data_acceptance`` on CreateApiToken and CreateDeployment: the spec
  leaves out limits the API enforces (CONTRACT.md: a token name of 1..256
  characters on create as on update, a non-empty role, for a Deployment token
  ``DEPLOYMENT_ADMIN`` or a custom Deployment role the organization has; a Deployment needs a
  non-empty name and non-empty environment variable keys), so a schema-valid body
  with an empty name is rightly a 400.
* Negative cases that put an empty value in the query string (``limit=``,
  ``sorts=``): the spec does not say what an empty value means, and the emulator,
  like most HTTP APIs, reads it as the parameter being absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from conftest import require_spec
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from spec import validate_response

from pulumi_astrokeys.testing.emulator import Emulator, run_emulator

# Operation IDs in the official spec, as the emulator serves them.
OPERATIONS = (
    "ListApiTokens",
    "CreateApiToken",
    "GetApiToken",
    "UpdateApiToken",
    "RotateApiToken",
    "DeleteApiToken",
    "ListDeployments",
    "GetDeployment",
    "CreateDeployment",
    "DeleteDeployment",
)
# The others take only path parameters, all plain strings: nothing can be made invalid.
NEGATABLE = ("ListApiTokens", "CreateApiToken", "UpdateApiToken", "ListDeployments", "CreateDeployment")
UNDER_DECLARED_BODIES = frozenset({"CreateApiToken", "CreateDeployment"})

_REQUESTED = os.environ.get("FUZZ_EXAMPLES")
EXAMPLES = int(_REQUESTED) if _REQUESTED else 40
# Draw a seeded ID instead of a generated string this often.
KNOWN_ID_PROBABILITY = 0.7
CUSTOM_ROLE = "FUZZ_DEPLOYER"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator for the module, seeded with Deployments and tokens of every scope."""
    with run_emulator(tmp_path_factory.mktemp("fuzz") / "emulator.db") as running:
        running.set_deployment_roles([CUSTOM_ROLE])
        yield running


@pytest.fixture(scope="module")
def astro_api(fuzzed: Emulator) -> Any:
    spec = require_spec()
    deployments = fuzzed.deployment_ids + [fuzzed.create_deployment(f"fuzz-{i}") for i in range(3)]
    token_requests = [
        {"name": f"key-{i}", "scope": "DEPLOYMENT", "entityId": deployment, "role": "DEPLOYMENT_ADMIN"}
        for deployment in deployments
        for i in range(2)
    ]
    token_requests += [
        {"name": "ws", "scope": "WORKSPACE", "entityId": fuzzed.workspace_id, "role": "WORKSPACE_OPERATOR"},
        {"name": "org", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"},
    ]
    with fuzzed.client() as owner:
        # The owner's own token is left out: rotating or deleting it would end the run.
        tokens = [owner.post("/tokens", json=body).json()["id"] for body in token_requests]

    def known(dictionary: str) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": KNOWN_ID_PROBABILITY}

    config = schemathesis.Config.from_dict(
        {
            "base-url": f"{fuzzed.host}/v1",
            "headers": {"Authorization": f"Bearer {fuzzed.api_token}"},
            "dictionaries": {
                "tokens": {"values": tokens},
                "deployments": {"values": deployments},
                "workspaces": {"values": [fuzzed.workspace_id]},
                "entities": {"values": [*deployments, fuzzed.workspace_id]},
                "roles": {"values": ["DEPLOYMENT_ADMIN", CUSTOM_ROLE]},
            },
            "parameters": {
                "path.tokenId": known("tokens"),
                "path.deploymentId": known("deployments"),
                "query.deploymentId": known("deployments"),
                "query.workspaceId": known("workspaces"),
                "body.entityId": known("entities"),
                "body.role": known("roles"),
                "body.workspaceId": known("workspaces"),
            },
        }
    )
    return schemathesis.openapi.from_path(spec, config=config).include(operation_id=list(OPERATIONS))


def _sends_an_empty_query_value(case: Any) -> bool:
    """Whether the query string, as it goes on the wire, holds an empty value (``limit=``)."""
    kwargs = case.as_transport_kwargs()
    url = requests.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params")).prepare().url or ""
    return any(value == "" for _, value in parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _fuzz(api: Any, emulator: Emulator, operation_id: str, mode: GenerationMode) -> list[int]:
    """Run the operation's examples through every check; return the statuses seen."""
    operation = next(
        result.ok() for result in api.get_all_operations() if result.ok().definition.raw["operationId"] == operation_id
    )
    strategy = operation.as_strategy(mode, path_parameters={"organizationId": emulator.organization_id})
    if mode is GenerationMode.NEGATIVE:
        strategy = strategy.filter(lambda case: not _sends_an_empty_query_value(case))
    excluded = [positive_data_acceptance] if operation_id in UNDER_DECLARED_BODIES else []
    statuses: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=_REQUESTED is None,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=strategy)
    def examples(case: Any) -> None:
        statuses.append(case.call_and_validate(excluded_checks=excluded).status_code)

    examples()
    return statuses


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_schema_valid_requests_get_declared_answers_and_reach_success(
    astro_api: Any, fuzzed: Emulator, operation_id: str
) -> None:
    fuzzed.clear_requests()

    statuses = _fuzz(astro_api, fuzzed, operation_id, GenerationMode.POSITIVE)

    assert any(200 <= status < 300 for status in statuses), f"no example succeeded: {sorted(set(statuses))}"
    server_errors = [entry for entry in fuzzed.requests() if (entry["status"] or 0) >= 500]
    assert server_errors == []


@pytest.mark.parametrize("operation_id", NEGATABLE)
def test_schema_violating_requests_are_refused_with_declared_answers(
    astro_api: Any, fuzzed: Emulator, operation_id: str
) -> None:
    fuzzed.clear_requests()

    statuses = _fuzz(astro_api, fuzzed, operation_id, GenerationMode.NEGATIVE)

    assert 400 in statuses, f"no example was refused as bad input: {sorted(set(statuses))}"
    server_errors = [entry for entry in fuzzed.requests() if (entry["status"] or 0) >= 500]
    assert server_errors == []


@pytest.mark.parametrize("query", ["limit=99999999999999999999999", "offset=99999999999999999999999"])
def test_a_page_bound_beyond_sqlite_integers_lists_without_a_server_error(emulator: Emulator, query: str) -> None:
    require_spec()
    with emulator.client() as owner:
        response = owner.get(f"/deployments?{query}")

    body = validate_response("/organizations/{organizationId}/deployments", "GET", response)
    assert response.status_code == 200
    assert body["totalCount"] == 2
    assert len(body["deployments"]) == (2 if query.startswith("limit") else 0)
