"""The two providers of the same key, for contract tests that run against both.

The dynamic provider (``python -m pulumi.dynamic``, snake_case names, the pickled
provider in ``__provider``, credentials from stack config) and the packaged provider
plugin (``pulumi-resource-astrokeys``, Pulumi's camelCase names, credentials as the
provider's inputs). A test writes its properties once, in the core's snake_case names;
:class:`Flavour` turns them into the provider's and back.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from .client import DynamicProviderProcess, emulator_plugin_process, emulator_provider_process

__all__ = ["DYNAMIC", "FLAVOURS", "PLUGIN", "Flavour"]

_NESTED = frozenset({"dag_roles"})  # lists of objects whose keys are schema names; keepers' keys are the user's


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _rename(props: Mapping[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    renamed = {}
    for name, value in props.items():
        if rename(name) in _NESTED or name in _NESTED:
            if isinstance(value, list):
                value = [_rename(v, rename) if isinstance(v, Mapping) else v for v in value]
        renamed[name if name.startswith("__") else rename(name)] = value
    return renamed


@functools.lru_cache(maxsize=1)
def _provider_blob() -> str:
    """The pickled dynamic provider, as a program puts it in ``__provider``."""
    from pulumi.dynamic.dynamic import serialize_provider

    from pulumi_astrokeys.provider import DeploymentApiKeyProvider

    return str(serialize_provider(DeploymentApiKeyProvider()))


@dataclass(frozen=True)
class Flavour:
    """One provider of ``DeploymentApiKey``, as a test drives it over gRPC."""

    id: str
    urn: str
    camel_case: bool

    def start(
        self, emulator: Any, *, config: Optional[Mapping[str, str]] = None, credentials: bool = True
    ) -> DynamicProviderProcess:
        """The provider's process, configured for ``emulator``'s host and (with ``credentials``) its
        organization and token, plus ``config`` (full ``astrokeys:*`` keys); nothing from the environment."""
        if self.camel_case:
            inputs = {key.removeprefix("astrokeys:"): value for key, value in (config or {}).items()}
            return emulator_plugin_process(emulator, inputs=inputs, credentials=credentials)
        return emulator_provider_process(emulator, "demo", "dev", config=config, credentials=credentials)

    def props(self, snake: Mapping[str, Any]) -> dict[str, Any]:
        """Inputs written in the core's names, as this provider takes them."""
        if self.camel_case:
            return _rename(snake, _camel)
        return {**snake, "__provider": _provider_blob()}

    def snake(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Properties this provider answered, in the core's names (``__provider`` left out)."""
        plain = {name: value for name, value in props.items() if name != "__provider"}
        return _rename(plain, _snake) if self.camel_case else plain

    def name(self, snake_name: str) -> str:
        """A property's name as this provider writes it."""
        return _camel(snake_name) if self.camel_case else snake_name

    def core_words(self, text: str) -> str:
        """A provider message in the core's words: the camelCase names of the inputs as snake_case, and
        without the dynamic provider's exception class."""
        text = text.removeprefix("pulumi_astrokeys._errors.KeyOperationError: ")
        if not self.camel_case:
            return text
        return re.sub(
            r"\b(deploymentId|expiryPeriodInDays|dagRoles|rotateBeforeDays|dagId|dagTag)\b",
            lambda m: _snake(m.group(1)),
            text,
        )


DYNAMIC = Flavour("dynamic", "urn:pulumi:dev::demo::pulumi-python:dynamic/astrokeys:DeploymentApiKey::ci", False)
PLUGIN = Flavour("plugin", "urn:pulumi:dev::demo::astrokeys:index:DeploymentApiKey::ci", True)
FLAVOURS = (DYNAMIC, PLUGIN)
