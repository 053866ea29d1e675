"""Property values between the SDK's ``PropertyValue`` and the plain values the core works on.

The core (:mod:`pulumi_astrokeys._inputs`, :mod:`pulumi_astrokeys._operations`) takes and
returns what the dynamic provider's interface carries: snake_case names, plain Python
values, a secret as the engine's secret marker (``rpc.wrap_rpc_secret``), a value not
known yet as the engine's unknown sentinel. This module converts at the plugin's edge,
and works around two traps of the SDK's interface:

- ``PropertyValue.computed()`` cannot be marshalled (the SDK raises); an unknown output
  is returned as the sentinel string the engine itself sends for unknown inputs;
- a value returned without ``is_secret=True`` is stored in plain text, so every secret
  output, and every output echoing an input that arrived secret, is marked secret here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime import rpc

from .. import _schema
from .schema import pulumi_name, python_name

__all__ = ["UNKNOWN", "from_wire", "secret_names", "to_wire", "unknown"]

UNKNOWN: str = rpc.UNKNOWN
"""The engine's sentinel for a value not known yet (what a preview's unknown input arrives as)."""

_NONE_GIVEN: Mapping[str, PropertyValue] = MappingProxyType({})
_LISTS_OF_OBJECTS = frozenset({"dag_roles"})  # their items' keys are schema names; keepers' are the user's


def unknown(*, secret: bool = False) -> PropertyValue:
    """An output not known until the key exists, in the one form the SDK can marshal."""
    return PropertyValue(UNKNOWN, is_secret=secret)


def _core_value(value: PropertyValue, rename_keys: bool) -> Any:
    """One value as the core takes it; ``rename_keys``: its object keys are schema names."""
    inner = value.value
    if inner is None or isinstance(inner, (str, bool, float)):
        plain: Any = inner
    elif isinstance(inner, Computed):
        plain = UNKNOWN
    elif isinstance(inner, Mapping):
        plain = {(python_name(k) if rename_keys else k): _core_value(v, False) for k, v in inner.items()}
    elif isinstance(inner, Sequence) and not isinstance(inner, str):
        plain = [_core_value(v, rename_keys) for v in inner]
    else:
        plain = inner
    return rpc.wrap_rpc_secret(plain) if value.is_secret else plain


def from_wire(props: Mapping[str, PropertyValue]) -> dict[str, Any]:
    """The core's view of ``props``: snake_case names, plain values, secrets as engine secret markers."""
    plain = {}
    for name, value in props.items():
        core_name = python_name(name)
        plain[core_name] = _core_value(value, core_name in _LISTS_OF_OBJECTS)
    return plain


def secret_names(props: Mapping[str, PropertyValue]) -> frozenset[str]:
    """The (snake_case) names of the properties of ``props`` that are or hold a secret."""
    return frozenset(python_name(name) for name, value in props.items() if _holds_secret(value))


def _holds_secret(value: PropertyValue) -> bool:
    # A plain value is secret or not by its mark; only a list or an object is searched (the
    # SDK's search asks the abstract collection types first, at every value).
    if value.is_secret:
        return True
    inner = value.value
    return not (inner is None or isinstance(inner, (str, bool, float))) and value.contains_secret()


def _wire(value: Any, rename_keys: bool, secret: bool = False) -> PropertyValue:
    """One core value as the engine takes it, secret when ``secret`` or marked so; ``rename_keys`` as for
    :func:`_core_value`."""
    if rpc.is_rpc_secret(value):
        return _wire(rpc.unwrap_rpc_secret(value), rename_keys, True)
    if value is None or isinstance(value, (bool, str)):
        return PropertyValue(value, is_secret=secret)
    if isinstance(value, (int, float)):
        return PropertyValue(float(value), is_secret=secret)  # the SDK's numbers are floats only
    if isinstance(value, Mapping):
        wired = {(pulumi_name(k) if rename_keys else k): _wire(v, False) for k, v in value.items()}
        return PropertyValue(wired, is_secret=secret)
    if isinstance(value, (list, tuple)):
        return PropertyValue([_wire(v, rename_keys) for v in value], is_secret=secret)
    raise TypeError(f"a property value cannot be {type(value).__name__}")


def to_wire(
    props: Mapping[str, Any], secret: frozenset[str] = frozenset(), *, given: Mapping[str, PropertyValue] = _NONE_GIVEN
) -> dict[str, PropertyValue]:
    """``props`` for the engine: camelCase names; the schema's secret outputs and the names in
    ``secret`` marked secret (``None`` values left out). ``given``: the engine's values of the
    same properties, each answered as it came where it is the same text or flag."""
    wired = {}
    for name, value in props.items():
        if value is None or name.startswith("__"):
            continue
        wire_name = pulumi_name(name)
        is_secret = name in _schema.SECRET_OUTPUTS or name in secret
        came = given.get(wire_name)
        if came is not None and _unchanged(came, value, is_secret):
            wired[wire_name] = came
        else:
            wired[wire_name] = _wire(value, name in _LISTS_OF_OBJECTS, is_secret)
    return wired


def _unchanged(came: PropertyValue, value: Any, secret: bool) -> bool:
    # Only a text or a flag: what _wire would make of it is exactly that value, so equal is the same.
    return (
        type(value) in (str, bool)
        and type(came.value) is type(value)
        and came.value == value
        and came.is_secret == secret
        and not came.dependencies
    )
