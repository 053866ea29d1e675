"""Property-based tests of check: it never raises, and every invalid input set is named field by field."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.output import Unknown

from pulumi_astrokeys._inputs import INPUT_NAMES, KeyInputs, input_values, is_unknown
from pulumi_astrokeys.provider import DeploymentApiKeyProvider

EXAMPLES = 2500

unknown = st.builds(Unknown)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def around(limit: int) -> st.SearchStrategy[str]:
    """Strings whose length sits at a limit or just either side of it."""
    return st.integers(min_value=limit - 1, max_value=limit + 1).map(lambda n: "k" * n)


astro_id = st.from_regex(r"\Ac[a-z0-9]{24}\Z")

field_values: dict[str, st.SearchStrategy[Any]] = {
    "deployment_id": st.one_of(astro_id, st.text(max_size=30), unknown, junk),
    "name": st.one_of(st.text(min_size=0, max_size=300), around(256), unknown, junk),
    "description": st.one_of(st.text(max_size=600), around(500), unknown, junk),
    "role": st.one_of(st.sampled_from(["DEPLOYMENT_ADMIN", "CUSTOM_ROLE", "", "  "]), unknown, junk),
    "expiry_period_in_days": st.one_of(
        st.integers(min_value=-10, max_value=4000), st.sampled_from([0, 1, 3650, 3651]), unknown, junk
    ),
    "keepers": st.one_of(
        st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), unknown, st.integers()), max_size=4),
        unknown,
        junk,
    ),
}

input_sets = st.fixed_dictionaries({}, optional=field_values)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(props=input_sets)
def test_check_never_raises_and_names_every_invalid_field(props: dict[str, Any]) -> None:
    provider = DeploymentApiKeyProvider()
    result = provider.check({}, dict(props, __provider="opaque"))

    failing = {failure.property for failure in result.failures}
    assert failing <= set(INPUT_NAMES)
    for failure in result.failures:
        assert failure.reason.startswith(failure.property)

    present = input_values(props)
    unknowns = {name for name, value in present.items() if is_unknown(value)}
    assert not failing & unknowns, "an unknown value must never be reported"

    # Exactly the known fields that do not validate on their own are reported.
    for name in INPUT_NAMES:
        if name in unknowns:
            continue
        if name not in present:
            expected_bad = KeyInputs.model_fields[name].is_required()
        else:
            expected_bad = not _field_is_valid(name, present[name])
        assert (name in failing) == expected_bad, (name, present.get(name), result.failures)

    if not result.failures:
        for name in unknowns:
            assert result.inputs[name] is props[name] or is_unknown(result.inputs[name])


def _field_is_valid(name: str, value: Any) -> bool:
    """The documented rules, written out independently of the provider's model."""
    if name == "deployment_id":
        return isinstance(value, str) and re.fullmatch(r"c[a-z0-9]{24}", value) is not None
    if name == "name":
        return isinstance(value, str) and 1 <= len(value) <= 256 and bool(value.strip())
    if name == "description":
        return isinstance(value, str) and len(value) <= 500
    if name == "role":
        return isinstance(value, str) and 1 <= len(value) <= 256 and bool(value.strip())
    if name == "expiry_period_in_days":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3650
    if name == "keepers":
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    raise AssertionError(name)
