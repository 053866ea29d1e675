"""The packaged provider: the dynamic provider's core behind the Pulumi SDK's provider interface.

Every step is the core's (:mod:`pulumi_astrokeys._inputs` checks and diffs,
:mod:`pulumi_astrokeys._operations` creates, reads, updates and deletes); this class only
converts names and values at the edge (:mod:`.values`) and runs the core's blocking
steps as they are: the server runs each call on a thread of its own (:mod:`.server`), so
the engine's parallel calls are served at once. What the SDK's interface needs worked
around is said where it is done; docs/packaged-provider.md lists it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.runtime import rpc

from .. import _schema
from .._errors import AstroKeysError
from .engine_log import about
from .schema import CONFIG_PROPERTIES, PACKAGE, pulumi_name
from .values import UNKNOWN, from_wire, secret_names, to_wire, unknown

if TYPE_CHECKING:
    from .._client import AstroClient

__all__ = ["AstroKeysProvider"]

logger = logging.getLogger("pulumi_astrokeys")

_T = TypeVar("_T")
# An input's name as the core writes it in a message, to be given as the user's language writes it.
_INPUT_WORDS = re.compile(r"\b(" + "|".join(name for name in _schema.INPUT_NAMES if "_" in name) + r"|dag_id|dag_tag)\b")


_WIRE_INPUTS = frozenset(pulumi_name(name) for name in _schema.INPUT_NAMES)


def in_pulumi_words(text: str) -> str:
    """A message of the core with its input names as Pulumi's languages write them (``deploymentId``)."""
    return _INPUT_WORDS.sub(lambda m: pulumi_name(m.group(1)), text)


class AstroKeysProvider(Provider):
    """``astrokeys``: Deployment API keys of one Astro organization (one provider per organization)."""

    def __init__(self, engine_address: Optional[str] = None) -> None:
        """``engine_address``: the engine's, where the package's progress lines go (:mod:`.engine_log`)."""
        self._settings_problem: Optional[str] = None
        self._engine_address = engine_address

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        """The package schema, generated from the core's (:mod:`.schema`)."""
        import json

        from .schema import package_schema

        return GetSchemaResponse(schema=json.dumps(package_schema()))

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        """Accept the configuration as given; what is wrong with it fails each key's ``check`` (asking nothing of the API)."""
        return CheckResponse(inputs=request.new_inputs, failures=[])

    # diff_config is left to the engine: the SDK's DiffConfig answer turns ``changes=True``
    # into "no change", so a provider that answered it would never be reconfigured.

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        """Configure the process's client from the provider's inputs (``apiToken``, ``organizationId``, ...),
        the environment filling in what they leave unset."""
        from .._engine import watch_engine_stdin
        from .._provider_process import configure_process
        from .engine_log import send_records_to_engine

        config: dict[str, Any] = {}
        unknown_setting = False
        for key in CONFIG_PROPERTIES:
            value = _config_value(request.args.get(key), request.variables.get(f"{PACKAGE}:{key}"))
            unknown_setting = unknown_setting or value == UNKNOWN
            if value is not None and value != UNKNOWN:
                config[f"{PACKAGE}:{key}"] = value
        problem = configure_process(config, watch_engine=watch_engine_stdin)
        send_records_to_engine(self._engine_address)
        # A setting still unknown (another resource's output, at preview) is judged when it is known.
        self._settings_problem = None if unknown_setting else problem
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=True, accept_outputs=False)

    async def check(self, request: CheckRequest) -> CheckResponse:
        """Validate the inputs field by field, and the connection settings, without calling the API.

        ``name`` defaults to the resource's name; unknown values pass (they arrive as the
        engine's unknown sentinel, not as a computed value).
        """
        from .._inputs import validate_inputs

        news = from_wire(request.new_inputs)
        if news.get("name") is None:
            news["name"] = request.name
        inputs, problems = validate_inputs(news)
        failures = [CheckFailure(pulumi_name(p.property), in_pulumi_words(p.reason)) for p in problems]
        if self._settings_problem:
            failures.append(CheckFailure("", self._settings_problem))
        return CheckResponse(inputs=to_wire(inputs, secret_names(request.new_inputs)), failures=failures)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        """The dynamic provider's diff (:func:`~pulumi_astrokeys._inputs.key_diff`): any change replaces the
        key, the new one first; ``rotateBeforeDays`` alone changes in place; an expired or due key, or one
        whose secret a refresh found dead, is replaced. Only a key due by this machine's clock costs an API call,
        which confirms it on Astro's."""
        from .._inputs import key_diff

        olds, news = from_wire(request.old_state), from_wire(request.new_inputs)
        replaces, in_place = _step(
            request.urn, lambda: key_diff(olds, news, key_id=request.resource_id, client=_client)
        )
        detailed = {
            pulumi_name(name): PropertyDiff(PropertyDiffKind.UPDATE_REPLACE, input_diff=name in _schema.INPUT_NAMES)
            for name in replaces
        }
        detailed.update({pulumi_name(name): PropertyDiff(PropertyDiffKind.UPDATE, input_diff=True) for name in in_place})
        return DiffResponse(
            changes=bool(detailed),
            replaces=[pulumi_name(name) for name in replaces],
            diffs=list(detailed),
            delete_before_replace=False,
            detailed_diff=detailed,
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        """Create the key (transactionally, its create marker naming the resource's URN).

        A preview makes no API call: the SDK calls ``create`` at preview too (``preview=True``),
        and gets the inputs back with every output unknown.
        """
        secret = secret_names(request.properties)
        if request.preview:
            outputs = to_wire({**from_wire(request.properties)}, secret)
            for name in _schema.OUTPUT_NAMES:
                outputs.setdefault(pulumi_name(name), unknown(secret=name in _schema.SECRET_OUTPUTS))
            outputs[pulumi_name(_schema.ADOPTED_OUTPUT)] = PropertyValue(False)
            return CreateResponse(resource_id="", properties=outputs)

        from .._operations import create_key

        props = from_wire(request.properties)
        result = _step(request.urn, lambda: create_key(_client(), props, owner=request.urn))
        outs = dict(result.outs or {})
        outs[_schema.ADOPTED_OUTPUT] = False
        return CreateResponse(resource_id=result.id, properties=to_wire(outs, secret))

    async def read(self, request: ReadRequest) -> ReadResponse:
        """Refresh a key, or adopt one by its ID alone (``pulumi import``, the ``import`` option).

        A refresh keeps the secret from the state; a gone key answers an empty ID, the only
        way this interface says so. An adopted key has no secret (Astro shows it once), and
        the inputs answered are exactly those a program sets, so the next ``up`` is a no-op.
        Always answers inputs beside the properties: the engine records what it is given.
        """
        from .._operations import read_key

        props = from_wire(request.properties)
        if not props and not request.inputs:
            return await self._adopt(request.urn, request.resource_id)
        result = _step(request.urn, lambda: read_key(_client(), request.resource_id, props))
        if not result.id:
            return ReadResponse(resource_id="", properties={}, inputs={})
        outs = dict(result.outs or {})
        outs[_schema.ADOPTED_OUTPUT] = props.get(_schema.ADOPTED_OUTPUT) is True
        secret = secret_names(request.properties) | secret_names(request.inputs)
        properties = to_wire(outs, secret, given=request.properties)
        # The inputs the state had, as fresh as the properties (each is the same value).
        inputs = {name: value for name, value in properties.items() if name in request.inputs and name in _WIRE_INPUTS}
        return ReadResponse(resource_id=result.id, properties=properties, inputs=inputs)

    async def _adopt(self, urn: str, key_id: str) -> ReadResponse:
        from .._operations import missing_key_error, read_key

        def adopt() -> Any:
            client = _client()
            result = read_key(client, key_id, {})
            if not result.id:
                raise missing_key_error(
                    client,
                    key_id,
                    "import",
                    "pass the ID of an existing Deployment API key of that organization (the Astro UI shows it "
                    "in the key's details)",
                )
            return result

        result = _step(urn, adopt)
        outs = dict(result.outs or {})
        outs[_schema.ADOPTED_OUTPUT] = True
        with about(urn):
            logger.warning(
                "Deployment API key %s (%r) was adopted without its secret: Astro shows a key's secret only once, "
                "when it is created, so its `secret` output stays empty; run `pulumi up --replace %s` for a fresh "
                "key (the new one is created first)",
                key_id,
                outs.get("name"),
                urn,
            )
        inputs = {
            name: outs[name]
            for name in _schema.INPUT_NAMES
            if outs.get(name) is not None and outs[name] != _schema.INPUT_DEFAULTS.get(name)
        }
        return ReadResponse(resource_id=result.id, properties=to_wire(outs), inputs=to_wire(inputs))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        """Record a new ``rotateBeforeDays``, the only input that changes in place; no API call, preview or not."""
        from .._operations import update_in_place

        olds, news = from_wire(request.olds), from_wire(request.news)
        outs = _step(request.urn, lambda: update_in_place(olds, news))
        return UpdateResponse(properties=to_wire(outs, secret_names(request.olds) | secret_names(request.news)))

    async def delete(self, request: DeleteRequest) -> None:
        """Delete the key; a key or Deployment already gone counts as deleted; another organization's is refused."""
        from .._operations import delete_key

        props = from_wire(request.properties)
        _step(request.urn, lambda: delete_key(_client(), request.resource_id, props))


def _client() -> AstroClient:
    """The process's client, for the organization this provider was configured for."""
    from .._runtime import runtime

    return runtime.client()


def _step(urn: str, step: Callable[[], _T]) -> _T:
    """Run a blocking step of the core for the resource ``urn`` on the call's thread (its records
    shown under that resource); its failure as one sentence in the user's names."""
    from .._provider_process import run_step

    try:
        with about(urn):
            return run_step(step)
    except AstroKeysError as error:
        error.args = (in_pulumi_words(str(error)),)
        raise error from None


def _config_value(arg: Optional[PropertyValue], variable: Optional[str]) -> Optional[str]:
    """One setting as the core reads it (text), from the provider's inputs, else the engine's variables."""
    if arg is not None and arg.value is not None:
        value = arg.value
        if isinstance(value, Computed):
            return UNKNOWN
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, (str, float, bool)):
            return str(rpc.unwrap_rpc_secret(value))
    if variable is not None and variable.strip():
        return variable
    return None

