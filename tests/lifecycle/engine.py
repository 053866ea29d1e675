"""The engine's rules: turning registrations into steps, running them, keeping the snapshot.

:class:`Deployment` plays the Pulumi engine's step generator and step executor for one
operation. The rules come from pkg/resource/deploy/step_generator.go and step.go:

* ``ignoreChanges`` properties take their old values before Check (``processIgnoreChanges``).
* Check runs with the old inputs when the resource exists, without them when it is new.
* Diff gets the old outputs as ``olds`` and the old inputs as ``old_inputs``; a
  ``DIFF_UNKNOWN`` answer is settled by the engine comparing old and new inputs itself
  (``diffResource``); ``replaceOnChanges`` turns a change of a listed (changed) key into a
  replacement (``applyReplaceOnChanges``).
* A replacement re-runs Check with no old inputs, then creates the new resource first and
  deletes the old one after every registration (create-before-delete), unless the
  provider's diff or the ``deleteBeforeReplace`` option asks to delete first.
* Resources in the state but not registered, and old resources pending deletion, are
  deleted after the program finishes, in antichains of the dependency graph, last
  dependents first (``GenerateDeletes``/``ScheduleDeletes``).
* A protected resource is never replaced or deleted; ``retainOnDelete`` drops a resource
  from the state without calling Delete, as does ``deletedWith`` when the named resource
  is deleted in the same operation (``DeleteStep.Apply``).
* The snapshot is written after every step, so a failure leaves a state that a rerun
  converges from (``SnapshotManager``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Optional

from pulumi.runtime.proto import provider_pb2

from .monitor import MonitorError, RegisterResult, Registration
from .props import (
    PropertyMap,
    changed_keys,
    contains_unknowns,
    mark_secret_keys,
    parse_property_path,
    path_contains,
    reset_path,
)
from .provider_client import DynamicProviderProcess, ProviderError
from .results import (
    OP_CREATE,
    OP_DELETE,
    OP_DELETE_REPLACED,
    OP_DISCARD,
    OP_READ,
    OP_REPLACE,
    OP_SAME,
    OP_UPDATE,
    OperationError,
    Step,
)
from .state import ResourceState, dependency_order

ProviderFactory = Callable[[], DynamicProviderProcess]


class StepFailed(Exception):
    """A step could not be carried out; the operation stops."""

    def __init__(self, error: OperationError) -> None:
        super().__init__(error.message)
        self.error = error


def process_ignore_changes(inputs: PropertyMap, old_inputs: PropertyMap, ignore_changes: Iterable[str]) -> PropertyMap:
    """Give each ignored property its old value (``processIgnoreChanges``)."""
    result = _deep_copy(inputs)
    invalid = []
    for path_text in ignore_changes:
        try:
            path = parse_property_path(path_text)
        except ValueError:
            continue
        if not reset_path(old_inputs, result, path):
            invalid.append(path_text)
    if invalid:
        raise ValueError(
            "cannot ignore changes to the following properties because one or more elements of "
            f"the path are missing: {', '.join(repr(p) for p in invalid)}"
        )
    return result


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _check_failure_message(urn: str, type_: str, failures: list[Any], inputs: PropertyMap) -> str:
    name = urn.rsplit("::", 1)[-1]
    lines = []
    for f in failures:
        if f.property:
            lines.append(f"{type_} resource '{name}': property {f.property} value {{{inputs.get(f.property)!r}}} has a problem: {f.reason}")
        else:
            lines.append(f"{type_} resource '{name}' has a problem: {f.reason}")
    return "\n".join(lines)


def _protect_replace_message(urn: str) -> str:
    return (
        f"unable to replace resource {urn!r}\nas it is currently marked for protection. To unprotect the "
        "resource, remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`"
    )


def _protect_delete_message(urn: str) -> str:
    return (
        f"unable to delete resource {urn!r}\nas it is currently marked for protection. To unprotect the "
        "resource, either remove the `protect` flag from the resource in your Pulumi program and run "
        f"`pulumi up` or use the command:\n`pulumi state unprotect {urn}`"
    )


class Deployment:
    """One operation's engine state: old snapshot, new resources, steps and errors."""

    def __init__(
        self,
        *,
        operation: str,
        olds: list[ResourceState],
        provider_factory: ProviderFactory,
        persist: Optional[Callable[[list[ResourceState]], None]],
        dry_run: bool,
        parallel: int,
    ) -> None:
        self.operation = operation
        self.dry_run = dry_run
        self.parallel = max(parallel, 1)
        self._persist_fn = persist
        self._provider_factory = provider_factory
        self._provider: Optional[DynamicProviderProcess] = None
        self._provider_failure: Optional[ProviderError] = None
        self._provider_lock = threading.Lock()
        self._lock = threading.RLock()

        self.old_order: list[ResourceState] = list(olds)
        self.olds_by_urn: dict[str, ResourceState] = {}
        for res in olds:
            if not res.delete:
                self.olds_by_urn.setdefault(res.urn, res)
        self.news: list[ResourceState] = []
        self.news_by_urn: dict[str, ResourceState] = {}
        self._done: set[int] = set()  # ids of old states no longer in the snapshot
        self.seen: set[str] = set()
        self.deletes: set[str] = set()
        self.steps: list[Step] = []
        self.errors: list[OperationError] = []
        self.diagnostics: list[str] = []
        self.failed = False

    # -- provider --------------------------------------------------------------------

    def provider(self) -> DynamicProviderProcess:
        """The operation's provider process, launched and configured on first use."""
        with self._provider_lock:
            if self._provider_failure is not None:
                raise self._provider_failure
            if self._provider is None:
                try:
                    self._provider = self._provider_factory()
                except ProviderError as exn:
                    self._provider_failure = exn
                    raise
                except Exception as exn:  # noqa: BLE001 - any launch failure fails the steps
                    self._provider_failure = ProviderError("Start", "", str(exn), repr(exn))
                    raise self._provider_failure from exn
            return self._provider

    def close(self) -> None:
        with self._provider_lock:
            if self._provider is not None:
                self._provider.close()

    # -- snapshot --------------------------------------------------------------------

    def snapshot(self) -> list[ResourceState]:
        """New resources in completion order, then old ones not yet done with."""
        with self._lock:
            leftovers = [r for r in self.old_order if id(r) not in self._done]
            return dependency_order(self.news + leftovers)

    def _persist(self) -> None:
        if self.dry_run or self._persist_fn is None:
            return
        with self._lock:
            self._persist_fn(self.snapshot())

    def _add_new(self, new: ResourceState, done_old: Optional[ResourceState] = None) -> None:
        with self._lock:
            self.news.append(new)
            self.news_by_urn[new.urn] = new
            if done_old is not None:
                self._done.add(id(done_old))
            self._persist()

    def _drop_old(self, old: ResourceState) -> None:
        with self._lock:
            self._done.add(id(old))
            self._persist()

    def _record(self, step: Step) -> Step:
        with self._lock:
            self.steps.append(step)
        return step

    def _fail(self, error: OperationError, step: Optional[Step] = None, stop: bool = True) -> StepFailed:
        """Record a failed step; unless ``stop`` is False, no further step is started."""
        with self._lock:
            self.errors.append(error)
            if step is not None:
                step.error = error.message
                step.error_detail = error.detail or error.message
                self.steps.append(step)
            if stop:
                self.failed = True
        return StepFailed(error)

    def _provider_error(self, exn: ProviderError, step: Step) -> StepFailed:
        return self._fail(OperationError(exn.message, exn.urn or step.urn, "step", exn.detail), step)

    def log(self, severity: str, message: str, urn: str) -> None:
        with self._lock:
            self.diagnostics.append(f"{severity}: {urn + ': ' if urn else ''}{message}")

    # -- registrations (called from the monitor's threads) ----------------------------

    def _claim(self, urn: str) -> Optional[ResourceState]:
        with self._lock:
            if self.failed:
                raise MonitorError(f"resource {urn} was not registered: the {self.operation} has already failed")
            if urn in self.seen:
                raise MonitorError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self.seen.add(urn)
            return self.olds_by_urn.get(urn)

    def register_resource(self, reg: Registration) -> RegisterResult:
        old = self._claim(reg.urn)
        try:
            if not reg.custom:
                return self._component(reg, old)
            return self._custom(reg, old)
        except StepFailed as exn:
            raise MonitorError(exn.error.message) from None

    def _new_state(self, reg: Registration, inputs: PropertyMap) -> ResourceState:
        return ResourceState(
            urn=reg.urn,
            type=reg.type,
            custom=reg.custom,
            inputs=inputs,
            parent=reg.parent,
            dependencies=list(reg.dependencies),
            property_dependencies={k: list(v) for k, v in reg.property_dependencies.items()},
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            deleted_with=reg.deleted_with,
            additional_secret_outputs=list(reg.additional_secret_outputs),
            ignore_changes=list(reg.ignore_changes),
            replace_on_changes=list(reg.replace_on_changes),
            replacement_trigger=reg.replacement_trigger,
        )

    def _component(self, reg: Registration, old: Optional[ResourceState]) -> RegisterResult:
        new = self._new_state(reg, dict(reg.inputs))
        if old is None:
            op = OP_CREATE
        else:
            op = OP_SAME if old.inputs == new.inputs else OP_UPDATE
            new.outputs = old.outputs
        if not self.dry_run:
            self._add_new(new, old)
        else:
            with self._lock:
                self.news_by_urn[new.urn] = new
        self._record(Step(op, reg.urn, reg.type, custom=False))
        return RegisterResult(reg.urn, "", {})

    def _check(self, reg: Registration, olds: PropertyMap, news: PropertyMap, step: Step) -> PropertyMap:
        try:
            inputs, failures = self.provider().check(reg.urn, olds, news)
        except ProviderError as exn:
            raise self._provider_error(exn, step) from None
        if failures:
            message = _check_failure_message(reg.urn, reg.type, failures, inputs)
            raise self._fail(OperationError(message, reg.urn, "step"), step)
        return inputs

    def _custom(self, reg: Registration, old: Optional[ResourceState]) -> RegisterResult:
        if old is not None and old.external:
            # Taking ownership of a formerly read resource: create, and discard the read one
            # at the end (step_generator.go, "Case 2: wasExternal").
            old.delete = True
            old = None
        inputs = dict(reg.inputs)
        if old is not None:
            try:
                inputs = process_ignore_changes(inputs, old.inputs, reg.ignore_changes)
            except ValueError as exn:
                step = Step(OP_UPDATE, reg.urn, reg.type)
                raise self._fail(OperationError(str(exn), reg.urn, "engine"), step) from None

        if old is None:
            step = Step(OP_CREATE, reg.urn, reg.type)
            checked = self._check(reg, {}, inputs, step)
            new = self._new_state(reg, checked)
            return self._create(new, step)

        step = Step(OP_SAME, reg.urn, reg.type)
        checked = self._check(reg, old.inputs, inputs, step)
        new = self._new_state(reg, checked)
        changes, replaces, changed, provider_dbr = self._diff(reg, old, new, step)
        step.changed = changed

        if changes == provider_pb2.DiffResponse.DIFF_SOME and replaces:
            return self._replace(reg, old, new, step, replaces, provider_dbr)
        if changes == provider_pb2.DiffResponse.DIFF_SOME:
            step.op = OP_UPDATE
            return self._update(reg, old, new, step)

        step.op = OP_SAME
        new.id, new.outputs = old.id, old.outputs
        if not self.dry_run:
            self._add_new(new, old)
        self._record(step)
        return RegisterResult(reg.urn, old.id, dict(old.outputs))

    def _diff(
        self, reg: Registration, old: ResourceState, new: ResourceState, step: Step
    ) -> tuple[int, list[str], list[str], bool]:
        try:
            diff = self.provider().diff(reg.urn, old.id, old.inputs, old.outputs, new.inputs, reg.ignore_changes)
        except ProviderError as exn:
            raise self._provider_error(exn, step) from None
        changes, replaces, changed = diff.changes, list(diff.replaces), list(diff.changed_keys)
        if changes == provider_pb2.DiffResponse.DIFF_UNKNOWN:
            # The engine settles an unknown diff by comparing inputs, __provider included.
            compared = process_ignore_changes(new.inputs, old.inputs, reg.ignore_changes)
            changed = changed_keys(old.inputs, compared)
            changes = provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE
        if changes == provider_pb2.DiffResponse.DIFF_SOME and reg.replace_on_changes:
            paths = [parse_property_path(p) for p in reg.replace_on_changes]
            for key in changed:
                if key not in replaces and any(path_contains(p, [key]) for p in paths):
                    replaces.append(key)
        # replacementTrigger "forces a replacement whenever the trigger value changes"
        # (Pulumi's resource option docs). Only a change between two recorded values counts
        # here: a trigger newly added to an existing resource does not replace it.
        if (
            old.replacement_trigger is not None
            and reg.replacement_trigger is not None
            and (reg.replacement_trigger != old.replacement_trigger or contains_unknowns(reg.replacement_trigger))
        ):
            changes = provider_pb2.DiffResponse.DIFF_SOME
            replaces.append("replacementTrigger")
        return changes, replaces, changed, diff.delete_before_replace

    def _create(self, new: ResourceState, step: Step) -> RegisterResult:
        if self.dry_run:
            # Providers without preview support hand the inputs back as the state
            # (provider_plugin.go, Create with preview): every other output is unknown.
            self._record(step)
            return RegisterResult(new.urn, "", dict(new.inputs))
        try:
            new.id, outs = self.provider().create(new.urn, new.inputs)
        except ProviderError as exn:
            raise self._provider_error(exn, step) from None
        new.outputs = mark_secret_keys(outs, new.additional_secret_outputs)
        self._add_new(new)
        self._record(step)
        return RegisterResult(new.urn, new.id, dict(new.outputs))

    def _update(self, reg: Registration, old: ResourceState, new: ResourceState, step: Step) -> RegisterResult:
        if self.dry_run:
            self._record(step)
            return RegisterResult(reg.urn, old.id, dict(new.inputs))
        try:
            outs = self.provider().update(reg.urn, old.id, old.outputs, old.inputs, new.inputs, reg.ignore_changes)
        except ProviderError as exn:
            raise self._provider_error(exn, step) from None
        new.id = old.id
        new.outputs = mark_secret_keys(outs, new.additional_secret_outputs)
        self._add_new(new, old)
        self._record(step)
        return RegisterResult(reg.urn, new.id, dict(new.outputs))

    def _replace(
        self,
        reg: Registration,
        old: ResourceState,
        new: ResourceState,
        step: Step,
        replaces: list[str],
        provider_dbr: bool,
    ) -> RegisterResult:
        step.op = OP_REPLACE
        step.replaces = replaces
        if new.protect and old.protect:
            error = OperationError(_protect_replace_message(reg.urn), reg.urn, "engine")
            if self.dry_run:
                # Preview reports the error but goes on to show the rest of the plan.
                self._fail(error, step, stop=False)
                return RegisterResult(reg.urn, "", dict(new.inputs))
            raise self._fail(error, step)
        # Defaults must be recomputed for a brand-new resource: Check again, without olds.
        new.inputs = self._check(reg, {}, dict(reg.inputs), step)
        dbr = reg.delete_before_replace if reg.delete_before_replace is not None else provider_dbr
        step.delete_before_replace = dbr
        if self.dry_run:
            self._record(step)
            return RegisterResult(reg.urn, "", dict(new.inputs))

        if dbr:
            with self._lock:
                self.deletes.add(old.urn)
            self._delete(old, replacing=True)
            try:
                new.id, outs = self.provider().create(reg.urn, new.inputs)
            except ProviderError as exn:
                raise self._provider_error(exn, step) from None
            new.outputs = mark_secret_keys(outs, new.additional_secret_outputs)
            self._add_new(new)
        else:
            try:
                new.id, outs = self.provider().create(reg.urn, new.inputs)
            except ProviderError as exn:
                raise self._provider_error(exn, step) from None
            new.outputs = mark_secret_keys(outs, new.additional_secret_outputs)
            with self._lock:
                old.delete = True  # pending delete: removed after every registration
                self._add_new(new)
        self._record(step)
        return RegisterResult(reg.urn, new.id, dict(new.outputs))

    def read_resource(self, reg: Registration) -> RegisterResult:
        """A ``get``: read an existing resource by id; it joins the state as external."""
        old = self._claim(reg.urn)
        step = Step(OP_READ, reg.urn, reg.type)
        try:
            resource_id, outs, _ = self.provider().read(reg.urn, reg.read_id or "", {}, reg.inputs)
        except ProviderError as exn:
            raise MonitorError(self._provider_error(exn, step).error.message) from None
        if not resource_id:
            error = OperationError(f"resource '{reg.read_id}' does not exist", reg.urn, "step")
            raise MonitorError(self._fail(error, step).error.message)
        new = self._new_state(reg, dict(reg.inputs))
        new.id, new.external = resource_id, True
        new.outputs = mark_secret_keys(outs, reg.additional_secret_outputs)
        if not self.dry_run:
            if old is not None and not old.external and old.id != resource_id:
                with self._lock:
                    old.delete = True  # read-replacement: the managed one is deleted at the end
                self._add_new(new)
            else:
                self._add_new(new, old)
        self._record(step)
        return RegisterResult(reg.urn, resource_id, dict(new.outputs))

    def register_resource_outputs(self, urn: str, outputs: PropertyMap) -> None:
        with self._lock:
            new = self.news_by_urn.get(urn)
            if new is None:
                raise MonitorError(f"cannot register outputs for unknown resource {urn}")
            new.outputs = outputs
        self._persist()

    def get_resource(self, urn: str) -> Optional[tuple[str, PropertyMap]]:
        with self._lock:
            res = self.news_by_urn.get(urn) or self.olds_by_urn.get(urn)
            return None if res is None else (res.id, dict(res.outputs))

    # -- deletes ------------------------------------------------------------------------

    def _deleted_with_target_deleted(self, res: ResourceState) -> bool:
        """``isDeletedWith``: the deletedWith chain reaches a resource deleted in this operation."""
        seen: set[str] = set()
        target = res.deleted_with
        while target and target not in seen:
            if target in self.deletes:
                return True
            seen.add(target)
            owner = self.news_by_urn.get(target) or self.olds_by_urn.get(target)
            target = owner.deleted_with if owner else ""
        return False

    def _delete(self, old: ResourceState, replacing: bool, report: bool = True) -> None:
        op = OP_DELETE_REPLACED if replacing else (OP_DISCARD if old.external else OP_DELETE)
        step = Step(op, old.urn, old.type, custom=old.custom)
        if not replacing and old.protect:
            error = OperationError(_protect_delete_message(old.urn), old.urn, "engine")
            raise self._fail(error, step, stop=not self.dry_run)
        if self.dry_run:
            if report:
                self._record(step)
            return
        if old.custom and not old.external:
            if old.retain_on_delete or self._deleted_with_target_deleted(old):
                step.provider_delete_skipped = True
            else:
                try:
                    self.provider().delete(old.urn, old.id, old.outputs, old.inputs)
                except ProviderError as exn:
                    raise self._provider_error(exn, step) from None
        self._drop_old(old)
        if report:
            self._record(step)

    def delete_candidates(self, everything: bool = False) -> list[ResourceState]:
        """Old resources to delete now: pending deletes and everything not registered
        (``GenerateDeletes``), or every resource (destroy)."""
        with self._lock:
            result = []
            for res in self.old_order:
                if id(res) in self._done:
                    continue
                if everything or res.delete or res.urn not in self.seen:
                    result.append(res)
            return result

    def schedule_deletes(self, condemned: list[ResourceState]) -> list[list[ResourceState]]:
        """Antichains of the dependency graph, to run one after another, dependents first
        (``ScheduleDeletes``)."""
        graph_nodes = self.news + [r for r in self.old_order if id(r) not in self._done]
        by_urn: dict[str, list[ResourceState]] = {}
        for res in graph_nodes:
            by_urn.setdefault(res.urn, []).append(res)
        remaining = list(condemned)
        antichains: list[list[ResourceState]] = []
        while remaining:
            remaining_ids = {id(r) for r in remaining}
            chain = []
            for res in remaining:
                deps = [d for urn in res.all_dependency_urns() for d in by_urn.get(urn, [])]
                if not any(id(d) in remaining_ids and d is not res for d in deps):
                    chain.append(res)
            if not chain:  # a cycle cannot happen in a valid state; fall back to one at a time
                chain = [remaining[0]]
            chain_ids = {id(r) for r in chain}
            remaining = [r for r in remaining if id(r) not in chain_ids]
            antichains.append(chain)
        antichains.reverse()
        return antichains

    def run_deletes(self, condemned: list[ResourceState]) -> None:
        """Delete ``condemned``, independent resources in parallel; stop after a failing antichain."""
        with self._lock:
            self.deletes.update(r.urn for r in condemned)
        if not condemned:
            return
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            for chain in self.schedule_deletes(condemned):
                futures = [pool.submit(self._delete_quietly, res) for res in chain]
                for future in futures:
                    future.result()
                if self.failed:
                    return

    def _delete_quietly(self, res: ResourceState) -> None:
        try:
            self._delete(res, replacing=res.delete and not res.external)
        except StepFailed:
            pass

    # -- refresh ------------------------------------------------------------------------

    def refresh_all(self) -> None:
        """Read every custom resource and fold the live state into the snapshot."""
        targets = [r for r in self.old_order if r.custom]
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            for future in [pool.submit(self._refresh_one, r) for r in targets]:
                future.result()
        gone = {r.urn for r in targets if id(r) in self._done}
        if gone and not self.dry_run:
            with self._lock:
                for res in self.old_order:
                    res.dependencies = [d for d in res.dependencies if d not in gone]
                    res.property_dependencies = {
                        k: [d for d in v if d not in gone] for k, v in res.property_dependencies.items()
                    }
                    if res.deleted_with in gone:
                        res.deleted_with = ""
            self._persist()

    def _refresh_one(self, res: ResourceState) -> None:
        step = Step(OP_SAME, res.urn, res.type)
        try:
            new_id, outs, new_inputs = self.provider().read(res.urn, res.id, res.outputs, res.inputs)
        except ProviderError as exn:
            self._provider_error(exn, step)
            return
        if not new_id:
            step.op = OP_DELETE
            with self._lock:
                if not self.dry_run:
                    self._done.add(id(res))
                    self._persist()
            self._record(step)
            return
        outs = mark_secret_keys(outs, res.additional_secret_outputs)
        changed = outs != res.outputs or (new_inputs is not None and new_inputs != res.inputs)
        step.op = OP_UPDATE if changed else OP_SAME
        step.changed = changed_keys(res.outputs, outs)
        if not self.dry_run:
            with self._lock:
                res.id, res.outputs = new_id, outs
                if new_inputs is not None:
                    res.inputs = new_inputs
                self._persist()
        self._record(step)

