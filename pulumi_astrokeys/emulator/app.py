"""Assemble the ASGI app: Astro routes, control routes, JSON errors, outer middleware."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from .api import api_routes, json_response
from .control import control_routes
from .errors import ApiError, default_message, error_body
from .middleware import EmulatorMiddleware
from .state import CONTEXT_KEY, EmulatorState

__all__ = ["create_app"]

logger = logging.getLogger("pulumi_astrokeys.emulator")


def _request_id(request: Request) -> str:
    context = request.scope.get(CONTEXT_KEY)
    return context.request_id if context is not None else ""


def _error(request: Request, status: int, message: str, error: ApiError | None = None) -> Response:
    body = error_body(status, message, _request_id(request), error.field_errors if error else None)
    response = json_response(body, status)
    if error is not None:
        response.headers.update(error.headers)
    return response


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(request, exc.status, exc.message, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = exc.detail if exc.detail else default_message(status)
    response = _error(request, status, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    return _error(request, 500, "internal error in the emulator")


def create_app(state: EmulatorState) -> ASGIApp:
    """The emulator as an ASGI app, bound to ``state``."""
    app = Starlette(
        routes=[*api_routes(state), *control_routes(state)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    # A trailing slash is a different path, as on the real host: 404, not a redirect.
    app.router.redirect_slashes = False
    return EmulatorMiddleware(app, state)
