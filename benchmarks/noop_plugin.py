"""The packaged provider plugin's floor: a no-op plugin on the same SDK interface and gRPC server.

``python -m benchmarks.noop_plugin <engine address>`` serves :class:`NoopKeyPlugin` the way
``pulumi-resource-astrokeys`` serves :class:`~pulumi_astrokeys.plugin.provider.AstroKeysProvider`
(:func:`pulumi_astrokeys.plugin.server.serve`): the SDK's ``pulumi.provider.experimental``
servicer on a ``grpc.aio`` server, on loopback, the port on stdout. Its ``configure``,
``check``, ``create``, ``read`` and ``delete`` return at once, with the key's inputs and
outputs in their camelCase names (the secret kept secret). Whatever one of its calls costs
is the SDK's own price of a call through that interface: unmarshalling the request's
properties and marshalling the answer's, on the server's event loop. The servicer is the
SDK's own, not the package's :class:`~pulumi_astrokeys.plugin.server.OneSentenceServicer`,
whose few lines around each call are the package's to pay.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import grpc.aio
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    Provider,
    ReadRequest,
    ReadResponse,
)
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2_grpc

__all__ = ["NoopKeyPlugin", "main", "serve"]

VERSION = "0.0.0"


class NoopKeyPlugin(Provider):
    """Every call answers at once; ``create`` echoes the inputs beside key-like outputs, ``read`` echoes the state."""

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        """Accept the settings unread, answering what the packaged provider answers."""
        return ConfigureResponse(
            accept_secrets=True, supports_preview=True, accept_resources=True, accept_outputs=False
        )

    async def check(self, request: CheckRequest) -> CheckResponse:
        """The inputs as given, no failure."""
        return CheckResponse(inputs=request.new_inputs, failures=[])

    async def create(self, request: CreateRequest) -> CreateResponse:
        """A key's outputs, made up, beside the inputs; no API call."""
        name = request.properties.get("name")
        key_id = f"noop-{name.value if name is not None else ''}"
        outputs = {
            **request.properties,
            "keyId": PropertyValue(key_id),
            "secret": PropertyValue("noop-secret", is_secret=True),
            "shortToken": PropertyValue("noop"),
            "organizationId": PropertyValue("noop-organization"),
            "createdAt": PropertyValue("2026-01-01T00:00:00Z"),
            "startAt": PropertyValue("2026-01-01T00:00:00Z"),
            "endAt": PropertyValue(None),
            "adopted": PropertyValue(False),
        }
        return CreateResponse(resource_id=key_id, properties=outputs)

    async def read(self, request: ReadRequest) -> ReadResponse:
        """The state as given: the key is there, unchanged."""
        return ReadResponse(resource_id=request.resource_id, properties=request.properties, inputs=request.inputs)

    async def delete(self, request: DeleteRequest) -> None:
        """Nothing to delete."""


def serve(args: Sequence[str]) -> None:
    """Serve :class:`NoopKeyPlugin` as :func:`pulumi_astrokeys.plugin.server.serve` serves the packaged
    provider (same server options, loopback, the port on stdout), on the SDK's servicer."""
    if len(args) < 1:
        raise SystemExit("usage: python -m benchmarks.noop_plugin <engine address>")
    engine = args[0]

    async def run() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
        servicer = ProviderServicer(list(args), VERSION, NoopKeyPlugin(), engine_address=engine)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


def main() -> None:
    """The plugin's entry point: the engine's address as the one argument."""
    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
