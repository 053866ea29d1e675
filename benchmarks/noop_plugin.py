"""The packaged provider plugin's floor: a no-op plugin on the same SDK interface and gRPC server.

``python -m benchmarks.noop_plugin <engine address>`` serves :class:`NoopKeyPlugin` with the
function ``pulumi-resource-astrokeys`` serves :class:`~pulumi_astrokeys.plugin.provider.AstroKeysProvider`
with (:func:`pulumi_astrokeys.plugin.server.serve`): the SDK's ``pulumi.provider.experimental``
servicer on a synchronous gRPC server, each call on a thread of its own, on loopback, the
port on stdout. Its ``configure``, ``check``, ``create``, ``read`` and ``delete`` return at
once, with the key's inputs and outputs in their camelCase names (the secret kept secret, the
defaults the key's ``check`` fills in filled in). Whatever one of its calls costs is the SDK's
own price of a call through that interface: unmarshalling the request's properties and
marshalling the answer's, on the call's thread. The servicer is the SDK's own, not the
package's :class:`~pulumi_astrokeys.plugin.server.OneSentenceServicer`, whose few lines around
each call are the package's to pay.

With ``--bare-http`` each ``create``, ``read`` and ``delete`` also sends the bare requests of
its operation (:class:`~benchmarks.bare_requests.BareRequests`), to the host, organization and
API token it was configured with, on the call's thread: the cheapest plugin that does a key's
job, the floor of one call of the packaged provider (:mod:`benchmarks.provider_overhead`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

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

from pulumi_astrokeys._schema import INPUT_DEFAULTS
from pulumi_astrokeys.plugin.server import serve as serve_plugin
from pulumi_astrokeys.plugin.values import to_wire

from .bare_requests import BareRequests

__all__ = ["NoopKeyPlugin", "main", "serve"]

VERSION = "0.0.0"
# What the key's check fills in when it is not given (None defaults left out, as the key leaves them).
_DEFAULTED_INPUTS = to_wire(INPUT_DEFAULTS)


class NoopKeyPlugin(Provider):
    """Every call answers at once; ``check`` fills in the key's defaults, so its state, and every later call's
    properties, are the key's size; ``create`` echoes the inputs beside key-like outputs, ``read`` echoes the state.

    ``bare_http``: each call also sends its operation's bare requests (see the module's docstring)."""

    def __init__(self, *, bare_http: bool = False) -> None:
        self._bare_http = bare_http
        self._bare: Optional[BareRequests] = None

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        """Answer what the packaged provider answers; with ``bare_http``, open a client on the configured API."""
        if self._bare_http:
            host, organization, token = (request.args[key].value for key in ("host", "organizationId", "apiToken"))
            self._bare = BareRequests.on(host, organization, token)
        return ConfigureResponse(
            accept_secrets=True, supports_preview=True, accept_resources=True, accept_outputs=False
        )

    async def check(self, request: CheckRequest) -> CheckResponse:
        """The inputs as given, the key's defaults filled in; no failure."""
        given = request.new_inputs
        unset = {name: value for name, value in _DEFAULTED_INPUTS.items() if name not in given or given[name].value is None}
        return CheckResponse(inputs={**given, **unset}, failures=[])

    async def create(self, request: CreateRequest) -> CreateResponse:
        """A key's outputs, made up, beside the inputs; no API call."""
        name = request.properties.get("name")
        key_id = f"noop-{name.value if name is not None else ''}"
        if self._bare is not None:
            key_id = self._bare.create(request.properties["deploymentId"].value, name.value if name else "", "marker")
        outputs = {
            **request.properties,
            "keyId": PropertyValue(key_id),
            "secret": PropertyValue("noop-secret", is_secret=True),
            "shortToken": PropertyValue("noop"),
            "organizationId": PropertyValue("noop-organization"),
            "createdAt": PropertyValue("2026-01-01T00:00:00Z"),
            "startAt": PropertyValue("2026-01-01T00:00:00Z"),
            "adopted": PropertyValue(False),
        }
        return CreateResponse(resource_id=key_id, properties=outputs)

    async def read(self, request: ReadRequest) -> ReadResponse:
        """The state as given: the key is there, unchanged."""
        if self._bare is not None:
            self._bare.read(request.resource_id)
        return ReadResponse(resource_id=request.resource_id, properties=request.properties, inputs=request.inputs)

    async def delete(self, request: DeleteRequest) -> None:
        """Nothing to delete (with ``bare_http``, the token)."""
        if self._bare is not None:
            self._bare.delete(request.resource_id)


def serve(args: Sequence[str]) -> None:
    """Serve :class:`NoopKeyPlugin` with :func:`pulumi_astrokeys.plugin.server.serve`, which serves the packaged
    provider (same server options, loopback, the port on stdout), on the SDK's own servicer."""
    if len(args) < 1:
        raise SystemExit("usage: python -m benchmarks.noop_plugin <engine address> [--bare-http]")
    plugin = NoopKeyPlugin(bare_http="--bare-http" in args[1:])
    serve_plugin(list(args), VERSION, plugin, servicer_class=ProviderServicer)


def main() -> None:
    """The plugin's entry point: the engine's address as the one argument."""
    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
