"""The Deployment API key's schema, written once: its type, inputs and their defaults, outputs.

Everything else reads it from here: the resource and its Args (every Pulumi program loads
them), the provider, the validation of ``check`` (:mod:`._inputs`, whose pydantic model
must declare exactly these inputs, or it refuses to load) and the client's defaults. It
imports nothing beyond the standard library, so a program pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

__all__ = [
    "ADOPTED_OUTPUT",
    "DAG_ROLE_BOUNDS",
    "DEFAULT_KIND",
    "DEFAULT_ROLE",
    "INPUT_BOUNDS",
    "INPUT_DEFAULTS",
    "INPUT_NAMES",
    "IN_PLACE_INPUTS",
    "KINDS",
    "LOOKUP_OUTPUT_NAMES",
    "LOOKUP_PROPERTY",
    "OUTPUT_NAMES",
    "SECRET_OUTPUTS",
    "TYPE_TOKEN",
    "Bounds",
]

TYPE_TOKEN = "pulumi-python:dynamic/astrokeys:DeploymentApiKey"
"""The key's resource type, as URNs, ``pulumi stack export`` and ``pulumi:autonaming`` name it."""

DEFAULT_ROLE = "DEPLOYMENT_ADMIN"
"""The role a key gets on its Deployment when none is given."""

KINDS: tuple[str, ...] = ("STANDARD", "DIRECT_ACCESS")
"""The token kinds the API's ``CreateApiTokenRequest`` declares."""
DEFAULT_KIND = KINDS[0]

INPUT_NAMES: tuple[str, ...] = (
    "deployment_id",
    "name",
    "description",
    "role",
    "expiry_period_in_days",
    "keepers",
    "kind",
    "dag_roles",
    "rotate_before_days",
)
"""The key's inputs, in the order a program gives them."""

INPUT_DEFAULTS: Mapping[str, Any] = {
    "description": "",
    "role": DEFAULT_ROLE,
    "expiry_period_in_days": None,
    "keepers": {},
    "kind": DEFAULT_KIND,
    "dag_roles": [],
    "rotate_before_days": None,
}
"""What an input means when it is not given (``name`` defaults to the resource's name). A state
written before an input existed lacks it, and it counts as this default: so a new release
never replaces a key."""

@dataclass(frozen=True)
class Bounds:
    """The limits of one input: a string's length in characters, or a whole number's range."""

    most: int
    least: Optional[int] = None
    counts_characters: bool = True

    def describe(self) -> str:
        """``1 to 256 characters``, ``at most 500 characters``, ``1 to 3650``."""
        unit = " characters" if self.counts_characters else ""
        if self.least is None:
            return f"at most {self.most}{unit}"
        return f"{self.least} to {self.most}{unit}"

    def constraints(self) -> dict[str, int]:
        """The limits as pydantic's ``Field`` takes them."""
        low, high = ("min_length", "max_length") if self.counts_characters else ("ge", "le")
        return {high: self.most} | ({} if self.least is None else {low: self.least})


INPUT_BOUNDS: Mapping[str, Bounds] = {
    "name": Bounds(256, least=1),
    "description": Bounds(500),
    "role": Bounds(256, least=1),
    "expiry_period_in_days": Bounds(3650, least=1, counts_characters=False),
    "rotate_before_days": Bounds(3649, least=1, counts_characters=False),
}
"""The API's limits on the key's inputs (``rotate_before_days`` is also below the expiry)."""

DAG_ROLE_BOUNDS: Mapping[str, Bounds] = {
    "dag_id": Bounds(250, least=1),
    "dag_tag": Bounds(250, least=1),
    "role": Bounds(256, least=1),
}
"""The API's limits on each of ``dag_roles``."""

IN_PLACE_INPUTS = frozenset({"rotate_before_days"})
"""Inputs that only say when to replace the key; a change of them alone is recorded in place."""

OUTPUT_NAMES: tuple[str, ...] = (
    "key_id",
    "secret",
    "short_token",
    "organization_id",
    "created_at",
    "start_at",
    "end_at",
)
"""Properties the provider computes; the inputs are echoed beside them."""

ADOPTED_OUTPUT = "adopted"
"""An output that is true for a key Pulumi adopted (``pulumi import``) rather than created: the
API shows a key's secret once, so such a key has none, and lacking it is no reason to replace it."""

SECRET_OUTPUTS: tuple[str, ...] = ("secret",)
"""Outputs that are always Pulumi secrets."""

LOOKUP_OUTPUT_NAMES: tuple[str, ...] = ("last_used_at", "created_by", "kind")
"""Audit metadata that only a lookup (``DeploymentApiKey.get``) returns, never a managed key:
``last_used_at`` changes with every use and would make each refresh rewrite the state."""

LOOKUP_PROPERTY = "__astrokeys_lookup"
"""The hidden property (Pulumi shows none whose name begins with ``__``) that says a resource is a
lookup: ``DeploymentApiKey.get`` registers it, and a lookup's read keeps it in the outputs, so the
lookup's refresh is one too."""
