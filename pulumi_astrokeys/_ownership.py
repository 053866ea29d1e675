"""What proves that a token is a stack's abandoned create: the create marker, its owner, Astro's clock.

A name, a creator or a time is no proof: two stacks may share an API token, a Deployment
and key names, and so may any other tool. The one proof this package has is the **create
marker**. Each create attempt sends a marker of its own as the token's description
(:class:`CreateMarker`: :data:`CREATE_MARKER_PREFIX`, 32 random hex digits, and the
:class:`KeyOwner`: the project, stack and resource the create is for). Once the answer
is in hand, one last request (``POST /tokens/{id}``) replaces it with the description the
program asked for; only then does the create hand the token and its secret to Pulumi.
So a token whose description is still a marker was never handed to anyone: its secret
died with the create that made it.

A marker alone proves a create of this package for that stack, not that the create was
abandoned: it may still be under way (in another process, or a provider whose engine
was killed). **The commit bound** settles that on Astro's clock, never this machine's:
a create hands its token over only if the answer to its last request carries a ``Date``
before ``createdAt`` + :data:`COMMIT_BOUND` - :data:`HANDOVER_MARGIN` (the token's own
``createdAt`` and the ``Date`` are both Astro's); otherwise it deletes the token and fails.
An audit deletes a marker's token only when Astro's ``Date`` on its own re-read of the
token is at or past ``createdAt`` + :data:`COMMIT_BOUND`. If that re-read still shows the
marker, the description request had not been committed, so any later commit is answered
past the bound and its create gives up. Either way no token is deleted while a create can
still hand it over, and no token a create handed over carries a marker.

A marker of an earlier release (or of a create given no owner) names none
(:attr:`CreateMarker.owner` is ``None``), and earlier releases enforced no bound: such a
token is only ever a suspect, for a person.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from ._clock import parse_time
from ._schema import INPUT_BOUNDS

__all__ = [
    "COMMIT_BOUND",
    "CREATE_MARKER_PREFIX",
    "HANDOVER_MARGIN",
    "OWNER_PROPERTY",
    "CreateMarker",
    "KeyOwner",
    "abandoned_from",
    "handover_deadline",
    "is_create_marker",
]

CREATE_MARKER_PREFIX = "pulumi-astrokeys create in progress "
"""How the description of a token whose create is under way (or was abandoned) begins."""

COMMIT_BOUND = timedelta(minutes=10)
"""How long after a token's ``createdAt`` (on Astro's clock) its create may still hand it over."""

HANDOVER_MARGIN = timedelta(seconds=30)
"""What a create keeps between its last answer and the bound: the ``Date`` header has whole
seconds and this machine only estimates Astro's clock between two answers."""

OWNER_PROPERTY = "__astrokeys_owner"
"""The hidden input through which a program tells the dynamic provider whose key it creates.
Pulumi shows no property whose name begins with ``__``; ``diff`` compares only the schema's inputs."""

_MARKER_LIMIT = INPUT_BOUNDS["description"].most
# Pulumi's rule for project and stack names; a name outside it cannot be written into a marker.
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_MARKER = re.compile(
    re.escape(CREATE_MARKER_PREFIX)
    + r"(?P<nonce>[0-9a-f]{32})(?: for stack (?P<project>[A-Za-z0-9_.-]+)/(?P<stack>[A-Za-z0-9_.-]+), resource (?P<name>.*))?",
    re.DOTALL,
)


@dataclass(frozen=True)
class KeyOwner:
    """Whose key a create makes: a Pulumi project, a stack of it, and the resource's name."""

    project: str
    stack: str
    name: str

    @classmethod
    def from_urn(cls, urn: str) -> Optional[KeyOwner]:
        """The owner a resource URN names (``urn:pulumi:<stack>::<project>::<type>::<name>``), if it is one."""
        parts = urn.split("::", 3)
        if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
            return None
        return cls.of(parts[1], parts[0].removeprefix("urn:pulumi:"), parts[3])

    @classmethod
    def of(cls, project: Any, stack: Any, name: Any) -> Optional[KeyOwner]:
        """An owner, or ``None`` when project or stack break Pulumi's naming rule (or a part is missing)."""
        if not (isinstance(project, str) and isinstance(stack, str) and isinstance(name, str) and name):
            return None
        if not (_NAME.match(project) and _NAME.match(stack)):
            return None
        return cls(project, stack, name)

    @classmethod
    def from_property(cls, value: Any) -> Optional[KeyOwner]:
        """The owner a program handed over in :data:`OWNER_PROPERTY`; ``None`` if absent or malformed."""
        if not isinstance(value, Mapping):
            return None
        return cls.of(value.get("project"), value.get("stack"), value.get("name"))

    def to_property(self) -> dict[str, str]:
        """The value of :data:`OWNER_PROPERTY`."""
        return {"project": self.project, "stack": self.stack, "name": self.name}

    @property
    def stack_name(self) -> str:
        """``project/stack``, as the marker and the audit write it."""
        return f"{self.project}/{self.stack}"


@dataclass(frozen=True)
class CreateMarker:
    """The description a create attempt gives its token until the answer is in hand."""

    nonce: str
    owner: Optional[KeyOwner]
    """``None`` for a marker that names no owner (an earlier release's, or a create given none)."""
    text: str

    @classmethod
    def new(cls, owner: Optional[KeyOwner]) -> CreateMarker:
        """A fresh marker for one create attempt (a resource name too long for the API's limit is cut)."""
        nonce = secrets.token_hex(16)
        text = CREATE_MARKER_PREFIX + nonce
        if owner is not None:
            head = f"{text} for stack {owner.stack_name}, resource "
            name = owner.name if len(head) + len(owner.name) <= _MARKER_LIMIT else owner.name[: _MARKER_LIMIT - len(head)]
            text = head + name
        return cls(nonce, owner, text)

    @classmethod
    def parse(cls, description: Optional[str]) -> Optional[CreateMarker]:
        """The marker a token's description is, or ``None`` when it is none."""
        if not description:
            return None
        found = _MARKER.fullmatch(description)
        if found is None:
            return None
        owner = None
        if found["project"] is not None:
            owner = KeyOwner(found["project"], found["stack"], found["name"])
        return cls(found["nonce"], owner, description)


def is_create_marker(description: str) -> bool:
    """Whether a description is (or begins as) the marker of a create this package sent."""
    return description.startswith(CREATE_MARKER_PREFIX)


def abandoned_from(created_at: Any) -> Optional[datetime]:
    """When, on Astro's clock, no create can hand over a token created at ``created_at`` any more."""
    created = parse_time(created_at)
    return None if created is None else created + COMMIT_BOUND


def handover_deadline(created_at: Any) -> Optional[datetime]:
    """The latest Astro time at which a create may still hand over a token created at ``created_at``."""
    abandoned = abandoned_from(created_at)
    return None if abandoned is None else abandoned - HANDOVER_MARGIN
