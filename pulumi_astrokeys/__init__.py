"""pulumi-astrokeys: Astronomer (Astro) Deployment API keys as immutable Pulumi resources."""

from ._version import __version__

__all__ = ["__version__"]
