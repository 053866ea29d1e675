"""Fixtures for the lifecycle harness tests: a toy cloud and stacks wired to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from lifecycle import Stack
from toy_provider import CLOUD_ENV, ToyCloud

API_KEY = "toy-api-key-0f3c9a"
PASSPHRASE = "correct horse battery staple"


class ToyWorld:
    """A toy cloud plus a state file, and a factory for stacks that use both."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cloud = ToyCloud(root / "cloud.json")
        self.state_path = root / "state.json"

    def stack(self, program: Callable[[], Any] | Path, **overrides: Any) -> Stack:
        options: dict[str, Any] = dict(
            state_file=self.state_path,
            project="demo",
            stack_name="dev",
            config={"toy:endpoint": "http://toy.invalid"},
            secret_config={"toy:apiKey": API_KEY},
            env={CLOUD_ENV: str(self.cloud.path)},
            passphrase=PASSPHRASE,
            # Far fewer PBKDF2 rounds than the default, to keep the suite fast.
            kdf_iterations=1000,
        )
        options.update(overrides)
        return Stack(program, **options)

    def state_text(self) -> str:
        return self.state_path.read_text() if self.state_path.exists() else ""


@pytest.fixture
def toy(tmp_path: Path) -> ToyWorld:
    return ToyWorld(tmp_path)


def urn(name: str) -> str:
    return f"urn:pulumi:dev::demo::pulumi-python:dynamic/toy:Thing::{name}"
