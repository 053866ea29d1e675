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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, cast

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from ._dynamic import AstroResourceProvider

if TYPE_CHECKING:
    from ._client import AstroClient
    from ._models import ApiToken

__all__ = ["DeploymentApiKeyProvider", "lookup_outputs"]


def lookup_outputs(token: ApiToken) -> dict[str, Any]:
    """The :data:`LOOKUP_OUTPUT_NAMES` of a token: when it was last used, who created it, its kind."""
    created_by = None
    if token.created_by is not None:
        created_by = {k: v for k, v in token.created_by.model_dump().items() if v is not None}
    return {"last_used_at": token.last_used_at, "created_by": created_by, "kind": token.kind}


def _is_lookup(props: Mapping[str, Any]) -> bool:
    """Whether a read comes from ``DeploymentApiKey.get`` rather than a managed key's refresh.

    A lookup starts from no properties at all, and a lookup's own refresh from its earlier
    outputs, which hold no ``keepers`` (nothing can rotate a key Pulumi does not manage).
    A managed key's state always holds its ``deployment_id`` and ``keepers``. Lookups of
    an earlier release did keep ``keepers`` but had ``kind`` without ``dag_roles``, which
    no managed key's state has: earlier managed keys had neither, current ones have both.
    """
    if not props.get("deployment_id") or "keepers" not in props:
        return True
    return "kind" in props and "dag_roles" not in props


class _TokenRecorder:
    """The client, keeping the token its ``get_token`` returned (so a lookup reads the key once)."""

    def __init__(self, client: AstroClient) -> None:
        self._client = client
        self.token: Optional[ApiToken] = None

    def get_token(self, token_id: str) -> ApiToken:
        self.token = self._client.get_token(token_id)
        return self.token

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


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
        or is within ``rotate_before_days`` (``end_at`` forces it), by this machine's clock
        (:mod:`pulumi_astrokeys._clock` says why that clock); no API call is made. A change of
        ``rotate_before_days`` alone is an update in place, of the state only.
        """
        from ._clock import now
        from ._inputs import key_diff

        replaces, in_place = key_diff(olds, news, now())
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

        A lookup (``DeploymentApiKey.get``) also gets :data:`LOOKUP_OUTPUT_NAMES`; a managed
        key's refresh never does, so they never enter its state or its diff.
        """
        from ._operations import read_key

        if not _is_lookup(props):
            return self.run_step(lambda: read_key(self.client(), id_, props))
        client = self.client()
        recorder = _TokenRecorder(client)
        result: ReadResult = self.run_step(
            lambda: read_key(cast("AstroClient", recorder), id_, props, managed=False)
        )
        if not result.id and not props.get("key_id"):
            # The program's own lookup (a lookup's refresh starts from its earlier outputs). An
            # empty ID would not fail the update: the engine would record nothing, silently.
            from ._operations import missing_key_error

            raise missing_key_error(client, id_, "look up", "pass the ID of an existing key to DeploymentApiKey.get")
        if result.id and recorder.token is not None and result.outs is not None:
            result.outs.update(lookup_outputs(recorder.token))
            result.outs["keepers"] = None  # nothing rotates a key Pulumi does not manage; see _is_lookup
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
