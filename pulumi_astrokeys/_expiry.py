"""When time alone replaces a key, and whose clock says so.

A key is due once its ``end_at`` has passed, or once it is within ``rotate_before_days``
of it. Two clocks can say so, and only Astro's counts:

- ``diff`` first asks this machine's clock, which costs nothing, so a preview of keys far
  from expiry makes no API request. A key due by that clock is confirmed against Astro's
  (the ``Date`` of an API answer) before it is replaced: a machine clock far ahead would
  otherwise rotate every key at once. A clock off by more than :data:`CLOCK_TOLERANCE` is
  named in one sentence; where Astro's clock cannot be read, nothing is replaced for time.
- ``read`` has just had Astro's answer about the key. When Astro's clock says the key has
  expired but this machine's does not, ``diff`` would never see it: the secret, which no
  longer authenticates, leaves the state, and the next ``pulumi up`` replaces the key.

Both providers call these functions; neither judges time on its own.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Optional

from . import _clock
from ._errors import AstroKeysError
from ._inputs import rotation_due

if TYPE_CHECKING:
    from ._client import AstroClient

__all__ = ["CLOCK_TOLERANCE", "astro_says_expired", "time_replaces"]

logger = logging.getLogger("pulumi_astrokeys")

CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far this machine's clock may drift from Astro's before a sentence names it (Kerberos'
default skew, a figure operators know)."""

_clients_told_of_their_clock: weakref.WeakSet[AstroClient] = weakref.WeakSet()


def time_replaces(
    client: Callable[[], AstroClient], key_id: str, key: str, olds: Mapping[str, Any], news: Mapping[str, Any]
) -> bool:
    """Whether time alone replaces the key ``key_id`` (described as ``key``): due by this
    machine's clock, then confirmed by Astro's. Asks the API nothing for a key that is not due."""
    local = _clock.now()
    if not rotation_due(olds, news, local):
        return False
    try:
        api = client()
    except AstroKeysError:
        api = None
    astro = None if api is None else _astro_time(api, key_id)
    if api is None or astro is None:
        logger.warning(
            "%s is due for replacement by this machine's clock, but Astro's clock could not be read to "
            "confirm it, so it is not replaced for its age this time; run `pulumi up` again once Astro answers",
            key,
        )
        return False
    _name_a_far_clock(api, local, astro)
    return rotation_due(olds, news, astro)


def astro_says_expired(client: AstroClient, key: str, end_at: Optional[str]) -> bool:
    """After Astro answered for the key: whether its secret must leave the state.

    An expired key stays in the state with one line saying the next ``pulumi up`` replaces
    it. When only Astro's clock shows it expired, that line also says the secret goes (True):
    this machine's clock would not replace the key, and its secret no longer works.
    """
    expires = _clock.parse_time(end_at)
    astro = client.answered_time()
    if expires is None or astro is None or astro < expires:
        return False
    local = _clock.now()
    if local >= expires:
        logger.warning("%s expired at %s; it stays in the state, and the next `pulumi up` replaces it", key, end_at)
        return False
    logger.warning(
        "%s expired at %s by Astro's clock, which this machine's clock (%s behind) has not reached: its "
        "secret no longer works and leaves the state, and the next `pulumi up` replaces the key",
        key,
        end_at,
        _span(astro - local),
    )
    return True


def _astro_time(api: AstroClient, key_id: str) -> Optional[datetime]:
    """Astro's current time: from an answer this process already has, else from reading the key."""
    if api.answered_time() is None:
        try:
            api.get_token(key_id)
        except AstroKeysError:
            pass  # an error answer carries a Date too; no answer at all leaves the time unknown
    return api.answered_time()


def _name_a_far_clock(api: AstroClient, local: datetime, astro: datetime) -> None:
    """Name a clock off by more than the tolerance, once per client (a provider process has one)."""
    skew = local - astro
    if abs(skew) <= CLOCK_TOLERANCE or api in _clients_told_of_their_clock:
        return
    _clients_told_of_their_clock.add(api)
    logger.warning(
        "This machine's clock is %s %s Astro's; keys are replaced for their age by Astro's clock only, "
        "so set this machine's clock right (for example with NTP)",
        _span(abs(skew)),
        "ahead of" if skew > timedelta(0) else "behind",
    )


def _span(delta: timedelta) -> str:
    """A duration as a person says it: ``80 days``, ``3 hours``, ``12 minutes``."""
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{round(seconds)} seconds"
