"""Run a Pulumi program in-process, without the Pulumi CLI, on a recording mock monitor.

This is the core of the embedded engine (see shared/notes/embedded-engine.md): the program's resource
registrations are answered by a ``Handler`` — for cloud targets a planner that returns no outputs (a preview),
for the local target real dynamic providers. Every registration, its inputs (as sent to the provider, with
secrets still marked), its parent and dependencies, and the stack's exports are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf import json_format
from pulumi import ResourceOptions, ResourceTransformationArgs, ResourceTransformationResult
from pulumi.runtime import mocks, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import register_stack_transformation, run_in_stack

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
ASSET_SIGS = {"c44067f5952c0a294b673a41bacd8c17", "0def7320c3a5731c473e5ecbe6d01bc7"}
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    """One resource the program registered, as the engine received it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]  # the raw wire form: secrets wrapped, unknowns as the sentinel
    dependencies: list[str]
    protect: bool
    provider: str
    deserialized: dict[str, Any]  # SDK-deserialized inputs (what mocks/providers receive)
    retain_on_delete: bool = False
    import_id: str = ""  # the existing resource Pulumi takes over instead of creating one
    ignore_changes: list[str] = field(default_factory=list)
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord:
    """Everything one program run produced."""

    stack_urn: str = ""
    resources: dict[str, Registration] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # raw wire form of the stack's exports
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (severity, text) from pulumi.log


class Handler(Protocol):
    """Answers registrations and invokes for a run."""

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]: ...

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]: ...


def from_struct(struct: Any) -> dict[str, Any]:
    """A protobuf Struct as plain Python, integral numbers as ints (the wire has only doubles)."""
    return _ints(json_format.MessageToDict(struct)) if struct is not None else {}


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


class _Mocks(mocks.Mocks):
    def __init__(self, monitor: RecordingMonitor) -> None:
        self.monitor = monitor

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        reg = self.monitor.pending.reg
        reg.deserialized = args.inputs
        rid, outputs = self.monitor.handler.new_resource(reg)
        reg.id, reg.outputs = rid, outputs
        return rid, outputs

    def call(self, args: mocks.MockCallArgs) -> dict:  # a plain dict: the monitor reads a tuple as failures
        return self.monitor.handler.call(args.token, args.args)


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that records what the real engine would receive and asks a Handler for results."""

    def __init__(self, handler: Handler) -> None:
        super().__init__(_Mocks(self))
        self.handler = handler
        self.record = RunRecord()
        self.pending = threading.local()
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # Like the real engine: parent types qualify the type, the root stack's type does not.
        if parent and parent != self.record.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        if request.type == STACK_TYPE:
            self.record.stack_urn = self.make_urn("", request.type, request.name)
            return super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        reg = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent if request.parent and request.parent != self.record.stack_urn else None,
            custom=bool(request.custom),
            inputs=from_struct(request.object),
            dependencies=list(request.dependencies),
            protect=bool(request.protect) if request.HasField("protect") else False,
            retain_on_delete=bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
            import_id=request.importId,
            ignore_changes=list(request.ignoreChanges),
            provider=request.provider,
            deserialized={},
        )
        with self._lock:
            self.record.resources[urn] = reg
            self.record.order.append(urn)
        self.pending.reg = reg
        try:
            return super().RegisterResource(request)
        finally:
            self.thread_loops.add(asyncio.get_event_loop())

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = from_struct(request.outputs)
        if request.urn == self.record.stack_urn:
            self.record.outputs = outputs
        else:
            self.record.component_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)

    def Invoke(self, request: Any) -> Any:
        try:
            return super().Invoke(request)
        finally:
            self.thread_loops.add(asyncio.get_event_loop())


class _RecordingEngine(mocks.MockEngine):
    def __init__(self, record: RunRecord) -> None:
        super().__init__(logging.getLogger("mbops.engine"))
        self.record = record

    def Log(self, request: Any) -> None:
        from pulumi.runtime.proto import engine_pb2

        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        if request.severity >= engine_pb2.INFO:
            self.record.messages.append((severity, request.message))


class ProgramError(Exception):
    """The program raised: ``cause`` is the original exception when the SDK kept it."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a run and the work on its results.

    A run imports provider modules (millions of objects) and allocates many short-lived ones: collector
    passes in between cost 20-35% of a plan's CPU and find little. Memory is freed by reference counting as
    usual; cycles wait until the collector resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_RUN_LOCK = threading.Lock()  # the SDK's settings are process-global: one run at a time per process


def run_program(
    program: Callable[[], None],
    handler: Handler,
    *,
    project: str,
    stack: str,
    dry_run: bool,
    config: dict[str, str] | None = None,
    parallel: int = 8,
) -> RunRecord:
    """Run ``program`` to completion in-process and return what it registered and exported."""
    with _RUN_LOCK, paused_gc():
        monitor = RecordingMonitor(handler)
        engine = _RecordingEngine(monitor.record)
        run_settings = settings.Settings(
            project=project, stack=stack, monitor=monitor, engine=engine, parallel=parallel,
            dry_run=dry_run, organization="organization",
        )  # fmt: skip
        from google.protobuf import empty_pb2

        run_settings.monitor_features = set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures)
        settings.configure(run_settings)
        settings.SETTINGS.root_resource = None
        set_all_config(config or {}, [])

        failure: list[BaseException] = []

        def guarded() -> None:
            try:
                register_stack_transformation(_without_aliases)
                program()
            except BaseException as exc:
                failure.append(exc)
                raise

        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_unretrieved_is_reported)
        executor = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="mbops-engine")
        loop.set_default_executor(executor)
        previous = _current_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(run_in_stack(guarded))
        except BaseException as exc:
            cause = failure[0] if failure else _find_cause(exc)
            raise ProgramError(str(cause or exc), cause) from exc
        finally:
            _cancel_pending(loop)
            executor.shutdown(wait=True)
            loop.close()
            for thread_loop in monitor.thread_loops:
                if thread_loop is not loop and not thread_loop.is_closed():
                    thread_loop.close()
            asyncio.set_event_loop(previous)
        return monitor.record


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failed program left running (Outputs waiting on a resource that never resolved) and let the
    cancellations finish, so closing the loop destroys no pending task (each would print a warning)."""
    for _ in range(10):  # a cancelled task may start others while it unwinds
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _without_aliases(args: ResourceTransformationArgs) -> ResourceTransformationResult | None:
    """A resource's options without its aliases: this engine matches no aliases against recorded state.

    The SDK turns each alias into a chain of Outputs and tasks (a URN per alias, computed even when the
    monitor takes alias specs), and every azure-native resource carries one alias per API version of its
    type (10-40): on Azure that was over half of a plan's evaluation. Aliases only say which recorded URNs a
    resource was known by; a plan records none and the local state keys resources by URN alone.
    """
    if not args.opts.aliases:
        return None
    opts = ResourceOptions.merge(args.opts, None)
    opts.aliases = None
    return ResourceTransformationResult(args.props, opts)


def _unretrieved_is_reported(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A failed run leaves the SDK's futures of the failed resource and its dependents holding the same
    error; run_program already raised it as ProgramError, so their "never retrieved" notices are dropped."""
    if "exception was never retrieved" not in context.get("message", ""):
        loop.default_exception_handler(context)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None


def _find_cause(exc: BaseException) -> BaseException | None:
    """The first mbops error in ``exc``'s chain of causes (a chain may loop back on itself)."""
    visited: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in visited:
        if type(current).__module__.startswith("mbops"):
            return current
        visited.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def plain(value: Any, *, secret: str = "[secret]", unknown: str = "[computed]") -> Any:
    """Wire-form values as plain JSON: secrets redacted, unknowns and references made readable."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return secret
        if sig == RESOURCE_SIG:
            return value.get("urn", "")
        if sig in ASSET_SIGS:
            return "[asset]"
        return {k: plain(v, secret=secret, unknown=unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, secret=secret, unknown=unknown) for v in value]
    if value == UNKNOWN:
        return unknown
    return value


def unwrap(value: Any) -> Any:
    """Wire-form values as plain Python with secrets revealed (for state the engine itself keeps)."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return unwrap(value.get("value"))
        if sig == RESOURCE_SIG:
            return value.get("urn", "")
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value
