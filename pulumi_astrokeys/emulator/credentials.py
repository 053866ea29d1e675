"""Token values: minted with high entropy, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

__all__ = ["MintedToken", "hash_token", "mint_token"]


@dataclass(frozen=True)
class MintedToken:
    """A fresh token value, its hash (what the database keeps) and its short id."""

    value: str
    hash: str
    short_token: str

    def __repr__(self) -> str:
        return f"MintedToken(value='***', short_token={self.short_token!r})"


def hash_token(value: str) -> str:
    """The hex SHA-256 of a token value: the only form a value is stored in."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def mint_token() -> MintedToken:
    """A new random token value (384 bits) with a short id that is not part of it."""
    value = secrets.token_urlsafe(48)
    short = secrets.token_hex(5)
    while short in value:  # astronomically rare, but the short id must reveal nothing
        short = secrets.token_hex(5)
    return MintedToken(value=value, hash=hash_token(value), short_token=short)
