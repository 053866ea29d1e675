"""Whether the Pulumi engine that runs this provider process is still there, and what follows when it is not.

The engine starts each plugin in a process group of its own (``Setpgid``, in the Pulumi
SDK's ``sdk/go/common/util/cmdutil/child_unix.go``) and stops it at the end of an
operation: SIGINT to that group, SIGKILL five seconds later
(``sdk/go/common/resource/plugin/plugin.go``). So when the engine itself is killed (``kill
-9`` of ``pulumi up``'s process group, a CI runner's timeout), nothing stops its plugins:
a dynamic provider (``python -m pulumi.dynamic``, which serves until interrupted) lives
on, reparented to PID 1, and would finish its calls for an engine that can no longer
record them. A create would make a key whose secret nobody ever receives.

What a plugin reliably sees of its engine is its standard input: a pipe whose write end
only the engine holds (``exec.Cmd.StdinPipe``; Go opens it close-on-exec, so no other
child inherits it), and which the kernel closes when the engine dies, however it dies.
:class:`EngineWatch` reads that pipe. At its end, :func:`engine_gone` turns true: no
create begins another attempt or hands a token over (it deletes what it made instead;
see :mod:`._operations`), and the process exits once the calls in flight have ended, or
after the grace it was given (three request timeouts: the request in flight, then the
clean-up's listing and delete) at the latest. A token a forced exit leaves behind still
carries its create marker, which ``astrokeys audit`` deletes once the commit bound has
passed (:mod:`._ownership`).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO

__all__ = ["EngineWatch", "call_in_flight", "engine_gone", "watch_engine_of_this_plugin", "watch_engine_stdin"]

logger = logging.getLogger("pulumi_astrokeys")


class EngineWatch:
    """Whether an engine is gone, and the provider calls in flight that keep its process up."""

    def __init__(self) -> None:
        self._gone = threading.Event()
        self._idle = threading.Condition()
        self._calls = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def gone(self) -> bool:
        """Whether the engine's pipe has ended."""
        return self._gone.is_set()

    @contextmanager
    def call(self) -> Iterator[None]:
        """Count a provider call as in flight: the process does not exit under it (within the grace)."""
        with self._idle:
            self._calls += 1
        try:
            yield
        finally:
            with self._idle:
                self._calls -= 1
                self._idle.notify_all()

    def watch(
        self, pipe: BinaryIO, grace: Callable[[], float], exit_process: Callable[[int], object] = os._exit
    ) -> threading.Thread:
        """Read ``pipe`` (this process's end of the engine's pipe) in a daemon thread, once; at its
        end, mark the engine gone, wait for the calls in flight (``grace()`` seconds at most), exit."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, args=(pipe, grace, exit_process), name="astrokeys-engine-watch", daemon=True
                )
                self._thread.start()
            return self._thread

    def _watch(self, pipe: BinaryIO, grace: Callable[[], float], exit_process: Callable[[int], object]) -> None:
        try:
            while pipe.read(65536):
                pass  # the engine never writes; whatever comes is not ours to act on
        except (OSError, ValueError):
            pass
        self._gone.set()
        seconds = grace()
        logger.warning(
            "the Pulumi engine that ran this provider is gone: no key is handed over any more, and the provider "
            "ends once its calls have stopped (in %.0f s at most)",
            seconds,
        )
        deadline = time.monotonic() + seconds
        with self._idle:
            self._idle.wait_for(lambda: self._calls == 0, timeout=max(0.0, deadline - time.monotonic()))
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        exit_process(0)


_this_process = EngineWatch()


def engine_gone() -> bool:
    """Whether the engine that started this provider process has gone away."""
    return _this_process.gone()


def call_in_flight() -> AbstractContextManager[None]:
    """Count a provider call of this process as in flight (see :meth:`EngineWatch.call`)."""
    return _this_process.call()


def watch_engine_of_this_plugin(grace: Callable[[], float]) -> None:
    """Watch stdin, once, if this process is a dynamic provider an engine started.

    That is ``python -m pulumi.dynamic`` with a pipe for stdin; a program, a test calling
    the provider in its own process, or a provider run by hand is left alone.
    """
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(main_spec, "name", None) == "pulumi.dynamic.__main__":
        watch_engine_stdin(grace)


def watch_engine_stdin(grace: Callable[[], float]) -> None:
    """Watch this process's stdin, once, if it is a pipe: what an engine gives each plugin it starts.

    For a plugin's own entry point (a packaged provider's ``main``); its calls count as in
    flight through :func:`call_in_flight`.
    """
    try:
        if not stat.S_ISFIFO(os.fstat(0).st_mode):
            return
    except OSError:
        return
    _this_process.watch(os.fdopen(0, "rb", buffering=0, closefd=False), grace)
