"""A toy dynamic provider for the lifecycle harness tests.

Its "cloud" is a JSON file whose path is in the ``TOY_CLOUD`` environment variable; it
records every provider call (in order) and can be told to fail a given call. The module
is importable, so dill pickles :class:`ToyProvider` by reference and the dynamic provider
process imports it from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

CLOUD_ENV = "TOY_CLOUD"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
#: Input properties that force a replacement when they change.
IMMUTABLE = ("name",)


class ToyCloud:
    """The toy cloud's store: resources by id, the call log and failure knobs."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text()) if self.path.exists() else {}
                data.setdefault("resources", {})
                data.setdefault("calls", [])
                data.setdefault("failures", [])
                data.setdefault("seq", 0)
                yield data
                self.path.write_text(json.dumps(data, indent=1, sort_keys=True, default=repr))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        with self._locked() as data:
            return json.loads(json.dumps(data))

    # -- test-side helpers ----------------------------------------------------------

    def calls(self, method: Optional[str] = None, name: Optional[str] = None) -> list[dict[str, Any]]:
        return [
            c
            for c in self.read()["calls"]
            if (method is None or c["method"] == method) and (name is None or c.get("name") == name)
        ]

    def writes(self) -> list[dict[str, Any]]:
        return [c for c in self.read()["calls"] if c["method"] in ("create", "update", "delete")]

    def clear_calls(self) -> None:
        with self._locked() as data:
            data["calls"] = []

    def resources(self) -> dict[str, dict[str, Any]]:
        return self.read()["resources"]

    def fail(self, method: str, name: str, message: str = "") -> None:
        with self._locked() as data:
            data["failures"].append({"method": method, "name": name, "message": message})

    def clear_failures(self) -> None:
        with self._locked() as data:
            data["failures"] = []

    def remove_out_of_band(self, resource_id: str) -> None:
        with self._locked() as data:
            data["resources"].pop(resource_id, None)

    def edit_out_of_band(self, resource_id: str, **changes: Any) -> None:
        with self._locked() as data:
            data["resources"][resource_id].update(changes)

    # -- provider-side ----------------------------------------------------------------

    def record(self, method: str, name: Optional[str], **details: Any) -> dict[str, Any]:
        with self._locked() as data:
            data["seq"] += 1
            entry = {"seq": data["seq"], "method": method, "name": name, "t": time.monotonic(), **details}
            data["calls"].append(entry)
            failure = next((f for f in data["failures"] if f["method"] == method and f["name"] == name), None)
        if failure is not None:
            raise RuntimeError(failure["message"] or f"toy {method} of {name!r} failed on purpose")
        return entry

    def mutate(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return self._locked()


def _cloud() -> ToyCloud:
    return ToyCloud(os.environ[CLOUD_ENV])


def _public(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if not k.startswith("__")}


def _secret(value: Any) -> dict[str, Any]:
    """A provider-returned secret: the wire form the engine recognises."""
    return {SIG_KEY: SECRET_SIG, "value": value}


class ToyProvider(ResourceProvider):
    """CRUD over the toy cloud. ``name`` is immutable (replace); other inputs update in place.

    Inputs understood: ``name`` (required), ``size`` (defaults to 1 in Check), ``dbr``
    (ask for delete-before-replace), ``unknown_diff`` (answer Diff with DIFF_UNKNOWN),
    ``slow_delete`` (seconds Delete takes; logs a ``deleted`` call when done).
    Outputs: the inputs plus ``serial`` (a per-create counter) and ``token`` (returned as
    a secret).
    """

    def configure(self, req: ConfigureRequest) -> None:
        _cloud().record(
            "configure",
            None,
            endpoint=req.config.get("toy:endpoint"),
            api_key=req.config.get("toy:apiKey"),
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        _cloud().record("check", news.get("name"), had_olds=bool(_public(_olds)), news=_public(news))
        inputs = dict(news)
        inputs.setdefault("size", 1)
        failures = []
        if not inputs.get("name"):
            failures.append(CheckFailure("name", "name is required"))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        _cloud().record("diff", _news.get("name"), id=_id)
        if _news.get("unknown_diff"):
            return DiffResult()
        keys = sorted(set(_public(_news)) | {k for k in _public(_olds) if k not in ("serial", "token")})
        changed = [k for k in keys if _olds.get(k) != _news.get(k)]
        replaces = [k for k in changed if k in IMMUTABLE]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=bool(_news.get("dbr")) if replaces else None,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        cloud = _cloud()
        cloud.record("create", props.get("name"), props=_public(props))
        with cloud.mutate() as data:
            data["seq"] += 1
            serial = data["seq"]
            resource_id = f"{props.get('name')}-{serial}"
            data["resources"][resource_id] = {**_public(props), "serial": serial}
        return CreateResult(resource_id, {**_public(props), "serial": serial, "token": _secret(f"tok-{resource_id}")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        cloud = _cloud()
        cloud.record("read", props.get("name"), id=id_)
        live = cloud.read()["resources"].get(id_)
        if live is None:
            return ReadResult("", {})
        return ReadResult(id_, {**live, "token": _secret(f"tok-{id_}")})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        cloud = _cloud()
        cloud.record("update", _news.get("name"), id=_id, props=_public(_news))
        with cloud.mutate() as data:
            stored = data["resources"].setdefault(_id, {})
            serial = stored.get("serial", _olds.get("serial"))
            data["resources"][_id] = {**_public(_news), "serial": serial}
        return UpdateResult({**_public(_news), "serial": serial, "token": _secret(f"tok-{_id}")})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        cloud = _cloud()
        cloud.record("delete", _props.get("name"), id=_id)
        if _props.get("slow_delete"):
            time.sleep(float(_props["slow_delete"]))
            cloud.record("deleted", _props.get("name"), id=_id)
        with cloud.mutate() as data:
            data["resources"].pop(_id, None)


class Thing(Resource, module="toy", name="Thing"):
    """A toy cloud resource (type ``pulumi-python:dynamic/toy:Thing``)."""

    name: pulumi.Output[str]
    size: pulumi.Output[int]
    serial: pulumi.Output[int]
    token: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(ToyProvider(), resource_name, {"serial": None, "token": None, **props}, opts)


THING_TYPE = "pulumi-python:dynamic/toy:Thing"
