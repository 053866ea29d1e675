"""A key's outputs as a stack's state keeps them, for tests that hand the provider its olds."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc

DEPLOYMENT = "clm8q7f6q000008lcgyougpsk"


def stored_key(**overrides: Any) -> dict[str, Any]:
    """The outputs a create left in the state (the secret wrapped as the engine hands it over),
    with ``overrides`` on top; a key that never expires unless ``end_at`` is given."""
    values: dict[str, Any] = {
        "key_id": "clm8q7f6q000008lcgyoukey1",
        "secret": rpc.wrap_rpc_secret("s3cr3t"),
        "short_token": "abc1234",
        "deployment_id": DEPLOYMENT,
        "organization_id": "clm8q7f6q000008lcgyouorg1",
        "name": "ci",
        "description": "",
        "role": "DEPLOYMENT_ADMIN",
        "keepers": {},
        "created_at": "2026-11-27T10:00:00Z",
        "start_at": "2026-11-27T10:00:00Z",
        "__provider": "old-release-bytes",
    }
    values.update(overrides)
    return values
