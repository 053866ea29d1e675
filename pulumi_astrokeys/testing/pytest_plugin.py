"""pytest fixtures for testing Pulumi programs that use pulumi-astrokeys, offline.

A plugin a test suite opts into, so that no other pytest session of an environment where
the package is installed loads it (or Pulumi): in the suite's ``conftest.py``::

    pytest_plugins = ["pulumi_astrokeys.testing.pytest_plugin"]

or on the command line, ``pytest -p pulumi_astrokeys.testing.pytest_plugin``. It gives:

- ``astro_emulator``: a fresh local Astro API emulator on a free loopback port, with its
  own database (:class:`~pulumi_astrokeys.testing.emulator.Emulator`: where it is, what it
  holds, and its controls, such as injecting faults or moving its clock).
- ``astro_stack``: a factory of Pulumi stacks wired to that emulator, run by the real
  Pulumi CLI through Pulumi's Automation API, each with a local file backend and a
  ``PULUMI_HOME`` of its own under the test's ``tmp_path`` (no Pulumi account, nothing
  shared between tests). It returns a :class:`pulumi.automation.Stack`::

      def test_the_key_is_created(astro_emulator, astro_stack):
          def program():
              DeploymentApiKey("ci", deployment_id=astro_emulator.deployment_ids[0])

          stack = astro_stack(program)
          result = stack.up()
          assert result.summary.resource_changes == {"create": 2}

The Pulumi CLI must be on the ``PATH`` (or beside the test's Python).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pytest

if TYPE_CHECKING:
    from pulumi import automation as auto

    from .emulator import Emulator

__all__ = ["astro_emulator", "astro_stack"]


@pytest.fixture
def astro_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A fresh local Astro API emulator for one test; rate limits off."""
    from .emulator import run_emulator

    with run_emulator(tmp_path / "astro-emulator.db") as emulator:
        yield emulator


@pytest.fixture
def astro_stack(astro_emulator: Emulator, tmp_path: Path) -> Callable[..., auto.Stack]:
    """A factory: ``astro_stack(program, project_name=..., stack_name=..., config=..., secret_config=...)``
    returns a new Automation API stack of the inline ``program``, pointed at ``astro_emulator``."""
    from .stacks import new_stack

    count = 0

    def make(
        program: Callable[[], None],
        *,
        project_name: str = "astrokeys-test",
        stack_name: str = "test",
        config: Optional[Mapping[str, str]] = None,
        secret_config: Optional[Mapping[str, str]] = None,
        **options: Any,
    ) -> auto.Stack:
        nonlocal count
        count += 1
        return new_stack(
            program,
            work_dir=tmp_path / f"pulumi-{count}",
            emulator=astro_emulator,
            project_name=project_name,
            stack_name=stack_name,
            config=config,
            secret_config=secret_config,
            **options,
        )

    return make
