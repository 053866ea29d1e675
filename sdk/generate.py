"""Regenerate the SDKs in ``sdk/`` from the provider plugin's schema (``make sdks``).

``pulumi package get-schema`` asks the plugin ``pulumi-resource-astrokeys`` for its schema
(:func:`checked` makes sure it gives the SDKs its version); ``pulumi package gen-sdk`` then writes
each language with the CLI's own code generators (through the language hosts beside the CLI).
Each SDK folder's ``README.md`` is written by hand and kept across a regeneration, as are the Go
module's files (``sdk/go.mod``, ``sdk/go.sum``), which lie outside the generated folders.

``python sdk/generate.py`` regenerates; ``python sdk/generate.py --check`` only says which files
differ from a regeneration (exit 1 if any).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

SDK = Path(__file__).resolve().parent
LANGUAGES = ("nodejs", "go", "python")
#: Files of an SDK folder written by hand: a regeneration leaves them as they are.
KEPT = frozenset({"README.md"})
#: What building an SDK leaves in its folder (its .gitignore's): not part of the SDK.
BUILT = frozenset({"node_modules", "bin", "build", "dist", "__pycache__"})
PLUGIN = "pulumi-resource-astrokeys"


def cli_environment(home: Path) -> dict[str, str]:
    """The CLI's environment: a Pulumi home of its own, no update check, no plugin download."""
    return {
        **os.environ,
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def checked(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, once it is sure to give each SDK the schema's version (the package's), not a
    ``${VERSION}`` or ``0.0.0`` to fill in at release."""
    version = schema.get("version")
    if not isinstance(version, str) or not version or "$" in version:
        raise SystemExit(f"The plugin's schema has no version ({version!r}): the SDKs would carry none.")
    language = schema.get("language") or {}
    ignored = [name for name in LANGUAGES if not language.get(name, {}).get("respectSchemaVersion")]
    if ignored:
        raise SystemExit(f"The plugin's schema lets the {', '.join(ignored)} SDK ignore its version {version}.")
    return schema


def _pulumi(bin_dir: Path, env: dict[str, str], *args: str) -> str:
    """``pulumi <args>`` with the CLI in ``bin_dir``; what it printed. It must succeed."""
    done = subprocess.run([str(bin_dir / "pulumi"), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pulumi {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def get_schema(bin_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """The schema the plugin in ``bin_dir`` gives ``pulumi package get-schema``."""
    schema: dict[str, Any] = json.loads(_pulumi(bin_dir, env, "package", "get-schema", str(bin_dir / PLUGIN)))
    return schema


def generate(out: Path, bin_dir: Path) -> None:
    """Write the SDK of each language into ``out/<language>``, from the plugin in ``bin_dir``."""
    with tempfile.TemporaryDirectory(prefix="astrokeys-sdks-") as scratch:
        env = cli_environment(Path(scratch) / "pulumi-home")
        schema_file = Path(scratch) / "schema.json"
        schema_file.write_text(json.dumps(checked(get_schema(bin_dir, env)), indent=2), encoding="utf-8")
        for language in LANGUAGES:
            _pulumi(bin_dir, env, "package", "gen-sdk", str(schema_file), "--language", language, "-o", str(out))


def _generated_files(folder: Path) -> set[Path]:
    """The files of an SDK folder that a regeneration writes, relative to it."""
    if not folder.is_dir():
        return set()
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file()
        and path.relative_to(folder).as_posix() not in KEPT
        and not BUILT.intersection(path.relative_to(folder).parts)
        and not any(part.endswith(".egg-info") for part in path.relative_to(folder).parts)
    }


def differences(committed: Path, generated: Path) -> list[str]:
    """The files (``<language>/<path>``) that differ between two SDK trees, hand-written files aside."""
    found = []
    for language in LANGUAGES:
        ours, theirs = _generated_files(committed / language), _generated_files(generated / language)
        for path in sorted(ours | theirs):
            a, b = committed / language / path, generated / language / path
            if path not in ours or path not in theirs or not filecmp.cmp(a, b, shallow=False):
                found.append(f"{language}/{path.as_posix()}")
    return found


def replace_generated(generated: Path, sdk: Path) -> None:
    """Make each SDK folder of ``sdk`` hold the files of ``generated``, its hand-written files kept."""
    for language in LANGUAGES:
        for path in _generated_files(sdk / language):
            (sdk / language / path).unlink()
        for path in _generated_files(generated / language):
            target = sdk / language / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(generated / language / path, target)
        for folder in sorted((sdk / language).rglob("*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    bin_dir = Path(sys.prefix) / "bin"
    with tempfile.TemporaryDirectory(prefix="astrokeys-sdks-out-") as out:
        generate(Path(out), bin_dir)
        if args == ["--check"]:
            changed = differences(SDK, Path(out))
            for path in changed:
                print(f"sdk/{path} differs from a regeneration")
            return 1 if changed else 0
        replace_generated(Path(out), SDK)
    print(f"SDKs regenerated in {SDK}: {', '.join(LANGUAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
