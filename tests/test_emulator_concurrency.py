"""Concurrent requests: every create commits whole and is listed; deletes race cleanly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from pulumi_astrokeys.testing.emulator import Emulator


def test_fifty_concurrent_creates_are_distinct_and_all_listed(emulator: Emulator) -> None:
    def create(index: int) -> httpx.Response:
        with emulator.client() as client:
            return client.post(
                "/tokens",
                json={
                    "name": f"burst-{index}",
                    "scope": "DEPLOYMENT",
                    "entityId": emulator.deployment_ids[index % 2],
                    "role": "DEPLOYMENT_ADMIN",
                },
            )

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(create, range(50)))

    assert [r.status_code for r in responses] == [200] * 50
    created = [r.json() for r in responses]
    assert len({t["id"] for t in created}) == 50 and len({t["token"] for t in created}) == 50
    with emulator.client() as owner:
        listed = owner.get("/tokens", params={"limit": 1000}).json()
    assert listed["totalCount"] == 51
    assert {t["id"] for t in created} <= {t["id"] for t in listed["tokens"]}


def test_concurrent_deletes_of_one_token_give_one_204_and_the_rest_404(emulator: Emulator) -> None:
    with emulator.client() as owner:
        token = owner.post(
            "/tokens",
            json={"name": "t", "scope": "DEPLOYMENT", "entityId": emulator.deployment_ids[0], "role": "DEPLOYMENT_ADMIN"},
        ).json()

    def delete(_: int) -> int:
        with emulator.client() as client:
            return client.delete(f"/tokens/{token['id']}").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(delete, range(10)))
    assert statuses == [204] + [404] * 9
