"""Property values as the engine holds them: JSON-like data plus secrets and unknowns.

Values cross the wire as ``google.protobuf.Struct`` with Pulumi's "special signature"
encoding (a secret is ``{SIG_KEY: SECRET_SIG, "value": ...}``, an unknown is the
string :data:`UNKNOWN_SENTINEL`). In tests they are plain Python values
where a secret is a :class:`Secret` wrapper and an unknown is :data:`UNKNOWN`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from google.protobuf import json_format, struct_pb2

#: Pulumi's "special signature" key, and its value for a secret (``pulumi.runtime.rpc`` keeps
#: both private); the only place the tests spell them.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

PropertyMap = dict[str, Any]


@dataclass(frozen=True)
class Secret:
    """A value the engine must never reveal: masked in reprs, encrypted in the state file."""

    value: Any

    def __repr__(self) -> str:
        return "Secret([secret])"

    __str__ = __repr__


class _Unknown:
    """A value not known until the deployment runs (only seen during preview)."""

    _instance: Optional["_Unknown"] = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "[unknown]"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


# --- wire conversion -------------------------------------------------------------------


def _from_plain(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return Secret(_from_plain(value.get("value")))
        return {k: _from_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_plain(v) for v in value]
    if isinstance(value, str) and value == UNKNOWN_SENTINEL:
        return UNKNOWN
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        # Protobuf numbers are doubles; like the engine's JSON encoding, integral values
        # read back as integers.
        return int(value)
    return value


def from_struct(struct: Optional[struct_pb2.Struct]) -> PropertyMap:
    """Decode a wire ``Struct`` into a property map."""
    if struct is None:
        return {}
    return _from_plain(json_format.MessageToDict(struct))


def to_plain(value: Any, keep_secrets: bool = True) -> Any:
    """Encode into wire-shaped plain data (secrets as signature objects)."""
    if isinstance(value, Secret):
        inner = to_plain(value.value, keep_secrets)
        return {SIG_KEY: SECRET_SIG, "value": inner} if keep_secrets else inner
    if value is UNKNOWN:
        return UNKNOWN_SENTINEL
    if isinstance(value, Mapping):
        return {k: to_plain(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, keep_secrets) for v in value]
    return value


def to_struct(props: Mapping[str, Any], keep_secrets: bool = True) -> struct_pb2.Struct:
    """Encode a property map as a wire ``Struct``.

    ``keep_secrets=False`` strips secret markers, as the engine does for providers that
    answered ``acceptSecrets: false`` to Configure (sdk/go/common/resource/plugin/provider_plugin.go,
    ``MarshalOptions{KeepSecrets: pcfg.acceptSecrets}``).
    """
    struct = struct_pb2.Struct()
    struct.update(to_plain(dict(props), keep_secrets))
    return struct


# --- secret helpers -----------------------------------------------------------------


def contains_secrets(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secrets(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_secrets(v) for v in value)
    return False


def contains_unknowns(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Secret):
        return contains_unknowns(value.value)
    if isinstance(value, Mapping):
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknowns(v) for v in value)
    return False


def annotate_secrets(outs: PropertyMap, ins: Mapping[str, Any]) -> PropertyMap:
    """Copy secretness from ``ins`` onto same-named ``outs`` (in place, also returned).

    Mirrors ``annotateSecrets`` in sdk/go/common/resource/plugin/provider_plugin.go: objects
    present on both sides recurse; otherwise an input that contains a secret makes the whole
    output value secret.
    """
    for key, in_value in ins.items():
        if key not in outs:
            continue
        out_value = outs[key]
        if isinstance(out_value, dict) and isinstance(in_value, Mapping):
            annotate_secrets(out_value, in_value)
        elif not isinstance(out_value, Secret) and contains_secrets(in_value):
            outs[key] = Secret(out_value)
    return outs
