"""What every provider process of this package does, whichever Pulumi interface serves it.

The dynamic provider (``python -m pulumi.dynamic``) and the packaged provider plugin
(``pulumi-resource-astrokeys``) both run as a plugin process the engine starts. Both are
configured the same way (:func:`configure_process`: the stack or provider config for the
process's client, progress lines on stderr, the watch on the engine's pipe) and run each
step the same way (:func:`run_step`: counted as in flight, any failure of the package as
one sentence).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, Optional, TypeVar

from ._runtime import runtime

__all__ = ["configure_process", "run_step"]

_T = TypeVar("_T")
_PROGRESS_PREFIX = "pulumi-astrokeys: "


def configure_process(config: Mapping[str, Any], *, watch_engine: Callable[[Callable[[], float]], None]) -> Optional[str]:
    """Keep ``config`` (full keys, ``astrokeys:apiToken``) for the process's client, resolved at first
    use; show progress in Pulumi's output; start ``watch_engine``. Returns what is wrong with the
    connection settings, or ``None``: for ``check`` to fail a preview on it, asking nothing of the API."""
    from ._settings import CONFIG_KEYS, settings_problem

    _show_progress_in_pulumi_output()
    kept = {key: config.get(key) for key in CONFIG_KEYS}
    runtime.configure(kept)
    watch_engine(runtime.exit_grace)
    return settings_problem({key: value for key, value in kept.items() if value is not None})


def run_step(step: Callable[[], _T]) -> _T:
    """Run a provider step; a failure of the package reaches the engine as one sentence, without a
    chained traceback, and as the error it is (a :class:`~._errors.ConfigurationError` stays one)."""
    from ._engine import call_in_flight
    from ._errors import AstroKeysError

    try:
        with call_in_flight():
            return step()
    except AstroKeysError as error:
        said = str(error).rstrip()
        if not said.endswith("."):
            error.args = (f"{said}.",)
        raise error from None


def _show_progress_in_pulumi_output() -> None:
    """Send the package's log records of INFO and above to stderr, once per process.

    Only ever called in a provider's own process (``configure``), never in a user's
    program. Pulumi's engine shows a provider plugin's stderr lines in the output of
    ``pulumi up``, so retries, rate-limit waits and refresh findings are seen as they
    happen. No record holds a secret (the client's messages carry none).
    """
    logger = logging.getLogger("pulumi_astrokeys")
    if any(isinstance(handler, _ProgressHandler) for handler in logger.handlers):
        return
    handler = _ProgressHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_PROGRESS_PREFIX + "%(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


class _ProgressHandler(logging.StreamHandler):  # type: ignore[type-arg, unused-ignore]
    """The provider process's stderr, where Pulumi's engine reads progress lines."""
