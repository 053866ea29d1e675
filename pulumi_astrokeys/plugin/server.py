"""Serve the provider over gRPC: the SDK's servicer, each call on a thread of its own, each failure of a key as one sentence.

The core is blocking (one HTTP request after another, pacing waits), like the dynamic
provider's, so the plugin is served the way ``pulumi.dynamic`` serves it: a synchronous
gRPC server whose pool of threads runs each call from start to end, so that a call
waiting on the API holds up no other. The SDK's servicer and the provider's methods are
coroutines that never wait on anything but the provider's work (:class:`_CallsToTheEnd`
runs each to its end on the call's thread); there is no event loop to hand each step to
and back from, a hand-over that cost a call up to 0.3 ms at loopback speed.

The SDK's :class:`~pulumi.provider.experimental.server.ProviderServicer` answers every
exception of a provider method with the exception's text followed by its Python stack,
which the engine shows the user verbatim (``Unexpected <class 'Exception'>: ...: File
...``). A failure of this package is one sentence, so :class:`OneSentenceServicer`
answers the engine with that sentence alone; anything else (a bug) keeps the SDK's
answer, stack included. Otherwise the server is the SDK's ``main``: the engine's address
as the one argument, the port on stdout.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, TypeVar, cast

import grpc
from pulumi.provider.experimental.provider import Provider
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2_grpc

from .._errors import KeyOperationError

__all__ = ["OneSentenceServicer", "delete_first_autonaming", "engine_address", "serve"]

_Handler = Callable[[Any, Any], Awaitable[Any]]
_T = TypeVar("_T")

# The engine sends its calls all at once (its parallelism is unbounded by default) and most of
# them wait on the API's rate limits; more threads than this queue their calls.
CALLS_AT_ONCE = 64


async def _one_sentence(handler: _Handler, request: Any, context: grpc.ServicerContext) -> Any:
    try:
        return await handler(request, context)
    except Exception as error:
        # The SDK re-raises a provider's exception as a new one with its stack appended; the
        # provider's own is the new one's context.
        cause = error.__context__ if not isinstance(error, KeyOperationError) else error
        if isinstance(cause, KeyOperationError):
            context.abort(grpc.StatusCode.UNKNOWN, str(cause))
        raise


class OneSentenceServicer(ProviderServicer):
    """The SDK's servicer; a :class:`~pulumi_astrokeys._errors.KeyOperationError` reaches the engine as its sentence."""

    async def Configure(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's method names)
        # Declared so the engine says, at each Check, when pulumi:autonaming fixes a key's name.
        response = await super().Configure(request, context)
        response.supports_autonaming_configuration = True
        return response

    async def Check(self, request: Any, context: Any) -> Any:  # noqa: N802
        refusal = delete_first_autonaming(request)
        if refusal is not None:
            context.abort(grpc.StatusCode.UNKNOWN, refusal)
        return await _one_sentence(super().Check, request, context)

    async def Diff(self, request: Any, context: Any) -> Any:  # noqa: N802
        return await _one_sentence(super().Diff, request, context)

    async def Create(self, request: Any, context: Any) -> Any:  # noqa: N802
        return await _one_sentence(super().Create, request, context)

    async def Read(self, request: Any, context: Any) -> Any:  # noqa: N802
        return await _one_sentence(super().Read, request, context)

    async def Update(self, request: Any, context: Any) -> Any:  # noqa: N802
        return await _one_sentence(super().Update, request, context)

    async def Delete(self, request: Any, context: Any) -> Any:  # noqa: N802
        return await _one_sentence(super().Delete, request, context)


def _to_the_end(call: Coroutine[Any, Any, _T]) -> _T:
    """The result of ``call``, run on this thread; it may wait on nothing but the provider's work."""
    try:
        call.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    call.close()
    raise RuntimeError("a provider call waited on an event loop; this server runs each call on a thread, with none")


class _CallsToTheEnd:
    """The servicer's methods as the synchronous server calls them: a coroutine's run to its end on the call's thread."""

    def __init__(self, servicer: ProviderServicer) -> None:
        self._servicer = servicer

    def __getattr__(self, name: str) -> Callable[[Any, Any], Any]:
        method = getattr(self._servicer, name)

        def call(request: Any, context: Any) -> Any:
            answer = method(request, context)
            return _to_the_end(answer) if inspect.iscoroutine(answer) else answer

        return call


def delete_first_autonaming(request: Any) -> Optional[str]:
    """The refusal of a Check whose ``pulumi:autonaming`` makes the engine replace keys delete-first, or ``None``.

    The engine replaces a resource delete-first whenever the stack's autonaming gives it a
    name without a random part (it sends such a Check the mode ``ENFORCE``; ``DISABLE`` for
    the mode ``disabled``), whatever the provider's diff says: for a key, its consumers
    would be left without a working one. A proposed name (``PROPOSE``) changes nothing here:
    a key's ``name`` defaults to its resource's name.
    """
    from pulumi.runtime.proto import provider_pb2

    from .._autonaming import delete_first_refusal
    from .schema import PACKAGE

    if not request.HasField("autonaming"):
        return None
    mode = request.autonaming.mode
    name = request.urn.rsplit("::", 1)[-1]
    if mode == provider_pb2.CheckRequest.AutonamingOptions.ENFORCE:
        problem = f"pulumi:autonaming gives it the name {request.autonaming.proposed_name!r}, without a random part"
    elif mode == provider_pb2.CheckRequest.AutonamingOptions.DISABLE:
        problem = "pulumi:autonaming has the mode 'disabled'"
    else:
        return None
    return delete_first_refusal(name, problem, PACKAGE)


def engine_address(args: Sequence[str]) -> str:
    """The engine's address, the one argument the engine starts a plugin with."""
    parser = argparse.ArgumentParser(prog="pulumi-resource-astrokeys", description="Pulumi provider plugin (gRPC server)")
    parser.add_argument("engine", help="the Pulumi engine's address")
    known, _ = parser.parse_known_args(list(args))
    return str(known.engine)


def serve(
    args: Sequence[str], version: str, provider: Provider, *, servicer_class: type[ProviderServicer] = OneSentenceServicer
) -> None:
    """Serve ``provider`` until the engine stops the plugin: print the port, answer gRPC on loopback.

    ``servicer_class``: what answers the engine (the SDK's own servicer serves the benchmarks' no-op plugin).
    """
    engine = engine_address(args)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=CALLS_AT_ONCE, thread_name_prefix="astrokeys-call"),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    servicer = servicer_class(list(args), version, provider, engine_address=engine)
    calls = cast(provider_pb2_grpc.ResourceProviderServicer, _CallsToTheEnd(servicer))  # it has every method
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(calls, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
