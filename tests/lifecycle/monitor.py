"""An in-process resource monitor and engine gRPC service for the Python SDK to talk to.

The SDK sends every resource registration here (``RegisterResource``,
``ReadResource``, ``RegisterResourceOutputs``, ``Invoke``); the monitor records it and
hands it to a :class:`RegistrationHandler` (the deployment, which plays the engine's
step generator and executor) and returns the handler's answer, as the engine's
resource monitor does (pkg/resource/deploy/source_eval.go).
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from .props import PropertyMap, from_struct, from_value, to_struct
from .state import ROOT_STACK_TYPE

#: Features this monitor implements. Resource references and output values are not
#: advertised, so the SDK sends resources as their ids/URNs and outputs as plain values.
SUPPORTED_FEATURES = {
    "secrets": resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
    "deletedWith": resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
    "replacementTrigger": resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER,
}


def make_urn(project: str, stack: str, type_: str, name: str, parent_urn: str = "") -> str:
    """A resource URN, built as the engine builds it (``resource.NewURN``): a child's type is
    qualified by its parent's type chain, except under the root stack resource."""
    qualified = type_
    if parent_urn:
        parent_qualified = parent_urn.split("::")[2]
        if parent_qualified != ROOT_STACK_TYPE:
            qualified = f"{parent_qualified}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


@dataclass
class Registration:
    """One ``RegisterResource`` (or ``ReadResource``) call as the monitor received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str = ""
    inputs: PropertyMap = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str = ""
    protect: bool = False
    delete_before_replace: Optional[bool] = None
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    deleted_with: str = ""
    replacement_trigger: Any = None
    import_id: str = ""
    read_id: Optional[str] = None  # set for ReadResource ("get") registrations

    @property
    def depends_on(self) -> list[str]:
        """Explicit ``depends_on`` URNs: dependencies not accounted for by any property."""
        implied = {urn for urns in self.property_dependencies.values() for urn in urns}
        return [urn for urn in self.dependencies if urn not in implied]


@dataclass
class RegisterResult:
    """The engine's answer to a registration: URN, provider id and the outputs to resolve."""

    urn: str
    id: str = ""
    outputs: PropertyMap = field(default_factory=dict)


class MonitorError(Exception):
    """Returned to the SDK as a failed RPC with this message."""


class RegistrationHandler(Protocol):
    def register_resource(self, reg: Registration) -> RegisterResult: ...

    def read_resource(self, reg: Registration) -> RegisterResult: ...

    def register_resource_outputs(self, urn: str, outputs: PropertyMap) -> None: ...

    def get_resource(self, urn: str) -> Optional[tuple[str, PropertyMap]]: ...

    def log(self, severity: str, message: str, urn: str) -> None: ...


class _MonitorServicer(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self, monitor: "ResourceMonitor") -> None:
        self._m = monitor

    def GetDeploymentInfo(self, request: Any, context: Any) -> resource_pb2.DeploymentInfo:
        m = self._m
        return resource_pb2.DeploymentInfo(
            project=m.project,
            stack=m.stack,
            organization=m.organization,
            config=m.config,
            configSecretKeys=sorted(m.secret_keys),
            dryRun=m.dry_run,
            parallel=m.parallel,
            supportedFeatures=sorted(SUPPORTED_FEATURES.values()),
        )

    def SupportsFeature(self, request: Any, context: Any) -> resource_pb2.SupportsFeatureResponse:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in SUPPORTED_FEATURES)

    def RegisterResource(self, request: Any, context: Any) -> resource_pb2.RegisterResourceResponse:
        m = self._m
        parent = request.parent
        if not parent and request.type != ROOT_STACK_TYPE:
            parent = m.root_urn or ""
        trigger = from_value(request.replacement_trigger) if request.HasField("replacement_trigger") else None
        reg = Registration(
            urn=make_urn(m.project, m.stack, request.type, request.name, parent),
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=parent,
            inputs=from_struct(request.object),
            dependencies=list(dict.fromkeys(request.dependencies)),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            provider=request.provider,
            protect=bool(request.protect) if request.HasField("protect") else False,
            delete_before_replace=bool(request.deleteBeforeReplace) if request.deleteBeforeReplaceDefined else None,
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            replace_on_changes=list(request.replaceOnChanges),
            retain_on_delete=bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
            deleted_with=request.deletedWith,
            replacement_trigger=trigger,
            import_id=request.importId,
        )
        if request.type == ROOT_STACK_TYPE:
            m.root_urn = reg.urn
        m._record(reg)
        with m._inflight():
            try:
                result = m.handler.register_resource(reg)
            except MonitorError as exn:
                context.abort(grpc.StatusCode.UNKNOWN, str(exn))
        return resource_pb2.RegisterResourceResponse(urn=result.urn, id=result.id, object=to_struct(result.outputs))

    def ReadResource(self, request: Any, context: Any) -> resource_pb2.ReadResourceResponse:
        m = self._m
        parent = request.parent or m.root_urn or ""
        reg = Registration(
            urn=make_urn(m.project, m.stack, request.type, request.name, parent),
            type=request.type,
            name=request.name,
            custom=True,
            parent=parent,
            inputs=from_struct(request.properties),
            dependencies=list(request.dependencies),
            provider=request.provider,
            additional_secret_outputs=list(request.additionalSecretOutputs),
            read_id=request.id,
        )
        m._record(reg)
        with m._inflight():
            try:
                result = m.handler.read_resource(reg)
            except MonitorError as exn:
                context.abort(grpc.StatusCode.UNKNOWN, str(exn))
        return resource_pb2.ReadResourceResponse(urn=result.urn, id=result.id, properties=to_struct(result.outputs))

    def RegisterResourceOutputs(self, request: Any, context: Any) -> empty_pb2.Empty:
        with self._m._inflight():
            try:
                self._m.handler.register_resource_outputs(request.urn, from_struct(request.outputs))
            except MonitorError as exn:
                context.abort(grpc.StatusCode.UNKNOWN, str(exn))
        return empty_pb2.Empty()

    def Invoke(self, request: Any, context: Any) -> resource_pb2.ResourceInvokeResponse:
        if request.tok == "pulumi:pulumi:getResource":
            urn = from_struct(request.args).get("urn", "")
            found = self._m.handler.get_resource(urn)
            if found is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"unknown resource {urn}")
            resource_id, state = found  # type: ignore[misc]
            ret = to_struct({"urn": urn, "id": resource_id, "state": state})
            return resource_pb2.ResourceInvokeResponse(**{"return": ret})
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"the lifecycle harness implements no provider functions; invoke {request.tok!r} is not supported",
        )
        raise AssertionError("unreachable")

    def Call(self, request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the lifecycle harness does not support method calls")

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    _SEVERITY = {
        engine_pb2.DEBUG: "debug",
        engine_pb2.INFO: "info",
        engine_pb2.WARNING: "warning",
        engine_pb2.ERROR: "error",
    }

    def __init__(self, monitor: "ResourceMonitor") -> None:
        self._m = monitor

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        severity = self._SEVERITY.get(request.severity, "info")
        self._m.handler.log(severity, request.message, request.urn)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self._m.root_urn or "")

    def SetRootResource(self, request: Any, context: Any) -> engine_pb2.SetRootResourceResponse:
        self._m.root_urn = request.urn
        return engine_pb2.SetRootResourceResponse()


class ResourceMonitor:
    """Serves ``ResourceMonitor`` and ``Engine`` on one local port for one program run.

    ``registrations`` lists every registration received, in arrival order.
    """

    def __init__(
        self,
        handler: RegistrationHandler,
        *,
        project: str,
        stack: str,
        organization: str,
        config: dict[str, str],
        secret_keys: set[str],
        dry_run: bool,
        parallel: int,
        max_workers: int = 64,
    ) -> None:
        self.handler = handler
        self.project = project
        self.stack = stack
        self.organization = organization
        self.config = config
        self.secret_keys = secret_keys
        self.dry_run = dry_run
        self.parallel = parallel
        self.root_urn: Optional[str] = None
        self.registrations: list[Registration] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=_GRPC_CHANNEL_OPTIONS)
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_MonitorServicer(self), self._server)
        engine_pb2_grpc.add_EngineServicer_to_server(_EngineServicer(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self.wait_idle()
        self._server.stop(grace=1.0).wait()

    def _record(self, reg: Registration) -> None:
        with self._lock:
            self.registrations.append(reg)

    def _inflight(self) -> "_InFlight":
        return _InFlight(self)

    def wait_idle(self) -> None:
        """Block until no registration is being processed (in-flight steps finish)."""
        with self._idle:
            while self._active:
                self._idle.wait()


class _InFlight:
    def __init__(self, monitor: ResourceMonitor) -> None:
        self._m = monitor

    def __enter__(self) -> None:
        with self._m._lock:
            self._m._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._m._idle:
            self._m._active -= 1
            self._m._idle.notify_all()
