"""The stack state file: resources, their inputs/outputs and plan-relevant options.

The layout follows Pulumi's checkpoint (``{"version": 3, "checkpoint": {"latest":
{"secrets_providers": ..., "resources": [...]}}}``) with Pulumi's camelCase resource
fields. Resources are kept in dependency order (a resource after everything it
depends on), pending-delete resources are flagged ``"delete": true``, and the stack
outputs are the outputs of the ``pulumi:pulumi:Stack`` resource. Every secret value
is encrypted (see :mod:`.secrets`); the file never holds one in plain text.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from .props import PropertyMap
from .secrets import DEFAULT_KDF_ITERATIONS, PassphraseCrypter

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
STATE_VERSION = 3


@dataclass
class ResourceState:
    """One resource as recorded in the state (secrets decrypted in memory)."""

    urn: str
    type: str
    custom: bool
    id: str = ""
    inputs: PropertyMap = field(default_factory=dict)
    outputs: PropertyMap = field(default_factory=dict)
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    deleted_with: str = ""
    additional_secret_outputs: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    replacement_trigger: Any = None
    external: bool = False
    delete: bool = False
    pending_replacement: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    def all_dependency_urns(self) -> set[str]:
        """Parent, dependencies, property dependencies and deleted-with target.

        The edges ``graph.DependencyGraph`` follows (pkg/resource/graph/dependency_graph.go).
        """
        deps = set(self.dependencies)
        for urns in self.property_dependencies.values():
            deps.update(urns)
        if self.parent:
            deps.add(self.parent)
        if self.deleted_with:
            deps.add(self.deleted_with)
        deps.discard(self.urn)
        return deps

    def copy(self) -> "ResourceState":
        return copy.deepcopy(self)

    # -- (de)serialization --------------------------------------------------------------

    def to_json(self, crypter: PassphraseCrypter) -> dict[str, Any]:
        data: dict[str, Any] = {
            "urn": self.urn,
            "custom": self.custom,
            "type": self.type,
        }
        if self.id:
            data["id"] = self.id
        data["inputs"] = crypter.encrypt_value(self.inputs)
        data["outputs"] = crypter.encrypt_value(self.outputs)
        if self.parent:
            data["parent"] = self.parent
        for key, value in (
            ("protect", self.protect),
            ("retainOnDelete", self.retain_on_delete),
            ("external", self.external),
            ("delete", self.delete),
            ("pendingReplacement", self.pending_replacement),
        ):
            if value:
                data[key] = True
        if self.dependencies:
            data["dependencies"] = list(self.dependencies)
        if self.property_dependencies:
            data["propertyDependencies"] = {k: list(v) for k, v in self.property_dependencies.items()}
        if self.deleted_with:
            data["deletedWith"] = self.deleted_with
        if self.additional_secret_outputs:
            data["additionalSecretOutputs"] = list(self.additional_secret_outputs)
        if self.ignore_changes:
            data["ignoreChanges"] = list(self.ignore_changes)
        if self.replace_on_changes:
            data["replaceOnChanges"] = list(self.replace_on_changes)
        if self.replacement_trigger is not None:
            data["replacementTrigger"] = crypter.encrypt_value(self.replacement_trigger)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], crypter: PassphraseCrypter) -> "ResourceState":
        trigger = data.get("replacementTrigger")
        return cls(
            urn=data["urn"],
            type=data["type"],
            custom=bool(data.get("custom", False)),
            id=data.get("id", ""),
            inputs=crypter.decrypt_value(data.get("inputs") or {}),
            outputs=crypter.decrypt_value(data.get("outputs") or {}),
            parent=data.get("parent", ""),
            dependencies=list(data.get("dependencies") or []),
            property_dependencies={k: list(v) for k, v in (data.get("propertyDependencies") or {}).items()},
            protect=bool(data.get("protect", False)),
            retain_on_delete=bool(data.get("retainOnDelete", False)),
            deleted_with=data.get("deletedWith", ""),
            additional_secret_outputs=list(data.get("additionalSecretOutputs") or []),
            ignore_changes=list(data.get("ignoreChanges") or []),
            replace_on_changes=list(data.get("replaceOnChanges") or []),
            replacement_trigger=None if trigger is None else crypter.decrypt_value(trigger),
            external=bool(data.get("external", False)),
            delete=bool(data.get("delete", False)),
            pending_replacement=bool(data.get("pendingReplacement", False)),
        )


class StateFile:
    """Reads and atomically writes one stack's state file."""

    def __init__(
        self,
        path: Path,
        passphrase: str,
        project: str,
        stack: str,
        kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
    ) -> None:
        self.path = Path(path)
        self.project = project
        self.stack = stack
        self._passphrase = passphrase
        self._kdf_iterations = kdf_iterations
        self._crypter: Optional[PassphraseCrypter] = None

    @property
    def crypter(self) -> PassphraseCrypter:
        if self._crypter is None:
            raw = self.read_raw()
            if raw is not None:
                header = raw["checkpoint"]["latest"].get("secrets_providers", {})
                self._crypter = PassphraseCrypter.from_header(self._passphrase, header)
            else:
                self._crypter = PassphraseCrypter.new(self._passphrase, self._kdf_iterations)
        return self._crypter

    def read_raw(self) -> Optional[dict[str, Any]]:
        """The parsed JSON document (secrets still encrypted), or None if there is no file."""
        if not self.path.exists():
            return None
        with self.path.open("r", encoding="utf-8") as fh:
            return json.load(fh)

    def load(self) -> list[ResourceState]:
        """All resources recorded in the state, secrets decrypted."""
        raw = self.read_raw()
        if raw is None:
            return []
        crypter = self.crypter
        return [ResourceState.from_json(r, crypter) for r in raw["checkpoint"]["latest"].get("resources", [])]

    def save(self, resources: Iterable[ResourceState]) -> None:
        """Write the resources atomically (write to a temp file, then rename)."""
        crypter = self.crypter
        doc = {
            "version": STATE_VERSION,
            "checkpoint": {
                "stack": f"{self.project}/{self.stack}",
                "latest": {
                    "manifest": {
                        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                        "version": "lifecycle-harness",
                    },
                    "secrets_providers": crypter.header(),
                    "resources": [r.to_json(crypter) for r in resources],
                },
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=str(self.path.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2, sort_keys=False)
                fh.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def dependency_order(resources: list[ResourceState]) -> list[ResourceState]:
    """Stable topological sort: each resource after the (present) resources it depends on."""
    by_urn: dict[str, list[ResourceState]] = {}
    for res in resources:
        by_urn.setdefault(res.urn, []).append(res)
    placed: set[int] = set()
    ordered: list[ResourceState] = []

    def visit(res: ResourceState, trail: set[int]) -> None:
        if id(res) in placed or id(res) in trail:
            return
        trail.add(id(res))
        for dep in sorted(res.all_dependency_urns()):
            for dep_res in by_urn.get(dep, []):
                visit(dep_res, trail)
        placed.add(id(res))
        ordered.append(res)

    for res in resources:
        visit(res, set())
    return ordered
