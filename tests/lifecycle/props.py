"""Property values as the engine holds them: JSON-like data plus secrets and unknowns.

Values cross the wire as ``google.protobuf.Struct`` with Pulumi's "special signature"
encoding (a secret is ``{SIG_KEY: SECRET_SIG, "value": ...}``, an unknown is the
string :data:`UNKNOWN_SENTINEL`). Inside the harness they are plain Python values
where a secret is a :class:`Secret` wrapper and an unknown is :data:`UNKNOWN`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from google.protobuf import json_format, struct_pb2

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


def from_value(value: Optional[struct_pb2.Value]) -> Any:
    """Decode a single wire ``Value`` (e.g. the ``replacement_trigger`` option)."""
    if value is None or value.WhichOneof("kind") is None:
        return None
    return _from_plain(json_format.MessageToDict(value))


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


def strip_secrets(value: Any) -> Any:
    """Return ``value`` with every secret marker removed (the plain values stay)."""
    return _from_plain(to_plain(value, keep_secrets=False))


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


def mark_secret_keys(outs: PropertyMap, keys: Iterable[str]) -> PropertyMap:
    """Make the listed top-level properties secret (``additionalSecretOutputs``)."""
    for key in keys:
        if key in outs and not isinstance(outs[key], Secret):
            outs[key] = Secret(outs[key])
    return outs


def reveal(value: Any) -> Any:
    """Plain data with secrets unwrapped and unknowns as ``None``-free markers kept."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """Display form: secrets become ``"[secret]"``, unknowns ``"[unknown]"``."""
    if isinstance(value, Secret):
        return "[secret]"
    if value is UNKNOWN:
        return "[unknown]"
    if isinstance(value, Mapping):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Top-level keys whose values differ (secretness included, as ``PropertyValue.DeepEquals``)."""
    keys = sorted(set(olds) | set(news))
    return [k for k in keys if olds.get(k) != news.get(k) or (k in olds) != (k in news)]


# --- property paths (ignoreChanges, replaceOnChanges) ---------------------------------

_PATH_TOKEN = re.compile(r'\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*(\d+|\*)\s*\]|\.?([^.\[\]]+)')


def parse_property_path(path: str) -> list[Any]:
    """Parse a Pulumi property path (``a.b[0]["c.d"]``) into keys and indices."""
    elements: list[Any] = []
    pos = 0
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"invalid property path {path!r}")
        quoted, index, name = match.groups()
        if quoted is not None:
            elements.append(quoted.replace('\\"', '"'))
        elif index is not None:
            elements.append("*" if index == "*" else int(index))
        else:
            elements.append(name)
        pos = match.end()
    if not elements:
        raise ValueError(f"invalid property path {path!r}")
    return elements


_MISSING = object()


def _get_path(value: Any, path: list[Any]) -> Any:
    for element in path:
        if isinstance(value, Secret):
            value = value.value
        if isinstance(element, int) and isinstance(value, list) and 0 <= element < len(value):
            value = value[element]
        elif isinstance(element, str) and isinstance(value, dict) and element in value:
            value = value[element]
        else:
            return _MISSING
    return value


def reset_path(source: Mapping[str, Any], dest: PropertyMap, path: list[Any]) -> bool:
    """Set ``dest`` at ``path`` to ``source``'s value there (or remove it if ``source`` lacks it).

    Returns False when a parent element is missing from ``dest`` while ``source`` has a
    value there, the case ``processIgnoreChanges`` reports as an error.
    """
    old = _get_path(source, path)
    parent: Any = dest
    for element in path[:-1]:
        if isinstance(parent, Secret):
            parent = parent.value
        if isinstance(element, int) and isinstance(parent, list) and 0 <= element < len(parent):
            parent = parent[element]
        elif isinstance(element, str) and isinstance(parent, dict) and element in parent:
            parent = parent[element]
        else:
            return old is _MISSING
    last = path[-1]
    if isinstance(parent, Secret):
        parent = parent.value
    if isinstance(parent, dict) and isinstance(last, str):
        if old is _MISSING:
            parent.pop(last, None)
        else:
            parent[last] = old
        return True
    if isinstance(parent, list) and isinstance(last, int):
        if old is _MISSING:
            return last >= len(parent)
        if last < len(parent):
            parent[last] = old
            return True
        return False
    return old is _MISSING


def path_contains(prefix: list[Any], path: list[Any]) -> bool:
    """True if ``path`` equals or lies below ``prefix`` (``*`` matches any element)."""
    if len(prefix) > len(path):
        return False
    return all(p == "*" or p == q for p, q in zip(prefix, path, strict=False))
