"""Project folders of every language on the packaged provider, set up as a user sets them up.

Each folder of ``examples/packaged`` is copied as the walkthroughs copy theirs (``.venv`` linked
to the test virtualenv, whose ``bin`` holds the CLI, its language hosts and the plugin
``pulumi-resource-astrokeys``). What a language needs beyond its folder is made once per
machine and content, in ``~/.cache/pulumi-astrokeys/programs`` (outside the checkout), under
a lock, so that a second run only links it:

- TypeScript: the project's ``npm install`` (``@pulumi/pulumi`` from the npm registry), the
  Node.js SDK compiled with that TypeScript and packed with ``npm pack``, and the tarball
  installed as a user installs a local package, which shares the project's ``@pulumi/pulumi``;
- Python: a virtualenv that sees the test virtualenv's packages and has the Python SDK
  installed by ``pip install``;
- Go: the program built once as the Go language host builds it, so that Go's own build cache
  holds it (the test points the folder's ``go.mod`` at the clone's SDK, as a user types it).

``python tests/packaged_programs_support.py`` makes them all (``make test`` does, before the
tests): a first build on a fresh machine takes minutes, mostly the Go program's.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from walkthrough_support import REPO, VENV, demo

PROGRAMS = REPO / "examples" / "packaged"
SDK = REPO / "sdk"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pulumi-astrokeys" / "programs"


def _load_sdk_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("astrokeys_sdk_generate", SDK / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


#: ``sdk/generate.py``, what ``make sdks`` runs.
sdk_generator = _load_sdk_generator()
#: What a build leaves in a source folder: never part of a cache key.
_BUILT = sdk_generator.BUILT


def digest(*sources: Path) -> str:
    """A short digest of the files under ``sources`` (their paths and contents)."""
    hashed = hashlib.sha256()
    for source in sources:
        for path in [source] if source.is_file() else sorted(source.rglob("*")):
            if path.is_file() and not _BUILT.intersection(path.relative_to(source).parts):
                hashed.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return hashed.hexdigest()[:16]


def cached(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """``CACHE/<name>-<key>``, made by ``build`` the first time only (in place: a virtualenv
    knows its own path); one builder at a time per entry, even across test runs of several
    checkouts, and an entry whose build did not finish is made again."""
    CACHE.mkdir(parents=True, exist_ok=True)
    entry, done = CACHE / f"{name}-{key}", CACHE / f"{name}-{key}.done"
    with open(CACHE / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(entry, ignore_errors=True)
            entry.mkdir()
            build(entry)
            done.touch()
    return entry


def run(command: list[str], cwd: Path) -> None:
    """Run a set-up command; its output in the failure if it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"`{' '.join(command)}` failed in {cwd}:\n{done.stdout}\n{done.stderr}")


def _npm(*args: str) -> list[str]:
    return ["npm", *args, "--no-audit", "--no-fund", "--loglevel=error"]


def typescript_modules() -> Path:
    """The TypeScript project's ``node_modules``, the packed Node.js SDK installed in it."""

    def build(entry: Path) -> None:
        project, sdk = entry / "project", entry / "sdk"
        project.mkdir()
        shutil.copy(PROGRAMS / "typescript" / "package.json", project)
        run(_npm("install"), project)
        shutil.copytree(SDK / "nodejs", sdk, ignore=shutil.ignore_patterns(*_BUILT))
        (sdk / "node_modules").symlink_to(project / "node_modules", target_is_directory=True)
        run([str(project / "node_modules" / ".bin" / "tsc")], sdk)
        for name in ("package.json", "README.md"):
            shutil.copy(sdk / name, sdk / "bin" / name)
        run(_npm("pack", "./bin", "--pack-destination", str(entry)), sdk)
        (tarball,) = entry.glob("*.tgz")
        run(_npm("install", str(tarball)), project)

    return cached("typescript", digest(SDK / "nodejs", PROGRAMS / "typescript" / "package.json"), build) / (
        "project/node_modules"
    )


def python_sdk_venv() -> Path:
    """A virtualenv that sees the test virtualenv's packages, with the Python SDK ``pip install``-ed
    into it (from a copy: a build leaves files in its source) and the CLI's ``bin`` linked."""

    def build(entry: Path) -> None:
        venv = entry / "venv"
        run([str(VENV / "bin" / "python"), "-m", "venv", "--without-pip", str(venv)], entry)
        site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
        (site / "astrokeys-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
        source = shutil.copytree(SDK / "python", entry / "sdk-python", ignore=shutil.ignore_patterns(*_BUILT))
        run([str(VENV / "bin" / "pip"), "--python", str(venv / "bin" / "python"), "install", "--quiet",
             "--no-deps", str(source)], entry)  # fmt: skip
        for tool in (VENV / "bin").glob("pulumi*"):
            if not (venv / "bin" / tool.name).exists():
                (venv / "bin" / tool.name).symlink_to(tool.resolve())
        (venv / "bin" / "astrokeys-emulator").symlink_to(VENV / "bin" / "astrokeys-emulator")

    # The virtualenv leans on this checkout's test virtualenv: one per checkout.
    checkout = hashlib.sha256(str(VENV).encode()).hexdigest()[:8]
    return cached("python-sdk", f"{digest(SDK / 'python')}-{checkout}", build) / "venv"


#: The Go SDK's module, which the Go program takes through a ``replace``.
GO_SDK_MODULE = "github.com/pulumi-astrokeys/pulumi-astrokeys/sdk"
#: ``go build`` as the Go language host runs it (``pulumi-language-go``, without debug flags).
GO_BUILD = ["go", "build", "-buildvcs=false", "-trimpath", "-ldflags", "-w -s"]


def go_program_built() -> Path:
    """The Go program built once, as its language host builds it, against the clone's Go SDK."""

    def build(entry: Path) -> None:
        program = shutil.copytree(PROGRAMS / "go", entry / "program")
        run(["go", "mod", "edit", f"-replace={GO_SDK_MODULE}={SDK}"], program)
        run([*GO_BUILD, "-o", str(entry / "program.bin"), "."], program)
        (entry / "program.bin").unlink()  # Go's build cache keeps what counts

    return cached("go-build", digest(SDK / "go", SDK / "go.mod", SDK / "go.sum", PROGRAMS / "go"), build)


def project_folder(language: str, destination: Path) -> Path:
    """A copy of ``examples/packaged/<language>`` set up to run (above)."""
    venv = python_sdk_venv() if language == "python" else VENV
    folder = demo.project_folder(PROGRAMS / language, destination, venv)
    if language == "typescript":
        (folder / "node_modules").symlink_to(typescript_modules(), target_is_directory=True)
    if language == "go":
        go_program_built()
    return folder


if __name__ == "__main__":
    typescript_modules()
    python_sdk_venv()
    go_program_built()
