"""Scheduled rotation of Astro Deployment API keys, driven by a time bucket (the month).

Run ``pulumi up`` on a schedule (say, daily). Nothing changes within a month; in the
first run of a new month the keys due for rotation are replaced: Pulumi creates the new
key, updates everything that uses it, and only then deletes the old one.

Four ways to rotate, one per block below:

1. ``keepers``: the month is a keeper of the key, so a new month replaces it.
2. ``replacement_trigger``: the same, through Pulumi's resource option rather than an
   input of the key.
3. Two slots: two keys, each living two months, rotated on alternating months. The
   ``current`` output always names the newer one, which outlives the next rotation, so a
   consumer that refreshes its copy at least once a month never holds a deleted secret.
4. Expiry with a grace period: a key that expires after 30 days, which ``pulumi up``
   replaces once it is within 7 days of expiring (``rotate_before_days``). With
   ``retain_on_delete`` the replaced key leaves the state but stays in Astro, working
   until it expires on its own 7 days later: consumers that copy the secret on their
   own schedule get a week to pick up the new one, with one key instead of two slots.

The month comes from config ``period`` (``YYYY-MM``) when set, so a test, or an operator
who wants to rotate early, can move time; otherwise it is the current month in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import pulumi

from pulumi_astrokeys import DeploymentApiKey

__all__ = [
    "SLOTS",
    "TwoSlotPlan",
    "current_period",
    "main",
    "period_index",
    "period_name",
    "two_slot_plan",
]

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

SLOTS: tuple[str, str] = ("a", "b")
"""Slot ``a`` is rotated in January, March, May and so on; slot ``b`` in February, April, June and so on."""


def period_index(period: str) -> int:
    """The month ``YYYY-MM`` as a running count of months (``year * 12 + month - 1``).

    Counting months across years keeps the alternation of the two slots unbroken at
    every year boundary. Raises ``ValueError`` for anything but ``YYYY-MM``.
    """
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"period must be a month written YYYY-MM, like 2026-03, not {period!r}")
    return int(match[1]) * 12 + int(match[2]) - 1


def period_name(index: int) -> str:
    """The inverse of :func:`period_index`: ``YYYY-MM`` for a running count of months."""
    year, month0 = divmod(index, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def current_period(now: Optional[datetime] = None) -> str:
    """The month ``now`` (default: this moment) falls in, in UTC, as ``YYYY-MM``."""
    moment = now or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


@dataclass(frozen=True)
class TwoSlotPlan:
    """Which key each slot holds in a period, and which slot consumers should use."""

    period: str
    """The period the plan is for."""
    generations: Mapping[str, str]
    """For each slot, the period its key was created in: the key's keeper."""
    current: str
    """The slot consumers should use: the one created in this period."""
    retiring: str
    """The other slot: created in the previous period, replaced at the next boundary."""

    def retired_in(self, slot: str) -> str:
        """The period at whose start the slot's present key is replaced (and deleted)."""
        return period_name(period_index(self.generations[slot]) + len(SLOTS))


def two_slot_plan(period: str) -> TwoSlotPlan:
    """The two-slot schedule at ``period``.

    Slot ``SLOTS[p]`` is rotated at every period whose index has parity ``p``, so
    exactly one slot is rotated at each boundary and each key lives two periods. The
    ``current`` slot is the one rotated at this period's boundary: its key is deleted
    only at the boundary after next, a whole period after ``current`` has moved on to
    the other slot.
    """
    index = period_index(period)
    generations = {slot: period_name(index - (index - parity) % 2) for parity, slot in enumerate(SLOTS)}
    current = SLOTS[index % 2]
    retiring = SLOTS[(index + 1) % 2]
    return TwoSlotPlan(period=period, generations=generations, current=current, retiring=retiring)


def _period_from_config(config: pulumi.Config) -> str:
    period = config.get("period") or current_period()
    try:
        period_index(period)
    except ValueError as error:
        raise pulumi.RunError(f"config period: {error}") from None
    return period


def main() -> None:
    """Declare the rotated keys and export what consumers need."""
    config = pulumi.Config()
    deployment_id = config.require("deploymentId")
    period = _period_from_config(config)
    pulumi.export("period", period)

    # 1. keepers: a new month is a changed input, which replaces the key.
    monthly = DeploymentApiKey(
        "monthly",
        deployment_id=deployment_id,
        description="Rotated every month through keepers",
        keepers={"period": period},
    )
    pulumi.export("monthly_key_id", monthly.key_id)
    pulumi.export("monthly_key_secret", monthly.secret)

    # 2. replacement_trigger: Pulumi replaces the resource whenever the value changes,
    #    whatever its inputs; the key itself carries no keeper.
    triggered = DeploymentApiKey(
        "triggered",
        deployment_id=deployment_id,
        description="Rotated every month through replacement_trigger",
        opts=pulumi.ResourceOptions(replacement_trigger=period),
    )
    pulumi.export("triggered_key_id", triggered.key_id)
    pulumi.export("triggered_key_secret", triggered.secret)

    # 3. Two slots, rotated on alternating months; consumers read `current`.
    plan = two_slot_plan(period)
    slots = {
        slot: DeploymentApiKey(
            f"slot-{slot}",
            deployment_id=deployment_id,
            description=f"Two-slot rotation, slot {slot}",
            keepers={"generation": generation},
        )
        for slot, generation in plan.generations.items()
    }
    current = slots[plan.current]
    pulumi.export("slot_key_ids", {slot: key.key_id for slot, key in slots.items()})
    pulumi.export("slot_generations", dict(plan.generations))
    pulumi.export("current_key_id", current.key_id)
    # 4. Expiry with a grace period: replaced 7 days before it expires, and kept alive in Astro
    #    (not deleted) until it does, so both keys work during those 7 days.
    graceful = DeploymentApiKey(
        "graceful",
        deployment_id=deployment_id,
        description="Replaced 7 days before it expires; the old key works until it expires",
        expiry_period_in_days=30,
        rotate_before_days=7,
        opts=pulumi.ResourceOptions(retain_on_delete=True),
    )
    pulumi.export("graceful_key_id", graceful.key_id)
    pulumi.export("graceful_key_secret", graceful.secret)
    pulumi.export("graceful_end_at", graceful.end_at)

    pulumi.export(
        "current",
        pulumi.Output.secret(
            {
                "slot": plan.current,
                "key_id": current.key_id,
                "secret": current.secret,
                "created_in": plan.generations[plan.current],
                "retired_in": plan.retired_in(plan.current),
            }
        ),
    )


if __name__ == "__main__":
    main()
