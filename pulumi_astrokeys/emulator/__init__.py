"""A local Astro API v1 emulator: real HTTP on loopback, real SQLite persistence.

Serves the API token and Deployment endpoints of the official spec, enforces
auth and per-token rate limits like the real service, and adds a control
surface under ``/_emulator`` for tests (faults, request log, clock).

Importing this package pulls in Starlette and uvicorn; ``import pulumi_astrokeys``
never does.
"""

from .ids import ID_PATTERN, new_id
from .server import Bootstrap, EmulatorServer

__all__ = ["ID_PATTERN", "Bootstrap", "EmulatorServer", "new_id"]
