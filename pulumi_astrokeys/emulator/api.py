"""The Astro API v1 routes the emulator serves: API tokens and Deployments.

Every route first authenticates the caller (401), applies its rate limit (429)
and checks the path's organization is the caller's (403). Then: a thing that
does not exist in the organization is 404, a thing the caller may not touch 403.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import Principal, authenticate
from .errors import ApiError, FieldError, json_bytes
from .models import (
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    WORKSPACE_ROLES,
    ApiTokenRoleRequest,
    CreateApiTokenRequest,
    CreateDeploymentRequest,
    UpdateApiTokenRequest,
    UpdateApiTokenRolesRequest,
    parse_body,
    validate,
)
from .state import CONTEXT_KEY, EmulatorState
from .store import DagRole, DeploymentRecord, Token, TokenFilter
from .views import deployment_json, subject_roles_json, token_json

__all__ = ["api_routes"]

BASE = "/v1/organizations/{organizationId}"
MAX_TOKEN_PAGE = 1000
DEFAULT_PAGE = 20
TOKEN_SORTS = frozenset(
    f"{key}:{direction}"
    for key in ("name", "description", "createdAt", "updatedAt", "tokenStartAt")
    for direction in ("asc", "desc")
)
DEPLOYMENT_SORTS = frozenset(
    f"{key}:{direction}" for key in ("name", "createdAt", "updatedAt") for direction in ("asc", "desc")
)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(json_bytes(payload), status_code=status, media_type="application/json")


MAX_BODY_BYTES = 1024 * 1024


async def read_json(request: Request, *, empty: Any = None) -> Any:
    """The request's JSON body: 413 past 1 MiB, 400 if it is not JSON.

    An empty body is a 400 unless ``empty`` gives the value to use instead.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
    if empty is not None and not raw.strip():
        return empty
    return parse_body(raw)


def _bad_query(name: str, message: str) -> ApiError:
    return ApiError.bad_request(f"{name}: {message}", FieldError(name, "invalid", message))


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_query(name, "must be an integer") from None
    if value < 0:
        raise _bad_query(name, "must be at least 0")
    if maximum is not None and value > maximum:
        raise _bad_query(name, f"must be at most {maximum}")
    return value


def bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() not in ("true", "false"):
        raise _bad_query(name, "must be true or false")
    return raw.lower() == "true"


def list_param(request: Request, name: str, *, split_commas: bool) -> list[str]:
    """A query array: repeated parameters (and, for ids, comma-separated values)."""
    values = request.query_params.getlist(name)
    if split_commas:
        values = [part for value in values for part in value.split(",")]
    return [value for value in values if value]


def sorts_param(request: Request, allowed: frozenset[str]) -> list[str]:
    sorts = list_param(request, "sorts", split_commas=True)
    for sort in sorts:
        if sort not in allowed:
            raise _bad_query("sorts", f"unsupported sort {sort!r}")
    return sorts


Handler = Callable[[Request, EmulatorState, Principal, str], Awaitable[Response]]


def endpoint(state: EmulatorState, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with authentication, rate limiting and the organization check."""

    async def run(request: Request) -> Response:
        principal = authenticate(
            state.store, request.headers.get("authorization"), state.service.now()
        )
        request.scope[CONTEXT_KEY].token_id = principal.token_id
        wait = state.limiter.acquire(principal.token_id, request.method)
        if wait is not None:
            raise ApiError(
                429,
                f"rate limit exceeded for {request.method} requests with this API token",
                headers={"Retry-After": str(wait)},
            )
        organization_id = request.path_params["organizationId"]
        principal.require_organization(organization_id)
        return await handler(request, state, principal, organization_id)

    run.__name__ = handler.__name__
    return run


def _not_found(what: str, identifier: str) -> ApiError:
    return ApiError(404, f"{what} {identifier} not found")


def _deployment_or_404(state: EmulatorState, organization_id: str, deployment_id: str) -> DeploymentRecord:
    deployment = state.store.get_deployment(organization_id, deployment_id)
    if deployment is None:
        raise _not_found("Deployment", deployment_id)
    return deployment


def _token_or_404(state: EmulatorState, organization_id: str, token_id: str) -> Token:
    token = state.store.get_token(organization_id, token_id)
    if token is None:
        raise _not_found("API token", token_id)
    return token


def _token_workspace(state: EmulatorState, token: Token) -> str | None:
    """The workspace a token's Deployment lives in (for permission checks)."""
    if token.scope == "DEPLOYMENT":
        deployment = state.store.get_deployment(token.organization_id, token.entity_id)
        return deployment.workspace_id if deployment else None
    if token.scope == "WORKSPACE":
        return token.entity_id
    return None


# -- tokens -------------------------------------------------------------------


async def list_tokens(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    offset = int_param(request, "offset", 0)
    limit = int_param(request, "limit", DEFAULT_PAGE, MAX_TOKEN_PAGE)
    sorts = sorts_param(request, TOKEN_SORTS)
    only_org = bool_param(request, "includeOnlyOrganizationTokens")
    kind = request.query_params.get("kind") or None
    if kind is not None and kind not in ("STANDARD", "DIRECT_ACCESS"):
        raise _bad_query("kind", "must be STANDARD or DIRECT_ACCESS")
    deployment = None
    deployment_id = request.query_params.get("deploymentId") or None
    if deployment_id is not None:
        deployment = _deployment_or_404(state, org, deployment_id)
    workspace_id = request.query_params.get("workspaceId") or None
    if workspace_id is not None and state.store.get_workspace(org, workspace_id) is None:
        raise _not_found("Workspace", workspace_id)
    caller.require(caller.may_list_tokens(workspace_id, deployment, only_org), "list these API tokens")
    page = state.store.list_tokens(
        org,
        TokenFilter(
            deployment_id=deployment_id,
            deployment_workspace_id=deployment.workspace_id if deployment else None,
            workspace_id=workspace_id,
            only_organization=only_org,
            kind=kind,
        ),
        sorts=sorts,
        offset=offset,
        limit=limit,
        # The API promises no order without `sorts`: newest first here, so that a client
        # that needs an order (oldest first, or a stable one to page through) must ask for it.
        newest_first=True,
    )
    return json_response(
        {
            "tokens": [token_json(token) for token in page.items],
            "limit": limit,
            "offset": offset,
            "totalCount": page.total,
        }
    )


async def create_token(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    body = validate(CreateApiTokenRequest, await read_json(request))
    body.check_role(state.store.deployment_roles(org))
    workspace_id: str | None = None
    if body.scope == "DEPLOYMENT":
        assert body.entityId is not None
        deployment = _deployment_or_404(state, org, body.entityId)
        entity_id, workspace_id = deployment.id, deployment.workspace_id
    elif body.scope == "WORKSPACE":
        assert body.entityId is not None
        if state.store.get_workspace(org, body.entityId) is None:
            raise _not_found("Workspace", body.entityId)
        entity_id = workspace_id = body.entityId
    else:
        entity_id = org
    caller.require(
        caller.may_manage_token(body.scope, entity_id, workspace_id), "create this API token"
    )
    token, value = state.service.create_token(
        org,
        name=body.name,
        description=body.description or "",
        scope=body.scope,
        entity_id=entity_id,
        role=body.role.strip(),
        kind=body.kind or "STANDARD",
        expiry_days=body.tokenExpiryPeriodInDays,
        actor=caller.profile(),
    )
    request.scope[CONTEXT_KEY].made_id = token.id
    return json_response(token_json(token, value))


async def get_token(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    token = _token_or_404(state, org, request.path_params["tokenId"])
    caller.require(caller.may_read_token(token, _token_workspace(state, token)), "read this API token")
    return json_response(token_json(token))


def _require_manage(state: EmulatorState, caller: Principal, token: Token, what: str) -> None:
    caller.require(
        caller.may_manage_token(token.scope, token.entity_id, _token_workspace(state, token)), what
    )


async def update_token(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    body = validate(UpdateApiTokenRequest, await read_json(request))
    token = _token_or_404(state, org, request.path_params["tokenId"])
    _require_manage(state, caller, token, "update this API token")
    updated = state.store.update_token(
        org,
        token.id,
        name=body.name,
        description=body.description,
        now=state.service.now(),
        updated_by=caller.profile(),
    )
    if updated is None:
        raise _not_found("API token", token.id)
    return json_response(token_json(updated))


def _roles_error(field: str, code: str, message: str) -> ApiError:
    return ApiError.bad_request(message, FieldError(field, code, message))


def _dag_role(state: EmulatorState, org: str, token: Token, entry: ApiTokenRoleRequest, field: str) -> DagRole:
    """A ``DAG`` or ``DAG_TAG`` entry of a roles request, checked: its Deployment exists and is in the
    token's reach, and its role is not a built-in role of another kind."""
    if not entry.deploymentId:
        raise _roles_error(
            f"{field}.deploymentId", "required", f"deploymentId is required when entityType is {entry.entityType}"
        )
    deployment = state.store.get_deployment(org, entry.deploymentId)
    if deployment is None:
        raise _roles_error(f"{field}.deploymentId", "not_found", f"Deployment {entry.deploymentId} not found")
    in_reach = (
        deployment.id == token.entity_id
        if token.scope == "DEPLOYMENT"
        else deployment.workspace_id == token.entity_id
        if token.scope == "WORKSPACE"
        else True
    )
    if not in_reach:
        raise _roles_error(
            f"{field}.deploymentId",
            "invalid",
            f"a {token.scope} API token can hold DAG roles only in its own {token.scope.lower()}'s Deployments",
        )
    role = entry.role.strip()
    if not role or role == DEPLOYMENT_ADMIN or role in ORGANIZATION_ROLES | WORKSPACE_ROLES:
        raise _roles_error(f"{field}.role", "oneof", f"role {role!r} is not a DAG role")
    return DagRole(entry.entityType, entry.entityId, deployment.id, role)


def _own_role(state: EmulatorState, token: Token, entry: ApiTokenRoleRequest, field: str) -> str:
    """The token's role on its own entity, checked as a create checks it."""
    probe = CreateApiTokenRequest.model_construct(
        name=token.name, scope=token.scope, entityId=token.entity_id, role=entry.role
    )
    try:
        probe.check_role(state.store.deployment_roles(token.organization_id))
    except ApiError as error:
        raise _roles_error(f"{field}.role", "oneof", error.message) from None
    return entry.role.strip()


async def update_token_roles(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    """``POST /tokens/{tokenId}/roles``: replace the token's whole role set, DAG roles included.

    The set must hold the token's role on its own entity, once; any number of ``DAG`` and
    ``DAG_TAG`` roles (one per DAG or tag and Deployment) may go with it. Roles on other
    entities are refused, as this emulator does not model them.
    """
    body = validate(UpdateApiTokenRolesRequest, await read_json(request))
    token = _token_or_404(state, org, request.path_params["tokenId"])
    _require_manage(state, caller, token, "update this API token's roles")
    own_role: str | None = None
    dag_roles: list[DagRole] = []
    for index, entry in enumerate(body.roles):
        field = f"roles.{index}"
        if entry.entityType in ("DAG", "DAG_TAG"):
            dag_role = _dag_role(state, org, token, entry, field)
            target = (dag_role.entity_type, dag_role.entity_id, dag_role.deployment_id)
            if any((r.entity_type, r.entity_id, r.deployment_id) == target for r in dag_roles):
                raise _roles_error(field, "unique", f"{entry.entityType} {entry.entityId!r} is given more than one role")
            dag_roles.append(dag_role)
        elif entry.entityType == token.scope and entry.entityId == token.entity_id:
            if own_role is not None:
                raise _roles_error(field, "unique", f"the token's {token.scope} role is given more than once")
            own_role = _own_role(state, token, entry, field)
        else:
            raise _roles_error(
                f"{field}.entityType",
                "oneof",
                f"a {token.scope} API token cannot hold a {entry.entityType} role on {entry.entityId}; give its "
                f"{token.scope} role on {token.entity_id} and DAG or DAG_TAG roles",
            )
    if own_role is None:
        message = f"roles must include the token's {token.scope} role on {token.entity_id}"
        raise _roles_error("roles", "required", message)
    updated = state.store.set_token_roles(
        org, token.id, role=own_role, dag_roles=dag_roles, now=state.service.now(), updated_by=caller.profile()
    )
    if updated is None:
        raise _not_found("API token", token.id)
    return json_response(subject_roles_json(updated))


async def rotate_token(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    token = _token_or_404(state, org, request.path_params["tokenId"])
    _require_manage(state, caller, token, "rotate this API token")
    rotated = state.service.rotate_token(org, token.id, caller.profile())
    if rotated is None:
        raise _not_found("API token", token.id)
    return json_response(token_json(*rotated))


async def delete_token(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    token = _token_or_404(state, org, request.path_params["tokenId"])
    _require_manage(state, caller, token, "delete this API token")
    if not state.store.delete_token(org, token.id):
        raise _not_found("API token", token.id)
    return Response(status_code=204)


# -- deployments --------------------------------------------------------------


def _narrow(requested: list[str], allowed: str | None) -> list[str] | None:
    """Intersect a filter with what the caller may see; ``None`` if nothing is left."""
    if allowed is None:
        return requested
    if requested and allowed not in requested:
        return None
    return [allowed]


async def list_deployments(
    request: Request, state: EmulatorState, caller: Principal, org: str
) -> Response:
    offset = int_param(request, "offset", 0)
    limit = int_param(request, "limit", DEFAULT_PAGE)
    sorts = sorts_param(request, DEPLOYMENT_SORTS)
    own_workspace, own_deployment = caller.deployment_list_scope()
    ids = _narrow(list_param(request, "deploymentIds", split_commas=True), own_deployment)
    workspace_ids = _narrow(list_param(request, "workspaceIds", split_commas=True), own_workspace)
    names = list_param(request, "names", split_commas=False)
    if ids is None or workspace_ids is None:
        items: list[DeploymentRecord] = []
        total = 0
    else:
        page = state.store.list_deployments(
            org,
            ids=ids,
            names=names,
            workspace_ids=workspace_ids,
            sorts=sorts,
            offset=offset,
            limit=limit,
        )
        items, total = page.items, page.total
    return json_response(
        {
            "deployments": [deployment_json(d) for d in items],
            "limit": limit,
            "offset": offset,
            "totalCount": total,
        }
    )


async def create_deployment(
    request: Request, state: EmulatorState, caller: Principal, org: str
) -> Response:
    body = validate(CreateDeploymentRequest, await read_json(request))
    body.check_variant()
    if state.store.get_workspace(org, body.workspaceId) is None:
        # The spec gives CreateDeployment no 404: an unknown workspace is bad input.
        message = f"Workspace {body.workspaceId} not found"
        raise ApiError.bad_request(message, FieldError("workspaceId", "not_found", message))
    caller.require(caller.may_manage_deployments_in(body.workspaceId), "create Deployments here")
    deployment = state.service.create_deployment(org, body, caller.profile())
    return json_response(deployment_json(deployment))


async def get_deployment(request: Request, state: EmulatorState, caller: Principal, org: str) -> Response:
    deployment = _deployment_or_404(state, org, request.path_params["deploymentId"])
    caller.require(caller.may_read_deployment(deployment), "read this Deployment")
    return json_response(deployment_json(deployment))


async def delete_deployment(
    request: Request, state: EmulatorState, caller: Principal, org: str
) -> Response:
    deployment = _deployment_or_404(state, org, request.path_params["deploymentId"])
    caller.require(
        caller.may_manage_deployments_in(deployment.workspace_id), "delete this Deployment"
    )
    if state.store.delete_deployment(org, deployment.id) is None:
        raise _not_found("Deployment", deployment.id)
    return Response(status_code=204)


def api_routes(state: EmulatorState) -> list[Route]:
    """The ``/v1`` routes, bound to a running emulator's state."""

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(BASE + path, endpoint(state, handler), methods=[method])

    return [
        route("/tokens", list_tokens, "GET"),
        route("/tokens", create_token, "POST"),
        route("/tokens/{tokenId}", get_token, "GET"),
        route("/tokens/{tokenId}", update_token, "POST"),
        route("/tokens/{tokenId}", delete_token, "DELETE"),
        route("/tokens/{tokenId}/rotate", rotate_token, "POST"),
        route("/tokens/{tokenId}/roles", update_token_roles, "POST"),
        route("/deployments", list_deployments, "GET"),
        route("/deployments", create_deployment, "POST"),
        route("/deployments/{deploymentId}", get_deployment, "GET"),
        route("/deployments/{deploymentId}", delete_deployment, "DELETE"),
    ]
