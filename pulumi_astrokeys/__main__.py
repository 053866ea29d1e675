"""``python -m pulumi_astrokeys``: the ``astrokeys`` command (``audit``, ``delete-key``)."""

from .cli import run

if __name__ == "__main__":
    run()
