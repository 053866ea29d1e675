"""The official Astro API spec (OpenAPI 3.0.3) as JSON Schema validators.

Reads the document named by ``ASTRO_OPENAPI_SPEC``, else
``../shared/astro-api/astro_v1_openapi.yaml`` seen from the repository root (never
copied into the project). Where neither exists the tests that need it skip, and the
run's summary says so in a banner (``conftest.py``). Paths are the spec's templates, with or
without the ``/v1`` base, e.g. ``/organizations/{organizationId}/tokens``.

    validator = response_validator("/organizations/{organizationId}/tokens", "GET", 200)
    validator.validate(response.json())
    validate_response("/organizations/{organizationId}/tokens", "GET", response)  # httpx

OpenAPI 3.0 schemas become draft-4 JSON Schema: ``nullable`` turns into a
``null`` type, a ``discriminator`` selects its ``oneOf`` variant by the
property's value, ``example`` is dropped, and ``date-time`` is checked as RFC 3339. With ``strict=True`` (the default for responses) an
object may carry no property the spec does not declare, which catches a
misspelled field the spec would otherwise let through.
"""

from __future__ import annotations

import copy
import functools
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT4

__all__ = [
    "SPEC_PATH",
    "load_spec",
    "operation",
    "request_validator",
    "response_validator",
    "schema_validator",
    "validate_response",
]

SPEC_PATH = Path(
    os.environ.get("ASTRO_OPENAPI_SPEC")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "astro-api" / "astro_v1_openapi.yaml"
)
MISSING_SPEC = (
    f"the official Astro API OpenAPI document is not at {SPEC_PATH}: set ASTRO_OPENAPI_SPEC to its path "
    "to run the spec-conformance tests"
)
_URI = "urn:astro-api-v1"
_DROPPED = {"discriminator", "example", "xml", "externalDocs", "deprecated"}


@functools.lru_cache(maxsize=None)
def _raw_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def load_spec() -> dict[str, Any]:
    """The parsed spec; skips the calling test if the spec folder is absent."""
    if not SPEC_PATH.is_file():
        pytest.skip(MISSING_SPEC)
    return _raw_spec()


def _convert(node: Any, strict: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: _convert(value, strict)
        for key, value in node.items()
        if key not in _DROPPED and not key.startswith("x-")
    }
    if "properties" in node and isinstance(node["properties"], dict):
        # Property *names* are not schemas: convert only their values.
        out["properties"] = {k: _convert(v, strict) for k, v in node["properties"].items()}
    discriminator = node.get("discriminator")
    if isinstance(discriminator, dict) and discriminator.get("mapping") and "oneOf" in node:
        # Draft 4 has no discriminator: pick the variant by the property's value instead.
        prop = discriminator["propertyName"]
        out["oneOf"] = [
            {
                "allOf": [
                    {"properties": {prop: {"enum": [value]}}, "required": [prop]},
                    _convert({"$ref": target}, strict),
                ]
            }
            for value, target in discriminator["mapping"].items()
        ]
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if "$ref" in out:
        out["$ref"] = _URI + out["$ref"] if out["$ref"].startswith("#") else out["$ref"]
        return {"$ref": out["$ref"]}
    if strict and out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@functools.lru_cache(maxsize=None)
def _registry(strict: bool) -> Registry:
    document = {"components": _convert(copy.deepcopy(load_spec()["components"]), strict)}
    return Registry().with_resource(_URI, DRAFT4.create_resource(document))


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value or not (value.endswith("Z") or value[-6] in "+-"):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _validator(schema: dict[str, Any], strict: bool) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(
        _convert(schema, strict), registry=_registry(strict), format_checker=_FORMATS
    )


def _template(path: str) -> str:
    return path[len("/v1") :] if path.startswith("/v1/") else path


def operation(path: str, method: str) -> dict[str, Any]:
    """The spec's operation object for a path template and method."""
    paths = load_spec()["paths"]
    template = _template(path)
    if template not in paths:
        raise KeyError(f"the spec has no path {template}")
    operations = paths[template]
    if method.lower() not in operations:
        raise KeyError(f"the spec has no {method.upper()} {template}")
    return dict(operations[method.lower()])


def declared_statuses(path: str, method: str) -> set[int]:
    """The statuses the spec declares for an operation."""
    return {int(status) for status in operation(path, method)["responses"]}


def response_validator(
    path: str, method: str, status: int | str, *, strict: bool = True
) -> jsonschema.Draft4Validator:
    """A validator for the JSON body of one declared response of one operation."""
    responses = operation(path, method)["responses"]
    if str(status) not in responses:
        raise KeyError(f"the spec declares no {status} for {method.upper()} {_template(path)}")
    content = responses[str(status)].get("content") or {}
    if "application/json" not in content:
        raise KeyError(f"{method.upper()} {_template(path)} {status} has no JSON body in the spec")
    return _validator(content["application/json"]["schema"], strict)


def request_validator(path: str, method: str, *, strict: bool = False) -> jsonschema.Draft4Validator:
    """A validator for an operation's JSON request body."""
    body = operation(path, method)["requestBody"]["content"]["application/json"]["schema"]
    return _validator(body, strict)


def schema_validator(name: str, *, strict: bool = True) -> jsonschema.Draft4Validator:
    """A validator for a named component schema, e.g. ``"ApiToken"`` or ``"Error"``."""
    load_spec()
    return _validator({"$ref": f"#/components/schemas/{name}"}, strict)


def validate_response(
    path: str,
    method: str,
    response: Any,
    *,
    strict: bool = True,
    undeclared_ok: tuple[int, ...] = (429,),
) -> Any:
    """Check an httpx response against the spec: a declared status and a conforming body.

    A status the spec does not declare fails, except those in ``undeclared_ok``
    (429 by default: the spec declares none, the API answers it with ``Error``),
    whose bodies must still be ``Error`` objects. Returns the decoded body.
    """
    status = response.status_code
    declared = declared_statuses(path, method)
    if status not in declared:
        assert status in undeclared_ok, (
            f"{method.upper()} {_template(path)} answered {status}; the spec declares {sorted(declared)}"
        )
        body = response.json()
        schema_validator("Error", strict=strict).validate(body)
        return body
    content = operation(path, method)["responses"][str(status)].get("content")
    if not content:
        assert response.content == b"", f"{status} must have no body, got {response.content!r}"
        return None
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    response_validator(path, method, status, strict=strict).validate(body)
    return body
