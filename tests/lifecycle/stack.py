"""The public entry point: a stack whose program is run through whole lifecycles."""

from __future__ import annotations

import json
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Mapping, Optional

from .engine import Deployment
from .monitor import Registration, ResourceMonitor
from .program import ProgramSource, program_directory, run_program
from .props import PropertyMap, Secret, reveal
from .provider_client import DynamicProviderProcess, ProviderError, provider_environment
from .results import LifecycleError, OperationError, OperationResult, StackOutputs
from .secrets import DEFAULT_KDF_ITERATIONS
from .state import ROOT_STACK_TYPE, ResourceState, StateFile

_MONITOR_TERMINATED = "Resource monitor has terminated"


def _config_string(value: Any) -> str:
    # Stack config values are strings; structured values travel as JSON, as in Pulumi.
    return value if isinstance(value, str) else json.dumps(value)


class Stack:
    """A Pulumi stack driven by the lifecycle harness instead of the Pulumi CLI.

    :param program: a zero-argument callable (the inline program) or a project directory
        holding ``__main__.py``.
    :param state_file: where the stack's state (JSON, secrets encrypted) is kept between operations.
    :param project: the project name (``pulumi.get_project()``; the URN's project part).
    :param stack_name: the stack name (``pulumi.get_stack()``).
    :param config: stack config, keys in ``namespace:key`` form (``{"astrokeys:host": ...}``).
    :param secret_config: secret stack config; the program sees these keys as secret and
        the provider receives them in ``configure`` like any other key.
    :param env: extra environment variables for the program and the provider process.
    :param passphrase: the passphrase the state file's secrets are encrypted with.
    :param organization: the organization name reported to the program.
    :param parallel: how many resource operations may run at once.
    :param kdf_iterations: PBKDF2 rounds for a new state file's key (Pulumi uses 1,000,000;
        tests may lower it to save time).

    Each operation returns an :class:`~.results.OperationResult` or raises
    :class:`~.results.LifecycleError` carrying the partial result.
    """

    def __init__(
        self,
        program: ProgramSource,
        state_file: Path | str,
        project: str,
        stack_name: str,
        config: Optional[Mapping[str, Any]] = None,
        secret_config: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
        passphrase: str = "",
        organization: str = "organization",
        parallel: int = 16,
        kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
        python: str = sys.executable,
    ) -> None:
        # A directory is resolved now: programs run with the project directory as cwd.
        self.program: ProgramSource = program if callable(program) else Path(program).resolve()
        self.project = project
        self.stack_name = stack_name
        self.organization = organization
        self.parallel = parallel
        self.env = dict(env or {})
        self.python = python
        self._config = {k: _config_string(v) for k, v in (config or {}).items()}
        self._secret_config = {k: _config_string(v) for k, v in (secret_config or {}).items()}
        self._state = StateFile(Path(state_file), passphrase, project, stack_name, kdf_iterations)
        #: Registrations the monitor received during the last program run.
        self.last_registrations: list[Registration] = []
        #: What the provider process wrote to stderr during the last operation.
        self.last_provider_stderr = ""

    # -- config ----------------------------------------------------------------------

    @property
    def all_config(self) -> dict[str, str]:
        return {**self._config, **self._secret_config}

    @property
    def secret_keys(self) -> list[str]:
        return sorted(self._secret_config)

    # -- operations ------------------------------------------------------------------

    def preview(self) -> OperationResult:
        """Run the program as a dry run: Check and Diff only, nothing is written."""
        return self._update(dry_run=True)

    def up(self) -> OperationResult:
        """Run the program and make the resources match it."""
        return self._update(dry_run=False)

    def refresh(self) -> OperationResult:
        """Read every resource from its provider and fold the live state into the state file."""
        deployment = self._deployment("refresh", dry_run=False)
        try:
            deployment.refresh_all()
        finally:
            self._close(deployment)
        return self._finish(deployment)

    def destroy(self) -> OperationResult:
        """Delete every resource in the stack."""
        deployment = self._deployment("destroy", dry_run=False)
        try:
            deployment.run_deletes(deployment.delete_candidates(everything=True))
        finally:
            self._close(deployment)
        return self._finish(deployment)

    # -- state -------------------------------------------------------------------------

    def state(self) -> Optional[dict[str, Any]]:
        """The state file as parsed JSON (secrets still encrypted), or None before the first ``up``."""
        return self._state.read_raw()

    def resources(self) -> list[ResourceState]:
        """The resources in the state, secrets decrypted."""
        return self._state.load()

    def outputs(self, show_secrets: bool = False) -> Any:
        """The stack outputs from the state.

        Returns :class:`~.results.StackOutputs` (secrets masked in repr/str), or with
        ``show_secrets=True`` a plain dict with every value revealed, like
        ``pulumi stack output --show-secrets``.
        """
        outputs = StackOutputs(self._stack_outputs(self._state.load()))
        return outputs.plain() if show_secrets else outputs

    # -- internals ------------------------------------------------------------------

    @staticmethod
    def _stack_outputs(resources: list[ResourceState]) -> PropertyMap:
        for res in resources:
            if res.type == ROOT_STACK_TYPE and not res.delete:
                return dict(res.outputs)
        return {}

    def _provider_factory(self) -> DynamicProviderProcess:
        env = provider_environment(self.env, self.project, self.stack_name, self.organization)
        proc = DynamicProviderProcess(env, cwd=program_directory(self.program) if not callable(self.program) else None, python=self.python)
        try:
            proc.start()
            proc.configure(self.all_config, self.secret_keys)
        except BaseException:
            self.last_provider_stderr = proc.stderr_text()
            proc.close()
            raise
        return proc

    def _deployment(self, operation: str, dry_run: bool) -> Deployment:
        return Deployment(
            operation=operation,
            olds=self._state.load(),
            provider_factory=self._provider_factory,
            persist=self._state.save,
            dry_run=dry_run,
            parallel=self.parallel,
        )

    def _close(self, deployment: Deployment) -> None:
        provider = deployment._provider
        deployment.close()
        self.last_provider_stderr = provider.stderr_text() if provider is not None else ""

    def _update(self, dry_run: bool) -> OperationResult:
        operation = "preview" if dry_run else "up"
        deployment = self._deployment(operation, dry_run)
        monitor = ResourceMonitor(
            deployment,
            project=self.project,
            stack=self.stack_name,
            organization=self.organization,
            config=self.all_config,
            secret_keys=set(self.secret_keys),
            dry_run=dry_run,
            parallel=self.parallel,
        )
        monitor.start()
        # Start the provider plugin while the program starts up; registrations wait for it.
        threading.Thread(target=self._warm_up, args=(deployment,), daemon=True).start()
        try:
            error = run_program(
                self.program,
                monitor_address=monitor.address,
                engine_address=monitor.address,
                project=self.project,
                stack=self.stack_name,
                organization=self.organization,
                dry_run=dry_run,
                config=self.all_config,
                secret_keys=self.secret_keys,
                env=self.env,
                parallel=self.parallel,
            )
            monitor.wait_idle()
            if error is not None:
                self._program_error(deployment, error)
            elif not deployment.failed:
                deployment.run_deletes(deployment.delete_candidates())
        finally:
            monitor.stop()
            self.last_registrations = list(monitor.registrations)
            self._close(deployment)
        return self._finish(deployment)

    @staticmethod
    def _warm_up(deployment: Deployment) -> None:
        try:
            deployment.provider()
        except ProviderError:
            pass  # reported by the first step that needs the provider

    @staticmethod
    def _program_error(deployment: Deployment, error: BaseException) -> None:
        # A program that stopped because the engine refused or failed one of its
        # registrations adds nothing to that step's error.
        if deployment.errors:
            return
        message = str(error) or type(error).__name__
        if _MONITOR_TERMINATED in message:
            message = "the program stopped: the resource monitor shut down"
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        deployment.errors.append(OperationError(message, None, "program", detail))
        deployment.failed = True

    def _finish(self, deployment: Deployment) -> OperationResult:
        if deployment.dry_run:
            stack_res = next((r for r in deployment.news_by_urn.values() if r.type == ROOT_STACK_TYPE), None)
            outputs = dict(stack_res.outputs) if stack_res else {}
        else:
            outputs = self._stack_outputs(deployment.snapshot())
        result = OperationResult(
            operation=deployment.operation,
            steps=list(deployment.steps),
            outputs=StackOutputs(outputs),
            errors=list(deployment.errors),
            diagnostics=list(deployment.diagnostics),
        )
        if result.errors:
            raise LifecycleError(result)
        return result


__all__ = ["Stack", "Secret", "reveal"]
