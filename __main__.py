"""The Pulumi program of the repository's root project (Pulumi.yaml): the quickstart, examples/quickstart."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent / "examples" / "quickstart"), run_name="__main__")
