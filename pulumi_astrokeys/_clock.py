"""This machine's clock, as the providers first judge a key's age by it.

``diff`` runs at ``pulumi preview``, where a preview of many keys must stay offline and
cheap, so a key's stored ``end_at`` is first compared with this machine's UTC clock. That
clock only proposes: before time alone replaces a key, :mod:`pulumi_astrokeys._expiry`
confirms it against Astro's (the ``Date`` of an API answer), so a machine clock that runs
far ahead never rotates keys Astro still honours.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

__all__ = ["now", "parse_time"]


def now() -> datetime:
    """This machine's current UTC time."""
    return datetime.now(timezone.utc)


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
