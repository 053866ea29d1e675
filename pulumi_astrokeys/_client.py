"""The Astro API v1 client: typed calls, retries, pacing and error mapping.

One connection pool per proxy serves the whole process (Pulumi runs provider calls on
several threads at once); each request carries its own deadline and the
``Authorization`` header of its settings, so one pool can serve clients with
different tokens.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Final, Optional, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception

from ._errors import (
    AmbiguousCreateError,
    APIStatusError,
    AstroAPIError,
    DecodingError,
    ForbiddenError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    describe_reason,
)
from ._models import ApiErrorBody, ApiToken, ApiTokenRole, ApiTokensPage, Deployment, SubjectRoles
from ._ratelimit import RateLimiter, fingerprint
from ._settings import AstroSettings, RequestSettings, resolve_request_settings, resolve_settings
from ._transport import DeadlineTransport, proxy_for, request_deadline
from ._version import __version__

__all__ = ["PROCESS_RATE_LIMITER", "AstroClient", "RetryPolicy", "decode"]

logger = logging.getLogger("pulumi_astrokeys")

USER_AGENT = f"pulumi-astrokeys/{__version__} httpx/{httpx.__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_RETRYABLE_STATUSES = frozenset({502, 503, 504})
# Even a policy without backoff waits a little, so a step retried for a time budget cannot spin.
_LEAST_BACKOFF = 0.01
# A pacing wait at least this long is reported: shorter ones are the normal rhythm of a big up.
_NOTEWORTHY_WAIT = 1.0
_IDEMPOTENT_METHODS = frozenset({"GET", "DELETE"})
# Connection failures where the request never left this machine: safe to retry for any method.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before it gives up on a request, and how long it waits between tries.

    The client's requests and the clean-up's steps both follow it: :meth:`may_pass` says
    which errors are worth another try, :meth:`wait_before` how long to wait first.
    ``max_attempts`` counts the attempts that failed; a 429 is no failure but the API's "not
    done, come back later" (another client may be using the same API token), so the client
    waits out each one and tries again for as long as ``max_elapsed`` lasts, however many
    there are.
    """

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    max_elapsed: float = 120.0

    def may_pass(self, error: BaseException, *, idempotent: bool, seconds_left: float, outlast: bool = False) -> bool:
        """Whether ``error`` may pass if the request (or step) is tried again.

        A 429 may, when its ``Retry-After`` fits in ``seconds_left``; so may a connection
        failure, unless the create it cut off may have been made (an ambiguous create); a
        502, 503 or 504 may, for an ``idempotent`` request. A step that must ``outlast`` a
        failing server (an idempotent clean-up, where giving up leaves a key behind) also
        counts any 5xx and any failure without a refusal (an answer that is not the API's, a
        listing that kept changing) as passing. Any other refusal is definite.
        """
        if isinstance(error, RateLimitedError):
            return error.retry_after is None or error.retry_after < seconds_left
        if isinstance(error, ServerError):
            return idempotent and (outlast or error.status_code in _RETRYABLE_STATUSES)
        if isinstance(error, APIStatusError):
            return False
        if outlast:
            return isinstance(error, AstroAPIError)
        return isinstance(error, NetworkError) and not isinstance(error, AmbiguousCreateError)

    def wait_before(self, attempt: int, error: Optional[BaseException], seconds_left: float = math.inf) -> float:
        """Seconds to wait before try ``attempt + 1``: exponential from ``initial_backoff`` up to
        ``max_backoff``, with full jitter; a ``Retry-After`` is a floor; never past ``seconds_left``."""
        backoff = min(self.max_backoff, max(self.initial_backoff, _LEAST_BACKOFF) * 2 ** (attempt - 1))
        wait = random.uniform(0, backoff)
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return max(0.0, min(wait, seconds_left))


TOKEN_ORDER: tuple[str, ...] = ("createdAt:asc", "name:asc", "description:asc")
"""The order the token listing asks for (the API's ``sorts``): oldest first. Without one the
API promises no order, and pages by offset need a stable one."""
TOKEN_PAGE = 100
_LISTING_ATTEMPTS = 5

_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)


class _ProcessRateLimiter:
    """The default of :class:`AstroClient`'s ``rate_limits``: the process's one limiter."""

    def __repr__(self) -> str:
        return "the process's rate limiter"


PROCESS_RATE_LIMITER: Final = _ProcessRateLimiter()
"""Pace on the limiter every client of the process shares (:mod:`pulumi_astrokeys._runtime`):
Astro counts requests per API token, however many clients send them."""


def _new_http_client(transport: httpx.BaseTransport) -> httpx.Client:
    # The proxy, if any, is the transport's: the environment's proxies were resolved for the host already.
    return httpx.Client(
        transport=transport,
        timeout=DEFAULT_TIMEOUT,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        trust_env=False,
    )


def _retry_policy(request: RequestSettings) -> RetryPolicy:
    policy = RetryPolicy()
    if request.max_retries is not None:
        policy = replace(policy, max_attempts=request.max_retries + 1)
    if request.retry_backoff is not None:
        policy = replace(
            policy, initial_backoff=request.retry_backoff, max_backoff=max(policy.max_backoff, request.retry_backoff)
        )
    return policy


def _timeout(request: RequestSettings) -> httpx.Timeout:
    if request.request_timeout is None:
        return DEFAULT_TIMEOUT
    return httpx.Timeout(request.request_timeout, connect=min(request.request_timeout, 10.0))


class AstroClient:
    """A typed client for the parts of the Astro API v1 that manage Deployment API tokens.

    >>> client = AstroClient(resolve_settings())
    >>> token = client.create_deployment_token(deployment_id, name="ci")
    >>> token.token.get_secret_value()  # the secret, shown only once

    The client owns its connection pool, as an ``httpx.Client`` does: close it with
    :meth:`close` or use the client as a context manager. ``http_client`` brings an
    ``httpx.Client`` of the caller's instead (the caller closes it), and ``transport`` swaps
    the HTTP transport of the client's own (tests inject faults with it). ``rate_limits`` is
    the client-side pacing: :data:`PROCESS_RATE_LIMITER` (the default, shared by every client
    of the process), a :class:`RateLimiter` of the caller's, a mapping of requests per second
    by method for a limiter of this client's own, or ``None`` for none. ``timeout`` bounds
    each request as a whole (its ``read`` value is the deadline from the first byte sent to
    the last byte of the answer), not only each read; the deadline needs the client's own
    transport. The environment's proxies apply, except to a loopback host, which is always
    reached directly.
    """

    def __init__(
        self,
        settings: AstroSettings,
        *,
        http_client: Optional[httpx.Client] = None,
        transport: Optional[httpx.BaseTransport] = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        rate_limits: RateLimiter | Mapping[str, float] | _ProcessRateLimiter | None = PROCESS_RATE_LIMITER,
    ) -> None:
        if http_client is not None and transport is not None:
            raise TypeError("give AstroClient an http_client or a transport, not both")
        self.settings = settings
        self._owns_http = http_client is None
        self._http = http_client or _new_http_client(
            transport or DeadlineTransport(proxy=proxy_for(settings.host), limits=_LIMITS)
        )
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._retry = retry
        if isinstance(rate_limits, _ProcessRateLimiter):
            from ._runtime import runtime

            rate_limits = runtime.rate_limiter
        self._limiter: Optional[RateLimiter] = (
            rate_limits
            if rate_limits is None or isinstance(rate_limits, RateLimiter)
            else RateLimiter(rate_limits)
        )
        # Computed once: the limiter keys its buckets by the token's digest, never the token.
        self._pacing_key = fingerprint(settings.api_token.get_secret_value())
        self._server_clock_offset: Optional[float] = None
        self._last_date: tuple[str, float] = ("", 0.0)  # a Date header and its time, parsed once a second
        # Parsed once: every request's log line and error name the path under it.
        self._organization_path = httpx.URL(settings.organization_url).path

    @classmethod
    def from_config(
        cls,
        config: Optional[Mapping[str, Any]] = None,
        *,
        environ: Optional[Mapping[str, str]] = None,
        host: Optional[str] = None,
        api_token: Optional[str] = None,
        organization_id: Optional[str] = None,
        stack_config: bool = True,
        **options: Any,
    ) -> AstroClient:
        """A client for the settings the provider, the lookups and ``astrokeys audit`` all use.

        Connection settings come from the arguments, then ``config`` (full stack config keys,
        ``astrokeys:apiToken``), then the environment; the retries, backoff and request
        timeout from ``config``, then the environment (``astrokeys:maxRetries``, ...).
        ``options`` go to the constructor (``transport``, ``rate_limits``). Raises
        :class:`ConfigurationError` naming the setting when one is missing or invalid (the
        environment variable alone with ``stack_config=False``, for a caller that reads none).
        """
        explicit = {"host": host, "api_token": api_token, "organization_id": organization_id}
        settings = resolve_settings(**explicit, config=config, environ=environ, stack_config=stack_config)
        request = resolve_request_settings(config=config, environ=environ)
        return cls(settings, retry=_retry_policy(request), timeout=_timeout(request), **options)

    @property
    def retry_policy(self) -> RetryPolicy:
        """How hard this client tries before it gives up on a request."""
        return self._retry

    @property
    def request_timeout(self) -> Optional[float]:
        """The seconds one request may take as a whole (``None``: no limit)."""
        return self._timeout.read

    def server_time(self) -> datetime:
        """The API server's current time, estimated from the ``Date`` of its latest answer.

        Used to tell tokens created by a request from older ones without trusting this
        machine's clock. Falls back to the local clock before the first answer.
        """
        return self.answered_time() or datetime.now(timezone.utc)

    def answered_time(self) -> Optional[datetime]:
        """The API server's current time from the ``Date`` of its latest answer; ``None`` before any."""
        if self._server_clock_offset is None:
            return None
        return datetime.now(timezone.utc) + timedelta(seconds=self._server_clock_offset)

    def __repr__(self) -> str:
        return f"AstroClient(host={self.settings.host!r}, organization_id={self.settings.organization_id!r})"

    def close(self) -> None:
        """Close the client's connection pool (not an ``http_client`` the caller brought)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AstroClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- Deployments -----------------------------------------------------------------

    def get_deployment(self, deployment_id: str) -> Deployment:
        """Fetch one Deployment. Raises :class:`NotFoundError` when it does not exist."""
        response = self._request("GET", f"/deployments/{deployment_id}")
        return decode(Deployment, response)

    # -- Tokens ----------------------------------------------------------------------

    def create_deployment_token(
        self,
        deployment_id: str,
        *,
        name: str,
        description: Optional[str] = None,
        role: str = "DEPLOYMENT_ADMIN",
        expiry_period_in_days: Optional[int] = None,
        kind: Optional[str] = None,
    ) -> ApiToken:
        """Create a Deployment API token. The answer is the only one that carries its secret.

        A create is never retried once it may have reached the server: if no answer
        arrives, or one that is not the documented JSON (a proxy's page, a body cut
        short), :class:`AmbiguousCreateError` says the token may or may not exist.
        """
        body: dict[str, Any] = {
            "name": name,
            "scope": "DEPLOYMENT",
            "entityId": deployment_id,
            "role": role,
        }
        if description:
            body["description"] = description
        if expiry_period_in_days is not None:
            body["tokenExpiryPeriodInDays"] = expiry_period_in_days
        if kind is not None:
            body["kind"] = kind
        response = self._request("POST", "/tokens", json=body)
        try:
            return decode(ApiToken, response)
        except AstroAPIError as error:
            raise AmbiguousCreateError(
                f"{error}, so the token it may have created is unknown", method=error.method, path=error.path
            ) from None

    def update_token(self, token_id: str, *, name: str, description: str) -> None:
        """Set a token's name and description. Idempotent, so retried like a GET."""
        self._request("POST", f"/tokens/{token_id}", json={"name": name, "description": description}, idempotent=True)

    def set_token_roles(self, token_id: str, roles: Sequence[ApiTokenRole]) -> SubjectRoles:
        """Replace every role of a token (``POST /tokens/{tokenId}/roles``), DAG roles included.

        The set is replaced whole, so a Deployment token's own Deployment role must be in
        ``roles`` too. Idempotent, so retried like a GET.
        """
        body = {"roles": [role.model_dump(by_alias=True, exclude_none=True) for role in roles]}
        response = self._request("POST", f"/tokens/{token_id}/roles", json=body, idempotent=True)
        return decode(SubjectRoles, response)

    def get_token(self, token_id: str) -> ApiToken:
        """Fetch one token's metadata (never its secret)."""
        response = self._request("GET", f"/tokens/{token_id}")
        return decode(ApiToken, response)

    def iter_deployment_tokens(self, deployment_id: str, *, page_size: int = TOKEN_PAGE) -> Iterator[ApiToken]:
        """Every token with a role on the Deployment, oldest first (see :meth:`list_tokens_on`)."""
        return iter(self.list_tokens_on(deployment_id, page_size=page_size))

    def list_tokens_on(self, deployment_id: str, *, page_size: int = TOKEN_PAGE) -> list[ApiToken]:
        """Every token with a role on the Deployment, oldest first, collected whole before it is returned.

        The API includes organization and workspace tokens with a role on the
        Deployment; :meth:`list_deployment_tokens` keeps only the Deployment's own.
        Pages are asked in :data:`TOKEN_ORDER` and overlap by one token: when the token
        that ended a page does not begin the next one, someone deleted (or renamed) a
        token between the two pages, so an offset no longer means what it did, and the
        listing starts over (at most :data:`_LISTING_ATTEMPTS` times).
        """
        if page_size < 2:
            raise ValueError("page_size must be at least 2: pages overlap by one token")
        for _ in range(_LISTING_ATTEMPTS):
            listed = self._tokens_in_one_pass(deployment_id, page_size)
            if listed is not None:
                return listed
            logger.info("the tokens of Deployment %s changed while they were listed; listing them again", deployment_id)
        raise AstroAPIError(
            f"GET /tokens of Deployment {deployment_id}: its tokens changed under every one of {_LISTING_ATTEMPTS} "
            "listings, so no complete listing could be had",
            method="GET",
            path="/tokens",
        )

    def _tokens_in_one_pass(self, deployment_id: str, page_size: int) -> Optional[list[ApiToken]]:
        """One pass over the pages; ``None`` when they no longer join (the listing shifted)."""
        listed: list[ApiToken] = []
        offset = 0
        while True:
            params = {"deploymentId": deployment_id, "offset": offset, "limit": page_size, "sorts": list(TOKEN_ORDER)}
            page = decode(ApiTokensPage, self._request("GET", "/tokens", params=params))
            fresh = page.tokens
            if listed:
                if not fresh or fresh[0].id != listed[-1].id:
                    return None
                fresh = fresh[1:]
            listed.extend(fresh)
            if not fresh or offset + len(page.tokens) >= page.total_count:
                return listed
            offset += len(page.tokens) - 1

    def list_deployment_tokens(self, deployment_id: str, *, page_size: int = TOKEN_PAGE) -> list[ApiToken]:
        """The Deployment API tokens (``scope: DEPLOYMENT``) of one Deployment, oldest first."""
        return [
            token
            for token in self.list_tokens_on(deployment_id, page_size=page_size)
            if token.is_scoped_to_deployment(deployment_id)
        ]

    def delete_token(self, token_id: str) -> None:
        """Delete a token. A 404 after a retried attempt counts as done (the earlier attempt deleted it)."""
        self._request("DELETE", f"/tokens/{token_id}", not_found_after_retry_is_success=True)

    # -- Transport -------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Optional[dict[str, Any]] = None,
        params: Optional[dict[str, Any]] = None,
        not_found_after_retry_is_success: bool = False,
        idempotent: bool = False,
    ) -> httpx.Response:
        idempotent = idempotent or method in _IDEMPOTENT_METHODS
        url = self.settings.organization_url + path
        display_path = self._organization_path + path
        attempts = 0
        rate_limited = 0
        started = time.monotonic()

        policy = self._retry

        def seconds_left() -> float:
            return policy.max_elapsed - (time.monotonic() - started)

        def out_of_attempts_or_time(state: RetryCallState) -> bool:
            # A 429 is a definite "not done, come back later", not a failed attempt: under a
            # token shared with other clients a request may meet any number of them in a row,
            # so only the time budget bounds them.
            return state.attempt_number - rate_limited >= policy.max_attempts or seconds_left() <= 0

        # A Retry-After past the time budget cannot be honoured within it: may_pass says no
        # rather than sleep it out (the stop only looks at the time spent).
        retrying = Retrying(
            stop=out_of_attempts_or_time,
            wait=lambda state: policy.wait_before(state.attempt_number, _error_of(state), seconds_left()),
            retry=retry_if_exception(
                lambda error: policy.may_pass(error, idempotent=idempotent, seconds_left=seconds_left())
            ),
            before_sleep=_say_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                attempts += 1
                try:
                    return self._send_once(
                        method, url, display_path, json=json, params=params, attempt=attempts, idempotent=idempotent
                    )
                except RateLimitedError:
                    rate_limited += 1
                    raise
                except NotFoundError:
                    if not_found_after_retry_is_success and attempts > 1:
                        logger.debug("%s %s: 404 after a retried attempt, counted as done", method, display_path)
                        return httpx.Response(204)
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        url: str,
        display_path: str,
        *,
        json: Optional[dict[str, Any]],
        params: Optional[dict[str, Any]],
        attempt: int,
        idempotent: bool,
    ) -> httpx.Response:
        if self._limiter is not None:
            waited = self._limiter.wait(self._pacing_key, method)
            if waited >= _NOTEWORTHY_WAIT:
                logger.info("waited %.1f s to stay under the Astro API's rate limit for %s requests", waited, method)
        started = time.monotonic()
        try:
            with request_deadline(self._timeout.read):
                response = self._http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {self.settings.api_token.get_secret_value()}"},
                    timeout=self._timeout,
                )
        except _NOT_SENT_ERRORS as exc:
            raise NetworkError(
                f"{method} {display_path} failed: could not connect to {self.settings.host} ({type(exc).__name__})",
                method=method,
                path=display_path,
            ) from None
        except httpx.TransportError as exc:
            error_type = NetworkError if idempotent else AmbiguousCreateError
            raise error_type(
                f"{method} {display_path} failed: no answer from {self.settings.host} ({type(exc).__name__})",
                method=method,
                path=display_path,
            ) from None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (attempt %d, %.0f ms, requestId=%s)",
                method,
                display_path,
                response.status_code,
                attempt,
                (time.monotonic() - started) * 1000,
                response.headers.get("X-Request-Id", "-"),
            )
        self._note_server_date(response.headers.get("Date"))
        if response.is_success:
            return response
        raise _error_from_response(method, display_path, response)

    def _note_server_date(self, header: Optional[str]) -> None:
        if not header:
            return
        last_header, server_now = self._last_date
        if header != last_header:
            try:
                server_now = parsedate_to_datetime(header).timestamp()
            except (TypeError, ValueError):
                return
            self._last_date = (header, server_now)
        # The header has whole seconds: assume the middle of that second.
        self._server_clock_offset = server_now + 0.5 - time.time()



def _error_of(state: RetryCallState) -> Optional[BaseException]:
    return state.outcome.exception() if state.outcome else None


def _say_retry(state: RetryCallState) -> None:
    """Say that a request is tried again, once the wait before it is sure to happen.

    Tenacity computes the wait before it checks whether to stop, so saying it there would
    announce a last attempt that never comes. A retry is worth seeing in Pulumi's output:
    a minute of silence looks like a hang.
    """
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    error = _error_of(state)
    logger.info("retrying in %.1f s (attempt %d) after: %s", wait, state.attempt_number + 1, error)


_Model = TypeVar("_Model", bound=BaseModel)


def decode(model: type[_Model], response: httpx.Response) -> _Model:
    """Parse a success answer; one that is not the documented JSON (a proxy's page, say) is an API error."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        request = response.request
        # The failure sentence asks the user to quote the requestId to support: give it.
        request_id = response.headers.get("X-Request-Id")
        problems = _field_problems(error)
        raise DecodingError(
            f"{request.method} {request.url.path} answered {response.status_code} with a body that is not "
            f"the API's {model.__name__} JSON"
            + (f": {problems}" if problems else "")
            + f" (Content-Type {response.headers.get('Content-Type', 'none')})"
            + (f" [requestId {request_id}]" if request_id else ""),
            method=request.method,
            path=request.url.path,
        ) from None


def _field_problems(error: ValidationError) -> str:
    """Which fields of an answer are wrong, and how, as one clause; never their values (one may be a secret)."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        if not problem["loc"]:
            continue  # the body as a whole: not JSON at all
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]).lstrip(".")
        context = problem.get("ctx") or {}
        if problem["type"] == "value_error" and "error" in context:
            problems.append(f"its {where} {context['error']}")
        else:
            problems.append(f"its {where}: {problem['msg']}")
    return ", ".join(dict.fromkeys(problems))


# 400 and 429 carry more than a message (field errors, Retry-After): built apart, below.
_STATUS_ERRORS: Mapping[int, type[APIStatusError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
}


def _error_from_response(method: str, path: str, response: httpx.Response) -> APIStatusError:
    """Map an error answer onto the exception hierarchy, keeping the API's message and request ID."""
    try:
        body = ApiErrorBody.model_validate(response.json())
        api_message, request_id, field_errors = body.message, body.request_id, body.field_errors
    except ValueError:
        api_message, request_id, field_errors = "", None, []
    request_id = request_id or response.headers.get("X-Request-Id")
    errors = list(field_errors)
    reason = response.reason_phrase or "error"
    message = f"{method} {path} failed with {response.status_code} {reason}"
    said = describe_reason("" if api_message == reason else api_message, errors)
    if said:
        message += f": {said}"
    if request_id:
        message += f" [requestId {request_id}]"

    common: dict[str, Any] = {
        "method": method,
        "path": path,
        "status_code": response.status_code,
        "api_message": api_message,
        "request_id": request_id,
    }
    status = response.status_code
    if status == 400:
        return InvalidRequestError(message, field_errors=errors, **common)
    if status == 429:
        retry_after = _parse_retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))
        return RateLimitedError(message, retry_after=retry_after, **common)
    if status >= 500:
        return ServerError(message, **common)
    return _STATUS_ERRORS.get(status, APIStatusError)(message, **common)


def _parse_retry_after(value: Optional[str], date: Optional[str] = None) -> Optional[float]:
    """Seconds to wait, from delay-seconds or an HTTP-date (counted from the answer's ``Date``).

    A value that is neither, or not finite, is ignored: the client backs off as usual.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        retry_at = _parse_http_date(value)
        if retry_at is None:
            return None
        sent_at = _parse_http_date(date) or datetime.now(timezone.utc)
        seconds = (retry_at - sent_at).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _parse_http_date(value: Optional[str]) -> Optional[datetime]:
    try:
        parsed = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
