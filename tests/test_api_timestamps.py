"""Timestamps the API answers with: one parser, and an unreadable one named, not a bare ValueError.

The emulator always writes well-formed timestamps (its fault injection can cut a body
short, not garble one field), so a transport that rewrites one field of the real
emulator's answer stands in for an API that sends a malformed ``createdAt``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from pulumi.runtime import rpc

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._clock import parse_time
from pulumi_astrokeys._dynamic import AstroResourceProvider
from pulumi_astrokeys._errors import DecodingError
from pulumi_astrokeys._operations import create_key, read_key
from pulumi_astrokeys._settings import AstroSettings
from pulumi_astrokeys.testing.emulator import Emulator


class _OneFieldGarbled(httpx.BaseTransport):
    """The real HTTP transport; each token in a ``GET /tokens...`` answer gets ``field`` set to ``value``."""

    def __init__(self, field: str, value: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._field, self._value = field, value

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method != "GET" or "/tokens" not in request.url.path:
            return response
        body = json.loads(response.read())
        for token in body.get("tokens", [body]):
            token[self._field] = self._value
        return httpx.Response(response.status_code, headers=response.headers, json=body, request=request)

    def close(self) -> None:
        self._inner.close()


def _garbling_client(settings: AstroSettings, field: str, value: str) -> AstroClient:
    return AstroClient(
        settings, transport=_OneFieldGarbled(field, value), retry=RetryPolicy(max_attempts=1), rate_limits=None
    )


@pytest.mark.parametrize("field", ["createdAt", "lastRotatedAt", "endAt"])
def test_a_read_of_an_unreadable_timestamp_is_one_sentence_naming_the_field(
    emulator: Emulator, settings: AstroSettings, field: str
) -> None:
    props = {"deployment_id": emulator.deployment_ids[0], "name": "ci", "role": "DEPLOYMENT_ADMIN"}
    with AstroClient(settings, rate_limits=None) as client:
        created = create_key(client, props)
    state = dict(created.outs, secret=rpc.unwrap_rpc_secret(created.outs["secret"]))

    with _garbling_client(settings, field, "last Tuesday") as garbling, pytest.raises(KeyOperationError) as failed:
        AstroResourceProvider.run_step(lambda: read_key(garbling, created.id, state))

    message = str(failed.value)
    assert message.startswith("Could not read Deployment API key 'ci'")
    assert f"its {field} is not a timestamp" in message
    assert "last Tuesday" not in message, "an answer's values are never echoed (one may be a secret)"
    assert "quote the requestId" in message and message.endswith(".") and "\n" not in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_a_listing_names_the_token_whose_timestamp_is_unreadable(emulator: Emulator, settings: AstroSettings) -> None:
    props = {"deployment_id": emulator.deployment_ids[0], "name": "ci", "role": "DEPLOYMENT_ADMIN"}
    with AstroClient(settings, rate_limits=None) as client:
        create_key(client, props)

    with _garbling_client(settings, "endAt", "soon") as garbling, pytest.raises(DecodingError) as failed:
        garbling.list_deployment_tokens(emulator.deployment_ids[0])

    assert "its tokens[0].endAt is not a timestamp" in str(failed.value)


def test_the_one_parser_reads_the_apis_timestamps_as_utc_and_nothing_else() -> None:
    assert parse_time("2024-03-01T12:30:00Z") == datetime(2024, 3, 1, 12, 30, tzinfo=timezone.utc)
    assert parse_time("2024-03-01T12:30:00.250Z") == datetime(2024, 3, 1, 12, 30, 0, 250000, tzinfo=timezone.utc)
    assert parse_time("2024-03-01T12:30:00") == datetime(2024, 3, 1, 12, 30, tzinfo=timezone.utc)
    assert parse_time("2024-03-01T14:30:00+02:00") == datetime(2024, 3, 1, 12, 30, tzinfo=timezone.utc)
    for unreadable in ("last Tuesday", "", None, 1709296200):
        assert parse_time(unreadable) is None
