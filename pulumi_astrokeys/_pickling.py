"""A guard around registering a dynamic resource, against a leak in the Pulumi SDK's pickling.

``pulumi.dynamic``'s ``serialize_provider`` wraps ``pickle._Pickler._batch_setitems`` anew
on every call and never unwraps it, so each dynamic resource adds a stack frame to all
later pickling, and a program of about 960 of them dies of ``RecursionError``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["pickler_restored"]


@contextmanager
def pickler_restored() -> Iterator[None]:
    """Put back the pickler method the SDK wraps while a dynamic resource registers."""
    batch_setitems = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems = batch_setitems  # type: ignore[attr-defined]
