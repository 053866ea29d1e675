"""Running a Pulumi program with the real Python SDK against a local resource monitor.

Programs run in-process, the way ``pulumi.automation._server.LanguageServer.Run`` runs
inline programs: settings are reset (``reset_options``) and the stack config installed
(``set_all_config``) inside a fresh ``contextvars`` context, then ``run_in_stack`` is
driven on a new event loop in a dedicated thread. Everything the SDK keeps per run lives
in context variables, so nothing leaks into the caller or the next run.

In-process (rather than a subprocess) because programs may be plain callables defined
in a test, which cannot cross a process boundary, and because it is fast. What is not
per-context - the working directory, ``sys.path`` and ``os.environ`` - is set for the
run and restored after it, under a process-wide lock: one program runs at a time per
process.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import runpy
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from pulumi.runtime import reset_options, run_in_stack, set_all_config

ProgramSource = Union[Callable[[], Any], str, Path]

_RUN_LOCK = threading.Lock()


def program_directory(program: ProgramSource) -> Optional[Path]:
    """The project directory for a directory program, None for a callable."""
    if callable(program):
        return None
    path = Path(program).resolve()
    if path.is_file():
        path = path.parent
    if not (path / "__main__.py").is_file():
        raise FileNotFoundError(f"{path} has no __main__.py")
    return path


def _program_callable(program: ProgramSource) -> Callable[[], Any]:
    if callable(program):
        return program
    directory = program_directory(program)
    assert directory is not None
    # As the Python language host does: execute the project directory as __main__.
    return lambda: runpy.run_path(str(directory), run_name="__main__")


def _quiet_unobserved_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A failed registration fails many of the SDK's output tasks that nobody awaits; the
    # run's outcome already carries the failure, so only other loop errors are logged.
    if context.get("message") in ("Task exception was never retrieved", "Future exception was never retrieved"):
        return
    loop.default_exception_handler(context)


def run_program(
    program: ProgramSource,
    *,
    monitor_address: str,
    engine_address: str,
    project: str,
    stack: str,
    organization: str,
    dry_run: bool,
    config: Mapping[str, str],
    secret_keys: list[str],
    env: Mapping[str, str],
    parallel: int,
) -> Optional[BaseException]:
    """Run ``program`` to completion; return the exception it failed with, if any."""
    func = _program_callable(program)
    directory = program_directory(program)
    outcome: list[Optional[BaseException]] = [None]

    def run() -> None:
        reset_options(
            project=project,
            stack=stack,
            root_directory=str(directory) if directory else os.getcwd(),
            parallel=parallel,
            monitor_address=monitor_address,
            engine_address=engine_address,
            preview=dry_run,
            organization=organization,
        )
        set_all_config(dict(config), list(secret_keys))
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=max(parallel, 1) * 4))
        loop.set_exception_handler(_quiet_unobserved_failures)
        try:
            loop.run_until_complete(run_in_stack(func))
        except BaseException as exn:  # noqa: BLE001 - handed back to the caller
            outcome[0] = exn
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
                with suppress(BaseException):
                    loop.run_until_complete(task)
            loop.close()

    def thread_main() -> None:
        contextvars.Context().run(run)

    with _RUN_LOCK:
        saved_env = dict(os.environ)
        saved_cwd = os.getcwd()
        saved_path = list(sys.path)
        try:
            os.environ.update(env)
            if directory is not None:
                os.chdir(directory)
            worker = threading.Thread(target=thread_main, name="pulumi-program", daemon=True)
            worker.start()
            worker.join()
        finally:
            os.chdir(saved_cwd)
            sys.path[:] = saved_path
            os.environ.clear()
            os.environ.update(saved_env)
    return outcome[0]
