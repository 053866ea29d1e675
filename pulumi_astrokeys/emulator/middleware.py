"""The outermost layer: request ids, the request log, injected faults, last-resort 500s.

It sits outside Starlette, as raw ASGI, because dropping a connection needs the
server's transport. Under uvicorn the ``send`` callable an app receives is a
bound method of the connection's request/response cycle, whose ``transport``
can be aborted: the client then sees the connection close with no answer. On a
server without that, a drop degrades to a response cut off after its headers,
which a client also sees as a broken connection rather than an answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import uuid
from dataclasses import dataclass
from email.utils import format_datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import identify
from .clock import Clock
from .errors import default_message, error_body, json_bytes
from .faults import Fault
from .state import CONTEXT_KEY, EmulatorState, RequestContext

__all__ = ["EmulatorMiddleware", "CONTROL_PREFIX"]

CONTROL_PREFIX = "/_emulator"
logger = logging.getLogger("pulumi_astrokeys.emulator")


@dataclass
class _Outcome:
    status: int | None = None
    started: bool = False


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return True  # unix socket or in-process: not reachable from the network
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_error(
    send: Send, status: int, message: str, request_id: str, headers: dict[str, str] | None = None
) -> None:
    """Answer with the API's JSON error body."""
    body = json_bytes(error_body(status, message, request_id))
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def drop_connection(send: Send) -> None:
    """Close the client's connection without an answer."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and callable(getattr(transport, "abort", None)):
        transport.abort()
        # Let the server see the connection is gone before the app returns, so it
        # does not try to send its own 500 on the dead connection.
        for _ in range(50):
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0)
        return
    logger.warning("cannot reach the server's transport; cutting the response short instead")
    await send(
        {"type": "http.response.start", "status": 502, "headers": [(b"content-length", b"1048576")]}
    )
    await send({"type": "http.response.body", "body": b"", "more_body": True})


class EmulatorMiddleware:
    """Wraps the Starlette app; see the module docstring."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id=str(uuid.uuid4()))
        scope[CONTEXT_KEY] = context
        path: str = scope["path"]
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            tagged = self._tagged(send, context, _Outcome(), self.state.clock)
            if not _is_loopback(scope):
                await send_error(tagged, 403, "the control surface answers loopback clients only", context.request_id)
                return
            await self._guarded(scope, receive, tagged, context)
            return
        await self._astro(scope, receive, send, context)

    async def _astro(self, scope: Scope, receive: Receive, send: Send, context: RequestContext) -> None:
        method: str = scope["method"]
        fault = self.state.faults.take(method, scope["path"])
        if fault is not None:
            context.token_id = identify(self.state.store, _header(scope, b"authorization"))
        outcome = _Outcome()
        tagged = self._tagged(send, context, outcome, self.state.clock)
        try:
            await self._apply(fault, scope, receive, send, tagged, context, outcome)
        finally:
            self._log(scope, context, outcome, fault)

    async def _apply(
        self,
        fault: Fault | None,
        scope: Scope,
        receive: Receive,
        send: Send,
        tagged: Send,
        context: RequestContext,
        outcome: _Outcome,
    ) -> None:
        if fault is None:
            await self._guarded(scope, receive, tagged, context)
        elif fault.action == "status":
            status = fault.status or 503
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            message = fault.message or default_message(status)
            await send_error(tagged, status, message, context.request_id, headers)
        elif fault.action == "drop":
            await drop_connection(send)
        elif fault.action == "delay":
            await asyncio.sleep(fault.delay_seconds)
            await self._guarded(scope, receive, tagged, context)
        elif fault.action == "commit-then-drop":
            await self._guarded(scope, receive, self._dropping(send, outcome), context)
        elif fault.action == "commit-then-delay":
            await self._guarded(scope, receive, self._delaying(tagged, fault.delay_seconds), context)
        elif fault.action == "commit-then-garble":
            await self._guarded(scope, receive, self._garbling(tagged), context)
        elif fault.action == "delay-then-commit":
            replay = await self._buffered(receive)
            await asyncio.sleep(fault.delay_seconds)
            await self._guarded(scope, replay, tagged, context)
        elif fault.action == "hold":
            replay = await self._buffered(receive)
            await self._held(fault)
            if fault.dropped:
                await drop_connection(send)
            else:
                await self._guarded(scope, replay, tagged, context)
        elif fault.action == "commit-then-hold":
            await self._guarded(scope, receive, self._holding(tagged, fault), context)
        else:  # pragma: no cover - parse_fault admits only the actions above
            raise ValueError(fault.action)

    @staticmethod
    def _tagged(send: Send, context: RequestContext, outcome: _Outcome, clock: Clock) -> Send:
        """``send`` that stamps ``X-Request-Id`` and the emulator clock's ``Date`` on the answer,
        and notes its status. Clients compare token timestamps with ``Date``, so both follow
        the same (movable) clock."""

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
                outcome.started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"x-request-id", b"date")]
                headers.append((b"x-request-id", context.request_id.encode()))
                headers.append((b"date", format_datetime(clock.now(), usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        return tagged

    @staticmethod
    def _dropping(send: Send, outcome: _Outcome) -> Send:
        """``send`` that lets the work finish, then drops the connection instead of answering."""

        async def dropping(message: Message) -> None:
            if message["type"] == "http.response.start" and not outcome.started:
                outcome.status = message["status"]
                outcome.started = True
                await drop_connection(send)

        return dropping

    @staticmethod
    def _delaying(send: Send, seconds: float) -> Send:
        """``send`` that holds the (already committed) answer back for ``seconds``."""

        async def delaying(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(seconds)
            await send(message)

        return delaying

    @staticmethod
    async def _held(fault: Fault) -> None:
        """Wait until the test releases ``fault`` (or its longest hold has passed)."""
        fault.held += 1
        try:
            deadline = asyncio.get_running_loop().time() + fault.delay_seconds
            while not fault.released.is_set() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            fault.held -= 1

    @classmethod
    def _holding(cls, send: Send, fault: Fault) -> Send:
        """``send`` that holds the (already committed) answer back until the fault is released."""

        async def holding(message: Message) -> None:
            if message["type"] == "http.response.start":
                await cls._held(fault)
            if fault.dropped:
                if message["type"] == "http.response.start":
                    await drop_connection(send)
                return
            await send(message)

        return holding

    @staticmethod
    def _garbling(send: Send) -> Send:
        """``send`` that lets the work finish, then answers with the first half of the body only."""
        start: Message = {}
        body = b""

        async def garbling(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            body += message.get("body", b"")
            if message.get("more_body", False):
                return
            cut = body[: len(body) // 2]
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(cut)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": cut})

        return garbling

    @staticmethod
    async def _buffered(receive: Receive) -> Receive:
        """Read the whole request body now; the app then reads it from memory, whether or not the client stays."""
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()

        return replay

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, context: RequestContext) -> None:
        """Run the app; whatever escapes becomes a JSON 500, never a traceback page."""
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception:
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if not started:
                await send_error(send, 500, "internal error in the emulator", context.request_id)

    def _log(self, scope: Scope, context: RequestContext, outcome: _Outcome, fault: Fault | None) -> None:
        moment = self.state.clock.now()
        query = scope.get("query_string", b"").decode("latin-1")
        self.state.requests.append(
            method=scope["method"],
            path=scope["path"],
            query=query,
            status=outcome.status,
            tokenId=context.token_id,
            fault=fault.action if fault else None,
            at=moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            requestId=context.request_id,
            madeId=context.made_id,
        )
        logger.info(
            "%s %s -> %s token=%s%s",
            scope["method"],
            scope["path"],
            outcome.status if outcome.status is not None else "dropped",
            context.token_id or "-",
            f" fault={fault.action}" if fault else "",
        )
