"""A stand-in for the Pulumi engine, to run Python programs through whole lifecycles in tests.

The Pulumi CLI is not needed: programs run with the real Python SDK against an
in-process resource monitor, dynamic resources are served by the SDK's own dynamic
provider server (``python -m pulumi.dynamic``), and the stack's state is kept in a JSON
file with secrets encrypted.

    from pulumi_astrokeys.testing.lifecycle import Stack, render

    stack = Stack(program=main, state_file=tmp_path / "state.json", project="demo",
                  stack_name="dev", config={"astrokeys:host": "http://..."},
                  secret_config={"astrokeys:apiToken": "..."}, passphrase="pw")
    print(render(stack.preview()))
    stack.up(); stack.refresh(); stack.destroy()

See :class:`Stack` for the operations and :mod:`.engine` for the engine rules modelled.
"""

from .props import UNKNOWN, Secret
from .render import render
from .results import LifecycleError, OperationError, OperationResult, StackOutputs, Step
from .secrets import PassphraseError
from .stack import Stack
from .state import ResourceState

__all__ = [
    "Stack",
    "OperationResult",
    "Step",
    "StackOutputs",
    "OperationError",
    "LifecycleError",
    "PassphraseError",
    "ResourceState",
    "Secret",
    "UNKNOWN",
    "render",
]
