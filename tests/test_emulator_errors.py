"""Every answer is JSON: bad bodies, unknown paths, wrong methods, crashes."""

from __future__ import annotations

import httpx
import pytest
from asyncio_support import run_on_private_loop
from spec import schema_validator

from pulumi_astrokeys.emulator.app import create_app
from pulumi_astrokeys.testing.emulator import Emulator


def assert_json_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    schema_validator("Error").validate(body)
    assert body["statusCode"] == status
    assert body["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and "<html" not in response.text.lower()
    return dict(body)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[1, 2]", b'"a string"', b"\xff\xfe"],
    ids=["malformed", "empty", "array", "string", "not-utf8"],
)
def test_a_body_that_is_not_a_json_object_is_400_with_field_errors(emulator: Emulator, content: bytes) -> None:
    with emulator.client() as owner:
        response = owner.post("/tokens", content=content, headers={"content-type": "application/json"})
    body = assert_json_error(response, 400)
    assert body["fieldErrors"] and body["fieldErrors"][0]["field"] == "body"


@pytest.mark.parametrize(
    "path",
    ["/", "/v1", "/v1/organizations", "/v1/organizations/{org}/clusters", "/v1/organizations/{org}/tokens/"],
)
def test_an_unknown_path_is_a_json_404(emulator: Emulator, path: str) -> None:
    url = emulator.host + path.format(org=emulator.organization_id)
    response = httpx.get(url, headers={"Authorization": f"Bearer {emulator.api_token}"}, trust_env=False)
    assert_json_error(response, 404)


@pytest.mark.parametrize(
    "method, path",
    [
        ("PUT", "/tokens"),
        ("PATCH", "/tokens/cabcdefghijklmnopqrstuvwx"),
        ("DELETE", "/tokens"),
        ("GET", "/tokens/cabcdefghijklmnopqrstuvwx/rotate"),
        ("PUT", "/deployments"),
    ],
)
def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(emulator: Emulator, method: str, path: str) -> None:
    with emulator.client() as owner:
        response = owner.request(method, path)
    assert_json_error(response, 405)
    assert response.headers["allow"]


def test_every_answer_carries_a_request_id(emulator: Emulator) -> None:
    with emulator.client() as owner:
        responses = [owner.get("/tokens"), owner.get("/deployments/nope"), owner.delete("/tokens/nope")]
    responses.append(httpx.get(f"{emulator.host}/_emulator/state", trust_env=False))
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)


def test_an_unexpected_crash_is_a_json_500(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    assert emulator.server is not None and emulator.server.state is not None

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(emulator.server.state.store, "get_deployment", explode)
    with emulator.client() as owner:
        response = owner.get(f"/deployments/{emulator.deployment_ids[0]}")
        body = assert_json_error(response, 500)
        assert "disk on fire" not in body["message"]
        assert owner.get("/tokens").status_code == 200  # the server keeps serving
    assert emulator.requests()[0]["status"] == 500


def test_the_control_surface_refuses_clients_that_are_not_on_loopback(emulator: Emulator) -> None:
    assert emulator.server is not None and emulator.server.state is not None
    app = create_app(emulator.server.state)

    async def ask(client_host: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return await client.get("/_emulator/state")

    assert_json_error(run_on_private_loop(ask("203.0.113.7")), 403)
    assert run_on_private_loop(ask("127.0.0.1")).status_code == 200
    assert run_on_private_loop(ask("::1")).status_code == 200


def test_a_body_over_one_mebibyte_is_a_json_413(emulator: Emulator) -> None:
    with emulator.client() as owner:
        response = owner.post("/tokens", content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}')
    assert_json_error(response, 413)
    assert len(emulator.list_all_tokens()) == 1


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000 + b"]" * 100_000, b'{"name": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001],
    ids=["arrays", "objects"],
)
def test_a_deeply_nested_body_is_400_with_field_errors_not_a_crash(emulator: Emulator, content: bytes) -> None:
    with emulator.client() as owner:
        response = owner.post("/tokens", content=content, headers={"content-type": "application/json"})
    body = assert_json_error(response, 400)
    assert body["fieldErrors"][0]["field"] == "body" and "nested" in body["message"]
    assert len(emulator.list_all_tokens()) == 1
