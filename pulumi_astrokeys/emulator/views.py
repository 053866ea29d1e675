"""Stored records as the API shows them: the spec's ``ApiToken`` and ``Deployment``."""

from __future__ import annotations

import hashlib
from typing import Any

from .store import DeploymentRecord, Token

__all__ = ["deployment_json", "subject_roles_json", "token_json"]

DEFAULT_RUNTIME_VERSION = "13.1.0"
# Astro Runtime -> Airflow, for the versions a user is likely to ask for; else "NA".
_AIRFLOW_VERSIONS = {
    "12.1.0": "2.10.3",
    "12.7.1": "2.10.5",
    "13.0.0": "2.11.0",
    "13.1.0": "2.11.0",
    "3.0-1": "3.0.1",
    "3.1-1": "3.1.0",
}
_ADJECTIVES = ("quiet", "bright", "stellar", "orbital", "radiant", "cosmic", "lunar", "polar")
_NOUNS = ("nebula", "quasar", "comet", "pulsar", "meteor", "galaxy", "photon", "zenith")


def token_json(token: Token, value: str | None = None) -> dict[str, Any]:
    """An ``ApiToken``; ``token`` (the value) only when just minted."""
    body: dict[str, Any] = {
        "id": token.id,
        "name": token.name,
        "description": token.description,
        "scope": token.scope,
        "kind": token.kind,
        "shortToken": token.short_token,
        "startAt": token.start_at,
        "createdAt": token.created_at,
        "updatedAt": token.updated_at,
        "createdBy": token.created_by,
        "updatedBy": token.updated_by,
        "roles": [{"entityType": token.scope, "entityId": token.entity_id, "role": token.role}]
        + [
            {"entityType": r.entity_type, "entityId": r.entity_id, "role": r.role, "deploymentId": r.deployment_id}
            for r in token.dag_roles
        ],
    }
    if token.end_at is not None:
        body["endAt"] = token.end_at
    if token.expiry_days is not None:
        body["expiryPeriodInDays"] = token.expiry_days
    if token.last_used_at is not None:
        body["lastUsedAt"] = token.last_used_at
    if token.last_rotated_at is not None:
        body["lastRotatedAt"] = token.last_rotated_at
    if value is not None:
        body["token"] = value
    return body


def subject_roles_json(token: Token) -> dict[str, Any]:
    """``SubjectRoles``: what ``POST /tokens/{id}/roles`` answers, the token's roles by kind of entity."""
    body: dict[str, Any] = {
        "dagRoles": [
            {"dagId" if r.entity_type == "DAG" else "dagTag": r.entity_id, "deploymentId": r.deployment_id, "role": r.role}
            for r in token.dag_roles
        ],
        "deploymentRoles": [],
        "workspaceRoles": [],
    }
    if token.scope == "DEPLOYMENT":
        body["deploymentRoles"].append({"deploymentId": token.entity_id, "role": token.role})
    elif token.scope == "WORKSPACE":
        body["workspaceRoles"].append({"workspaceId": token.entity_id, "role": token.role})
    else:
        body["organizationRole"] = token.role
    return body


def _namespace(deployment_id: str) -> str:
    digest = hashlib.sha256(deployment_id.encode()).digest()
    return f"{_ADJECTIVES[digest[0] % 8]}-{_NOUNS[digest[1] % 8]}-{int.from_bytes(digest[2:4], 'big') % 10000:04d}"


def _derived_id(kind: str, seed: str) -> str:
    """A stable id-shaped value for things the emulator does not model (clusters)."""
    digest = int.from_bytes(hashlib.sha256(f"{kind}:{seed}".encode()).digest(), "big")
    chars = []
    for _ in range(24):
        digest, rem = divmod(digest, 36)
        chars.append("0123456789abcdefghijklmnopqrstuvwxyz"[rem])
    return "c" + "".join(chars)


def deployment_json(deployment: DeploymentRecord) -> dict[str, Any]:
    """A ``Deployment`` with every field the spec requires, plausibly filled in."""
    spec = deployment.spec
    kind = spec.get("type", "STANDARD")
    executor = spec.get("executor") or ("CELERY" if kind == "HYBRID" else "ASTRO")
    runtime = spec.get("astroRuntimeVersion") or DEFAULT_RUNTIME_VERSION
    high_availability = bool(spec.get("isHighAvailability", False))
    short = deployment.id[-8:]
    cluster_host = f"{deployment.organization_id}.astronomer.run"
    web = f"{cluster_host}/d{short}"
    body: dict[str, Any] = {
        "id": deployment.id,
        "name": deployment.name,
        "description": spec.get("description") or "",
        "organizationId": deployment.organization_id,
        "workspaceId": deployment.workspace_id,
        "workspaceName": deployment.workspace_name,
        "type": kind,
        "executor": executor,
        "astroRuntimeVersion": runtime,
        "runtimeVersion": runtime,
        "airflowVersion": _AIRFLOW_VERSIONS.get(runtime, "NA"),
        "imageRepository": f"images.astronomer.cloud/{deployment.organization_id}/{short}",
        "imageTag": f"deploy-{deployment.created_at[:16].replace(':', '-')}",
        "imageVersion": f"deploy-{deployment.created_at[:16].replace(':', '-')}",
        "namespace": _namespace(deployment.id),
        "status": "HEALTHY",
        "statusReason": "Successfully Deployed",
        "isCicdEnforced": bool(spec.get("isCicdEnforced", False)),
        "isDagDeployEnabled": bool(spec.get("isDagDeployEnabled", True)),
        "isHighAvailability": high_availability,
        "isDevelopmentMode": bool(spec.get("isDevelopmentMode", False)),
        "schedulerCpu": "1",
        "schedulerMemory": "2Gi",
        "schedulerReplicas": 2 if high_availability else 1,
        "webServerCpu": "0.5",
        "webServerMemory": "2Gi",
        "webServerReplicas": 2 if high_availability else 1,
        "webServerUrl": f"{web}?orgId={deployment.organization_id}",
        "webServerIngressHostname": web,
        "webServerAirflowApiUrl": f"{web}/api/v1",
        "uiUrl": f"https://{web}?orgId={deployment.organization_id}",
        "apiUrl": f"https://{web}/api/v1",
        "contactEmails": list(spec.get("contactEmails") or []),
        "createdAt": deployment.created_at,
        "updatedAt": deployment.updated_at,
        "createdBy": deployment.created_by,
        "updatedBy": deployment.updated_by,
    }
    if kind == "HYBRID":
        body["schedulerAu"] = 5
    else:
        body["schedulerSize"] = spec.get("schedulerSize") or "SMALL"
        body["defaultTaskPodCpu"] = spec.get("defaultTaskPodCpu") or "0.25"
        body["defaultTaskPodMemory"] = spec.get("defaultTaskPodMemory") or "0.5Gi"
        body["resourceQuotaCpu"] = spec.get("resourceQuotaCpu") or "10"
        body["resourceQuotaMemory"] = spec.get("resourceQuotaMemory") or "20Gi"
    if kind == "STANDARD":
        body["cloudProvider"] = spec.get("cloudProvider") or "AWS"
        body["region"] = spec.get("region") or "us-east-1"
    else:
        body["clusterId"] = spec.get("clusterId") or _derived_id("cluster", deployment.organization_id)
        body["clusterName"] = "emulator-cluster"
        body["region"] = spec.get("region") or "us-east-1"
    if spec.get("workloadIdentity"):
        body["effectiveWorkloadIdentity"] = spec["workloadIdentity"]
    variables = spec.get("environmentVariables")
    if variables:
        body["environmentVariables"] = [
            {
                "key": v["key"],
                "isSecret": v["isSecret"],
                "updatedAt": deployment.updated_at,
                **({} if v["isSecret"] or v.get("value") is None else {"value": v["value"]}),
            }
            for v in variables
        ]
    return body
