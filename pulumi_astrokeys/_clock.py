"""The provider's clock: whether a key has expired or is due for rotation.

``diff`` decides this, and ``diff`` runs at ``pulumi preview`` without calling the API
(a preview of many keys must stay offline and cheap). So "now" is this machine's UTC
clock, compared with the ``end_at`` the API stored in the state when the key was made.
The server's clock is not at hand there: the provider process starts afresh for every
Pulumi operation, and a preview sends no request whose ``Date`` it could read. A clock
off by seconds or minutes (NTP keeps it far closer) matters little against expiry and
rotation periods counted in whole days; a ``rotate_before_days`` margin absorbs it.
This is what Pulumi's and Terraform's own time-based resources do (``time_rotating``
compares the local clock with a stored timestamp at plan time).

Tests need to move that clock the way they move the emulator's. The environment
variable :data:`CLOCK_OFFSET_ENV` (seconds, may be fractional) shifts "now" forward in
the provider process; it is for tests only, and the tests that advance the emulator's
clock set it to the same offset. Nothing else reads it, and a value that is not a
number is an error naming the variable, never silently ignored.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

__all__ = ["CLOCK_OFFSET_ENV", "now", "parse_time"]

CLOCK_OFFSET_ENV = "ASTROKEYS_TEST_CLOCK_OFFSET_SECONDS"
"""Test-only: seconds to add to this machine's clock when the provider decides expiry."""


def now() -> datetime:
    """The current UTC time as the provider judges expiry: the machine's clock, plus the test offset if set."""
    moment = datetime.now(timezone.utc)
    raw = os.environ.get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return moment
    try:
        offset = float(raw)
    except ValueError:
        offset = math.nan
    if not math.isfinite(offset):
        from ._errors import ConfigurationError

        raise ConfigurationError(
            f"{CLOCK_OFFSET_ENV} is {raw!r}, not a number of seconds; it is for tests only, so unset it"
        )
    return moment + timedelta(seconds=offset)


def parse_time(value: Any) -> Optional[datetime]:
    """An API timestamp (``YYYY-MM-DDTHH:MM:SSZ``) as an aware UTC datetime; ``None`` if absent or unreadable.

    The package's one timestamp parser. The API's answers are checked with it as they are
    decoded (:mod:`pulumi_astrokeys._models`), so a timestamp read from the API is never
    unreadable here; ``None`` then only means absent.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
