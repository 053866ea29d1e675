"""``astrokeys-emulator``: run the local Astro API emulator, or say in one line how to install it.

The emulator's web stack (Starlette, uvicorn) is the ``emulator`` extra, which a Pulumi
program never needs; this launcher lives outside :mod:`pulumi_astrokeys.emulator` so that it
can run without them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

INSTALL_HINT = (
    "astrokeys-emulator needs the emulator extra: pip install 'pulumi-astrokeys[emulator]' "
    "(it adds Starlette and uvicorn)"
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the emulator's command line; without its extra, print how to install it and return 1."""
    try:
        from .emulator.__main__ import main as emulator_main
    except ModuleNotFoundError as error:
        if error.name not in ("starlette", "uvicorn") and not str(error.name).startswith(("starlette.", "uvicorn.")):
            raise
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    return emulator_main(argv)


if __name__ == "__main__":
    sys.exit(main())
