"""Refuse a stack-wide ``pulumi:autonaming`` setting that would revoke keys before their successors exist.

Pulumi's engine replaces every custom resource delete-first when the stack's
``pulumi:autonaming`` config gives it a name without a random part (mode ``verbatim`` or
``disabled``, or a ``pattern`` without ``${hex(n)}``, ``${alphanum(n)}``, ``${string(n)}``,
``${num(n)}`` or ``${uuid}``): it assumes the old resource must go before a new one can
take the same name. That reaches dynamic resources too, and the engine overrides the
``delete_before_replace`` option and the provider's own diff for it. For a key it would
mean deleting the key its consumers use before its replacement exists, so such a
setting is refused before anything runs, with the override that restores the default
for this package's resources. The resolution mirrors the engine's
(``pkg/resource/autonaming`` and ``pkg/cmd/pulumi/autonaming`` in Pulumi's repository):
a resource type's entry, else its provider's, else the top level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

import pulumi

from ._errors import AstroKeysError

__all__ = ["AutonamingConflictError", "autonaming_conflict", "delete_first_refusal", "refuse_delete_first_autonaming"]

_RANDOM_PART = re.compile(r"\$\{(?:hex|alphanum|string|num)\(\d+\)\}|\$\{uuid\}")
_DELETE_FIRST_MODES = ("verbatim", "disabled")


class AutonamingConflictError(AstroKeysError, pulumi.RunError):
    """The stack's ``pulumi:autonaming`` config would make Pulumi delete keys before replacing them.

    A :class:`pulumi.RunError` too, so Pulumi prints its sentence without a traceback.
    """


def autonaming_conflict(config: Optional[Mapping[str, Any]], type_token: str) -> Optional[str]:
    """What in the ``pulumi:autonaming`` config makes the engine replace ``type_token`` delete-first, or None."""
    if not isinstance(config, Mapping):
        return None
    package = type_token.split(":", 1)[0]
    chosen: Mapping[str, Any] = config
    where = "pulumi:autonaming"
    providers = config.get("providers")
    provider = providers.get(package) if isinstance(providers, Mapping) else None
    if isinstance(provider, Mapping):
        resources = provider.get("resources")
        resource = resources.get(type_token) if isinstance(resources, Mapping) else None
        if isinstance(resource, Mapping):
            chosen, where = resource, f"pulumi:autonaming.providers.{package}.resources[{type_token}]"
        elif "mode" in provider or "pattern" in provider:
            chosen, where = provider, f"pulumi:autonaming.providers.{package}"
    pattern = chosen.get("pattern")
    if isinstance(pattern, str):
        return None if _RANDOM_PART.search(pattern) else f"{where} has the pattern {pattern!r}, without a random part"
    mode = chosen.get("mode")
    if mode in _DELETE_FIRST_MODES:
        return f"{where} has the mode {mode!r}"
    return None


def refuse_delete_first_autonaming(resource_name: str, type_token: str) -> None:
    """Raise :class:`AutonamingConflictError` if the stack's autonaming config would replace keys delete-first."""
    problem = autonaming_conflict(pulumi.Config("pulumi").get_object("autonaming"), type_token)
    if problem is None:
        return
    raise AutonamingConflictError(delete_first_refusal(resource_name, problem, type_token.split(":", 1)[0]))


def delete_first_refusal(resource_name: str, problem: str, package: str) -> str:
    """The sentence that refuses a delete-first ``pulumi:autonaming``; ``problem`` says what in it does."""
    return (
        f"DeploymentApiKey {resource_name!r}: the stack config {problem}, which makes Pulumi delete a key "
        "before creating its replacement, leaving its consumers without a working key in between. Keep "
        f"this package's keys on Pulumi's default naming with `pulumi config set --path "
        f"pulumi:autonaming.providers.{package}.mode default`; nothing was changed."
    )
