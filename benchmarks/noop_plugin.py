"""The packaged provider plugin's floor: a no-op plugin on the same SDK interface and gRPC server.

``python -m benchmarks.noop_plugin <engine address>`` serves :class:`NoopKeyPlugin` with the
function ``pulumi-resource-astrokeys`` serves :class:`~pulumi_astrokeys.plugin.provider.AstroKeysProvider`
with (:func:`pulumi_astrokeys.plugin.server.serve`): the SDK's ``pulumi.provider.experimental``
servicer on a synchronous gRPC server, each call on a thread of its own, on loopback, the
port on stdout. Its ``configure``, ``check``, ``create``, ``read`` and ``delete`` return at
once, with the key's inputs and outputs in their camelCase names (the secret kept secret).
Whatever one of its calls costs is the SDK's own price of a call through that interface:
unmarshalling the request's properties and marshalling the answer's, on the call's thread.
The servicer is the SDK's own, not the package's
:class:`~pulumi_astrokeys.plugin.server.OneSentenceServicer`, whose few lines around each
call are the package's to pay.

With ``--bare-http`` it is the floor's two parts in one process: each ``create``, ``read``
and ``delete`` also sends the bare requests of that operation (those of
:mod:`benchmarks.provider_overhead`) with httpx, to the host, organization and API token it
was configured with, on the call's thread. What that costs beyond the no-op call plus
the same requests sent from another process is the price of putting the two together, which
no provider doing the requests can avoid.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

import httpx
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

from pulumi_astrokeys.plugin.server import serve as serve_plugin

__all__ = ["NoopKeyPlugin", "main", "serve"]

VERSION = "0.0.0"


class NoopKeyPlugin(Provider):
    """Every call answers at once; ``create`` echoes the inputs beside key-like outputs, ``read`` echoes the state.

    ``bare_http``: each call also sends its operation's bare requests (see the module's docstring)."""

    def __init__(self, *, bare_http: bool = False) -> None:
        self._bare_http = bare_http
        self._http: Optional[httpx.Client] = None

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        """Answer what the packaged provider answers; with ``bare_http``, open a client on the configured API."""
        if self._bare_http:
            host, organization, token = (request.args[key].value for key in ("host", "organizationId", "apiToken"))
            self._http = httpx.Client(
                base_url=f"{host}/v1/organizations/{organization}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                trust_env=False,
            )
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
        if self._http is not None:
            deployment = request.properties["deploymentId"].value
            self._http.get(f"/deployments/{deployment}").raise_for_status().json()
            body = {
                "name": name.value if name else "",
                "description": "marker",
                "scope": "DEPLOYMENT",
                "entityId": deployment,
                "role": "DEPLOYMENT_ADMIN",
            }
            key_id = str(self._http.post("/tokens", json=body).raise_for_status().json()["id"])
            self._http.post(f"/tokens/{key_id}", json={"name": body["name"], "description": ""}).raise_for_status()
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
        if self._http is not None:
            self._http.get(f"/tokens/{request.resource_id}").raise_for_status().json()
        return ReadResponse(resource_id=request.resource_id, properties=request.properties, inputs=request.inputs)

    async def delete(self, request: DeleteRequest) -> None:
        """Nothing to delete (with ``bare_http``, the token)."""
        if self._http is not None:
            self._http.delete(f"/tokens/{request.resource_id}").raise_for_status()


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
