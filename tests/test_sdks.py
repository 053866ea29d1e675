"""The SDKs in sdk/: what `make sdks` generates from the provider plugin's schema is what is committed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import tomllib
from packaged_programs_support import sdk_generator
from walkthrough_support import REPO, VENV

from pulumi_astrokeys._version import __version__


def test_the_committed_sdks_are_what_a_regeneration_from_the_plugin_writes(tmp_path: Path) -> None:
    sdk_generator.generate(tmp_path, VENV / "bin")

    assert sdk_generator.differences(REPO / "sdk", tmp_path) == [], "the SDKs are out of date: run `make sdks`"


def test_a_changed_missing_or_extra_generated_file_is_a_difference_and_a_readme_is_not(tmp_path: Path) -> None:
    committed, generated = tmp_path / "committed", tmp_path / "generated"
    for tree in (committed, generated):
        shutil.copytree(REPO / "sdk", tree, ignore=shutil.ignore_patterns("node_modules", "bin", "__pycache__"))
    (generated / "nodejs" / "index.ts").write_text("// edited\n", encoding="utf-8")
    (generated / "go" / "astrokeys" / "doc.go").unlink()
    (generated / "python" / "pulumi_astrokeys_sdk" / "extra.py").write_text("", encoding="utf-8")
    (generated / "python" / "README.md").write_text("another README\n", encoding="utf-8")

    assert sdk_generator.differences(committed, generated) == [
        "nodejs/index.ts",
        "go/astrokeys/doc.go",
        "python/pulumi_astrokeys_sdk/extra.py",
    ]

    sdk_generator.replace_generated(generated, committed)
    assert sdk_generator.differences(committed, generated) == []
    assert (committed / "python" / "README.md").read_text(encoding="utf-8") == (
        REPO / "sdk" / "python" / "README.md"
    ).read_text(encoding="utf-8"), "a regeneration keeps the hand-written README"


def test_every_sdk_carries_the_package_version_and_its_own_readme() -> None:
    sdk = REPO / "sdk"
    package = json.loads((sdk / "nodejs" / "package.json").read_text(encoding="utf-8"))
    python = tomllib.loads((sdk / "python" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    go_plugin = json.loads((sdk / "go" / "astrokeys" / "pulumi-plugin.json").read_text(encoding="utf-8"))

    assert (package["version"], package["pulumi"]["version"]) == (__version__, __version__)
    assert (python["name"], python["version"]) == ("pulumi_astrokeys_sdk", __version__)
    assert go_plugin == {"resource": True, "name": "astrokeys", "version": __version__}
    for language in ("nodejs", "go", "python"):
        readme = (sdk / language / "README.md").read_text(encoding="utf-8")
        assert "DeploymentApiKey" in readme and "DEPLOYMENT_ADMIN" in readme, language
