"""The inputs' limits are stated once, in ``_schema``: check enforces them, and its fix
sentences, the Args docstrings and the reference's table all say the same figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pulumi_astrokeys import DeploymentApiKeyArgs
from pulumi_astrokeys._inputs import validate_inputs
from pulumi_astrokeys._schema import INPUT_BOUNDS, Bounds

DEPLOYMENT = "clm8q7f6q000008lcgyougpsk"
REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"
DOCUMENTED = ("name", "description", "expiry_period_in_days")  # rotate_before_days is bounded by the expiry


def value_of_size(name: str, bounds: Bounds, size: int) -> object:
    return "k" * size if bounds.counts_characters else size


def problems_with(name: str, value: object) -> list[str]:
    inputs = {"deployment_id": DEPLOYMENT, "name": "ci", "expiry_period_in_days": 3650, name: value}
    _, problems = validate_inputs(inputs)
    return [p.reason for p in problems if p.property == name]


@pytest.mark.parametrize("name", sorted(set(INPUT_BOUNDS) - {"rotate_before_days"}))
def test_check_takes_each_bound_and_refuses_one_past_it_naming_the_limit(name: str) -> None:
    bounds = INPUT_BOUNDS[name]
    assert problems_with(name, value_of_size(name, bounds, bounds.most)) == []
    (reason,) = problems_with(name, value_of_size(name, bounds, bounds.most + 1))
    assert bounds.describe() in reason
    if bounds.least:
        assert problems_with(name, value_of_size(name, bounds, bounds.least)) == []
        (reason,) = problems_with(name, value_of_size(name, bounds, bounds.least - 1))
        assert bounds.describe() in reason


@pytest.mark.parametrize("name", DOCUMENTED)
def test_the_args_docstring_states_the_schemas_limit(name: str) -> None:
    assert INPUT_BOUNDS[name].describe() in (getattr(DeploymentApiKeyArgs, name).__doc__ or "")


@pytest.mark.parametrize("name", DOCUMENTED)
def test_the_references_table_states_the_schemas_limit(name: str) -> None:
    (row,) = [line for line in REFERENCE.read_text().splitlines() if line.startswith(f"| `{name}` |")]
    rules = row.rstrip(" |").rsplit(" | ", 1)[1]
    assert re.match(re.escape(INPUT_BOUNDS[name].describe()) + r"\b", rules), row
