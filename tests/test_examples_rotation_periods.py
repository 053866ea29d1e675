"""The rotation example's period arithmetic, checked at every month from 2000 to 2100.

What is proved, for every month ``p`` of that range (``p + 1`` is the next month):

1. Exactly one slot is rotated at each boundary, and the slots alternate, across year
   boundaries too.
2. Every key lives exactly two periods: created at the start of ``g``, replaced at the
   start of ``g + 2`` (``retired_in``).
3. ``current`` at ``p`` names the key created at the start of ``p``: the newest one.
4. The key ``current`` names at ``p`` is not replaced at the next boundary: it is still
   there, unchanged, throughout ``p + 1``, and goes only at the start of ``p + 2``. So a
   consumer that takes ``current`` at any moment of ``p`` and refreshes it at least once
   per period never holds a deleted secret; it has a whole period of grace.
5. The key replaced at the start of ``p + 1`` (``retiring`` at ``p``) stopped being
   ``current`` a whole period earlier, at the start of ``p``.

Naming instead the older slot, the one already live for a whole period, would break 4:
that key is the one replaced at the very next boundary (5), at the moment ``current``
moves off it.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

ROTATION_MAIN = Path(__file__).resolve().parent.parent / "examples" / "rotation" / "__main__.py"


def _load() -> ModuleType:
    name = "example_rotation"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROTATION_MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rotation = _load()
MONTHS = [f"{year:04d}-{month:02d}" for year in range(2000, 2101) for month in range(1, 13)]
PLANS = [rotation.two_slot_plan(period) for period in MONTHS]


def idx(period: str) -> int:
    return rotation.period_index(period)


def test_periods_count_months_across_year_boundaries() -> None:
    for earlier, later in zip(MONTHS, MONTHS[1:]):
        assert idx(later) == idx(earlier) + 1
        assert rotation.period_name(idx(later)) == later
    assert rotation.period_name(idx("2026-12") + 1) == "2027-01"


@pytest.mark.parametrize("bad", ["2026-1", "2026-00", "2026-13", "26-01", " 2026-01", "2026-01 ", "2026/01", ""])
def test_a_period_must_be_a_month_written_yyyy_mm(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        rotation.period_index(bad)


def test_the_current_period_is_the_month_in_utc() -> None:
    new_years_eve_in_new_york = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert rotation.current_period(new_years_eve_in_new_york) == "2027-01"
    assert rotation.current_period(datetime(2027, 3, 1, 0, 0, tzinfo=timezone.utc)) == "2027-03"


def test_every_key_is_at_most_one_period_old_and_current_is_the_newest() -> None:
    for plan in PLANS:
        ages = {slot: idx(plan.period) - idx(generation) for slot, generation in plan.generations.items()}
        assert sorted(ages.values()) == [0, 1]
        assert ages[plan.current] == 0
        assert ages[plan.retiring] == 1
        assert set(plan.generations) == set(rotation.SLOTS)


def test_exactly_one_slot_rotates_at_each_boundary_and_they_alternate() -> None:
    for before, after in zip(PLANS, PLANS[1:]):
        rotated = {slot for slot in rotation.SLOTS if before.generations[slot] != after.generations[slot]}
        assert rotated == {before.retiring}
        assert after.generations[before.retiring] == after.period
        assert after.current == before.retiring
        assert after.current != before.current


def test_every_key_lives_exactly_two_periods() -> None:
    lifetimes: dict[tuple[str, str], list[str]] = {}
    for plan in PLANS:
        for slot, generation in plan.generations.items():
            lifetimes.setdefault((slot, generation), []).append(plan.period)
            assert plan.retired_in(slot) == rotation.period_name(idx(generation) + 2)
    for (slot, generation), periods in lifetimes.items():
        if generation < MONTHS[0] or rotation.period_name(idx(generation) + 1) > MONTHS[-1]:
            continue  # cut off by the ends of the checked range
        assert periods == [generation, rotation.period_name(idx(generation) + 1)], (slot, generation)


def test_the_key_current_names_survives_the_next_boundary_for_a_whole_period() -> None:
    for now, following, after_that in zip(PLANS, PLANS[1:], PLANS[2:]):
        key = (now.current, now.generations[now.current])
        assert (key[0], following.generations[key[0]]) == key, "current's key must outlive the next boundary"
        assert following.current != key[0], "current moves on at the next boundary"
        assert after_that.generations[key[0]] != key[1], "and the key goes one boundary later"
        assert now.retired_in(now.current) == after_that.period


def test_the_key_replaced_at_a_boundary_stopped_being_current_a_period_earlier() -> None:
    for previous, now, following in zip(PLANS, PLANS[1:], PLANS[2:]):
        dying = (now.retiring, now.generations[now.retiring])
        assert following.generations[dying[0]] != dying[1]
        assert (previous.current, previous.generations[previous.current]) == dying
        assert now.current != dying[0]


def test_slot_a_rotates_in_odd_calendar_months_and_slot_b_in_even_ones() -> None:
    for plan in PLANS:
        month = int(plan.period[5:])
        assert plan.current == ("a" if month % 2 == 1 else "b")
