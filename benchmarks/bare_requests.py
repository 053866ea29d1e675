"""The bare requests of each key operation: what any provider of the key must send, with httpx and nothing else.

- create: ``GET`` the Deployment, ``POST /tokens`` (with a marker as description),
  ``POST /tokens/{id}`` (the user's description);
- read: ``GET /tokens/{id}``;
- delete: ``DELETE /tokens/{id}``.

The benchmarks send them from their own process, and the no-op providers that stand for the
cheapest provider doing the job send them from theirs (:mod:`benchmarks.noop`,
:mod:`benchmarks.noop_plugin`).
"""

from __future__ import annotations

import httpx

__all__ = ["BareRequests"]


class BareRequests:
    """The operations' requests on one organization of an Astro API (``host``, with ``token``)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    @classmethod
    def on(cls, host: str, organization_id: str, token: str) -> BareRequests:
        """Requests to ``host`` for the organization ``organization_id``, authenticated with ``token``."""
        return cls(
            httpx.Client(
                base_url=f"{host}/v1/organizations/{organization_id}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                trust_env=False,
            )
        )

    def create(self, deployment_id: str, name: str, marker: str) -> str:
        """Create a Deployment API key as the provider does (its marker first, then its description); its ID."""
        self._http.get(f"/deployments/{deployment_id}").raise_for_status().json()
        body = {
            "name": name,
            "description": marker,
            "scope": "DEPLOYMENT",
            "entityId": deployment_id,
            "role": "DEPLOYMENT_ADMIN",
        }
        key_id = str(self._http.post("/tokens", json=body).raise_for_status().json()["id"])
        self._http.post(f"/tokens/{key_id}", json={"name": name, "description": ""}).raise_for_status()
        return key_id

    def read(self, key_id: str) -> None:
        """Read a key's metadata."""
        self._http.get(f"/tokens/{key_id}").raise_for_status().json()

    def delete(self, key_id: str) -> None:
        """Delete a key."""
        self._http.delete(f"/tokens/{key_id}").raise_for_status()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()
