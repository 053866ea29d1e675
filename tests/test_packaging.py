"""What `pip install pulumi-astrokeys` brings, and what its commands say without the extras."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires, version

import pytest
from packaging.requirements import Requirement

import pulumi_astrokeys


def _requirements() -> list[Requirement]:
    return [Requirement(text) for text in requires("pulumi-astrokeys") or []]


def test_the_core_install_is_the_provider_only() -> None:
    core = {r.name for r in _requirements() if r.marker is None}
    assert core == {"pulumi", "httpx", "pydantic", "tenacity"}


def test_the_emulator_web_stack_is_an_extra() -> None:
    emulator = {r.name for r in _requirements() if r.marker is not None and r.marker.evaluate({"extra": "emulator"})}
    assert {"starlette", "uvicorn"} <= emulator


def test_the_plugin_is_a_console_script_on_the_sdk_range_its_tests_ran_on() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "pulumi-resource-astrokeys"]
    assert script.value == "pulumi_astrokeys.plugin:main"
    (sdk,) = [r for r in _requirements() if r.name == "pulumi"]
    assert sdk.specifier.contains(version("pulumi")), f"the tests ran on pulumi {version('pulumi')}, outside {sdk}"


def test_the_version_is_written_once() -> None:
    assert version("pulumi-astrokeys") == pulumi_astrokeys.__version__


def test_dir_lists_the_lazily_loaded_names() -> None:
    names = dir(pulumi_astrokeys)
    for lazy in ("AstroClient", "AstroSettings", "RetryPolicy"):
        assert lazy in names


def test_every_public_name_resolves_and_internals_stay_inside() -> None:
    for name in pulumi_astrokeys.__all__:
        assert getattr(pulumi_astrokeys, name) is not None
    for internal in ("DeploymentApiKeyProvider", "resolve_settings"):
        assert internal not in pulumi_astrokeys.__all__
        assert not hasattr(pulumi_astrokeys, internal)


def test_every_error_the_package_raises_is_an_astrokeys_error() -> None:
    public = [getattr(pulumi_astrokeys, name) for name in pulumi_astrokeys.__all__]
    errors = [value for value in public if isinstance(value, type) and issubclass(value, BaseException)]
    assert pulumi_astrokeys.AutonamingConflictError in errors
    for error in errors:
        assert issubclass(error, pulumi_astrokeys.AstroKeysError), error


def test_astrokeys_emulator_without_its_extra_says_in_one_line_how_to_install_it() -> None:
    # Starlette made unimportable, as in an environment without the extra.
    code = (
        "import sys; sys.modules['starlette'] = None; "
        "from pulumi_astrokeys._emulator_command import main; sys.exit(main(['--help']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "astrokeys-emulator needs the emulator extra: pip install 'pulumi-astrokeys[emulator]' "
        "(it adds Starlette and uvicorn)"
    ]


# What each entry point may load. A Pulumi program imports the package and the provider
# process the provider, on every operation: neither loads the client's libraries before its
# first call, nor ever the emulator's web stack.
_CLIENT_LIBRARIES = ("httpx", "httpcore", "pydantic", "tenacity", "pulumi_astrokeys._client")
_EMULATOR = ("starlette", "uvicorn", "pulumi_astrokeys.emulator")


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("pulumi_astrokeys", _CLIENT_LIBRARIES + _EMULATOR),
        ("pulumi_astrokeys.provider", _CLIENT_LIBRARIES + _EMULATOR),
        ("pulumi_astrokeys.testing.pytest_plugin", _EMULATOR),
        ("pulumi_astrokeys.cli", _EMULATOR),
    ],
)
def test_import_boundaries(module: str, must_not_load: tuple[str, ...]) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"print(sorted(m for m in sys.modules if m.startswith({must_not_load!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
