"""The test control surface under ``/_emulator``: faults, chaos, request log, clock, state, custom roles.

No Bearer auth (the outer middleware only lets loopback clients in), no rate
limits, and nothing here shows a token value except a newly made organization's
owner token, which the caller needs in order to use it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api import json_response, read_json
from .clock import format_timestamp
from .errors import ApiError, FieldError
from .faults import parse_chaos, parse_fault
from .models import BUILTIN_ROLES, CreateDeploymentRequest, validate
from .state import EmulatorState
from .views import deployment_json, token_json

__all__ = ["control_routes"]

PREFIX = "/_emulator"


def _clock_json(state: EmulatorState) -> dict[str, Any]:
    return {"now": format_timestamp(state.clock.now()), "offsetSeconds": state.clock.offset_seconds}


async def _json(request: Request) -> Any:
    return await read_json(request)


def _role_names(body: Any) -> list[str]:
    """The ``roles`` of a ``PUT .../deployment-roles`` body: names of custom roles, none of them Astro's own."""
    roles = body.get("roles") if isinstance(body, dict) else None
    if not isinstance(roles, list):
        message = "roles must be a list of role names"
        raise ApiError.bad_request(message, FieldError("roles", "type", message))
    names = []
    for index, role in enumerate(roles):
        name = role.strip() if isinstance(role, str) else ""
        if not name or len(name) > 256:
            message = f"roles.{index} must be a role name of 1 to 256 characters"
            raise ApiError.bad_request(message, FieldError(f"roles.{index}", "invalid", message))
        if name in BUILTIN_ROLES:
            message = f"roles.{index}: {name} is a built-in role, not a custom one"
            raise ApiError.bad_request(message, FieldError(f"roles.{index}", "invalid", message))
        names.append(name)
    return names


def control_routes(state: EmulatorState) -> list[Route]:
    """The ``/_emulator`` routes, bound to a running emulator's state."""

    async def get_state(request: Request) -> Response:
        page = state.store.list_deployments(state.organization_id, workspace_ids=[state.workspace_id])
        limits = state.limiter.limits
        return json_response(
            {
                "organizationId": state.organization_id,
                "workspaceId": state.workspace_id,
                "deploymentIds": [d.id for d in page.items],
                "organizationIds": [org.id for org in state.store.list_organizations()],
                "clock": _clock_json(state),
                "rateLimits": {
                    "enabled": limits.enabled,
                    "postPerSecond": limits.post_per_second,
                    "deletePerSecond": limits.delete_per_second,
                    "getPerSecond": limits.get_per_second,
                },
            }
        )

    async def add_fault(request: Request) -> Response:
        fault = state.faults.add(parse_fault(await _json(request)))
        return json_response(fault.to_json())

    async def list_faults(request: Request) -> Response:
        return json_response({"faults": [fault.to_json() for fault in state.faults.list()]})

    def _hold(request: Request) -> Any:
        fault = state.faults.hold(request.path_params["faultId"])
        if fault is None:
            raise ApiError(404, f"No hold fault {request.path_params['faultId']}")
        return fault

    async def get_hold(request: Request) -> Response:
        return json_response(_hold(request).to_json())

    async def release_hold(request: Request) -> Response:
        fault = _hold(request)
        body = await read_json(request, empty={})
        drop = body.get("drop", False) if isinstance(body, dict) else None
        if not isinstance(drop, bool):
            message = "drop must be true or false"
            raise ApiError.bad_request(message, FieldError("drop", "invalid", message))
        fault.dropped = drop
        fault.released.set()
        return json_response(fault.to_json())

    async def clear_faults(request: Request) -> Response:
        return json_response({"cleared": state.faults.clear()})

    async def start_chaos(request: Request) -> Response:
        return json_response(state.faults.set_chaos(parse_chaos(await _json(request))))

    async def get_chaos(request: Request) -> Response:
        return json_response(state.faults.chaos())

    async def stop_chaos(request: Request) -> Response:
        return json_response(state.faults.stop_chaos())

    async def pause_chaos(request: Request) -> Response:
        paused = state.faults.pause_chaos()
        if paused is None:
            raise ApiError(409, "No chaos to pause; start one with POST /_emulator/chaos")
        return json_response(paused)

    async def resume_chaos(request: Request) -> Response:
        resumed = state.faults.resume_chaos()
        if resumed is None:
            raise ApiError(409, "The chaos is not paused; pause it with POST /_emulator/chaos/pause first")
        return json_response(resumed)

    async def list_requests(request: Request) -> Response:
        token_id = request.query_params.get("tokenId")
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            message = "after must be a request's seq, a whole number"
            raise ApiError.bad_request(message, FieldError("after", "invalid", message))
        entries = [
            r.to_json()
            for r in state.requests.entries()
            if r.seq > int(after) and (token_id is None or r.tokenId == token_id)
        ]
        return json_response({"requests": entries})

    async def clear_requests(request: Request) -> Response:
        state.requests.clear()
        return Response(status_code=204)

    async def get_clock(request: Request) -> Response:
        return json_response(_clock_json(state))

    async def advance_clock(request: Request) -> Response:
        body = await _json(request)
        seconds = body.get("advanceSeconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            message = "advanceSeconds must be a number of at least 0"
            raise ApiError.bad_request(message, FieldError("advanceSeconds", "invalid", message))
        state.clock.advance(float(seconds))
        return json_response(_clock_json(state))

    async def list_all_tokens(request: Request) -> Response:
        organization_id = request.query_params.get("organizationId") or None
        tokens = state.store.list_tokens(organization_id).items
        return json_response(
            {
                "tokens": [
                    {**token_json(t), "organizationId": t.organization_id, "entityId": t.entity_id}
                    for t in tokens
                ]
            }
        )

    async def create_deployment(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            body = {}
        organization_id = body.pop("organizationId", None) or state.organization_id
        defaults = {"workspaceId": state.workspace_id, "type": "STANDARD"}
        if organization_id != state.organization_id:
            workspaces = state.store.list_workspaces(organization_id)
            if not workspaces:
                raise ApiError(404, f"Organization {organization_id} not found")
            defaults["workspaceId"] = workspaces[0].id
        request_model = validate(CreateDeploymentRequest, {**defaults, **body})
        try:
            deployment = state.service.create_deployment(
                organization_id,
                request_model,
                {"id": "emulator-control", "subjectType": "USER", "username": "control@emulator.local"},
            )
        except LookupError:
            raise ApiError(404, f"Workspace {request_model.workspaceId} not found") from None
        return json_response(deployment_json(deployment))

    async def delete_deployment(request: Request) -> Response:
        deployment_id = request.path_params["deploymentId"]
        for org in state.store.list_organizations():
            removed = state.store.delete_deployment(org.id, deployment_id)
            if removed is not None:
                return json_response({"deletedTokens": removed})
        raise ApiError(404, f"Deployment {deployment_id} not found")

    async def create_organization(request: Request) -> Response:
        body = await read_json(request, empty={})
        name = body.get("name") if isinstance(body, dict) else None
        info = state.service.create_organization(name or "Other Organization")
        return json_response(
            {
                "organizationId": info.organization_id,
                "workspaceId": info.workspace_id,
                "deploymentIds": info.deployment_ids,
                "apiToken": info.api_token,
            }
        )

    def _organization(request: Request) -> str:
        organization_id = str(request.path_params["organizationId"])
        if organization_id not in {org.id for org in state.store.list_organizations()}:
            raise ApiError(404, f"Organization {organization_id} not found")
        return organization_id

    async def get_deployment_roles(request: Request) -> Response:
        organization_id = _organization(request)
        return json_response({"organizationId": organization_id, "roles": state.store.deployment_roles(organization_id)})

    async def set_deployment_roles(request: Request) -> Response:
        organization_id = _organization(request)
        roles = state.store.set_deployment_roles(organization_id, _role_names(await _json(request)))
        return json_response({"organizationId": organization_id, "roles": roles})

    async def reset_rate_limits(request: Request) -> Response:
        state.limiter.reset()
        return Response(status_code=204)

    return [
        Route(f"{PREFIX}/state", get_state, methods=["GET"]),
        Route(f"{PREFIX}/faults", add_fault, methods=["POST"]),
        Route(f"{PREFIX}/faults", list_faults, methods=["GET"]),
        Route(f"{PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{PREFIX}/faults/{{faultId}}", get_hold, methods=["GET"]),
        Route(f"{PREFIX}/faults/{{faultId}}/release", release_hold, methods=["POST"]),
        Route(f"{PREFIX}/chaos", start_chaos, methods=["POST"]),
        Route(f"{PREFIX}/chaos", get_chaos, methods=["GET"]),
        Route(f"{PREFIX}/chaos", stop_chaos, methods=["DELETE"]),
        Route(f"{PREFIX}/chaos/pause", pause_chaos, methods=["POST"]),
        Route(f"{PREFIX}/chaos/resume", resume_chaos, methods=["POST"]),
        Route(f"{PREFIX}/requests", list_requests, methods=["GET"]),
        Route(f"{PREFIX}/requests", clear_requests, methods=["DELETE"]),
        Route(f"{PREFIX}/clock", get_clock, methods=["GET"]),
        Route(f"{PREFIX}/clock", advance_clock, methods=["POST"]),
        Route(f"{PREFIX}/tokens", list_all_tokens, methods=["GET"]),
        Route(f"{PREFIX}/deployments", create_deployment, methods=["POST"]),
        Route(f"{PREFIX}/deployments/{{deploymentId}}", delete_deployment, methods=["DELETE"]),
        Route(f"{PREFIX}/organizations", create_organization, methods=["POST"]),
        Route(f"{PREFIX}/organizations/{{organizationId}}/deployment-roles", get_deployment_roles, methods=["GET"]),
        Route(f"{PREFIX}/organizations/{{organizationId}}/deployment-roles", set_deployment_roles, methods=["PUT"]),
        Route(f"{PREFIX}/rate-limits/reset", reset_rate_limits, methods=["POST"]),
    ]
