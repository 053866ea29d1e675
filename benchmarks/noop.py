"""The floors the provider is measured against, on the same SDK path as the real one.

- :class:`NoopKeyProvider` and :class:`NoopKey`: a dynamic resource shaped like a
  :class:`~pulumi_astrokeys.DeploymentApiKey` (the same inputs and outputs, the secret
  kept secret, the defaults its ``check`` fills in) whose provider's ``check`` and ``diff``
  return at once and whose ``create`` calls no API. Whatever a program of them costs is the
  Pulumi SDK's and the engine's own price of a dynamic resource: the floor of a preview.
- :class:`BareHttpNoopKeyProvider`: the no-op provider sending each operation's bare requests
  itself, the cheapest provider that does a key's job: the floor of one provider call.
- :class:`LibrariesNoopKeyProvider` and :class:`LibrariesNoopKey`: the no-op, plus what any
  provider on the required libraries pays before it does anything: at its first create it
  opens an ``httpx.Client`` and validates a pydantic model with a secret field. The floor of
  the provider process's memory, so the figure shows the package's weight, not the libraries'.
- :class:`OnePostKeyProvider` and :class:`OnePostKey`: the key's create as it would be
  without the clean-up marker (``GET`` the Deployment, one ``POST /tokens`` with the
  user's description), on the package's own client and pacing. Against it, an ``up``
  of real keys shows what the marker's extra ``POST /tokens/{id}`` costs.

The providers are pickled by reference, so the provider process imports this module:
the stacks running them put the repository on ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckResult, ConfigureRequest, CreateResult, DiffResult, ReadResult, ResourceProvider
from pulumi.runtime import rpc

from pulumi_astrokeys._pickling import pickler_restored
from pulumi_astrokeys._schema import INPUT_DEFAULTS, OUTPUT_NAMES
from pulumi_astrokeys.provider import DeploymentApiKeyProvider

from .bare_requests import BareRequests

__all__ = [
    "BareHttpNoopKeyProvider",
    "LibrariesNoopKey",
    "LibrariesNoopKeyProvider",
    "NoopKey",
    "NoopKeyProvider",
    "OnePostKey",
    "OnePostKeyProvider",
]

_ROLE = "DEPLOYMENT_ADMIN"
DEFAULTED_INPUTS = {name: value for name, value in INPUT_DEFAULTS.items() if value is not None}
"""The inputs the key's ``check`` fills in when they are not given: a no-op's ``check`` fills them in
too, so its state, and every later call's properties, are the key's size."""


class NoopKeyProvider(ResourceProvider):
    """``check`` and ``diff`` return at once (``check`` filling in the key's defaults); ``create`` echoes
    the inputs beside key-like outputs."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        unset = {name: value for name, value in DEFAULTED_INPUTS.items() if news.get(name) is None}
        return CheckResult({**news, **unset}, [])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        key_id = f"noop-{props.get('name')}"
        outputs = {
            **props,
            "key_id": key_id,
            "secret": rpc.wrap_rpc_secret("noop-secret"),
            "short_token": "noop",
            "organization_id": "noop-organization",
            "created_at": "2026-01-01T00:00:00Z",
            "start_at": "2026-01-01T00:00:00Z",
            "end_at": None,
        }
        return CreateResult(key_id, outputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        pass


class BareHttpNoopKeyProvider(NoopKeyProvider):
    """The no-op, whose ``create``, ``read`` and ``delete`` also send their operation's bare requests
    (:class:`~benchmarks.bare_requests.BareRequests`) to the configured API: the cheapest provider
    that does a key's job, the floor of one provider call."""

    _bare: BareRequests

    def configure(self, req: ConfigureRequest) -> None:
        host, organization, token = (req.config.get(f"astrokeys:{key}") for key in ("host", "organizationId", "apiToken"))
        assert host and organization and token, "the bench configures the emulator's host, organization and token"
        self._bare = BareRequests.on(host, organization, token)

    def create(self, props: dict[str, Any]) -> CreateResult:
        created = super().create(props)
        key_id = self._bare.create(props["deployment_id"], props["name"], "marker")
        return CreateResult(key_id, {**(created.outs or {}), "key_id": key_id})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        self._bare.read(id_)
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        self._bare.delete(_id)


class LibrariesNoopKeyProvider(NoopKeyProvider):
    """The no-op, having loaded and used httpx and pydantic as any provider on them does."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        _use_the_required_libraries()
        return super().create(props)


_libraries_in_use: list[object] = []


def _use_the_required_libraries() -> None:
    if _libraries_in_use:
        return
    import httpx
    from pydantic import BaseModel, SecretStr

    class Answer(BaseModel):
        id: str
        token: SecretStr

    _libraries_in_use.extend([httpx.Client(), Answer(id="noop", token=SecretStr("noop"))])


class OnePostKeyProvider(DeploymentApiKeyProvider):
    """A key whose create sends one POST (no marker): what the create cost before the clean-up marker."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        from pulumi_astrokeys._messages import describe_key
        from pulumi_astrokeys._operations import _require_deployment, _validated, key_outputs
        client = self.client()
        inputs = _validated(props)
        _require_deployment(client, inputs, describe_key(inputs.name, inputs.deployment_id))
        token = client.create_deployment_token(
            inputs.deployment_id,
            name=inputs.name,
            description=inputs.description,
            role=inputs.role,
            expiry_period_in_days=inputs.expiry_period_in_days,
        )
        assert token.token is not None
        secret = token.token.get_secret_value()
        outputs = key_outputs(token, inputs, organization_id=client.settings.organization_id, secret=secret)
        return CreateResult(token.id, outputs)


class _KeyShaped(pulumi.dynamic.Resource):
    """A dynamic resource with the key's inputs and outputs, registered the way the key registers."""

    _provider_class: type[ResourceProvider]

    def __init__(self, resource_name: str, *, deployment_id: str, opts: Optional[pulumi.ResourceOptions] = None):
        props: dict[str, Any] = {
            "deployment_id": deployment_id,
            "name": resource_name,
            "description": None,
            "role": _ROLE,
            "expiry_period_in_days": None,
            "keepers": None,
            **{output: None for output in OUTPUT_NAMES},
        }
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["secret"])
        # The same guard the key uses against the SDK's pickler leak, so both pay alike.
        with pickler_restored():
            super().__init__(self._provider_class(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_opts))


class NoopKey(_KeyShaped, module="bench", name="NoopKey"):
    _provider_class = NoopKeyProvider


class LibrariesNoopKey(_KeyShaped, module="bench", name="LibrariesNoopKey"):
    _provider_class = LibrariesNoopKeyProvider


class OnePostKey(_KeyShaped, module="bench", name="OnePostKey"):
    _provider_class = OnePostKeyProvider
