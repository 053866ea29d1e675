"""The package's progress lines in Pulumi's output, under the resource they are about.

The engine does not show a resource plugin's stderr (the dynamic provider's lines reach
it another way), so the plugin sends each log record of the package (INFO and above:
retries, rate-limit waits, refresh findings, an adopted key's missing secret) to the
engine's ``Log`` service, at the address the engine starts the plugin with. Records of
a provider call carry that call's resource URN (:func:`about`), so ``pulumi up`` shows
them under the resource. No record holds a secret (the core's messages carry none).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

__all__ = ["about", "send_records_to_engine"]

_urn: contextvars.ContextVar[str] = contextvars.ContextVar("astrokeys_urn", default="")


@contextmanager
def about(urn: str) -> Iterator[None]:
    """Attach the records logged inside (on this thread) to ``urn``."""
    token = _urn.set(urn)
    try:
        yield
    finally:
        _urn.reset(token)


class _EngineLog(logging.Handler):
    """Sends each record to the engine's ``Log`` service; never fails the call that logged it."""

    def __init__(self, engine_address: str) -> None:
        super().__init__(logging.INFO)
        import grpc
        from pulumi.runtime.proto import engine_pb2_grpc

        self._channel = grpc.insecure_channel(engine_address)
        self._engine: Any = engine_pb2_grpc.EngineStub(self._channel)

    def emit(self, record: logging.LogRecord) -> None:
        from pulumi.runtime.proto import engine_pb2

        severity = engine_pb2.WARNING if record.levelno >= logging.WARNING else engine_pb2.INFO
        try:
            self._engine.Log(
                engine_pb2.LogRequest(severity=severity, message=self.format(record), urn=_urn.get()), timeout=10
            )
        except Exception:  # noqa: BLE001 (an engine gone or busy must not fail the provider's call)
            pass


def send_records_to_engine(engine_address: Optional[str]) -> None:
    """Send the package's records to the engine at ``engine_address``, once per process."""
    logger = logging.getLogger("pulumi_astrokeys")
    if not engine_address or any(isinstance(handler, _EngineLog) for handler in logger.handlers):
        return
    logger.addHandler(_EngineLog(engine_address))
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
