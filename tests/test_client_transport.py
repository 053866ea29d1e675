"""The client's transport: a deadline for the whole request, and which hosts go through a proxy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from pulumi_astrokeys._client import AstroClient, RetryPolicy
from pulumi_astrokeys._errors import NetworkError
from pulumi_astrokeys._settings import AstroSettings, resolve_settings
from pulumi_astrokeys._transport import proxy_for
from pulumi_astrokeys.testing.emulator import Emulator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"


@dataclass
class LoopbackServer:
    """A one-thread TCP server on loopback: answers each connection with ``head`` at once, then
    ``answer`` one byte at a time, ``pause`` seconds apart, then ``endless`` for as long as the
    client listens (``hung_up`` is set once it has gone)."""

    head: bytes = b""
    answer: bytes = b""
    endless: bytes = b""
    pause: float = 0.0
    first_lines: list[str] = field(default_factory=list)
    hung_up: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                self.first_lines.append(request.split(b"\r\n", 1)[0].decode("latin-1"))
                try:
                    connection.sendall(self.head)
                    for index in range(len(self.answer)):
                        if self._stop.is_set():
                            break
                        connection.sendall(self.answer[index : index + 1])
                        time.sleep(self.pause)
                    while self.endless and not self._stop.is_set():
                        connection.sendall(self.endless)
                        time.sleep(self.pause)
                except OSError:
                    self.hung_up.set()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    running = LoopbackServer()
    yield running
    running.close()


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the outside, so the test's variables count."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def client_for(host: str, timeout: float = 30.0) -> AstroClient:
    settings = resolve_settings(host=host, api_token="t", organization_id="o", environ={})
    return AstroClient(settings, timeout=timeout, retry=RetryPolicy(max_attempts=1), rate_limits=None)


@pytest.mark.parametrize(
    ("head", "answer", "endless"),
    [(b"", b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a"), (HEAD, b'{"id": "', b"x")],
    ids=["status line", "body"],
)
def test_a_server_that_trickles_an_endless_answer_is_cut_off_at_the_request_timeout(
    server: LoopbackServer, no_proxies: pytest.MonkeyPatch, head: bytes, answer: bytes, endless: bytes
) -> None:
    # A byte every 50 ms, each read well inside the timeout, and no end: only a deadline on
    # the whole request ends it.
    server.head, server.answer, server.endless, server.pause = head, answer, endless, 0.05
    client = client_for(server.url, timeout=0.5)
    errors: list[BaseException] = []

    def request() -> None:
        try:
            client.get_deployment("cdeployment000000000000000")
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    caller = threading.Thread(target=request, daemon=True)
    caller.start()
    caller.join(timeout=60)

    assert not caller.is_alive(), "the request never ended: nothing cut the endless answer off"
    assert len(errors) == 1 and isinstance(errors[0], NetworkError) and "no answer" in str(errors[0])
    assert server.hung_up.wait(timeout=10), "the client left the connection open"


def test_a_loopback_host_is_reached_directly_even_with_a_proxy_in_the_environment(
    emulator: Emulator, settings: AstroSettings, server: LoopbackServer, no_proxies: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        no_proxies.setenv(name, server.url)

    deployment = AstroClient(settings, rate_limits=None).get_deployment(emulator.deployment_ids[0])

    assert deployment.id == emulator.deployment_ids[0]
    assert server.first_lines == [], "the proxy received a request, with the API token in it"


def test_a_remote_host_still_goes_through_the_environments_proxy(
    server: LoopbackServer, no_proxies: pytest.MonkeyPatch
) -> None:
    no_proxies.setenv("HTTPS_PROXY", server.url)

    with pytest.raises(NetworkError):
        client_for("https://api.astronomer.invalid").get_deployment("cdeployment000000000000000")

    assert server.first_lines == ["CONNECT api.astronomer.invalid:443 HTTP/1.1"]


def test_no_proxy_and_loopback_hosts_have_no_proxy(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    no_proxies.setenv("NO_PROXY", "internal.example")

    assert proxy_for("https://api.astronomer.io") == "http://proxy.example:3128"
    assert proxy_for("https://astro.internal.example") is None
    assert proxy_for("http://127.0.0.1:8080") is None and proxy_for("http://localhost:1") is None
    assert proxy_for("http://[::1]:9000") is None
