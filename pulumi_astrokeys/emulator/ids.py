"""Identifiers shaped like Astro's: CUID v1, 25 characters, ``^c[a-z0-9]{24}$``.

A CUID v1 is ``c`` + timestamp (8) + counter (4) + host fingerprint (4) + random (8),
all in lowercase base 36. Ids made by one process sort in creation order, which
the store relies on only as a tie-breaker.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import socket
import threading
import time

__all__ = ["ID_PATTERN", "is_id", "new_id"]

ID_PATTERN = re.compile(r"^c[a-z0-9]{24}$")
"""The shape of every id the emulator hands out (and that the client validates)."""

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_BLOCK = 36**4

_lock = threading.Lock()
_counter = itertools.count(secrets.randbelow(_BLOCK))


def _base36(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rem = divmod(value, 36)
        digits.append(_ALPHABET[rem])
    # Keep the low-order digits: the timestamp only overflows 8 digits in 2059.
    return "".join(reversed(digits))


def _fingerprint() -> str:
    host = socket.gethostname()
    host_sum = sum(map(ord, host)) + len(host) + 36
    return _base36(os.getpid(), 2) + _base36(host_sum, 2)


_FINGERPRINT = _fingerprint()


def new_id() -> str:
    """Return a fresh CUID-v1-shaped id, e.g. ``clm8q7f6q000008lcgyougpsk``."""
    with _lock:
        count = next(_counter) % _BLOCK
    return (
        "c"
        + _base36(int(time.time() * 1000), 8)
        + _base36(count, 4)
        + _FINGERPRINT
        + _base36(secrets.randbelow(_BLOCK * _BLOCK), 8)
    )


def is_id(value: str) -> bool:
    """Whether ``value`` has the shape of an Astro id."""
    return ID_PATTERN.fullmatch(value) is not None
