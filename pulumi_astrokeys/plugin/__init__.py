"""``pulumi-resource-astrokeys``: the keys as a Pulumi provider plugin, for every Pulumi language.

The dynamic provider (:mod:`pulumi_astrokeys.provider`) serves Python programs; this
plugin serves the same resource, from the same core, to TypeScript, Go, YAML and
Python programs through SDKs generated from its schema (:mod:`.schema`), with
``pulumi import`` and one explicit provider per organization. ``pip install
pulumi-astrokeys`` puts the plugin on the PATH as a console script.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Serve the provider over gRPC, as the Pulumi engine starts a resource plugin."""
    from .provider import AstroKeysProvider
    from .schema import package_version
    from .server import engine_address, serve

    serve(sys.argv[1:], package_version(), AstroKeysProvider(engine_address(sys.argv[1:])))
