"""The base of this package's dynamic resources and providers.

Pulumi pickles a dynamic provider into the stack state and runs it in a process of its
own for every operation. :class:`AstroResourceProvider` makes that safe and uniform:
nothing it learns at run time is pickled, its credentials come from the stack config the
engine hands to ``configure`` (or the environment), every provider of the process shares
one client, every failure reaches the user as one sentence, and the package's progress
messages reach Pulumi's output. :class:`AstroResource` registers a resource with its
secret outputs marked, around a guard against the SDK's pickling leak, and accepts the
call forms of Pulumi's generated SDKs (:func:`split_args_and_options`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, ConfigureRequest, ResourceProvider

from ._pickling import pickler_restored
from ._runtime import runtime

if TYPE_CHECKING:
    from ._client import AstroClient

__all__ = ["AstroResource", "AstroResourceProvider", "call_inputs", "split_args_and_options"]

_T = TypeVar("_T")
_Args = TypeVar("_Args")


class AstroResourceProvider(ResourceProvider):
    """Base of this package's dynamic providers: stateless when pickled, configured at run time.

    The engine may pickle a configured instance; nothing it learned at run time goes along.
    Every provider of the process shares one client, built from the stack config
    (``astrokeys:*``) or the environment at first use.
    """

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def configure(self, req: ConfigureRequest) -> None:
        """Keep the stack config (``astrokeys:*``) for the client, resolved at first use, and
        note what is wrong with the connection settings, for :meth:`settings_failures`."""
        from ._engine import watch_engine_of_this_plugin
        from ._provider_process import configure_process
        from ._settings import CONFIG_KEYS

        config = {key: req.config.get(key) for key in CONFIG_KEYS}
        self._settings_problem = configure_process(config, watch_engine=watch_engine_of_this_plugin)

    def settings_failures(self) -> list[CheckFailure]:
        """A check failure naming the missing or unsafe connection settings, once the engine has
        configured this provider; none otherwise. So a preview fails on them, asking nothing of the API."""
        problem = getattr(self, "_settings_problem", None)
        return [CheckFailure("", problem)] if problem else []

    @staticmethod
    def client() -> AstroClient:
        """The process's client for the configured organization."""
        return runtime.client()

    @staticmethod
    def run_step(step: Callable[[], _T]) -> _T:
        """Run a provider step; a failure of the package reaches the engine as one sentence, as the error it is."""
        from ._provider_process import run_step

        return run_step(step)


class AstroResource(pulumi.dynamic.Resource):
    """Base of this package's dynamic resources."""

    def _register_with(
        self,
        provider: AstroResourceProvider,
        resource_name: str,
        props: Mapping[str, Any],
        opts: Optional[pulumi.ResourceOptions],
        secret_outputs: Sequence[str] = (),
    ) -> None:
        """Register the resource; ``secret_outputs`` are always Pulumi secrets."""
        if secret_outputs:
            opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=list(secret_outputs))
            )
        with pickler_restored():
            super().__init__(provider, resource_name, dict(props), opts)


def split_args_and_options(
    args_type: type[_Args], positional: Sequence[Any], keywords: Mapping[str, Any]
) -> tuple[Optional[_Args], Optional[pulumi.ResourceOptions]]:
    """The Args object and resource options of a call in any form Pulumi's generated SDKs take.

    ``Resource(name, args, opts)``, ``Resource(name, args=..., opts=...)``,
    ``Resource(name, opts, **inputs)`` and ``Resource(name, opts=opts, **inputs)``.
    """
    rest = list(positional)
    args: Optional[_Args] = None
    opts: Optional[pulumi.ResourceOptions] = None
    if rest and (rest[0] is None or isinstance(rest[0], args_type)):
        args = rest.pop(0)
    if rest and (rest[0] is None or isinstance(rest[0], pulumi.ResourceOptions)):
        opts = rest.pop(0)
    if rest:
        raise TypeError(
            f"expected {args_type.__name__} and pulumi.ResourceOptions after the resource name, "
            f"got {', '.join(type(value).__name__ for value in rest)}"
        )
    if args is None and isinstance(keywords.get("args"), args_type):
        args = keywords["args"]
    if opts is None and keywords.get("opts") is not None:
        opts = keywords["opts"]
        if not isinstance(opts, pulumi.ResourceOptions):
            raise TypeError(f"opts must be pulumi.ResourceOptions, not {type(opts).__name__}")
    return args, opts


def call_inputs(
    what: str,
    resource_name: str,
    args_type: type[Any],
    input_names: Sequence[str],
    positional: Sequence[Any],
    keywords: Mapping[str, Any],
) -> tuple[dict[str, Any], Optional[pulumi.ResourceOptions]]:
    """The inputs (every name in ``input_names``, ``None`` when not given) and the options of a
    call of resource ``what`` in any of the forms of :func:`split_args_and_options`.

    Raises :class:`TypeError` naming an input the resource does not have.
    """
    resource_args, opts = split_args_and_options(args_type, positional, keywords)
    unexpected = sorted(set(keywords) - set(input_names) - {"args", "opts"})
    if unexpected:
        raise TypeError(
            f"{what} {resource_name!r}: unknown input {', '.join(unexpected)}; the inputs are {', '.join(input_names)}"
        )
    if resource_args is not None:
        return {name: getattr(resource_args, name) for name in input_names}, opts
    return {name: keywords.get(name) for name in input_names}, opts
