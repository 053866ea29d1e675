"""The dynamic provider behind :class:`~pulumi_astrokeys.DeploymentApiKey`.

Pulumi pickles the provider object into the stack state (``__provider``) and runs it
in a separate process for every operation. So this class lives at a fixed import path
(``pulumi_astrokeys.provider.DeploymentApiKeyProvider``, pickled by reference) and holds
no state of its own: credentials arrive through :meth:`configure` (stack config
``astrokeys:*``) or the environment, at run time. A new release of this package changes
the code behind the reference, never the pickled bytes, and :meth:`diff` ignores
``__provider`` anyway, so upgrading never replaces a key.

Every input change replaces the key: the new key is created before the old one is
deleted, so consumers are never left without a working secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from ._dynamic import AstroResourceProvider

if TYPE_CHECKING:
    pass

__all__ = ["DeploymentApiKeyProvider"]


class DeploymentApiKeyProvider(AstroResourceProvider):
    """Creates, reads and deletes Astro Deployment API tokens. Thread-safe; holds no secret when pickled."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the inputs field by field, and the connection settings, without calling the API.
        Unknown values pass."""
        from ._inputs import validate_inputs
        from ._ownership import OWNER_PROPERTY

        inputs, problems = validate_inputs(news)
        if news.get(OWNER_PROPERTY) is not None:
            inputs[OWNER_PROPERTY] = news[OWNER_PROPERTY]  # whose key: for the create marker, never diffed
        return CheckResult(inputs, [CheckFailure(p.property, p.reason) for p in problems] + self.settings_failures())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Any changed or unknown input replaces the key, the new one first; ``__provider`` is never compared.

        So does a key whose secret a refresh found dead (rotated outside Pulumi): ``secret`` is then
        the property that forces the replacement. So does a key whose stored ``end_at`` has passed,
        or is within ``rotate_before_days`` (``end_at`` forces it), by this machine's clock and
        confirmed by Astro's (:mod:`pulumi_astrokeys._expiry`); a key not due by this machine's
        clock costs no API call. A change of ``rotate_before_days`` alone is an update in place,
        of the state only.
        """
        from ._inputs import key_diff

        replaces, in_place = key_diff(olds, news, key_id=_id, client=self.client)
        changes = bool(replaces) or bool(in_place)
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the token; return its ID as the resource ID and its value as a secret output.

        Its create marker names the owner the program handed over (:data:`~._ownership.OWNER_PROPERTY`).
        """
        from ._operations import create_key
        from ._ownership import OWNER_PROPERTY, KeyOwner

        owner = KeyOwner.from_property(props.get(OWNER_PROPERTY))
        return self.run_step(lambda: create_key(self.client(), props, owner=owner))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh the key's metadata, keeping the secret from the state; a gone key reads as empty.

        A lookup (``DeploymentApiKey.get``) says it is one (:data:`~._schema.LOOKUP_PROPERTY`)
        and also gets :data:`~._schema.LOOKUP_OUTPUT_NAMES`.
        """
        from ._operations import read_key
        from ._schema import LOOKUP_PROPERTY

        lookup = props.get(LOOKUP_PROPERTY) is True
        client = self.client()
        result: ReadResult = self.run_step(lambda: read_key(client, id_, props, lookup=lookup))
        if lookup and not result.id and not props.get("key_id"):
            # The program's own lookup (a lookup's refresh starts from its earlier outputs). An
            # empty ID would not fail the update: the engine would record nothing, silently.
            from ._operations import missing_key_error

            raise missing_key_error(client, id_, "look up", "pass the ID of an existing key to DeploymentApiKey.get")
        return result

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Record a new ``rotate_before_days`` (the only input that changes in place); no API call.

        Any other change replaces the key, so an update asked for anything else fails
        without changing anything.
        """
        from ._operations import update_in_place

        return UpdateResult(self.run_step(lambda: update_in_place(olds, news)))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the token; a key or Deployment that is already gone counts as deleted."""
        from ._operations import delete_key

        self.run_step(lambda: delete_key(self.client(), id_, props))
