"""The HTTP transport under the client: a deadline for each whole request, and proxy choice.

httpx's timeouts bound each network operation, not the request: a server that sends
one byte just inside the read timeout, again and again, holds a request for as long
as it likes. Here every read, write and connect of a request is given at most the
time left until the request's deadline (set with :func:`request_deadline`), so the
request as a whole ends when it passes.

Proxies come from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
``NO_PROXY``), as httpx reads them, except that a loopback host (the local emulator)
is always reached directly: a proxy would otherwise receive its bearer token.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Optional
from urllib.parse import urlsplit

import httpcore
import httpx

from ._settings import is_loopback

__all__ = ["DeadlineTransport", "proxy_for", "request_deadline"]

_deadline = threading.local()


@contextmanager
def request_deadline(seconds: Optional[float]) -> Iterator[None]:
    """Within this block, requests sent from this thread end once ``seconds`` have passed."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def _time_left(timeout: Optional[float], expired: type[Exception]) -> Optional[float]:
    at: Optional[float] = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: Optional[str] = None, timeout: Optional[float] = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: Optional[Iterable[Any]] = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _time_left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: Optional[float] = None, socket_options: Optional[Iterable[Any]] = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(path, _time_left(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# httpcore's errors as httpx raises them, the most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for core_error, httpx_error in _ERRORS:
            if isinstance(error, core_error):
                raise httpx_error(str(error)) from error
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport over httpcore's connection pool, whose connections honour the
    deadline of :func:`request_deadline` (through httpcore's ``network_backend`` parameter).

    ``proxy`` is a proxy URL (``http://``, ``https://`` or ``socks5://``, credentials in its
    user part), or ``None`` to connect directly. TLS trusts the system's and the
    environment's certificate authorities (``SSL_CERT_FILE``, ``SSL_CERT_DIR``), as httpx does.
    """

    def __init__(self, *, proxy: Optional[str] = None, limits: Optional[httpx.Limits] = None) -> None:
        limits = limits or httpx.Limits()
        proxy_config = None
        if proxy is not None:
            parsed = httpx.Proxy(proxy)
            proxy_config = httpcore.Proxy(
                url=httpcore.URL(
                    scheme=parsed.url.raw_scheme,
                    host=parsed.url.raw_host,
                    port=parsed.url.port,
                    target=parsed.url.raw_path,
                ),
                auth=parsed.raw_auth,
                headers=parsed.headers.raw,
                ssl_context=parsed.ssl_context,
            )
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            proxy=proxy_config,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(httpcore.SyncBackend()),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),  # type: ignore[arg-type]  # sync pool: a sync stream
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def proxy_for(host: str) -> Optional[str]:
    """The proxy URL the environment sets for ``host``, or ``None``; a loopback host never has one."""
    parts = urlsplit(host)
    hostname = parts.hostname or ""
    if is_loopback(hostname):
        return None
    proxies = urllib.request.getproxies()
    netloc = hostname if parts.port is None else f"{hostname}:{parts.port}"
    if urllib.request.proxy_bypass(netloc):  # NO_PROXY (and, on macOS and Windows, the system's list)
        return None
    return proxies.get(parts.scheme) or proxies.get("all") or None
