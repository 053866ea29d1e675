"""The Pulumi package schema of ``pulumi-resource-astrokeys``, generated from :mod:`pulumi_astrokeys._schema`.

The key's inputs, their defaults and its outputs are written once, in ``_schema``; this
module names them as Pulumi's languages do (camelCase: ``deployment_id`` is
``deploymentId``), takes each input's description from the dynamic resource's
:class:`~pulumi_astrokeys.resource.DeploymentApiKeyArgs`, and the provider configuration
from :mod:`pulumi_astrokeys._settings`. The schema's ``version`` is the installed
package's, so generated SDKs carry it rather than a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Any

from .. import _schema, _settings
from .._version import __version__

__all__ = [
    "CONFIG_PROPERTIES",
    "DAG_ROLE_FIELDS",
    "DAG_ROLE_TYPE",
    "PACKAGE",
    "RESOURCE_TYPE",
    "package_schema",
    "package_version",
    "pulumi_name",
    "python_name",
]

PACKAGE = "astrokeys"
RESOURCE_TYPE = f"{PACKAGE}:index:DeploymentApiKey"
"""The key's resource type in every language: ``pulumi import`` takes it, URNs carry it."""
DAG_ROLE_TYPE = f"{PACKAGE}:index:DagRole"
DAG_ROLE_FIELDS: tuple[str, ...] = ("dag_id", "dag_tag", "role")
"""The fields of one ``dag_roles`` item, as :class:`~pulumi_astrokeys._inputs.DagRoleInput` declares them."""

_INTEGER_INPUTS = frozenset({"expiry_period_in_days", "rotate_before_days"})

_OUTPUT_DESCRIPTIONS: Mapping[str, str] = {
    "key_id": "The key's ID in Astro (also the resource's ID).",
    "secret": "The key's value, the bearer token its consumers send. Astro shows it once, at creation; "
    "a key adopted by `pulumi import` has none.",
    "short_token": "The key's short form as the Astro UI shows it, to recognise it without its value.",
    "organization_id": "The Astro organization that owns the key.",
    "created_at": "When Astro created the key.",
    "start_at": "When the key starts to work.",
    "end_at": "When the key expires; unset for a key that never expires.",
    _schema.ADOPTED_OUTPUT: "True for a key adopted by `pulumi import` rather than created by Pulumi: it has "
    "no secret, and is not replaced for lacking one; `pulumi up --replace` mints a fresh key, new one first.",
}

_CONFIG_SETTINGS = (
    (_settings.API_TOKEN, "string"),
    (_settings.ORGANIZATION_ID, "string"),
    (_settings.HOST, "string"),
    (_settings.MAX_RETRIES, "integer"),
    (_settings.RETRY_BACKOFF, "number"),
    (_settings.REQUEST_TIMEOUT, "number"),
)
CONFIG_PROPERTIES: tuple[str, ...] = tuple(setting.config_key for setting, _ in _CONFIG_SETTINGS)
"""The provider's configuration, as ``astrokeys:<name>`` in stack config and as inputs of a ``Provider``."""

_CONFIG_DESCRIPTIONS: Mapping[str, str] = {
    "apiToken": "An Astro API token of the organization (an Organization or Workspace token that may manage "
    "Deployment API keys).",
    "organizationId": "The ID of the Astro organization whose keys this provider manages.",
    "host": f"The Astro API's base URL; default {_settings.DEFAULT_HOST}. Plain http:// only for loopback hosts.",
    "maxRetries": "Retries of a failed request, 0 to 20; default 5.",
    "retryBackoff": "Seconds before the first retry, doubling with each further one, 0 to 60; default 0.5.",
    "requestTimeout": "Seconds one request may take as a whole, above 0 up to 600; default 30.",
}


# Both run for every property of every call: a few dozen names, converted once each.
@lru_cache(maxsize=1024)
def pulumi_name(name: str) -> str:
    """A property's name in Pulumi's languages: ``expiry_period_in_days`` is ``expiryPeriodInDays``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@lru_cache(maxsize=1024)
def python_name(name: str) -> str:
    """A property's name in this package's core: ``expiryPeriodInDays`` is ``expiry_period_in_days``."""
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def package_version() -> str:
    """The installed package's version (the source tree's when not installed)."""
    try:
        return installed_version("pulumi-astrokeys")
    except PackageNotFoundError:
        return __version__


def _input_description(name: str) -> str:
    from ..resource import DeploymentApiKeyArgs

    doc = getattr(DeploymentApiKeyArgs, name).__doc__ or ""
    return " ".join(doc.split()).replace("``", "`")


def _input_property(name: str) -> dict[str, Any]:
    spec: dict[str, Any]
    if name == "keepers":
        spec = {"type": "object", "additionalProperties": {"type": "string"}}
    elif name == "dag_roles":
        spec = {"type": "array", "items": {"$ref": f"#/types/{DAG_ROLE_TYPE}"}}
    elif name in _INTEGER_INPUTS:
        spec = {"type": "integer"}
    else:
        spec = {"type": "string"}
    default = _schema.INPUT_DEFAULTS.get(name)
    if isinstance(default, str) and default:
        spec["default"] = default
    spec["description"] = _input_description(name)
    return spec


def _output_property(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "boolean" if name == _schema.ADOPTED_OUTPUT else "string"}
    if name in _schema.SECRET_OUTPUTS:
        spec["secret"] = True
    spec["description"] = _OUTPUT_DESCRIPTIONS[name]
    return spec


def _config_properties() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for setting, kind in _CONFIG_SETTINGS:
        spec: dict[str, Any] = {
            "type": kind,
            "description": f"{_CONFIG_DESCRIPTIONS[setting.config_key]} Unset: the environment variable "
            f"{setting.env_var}, read by the provider's own process.",
        }
        if setting.secret:
            spec["secret"] = True
        properties[setting.config_key] = spec
    return properties


def _language() -> dict[str, Any]:
    """Per-language package names (the Python SDK must not shadow this package's ``pulumi_astrokeys``);
    each SDK carries the schema's version, not a placeholder."""
    return {
        "python": {"packageName": "pulumi_astrokeys_sdk", "pyproject": {"enabled": True}, "respectSchemaVersion": True},
        "nodejs": {"packageName": "@pulumi-astrokeys/astrokeys", "respectSchemaVersion": True},
        "go": {
            "importBasePath": "github.com/pulumi-astrokeys/pulumi-astrokeys/sdk/go/astrokeys",
            "generateResourceContainerTypes": False,
            "respectSchemaVersion": True,
        },
    }


def package_schema() -> dict[str, Any]:
    """The package schema, as ``pulumi package get-schema`` prints it."""
    inputs = {pulumi_name(name): _input_property(name) for name in _schema.INPUT_NAMES}
    outputs = {pulumi_name(name): _output_property(name) for name in (*_schema.OUTPUT_NAMES, _schema.ADOPTED_OUTPUT)}
    computed_outputs = ["keyId", "shortToken", "organizationId", "createdAt", "startAt", "adopted"]
    config = _config_properties()
    dag_role_descriptions = {
        "dag_id": "The ID of one DAG of the key's Deployment. Give this or `dagTag`, not both.",
        "dag_tag": "A DAG tag: the role covers every DAG of the Deployment with this tag.",
        "role": "`DAG_VIEWER`, `DAG_AUTHOR` or the name of a custom DAG role.",
    }
    return {
        "name": PACKAGE,
        "displayName": "Astro Deployment API keys",
        "version": package_version(),
        "description": "Astronomer (Astro) Deployment API keys as immutable resources: any change replaces a key, "
        "the new one first; expiring keys are replaced in time; the secret is always a Pulumi secret.",
        "keywords": ["pulumi", "astronomer", "astro", "airflow", "api-token", "category/utility", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "pulumi-astrokeys",
        "config": {"variables": config},
        "provider": {
            "description": "The provider of Astro Deployment API keys for one organization. Declare one per "
            "organization to manage keys in several from one program.",
            "inputProperties": config,
        },
        "types": {
            DAG_ROLE_TYPE: {
                "type": "object",
                "description": "A DAG-level role of a key: `role` on one DAG (`dagId`) or on every DAG tagged "
                "`dagTag`.",
                "properties": {
                    pulumi_name(field): {"type": "string", "description": dag_role_descriptions[field]}
                    for field in DAG_ROLE_FIELDS
                },
                "required": ["role"],
            }
        },
        "resources": {
            RESOURCE_TYPE: {
                "description": "An Astro Deployment API key. Immutable: any change of its inputs but "
                "`rotateBeforeDays` replaces it, the new key first, so consumers always hold a working secret.",
                "inputProperties": inputs,
                "requiredInputs": ["deploymentId"],
                "properties": {**inputs, **outputs},
                "required": sorted(
                    {"deploymentId", "name", "description", "role", "keepers", "kind", "dagRoles", *computed_outputs}
                ),
            }
        },
        "language": _language(),
    }


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(package_schema(), indent=2) + "\n")
