"""Apply mode of the embedded engine: deploy the local target for real (state, lock, ordered deletes).

``up`` runs the stack's program in-process (``run_program(dry_run=False)``) with an ``Applier`` as handler.
Each registration of a dynamic resource is answered the way the Pulumi engine and the dynamic provider host
(``pulumi/dynamic/__main__.py``) would: the provider is unpickled from the ``__provider`` input, then
``check`` + ``create`` for a new resource, or ``check`` + ``diff`` and then ``update``, replace or nothing
against the recorded state. Independent resources register on executor threads, so they are created in
parallel; dependents wait for their inputs. When the run succeeds, resources that are in the state but no
longer in the program are deleted, dependents first. State is saved after every step, so an interrupted or
failed run leaves a state the next run converges from. Secrets stay wrapped (marked) in the state.

``destroy`` deletes every resource in reverse dependency order (data kept unless ``delete_data``);
``refresh`` asks each provider to ``read`` its resource and reports drift (dead processes, missing folders).

What the engine holds to, whatever happens to a run:

- Interrupted or failed steps are recorded before they start (``StackState.pending``): ``refresh`` reports what
  they left (a half-built cluster, a surviving process), ``up`` starts them over, ``destroy`` removes it — and
  stops any process the stack's pid files still name, even when the state lacks it.
- Ctrl-C during ``up``/``destroy`` finishes the steps in flight, records the state and exits 130 (a second
  Ctrl-C stops at once).
- A failed ``up`` says which services it left running and the command that stops them.
- A busy ``app.port`` fails ``up`` before anything is created or stopped (``check_app_port``), unless the
  stack's own app holds it or ``--port auto`` moves the app.
- A state names only paths under the stack's own folders (``host.stack_roots``) and only provider classes of
  mbops's own components: a state file copied from another stack, or edited to run other code, is refused.
"""

from __future__ import annotations

import base64
import contextlib
import io
import pickle
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mbops import PULUMI_PROJECT as PROJECT
from mbops.engine.embedded import SECRET_SIG, SIG_KEY, ProgramError, Registration, run_program, unwrap
from mbops.engine.state import PendingStep, ResourceState, StackState, StateError, StateStore, now
from mbops.errors import DeployError, MbopsError
from mbops.host import is_under, remove_tree, stack_roots, state_dir, stop_postgres_in, stop_survivors
from mbops.stacks.config import Stack

PROVIDER_KEY = "__provider"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
OPS = ("create", "update", "replace", "delete", "same")
# The modules whose provider classes a state may name (a state file is code: nothing else is ever run).
TRUSTED_PROVIDER_MODULES: list[str] = ["mbops.components."]
APP_KINDS = ("containers", "servers", "serverless")  # the kinds that run the app on ``app.port``


class Interrupted(DeployError):
    """Ctrl-C: the steps in flight finished and the state is recorded (exit 130, as a shell reports SIGINT)."""

    exit_code = 130


@dataclass(frozen=True)
class Event:
    """Progress of one resource: ``phase`` is start, done or failed; ``elapsed`` in seconds."""

    urn: str
    name: str
    type: str
    component: str | None
    op: str  # create | update | replace | delete | same | refresh
    phase: str
    elapsed: float = 0.0
    detail: str = ""


EventSink = Callable[[Event], None]


@dataclass
class ApplyResult:
    """What a command did: per-operation counts, timing, outputs (wire form), data kept, drift found."""

    stack: str
    command: str
    counts: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    kept_data: list[str] = field(default_factory=list)
    drift: list[dict[str, str]] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> reason, alternative

    @property
    def changes(self) -> int:
        return sum(n for op, n in self.counts.items() if op != "same")

    def summary(self) -> dict[str, int]:
        return {op: self.counts.get(op, 0) for op in OPS}


# -- providers -----------------------------------------------------------------------------------------------

_PROVIDERS: dict[str, Any] = {}
_PROVIDERS_LOCK = threading.Lock()


class _ProviderUnpickler(pickle.Unpickler):
    """Unpickles only a provider class of a trusted module, by reference (how mbops's providers are pickled)."""

    def find_class(self, module: str, name: str) -> Any:
        from pulumi.dynamic import ResourceProvider

        if not any(module.startswith(prefix) for prefix in TRUSTED_PROVIDER_MODULES):
            raise pickle.UnpicklingError(f"{module}.{name} is not a provider of mbops's components")
        found = super().find_class(module, name)
        if not (isinstance(found, type) and issubclass(found, ResourceProvider)):
            raise pickle.UnpicklingError(f"{module}.{name} is not a resource provider")
        return found


def load_provider(serialized: Any) -> Any:
    """The dynamic provider pickled in a ``__provider`` value (as ``pulumi/dynamic/__main__``), restricted to
    the provider classes of mbops's components (``TRUSTED_PROVIDER_MODULES``), pickled by reference: a state
    file that names anything else is refused instead of run."""
    text = unwrap(serialized)
    if not isinstance(text, str) or not text:
        raise DeployError("a dynamic resource has no serialized provider (__provider)")
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(text)
        if provider is None:
            try:
                provider = _ProviderUnpickler(io.BytesIO(base64.b64decode(text))).load()
            except Exception as exc:
                raise DeployError(
                    f"refusing a dynamic provider named by the state or program ({exc}): the local target runs "
                    f"only the providers of mbops's own components"
                ) from None
            _PROVIDERS[text] = provider
    return provider


def _secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def mark_secrets(outs: dict[str, Any], inputs: dict[str, Any], provider: Any) -> dict[str, Any]:
    """Provider outputs in wire form: secret when the provider says so or the same-named input was secret."""
    secret_keys = set(getattr(provider, "secret_outputs", ())) | {
        k for k, v in inputs.items() if _is_secret(v)
    }
    return {
        k: _secret(v) if k in secret_keys and v is not None and not _is_secret(v) else v
        for k, v in outs.items()
    }


def first_sentence(message: str, limit: int = 200) -> str:
    """The first sentence (or line) of an error message, for a one-line progress view."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    found = re.search(r"[.!?](?=\s|$)", line)
    short = line[: found.end()] if found else line
    return short if len(short) <= limit else short[: limit - 1] + "…"


def _inputs_changed(provider: Any, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The inputs that differ, for the progress view (the provider's computed and quiet keys aside)."""
    ignore = {PROVIDER_KEY, "status", *getattr(provider, "computed", ()), *getattr(provider, "quiet_keys", ())}
    return sorted(k for k in (set(olds) | set(news)) - ignore if olds.get(k) != news.get(k))


# -- the handler ---------------------------------------------------------------------------------------------


class Applier:
    """The embedded engine's Handler in apply mode (see the module docstring)."""

    def __init__(
        self, state: StackState, store: StateStore, on_event: EventSink, cancel: threading.Event | None = None
    ) -> None:
        self.state = state
        self.store = store
        self.on_event = on_event
        self.cancel = cancel or threading.Event()
        self.lock = threading.Lock()
        self.seen: list[str] = []
        self.counts: Counter = Counter()
        self.failures: list[DeployError] = []
        self.dirty = False
        self.kinds: dict[str, str | None] = {}
        self.notices: list[str] = []  # what providers said (a port moved by --port auto, ...)
        self.started: list[str] = []  # resources this run created or changed that run a service
        self.skipped = 0  # registrations not applied after a Ctrl-C

    # Handler ------------------------------------------------------------------------------------------------
    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        raise DeployError(f"the local target answers no provider functions (the program called {token})")

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        component = self._component(reg)
        with self.lock:
            self.seen.append(reg.urn)
        if self.cancel.is_set() and reg.custom:
            with self.lock:
                self.skipped += 1
            raise Interrupted(f"{reg.name}: not applied (interrupted)")
        if not reg.custom:
            self._record_component(reg, component)
            return "", {}
        if not reg.type.startswith(DYNAMIC_PREFIX):
            raise self._fail(
                reg,
                component,
                "create",
                0.0,
                f"{reg.type} is not a local resource: the local target runs only dynamic providers",
            )
        try:
            return self._apply(reg, component)
        except Exception as exc:
            if exc in self.failures or isinstance(exc, Interrupted):
                raise
            message = str(exc) if isinstance(exc, MbopsError) else f"{type(exc).__name__}: {exc}"
            raise self._fail(reg, component, "create", 0.0, message) from exc

    # steps --------------------------------------------------------------------------------------------------
    def _apply(self, reg: Registration, component: str | None) -> tuple[str, dict[str, Any]]:
        provider = load_provider(reg.inputs.get(PROVIDER_KEY))
        news = unwrap(reg.inputs)
        old = self.state.find(reg.urn)
        if old is not None and (old.type != reg.type or not old.custom):
            self._delete_resource(old, delete_data=False)
            old = None
        if old is None:
            return self._run(reg, component, "create", "", lambda: self._create(provider, reg, news))
        olds = unwrap(old.outputs)
        news = self._check(provider, reg, unwrap(old.inputs), news)
        diff = provider.diff(old.id, olds, news)
        changed = _inputs_changed(provider, olds, news)
        changes = diff.changes if diff.changes is not None else bool(changed)
        if not changes:
            self._record(reg, component, old.id, old.outputs, old, done=reg.urn)
            with self.lock:
                self.counts["same"] += 1
            self.on_event(Event(reg.urn, reg.name, reg.type, component, "same", "done"))
            return old.id, old.outputs
        problems = [] if changed else list(getattr(provider, "problems", lambda _o: [])(olds))
        detail = (
            f"changed: {', '.join(changed)}" if changed else "repair: " + "; ".join(problems or ["drift"])
        )
        if diff.replaces:
            return self._run(
                reg,
                component,
                "replace",
                detail,
                lambda: self._replace(provider, reg, old, olds, news, diff.delete_before_replace),
            )
        return self._run(
            reg, component, "update", detail, lambda: self._update(provider, reg, old, olds, news)
        )

    def _run(self, reg: Registration, component: str | None, op: str, detail: str,
             action: Callable[[], tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:  # fmt: skip
        self.on_event(Event(reg.urn, reg.name, reg.type, component, op, "start", 0.0, detail))
        with self.lock:
            before = [p for p in self.state.pending if p.urn == reg.urn]
        self._pending(reg, component, op)
        started = time.monotonic()
        try:
            rid, outs = action()
        except Exception as exc:
            message = str(exc) if isinstance(exc, MbopsError) else f"{type(exc).__name__}: {exc}"
            if getattr(exc, "nothing_changed", False):  # refused before it touched anything: nothing unfinished
                self._unpending(reg, before)
            else:
                self._pending(reg, component, op, failed=message)
            raise self._fail(reg, component, op, time.monotonic() - started, message) from exc
        plain = unwrap(outs)
        with self.lock:
            if plain.get("notice"):
                self.notices.append(f"{reg.name}: {plain['notice']}")
            if plain.get("pid") or plain.get("container_id"):
                self.started.append(reg.name)
        old = self.state.find(reg.urn)
        self._record(reg, component, rid, outs, old if op != "replace" else None, done=reg.urn)
        with self.lock:
            self.counts[op] += 1
        self.on_event(
            Event(reg.urn, reg.name, reg.type, component, op, "done", time.monotonic() - started, detail)
        )
        return rid, outs

    def _check(
        self, provider: Any, reg: Registration, olds: dict[str, Any], news: dict[str, Any]
    ) -> dict[str, Any]:
        result = provider.check(olds, news)
        if result.failures:
            problems = "; ".join(f"{f.property}: {f.reason}" for f in result.failures)
            raise DeployError(f"invalid inputs for {reg.name}: {problems}")
        return result.inputs

    def _create(self, provider: Any, reg: Registration, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        news = self._check(provider, reg, {}, news)
        result = provider.create(news)
        outs = dict(result.outs or {})
        outs[PROVIDER_KEY] = reg.inputs[PROVIDER_KEY]
        return str(result.id), mark_secrets(outs, reg.inputs, provider)

    def _update(self, provider: Any, reg: Registration, old: ResourceState, olds: dict[str, Any],
                news: dict[str, Any]) -> tuple[str, dict[str, Any]]:  # fmt: skip
        result = provider.update(old.id, olds, news)
        outs = dict(result.outs or {})
        outs[PROVIDER_KEY] = reg.inputs[PROVIDER_KEY]
        return old.id, mark_secrets(outs, reg.inputs, provider)

    def _replace(self, provider: Any, reg: Registration, old: ResourceState, olds: dict[str, Any],
                 news: dict[str, Any], delete_first: bool | None) -> tuple[str, dict[str, Any]]:  # fmt: skip
        if delete_first:
            provider.delete(old.id, olds)
            created = self._create(provider, reg, news)
        else:
            created = self._create(provider, reg, news)
            provider.delete(old.id, olds)
        return created

    def _fail(
        self, reg: Registration, component: str | None, op: str, elapsed: float, message: str
    ) -> DeployError:
        error = DeployError(f"{reg.name}: {message}")
        with self.lock:
            self.failures.append(error)
        # The progress line says what failed in a sentence; the command's error message has it all.
        self.on_event(Event(reg.urn, reg.name, reg.type, component, op, "failed", elapsed, first_sentence(message)))
        return error

    # state --------------------------------------------------------------------------------------------------
    def _pending(self, reg: Registration, component: str | None, op: str, failed: str = "") -> None:
        """Record (before it starts, or when it failed) a step that has not finished; saved at once."""
        step = PendingStep(urn=reg.urn, type=reg.type, name=reg.name, op=op, component=component,
                           inputs=reg.inputs, started=now(), failed=failed)  # fmt: skip
        with self.lock:
            self.state.pending = [p for p in self.state.pending if p.urn != reg.urn] + [step]
            self.dirty = True
            self.store.save(self.state)

    def _unpending(self, reg: Registration, before: list[PendingStep]) -> None:
        """Put back what the state recorded for ``reg`` before a step that changed nothing; saved at once."""
        with self.lock:
            self.state.pending = [p for p in self.state.pending if p.urn != reg.urn] + before
            self.store.save(self.state)

    def _component(self, reg: Registration) -> str | None:
        if reg.type.startswith("mbops:"):
            kind = reg.type.rsplit(":", 1)[1].lower()
        else:
            kind = self.kinds.get(reg.parent or "")
        self.kinds[reg.urn] = kind
        return kind

    def _record_component(self, reg: Registration, component: str | None) -> None:
        old = self.state.find(reg.urn)
        if old is not None and old.custom:
            self._delete_resource(old, delete_data=False)
            old = None
        self._record(reg, component, "", {}, old)

    def _record(self, reg: Registration, component: str | None, rid: str, outs: dict[str, Any],
                old: ResourceState | None, done: str = "") -> None:  # fmt: skip
        entry = ResourceState(
            urn=reg.urn, type=reg.type, name=reg.name, parent=reg.parent, custom=reg.custom,
            component=component,
            id=rid, inputs=reg.inputs, outputs=outs, dependencies=sorted(set(reg.dependencies)),
            created=old.created if old else now(), updated=now(),
        )  # fmt: skip
        with self.lock:
            finished = [p for p in self.state.pending if p.urn == done] if done else []
            if finished:
                self.state.pending = [p for p in self.state.pending if p.urn != done]
                self.dirty = True
            current = self.state.find(reg.urn)
            if current is not None and old is not None and _same_entry(current, entry):
                if finished:
                    self.store.save(self.state)
                return
            if current is None:
                self.state.resources.append(entry)
            else:
                self.state.resources[self.state.resources.index(current)] = entry
            self.dirty = True
            self.store.save(self.state)

    def _delete_resource(self, res: ResourceState, *, delete_data: bool) -> list[str]:
        """Delete one recorded resource; returns the data paths it kept."""
        kept: list[str] = []
        if res.custom:
            provider = load_provider(res.outputs.get(PROVIDER_KEY) or res.inputs.get(PROVIDER_KEY))
            props = unwrap(res.outputs)
            self.on_event(Event(res.urn, res.name, res.type, res.component, "delete", "start"))
            started = time.monotonic()
            try:
                # Data goes when asked now, or when the stack was released for deletion (an input it recorded).
                provider.delete(res.id, {**props, "delete_data": delete_data or bool(props.get("delete_data"))})
            except Exception as exc:
                message = str(exc) if isinstance(exc, MbopsError) else f"{type(exc).__name__}: {exc}"
                self.on_event(Event(res.urn, res.name, res.type, res.component, "delete", "failed",
                                    time.monotonic() - started, message))  # fmt: skip
                raise DeployError(f"{res.name}: delete failed: {message}") from exc
            if not delete_data and hasattr(provider, "data_paths"):
                kept = list(provider.data_paths(props))
            self.on_event(Event(res.urn, res.name, res.type, res.component, "delete", "done",
                                time.monotonic() - started))  # fmt: skip
            with self.lock:
                self.counts["delete"] += 1
        with self.lock:
            if res in self.state.resources:
                self.state.resources.remove(res)
                self.dirty = True
                self.store.save(self.state)
        return kept

    def delete_pending(self, *, delete_data: bool, keep: frozenset[str] = frozenset()) -> list[str]:
        """Clean up after the unfinished steps the state records (except those of ``keep`` URNs): each
        provider's delete with the step's inputs stops what it left running and, with ``delete_data``, removes
        what it wrote. Returns the data kept."""
        kept: list[str] = []
        for step in [p for p in self.state.pending if p.urn not in keep]:
            if step.urn not in {r.urn for r in self.state.resources}:
                shadow = ResourceState(urn=step.urn, type=step.type, name=step.name, component=step.component,
                                       inputs=step.inputs, outputs=step.inputs)  # fmt: skip
                kept += self._delete_resource(shadow, delete_data=delete_data)
            with self.lock:
                self.state.pending = [p for p in self.state.pending if p.urn != step.urn]
                self.dirty = True
                self.store.save(self.state)
        return kept

    def delete_all(self, resources: list[ResourceState], *, delete_data: bool, workers: int = 4) -> list[str]:
        """Delete ``resources`` dependents first, independent ones in parallel; returns the data kept.

        After a Ctrl-C (``cancel``) no new wave starts: what was deleted is recorded, and Interrupted raised."""
        remaining = {r.urn: r for r in resources}
        kept: list[str] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mbops-delete") as pool:
            while remaining:
                if self.cancel.is_set():
                    raise Interrupted(f"interrupted: {len(remaining)} resource(s) not deleted")
                needed = {dep for r in remaining.values() for dep in (*r.dependencies, r.parent or "")}
                wave = [r for urn, r in remaining.items() if urn not in needed]
                if not wave:  # a cycle cannot come from a Pulumi program; delete in reverse order to be safe
                    wave = [list(remaining.values())[-1]]
                futures = [pool.submit(self._delete_resource, r, delete_data=delete_data) for r in wave]
                errors = []
                for future in futures:
                    try:
                        kept.extend(future.result())
                    except DeployError as exc:
                        errors.append(str(exc))
                if errors:
                    raise DeployError(
                        "; ".join(errors) + " (the resources not deleted are still in the state)"
                    )
                for r in wave:
                    remaining.pop(r.urn)
        return kept


class Previewer:
    """Handler for ``mbops preview`` of a deployed local stack: what ``up`` would do, without doing it.

    A resource the state lacks is a create; one the state has is diffed by its own provider: unchanged ones
    answer with their recorded outputs (so dependents plan with real values, as in a Pulumi preview), changed
    ones are an update or a replace with unknown outputs. Recorded resources the program no longer has are
    deletes. Nothing is started, stopped or written.
    """

    def __init__(self, state: StackState) -> None:
        self.state = state
        self.ops: dict[str, str] = {}
        self.lock = threading.Lock()

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        old = self.state.find(reg.urn) if reg.custom else None
        op, answer = "create", ("", {})
        if old is not None and old.type == reg.type and old.custom:
            provider = load_provider(reg.inputs.get(PROVIDER_KEY))
            olds = unwrap(old.outputs)
            news = provider.check(unwrap(old.inputs), unwrap(reg.inputs)).inputs
            diff = provider.diff(old.id, olds, news)
            changes = diff.changes if diff.changes is not None else bool(_inputs_changed(provider, olds, news))
            if not changes:
                op, answer = "same", (old.id, old.outputs)
            else:
                op = "replace" if diff.replaces else "update"
        if not reg.custom:  # a component: it exists when the state records it
            op = "same" if self.state.find(reg.urn) is not None else "create"
        with self.lock:
            self.ops[reg.urn] = op
        return answer

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        raise DeployError(f"the local target calls no provider functions (asked for {token})")

    def deleted(self, seen: set[str]) -> list[ResourceState]:
        """Recorded resources the program no longer registers."""
        return [r for r in self.state.resources if r.custom and r.urn not in seen]


def _same_entry(a: ResourceState, b: ResourceState) -> bool:
    return (a.id, a.inputs, a.outputs, a.dependencies, a.parent, a.component) == (
        b.id, b.inputs, b.outputs, b.dependencies, b.parent, b.component,
    )  # fmt: skip


# -- commands ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def interruptible(notice: Callable[[str], None]) -> Iterator[threading.Event]:
    """While the block runs, Ctrl-C sets the returned event instead of raising: the steps in flight finish and
    no new one starts. A second Ctrl-C raises KeyboardInterrupt at once. (Only in the main thread.)"""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def interrupted(_signum: int, _frame: Any) -> None:
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        notice("interrupted: finishing the steps in flight and recording the state (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def check_paths(state: StackState, store: StateStore) -> None:
    """Refuse a state that names a path outside the stack's own folders (``host.stack_roots``): a state file
    copied from another stack, or edited, must never act on another stack's data (nor anything else)."""
    roots = stack_roots(store.root, state.stack)
    named = list(state.kept_data)
    entries: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (r.outputs or r.inputs, r.inputs) for r in state.resources if r.custom
    ] + [(p.inputs, p.inputs) for p in state.pending]
    for outputs, inputs in entries:
        provider = load_provider(outputs.get(PROVIDER_KEY) or inputs.get(PROVIDER_KEY))
        paths = getattr(provider, "paths", None)
        if paths is not None:
            named += paths(unwrap(outputs))
    foreign = sorted({str(p) for p in named if not is_under(p, roots)})
    if foreign:
        shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
        raise StateError(
            f"the state file {store.path(state.stack)} names paths outside stack {state.stack}'s folders "
            f"({', '.join(map(str, roots))}): {shown}. Is it a copy of another stack's state? Nothing was done."
        )


def check_app_port(stack: Stack, state: StackState, store: StateStore) -> None:
    """Before anything is created or stopped: fail when the app would need ``app.port`` and another process
    holds it (``--port auto`` skips this; the app then moves to a free port).

    The stack's own app — recorded in the state, or left by an interrupted run — never counts as another process,
    and an app that keeps its port (``app.port`` unchanged) needs no other. A holder that is another stack's
    service (its pid recorded in another state file of ``store``) is named.
    """
    from mbops.components.local.health import port_in_use, usable
    from mbops.components.local.provider import port_holder

    if not any(stack.has(kind) for kind in APP_KINDS):
        return
    port = int(stack.app.port)
    ours: set[int] = set()
    apps: list[dict[str, Any]] = []  # the app as recorded (one, unless a run switched process and container)
    running: dict[str, Any] | None = None
    recorded = [(unwrap(r.outputs), True) for r in state.resources if r.custom]
    for props, deployed in [*recorded, *((unwrap(p.inputs), False) for p in state.pending)]:
        provider = load_provider(props.get(PROVIDER_KEY))
        if not getattr(provider, "serves_app", False):
            continue
        mine = provider.holders(props)
        ours |= mine
        if deployed:
            apps.append(props)
            running = props if mine and props.get("port") else running
    if any(a.get("preferred_port") == port and a.get("port") and usable(int(a["port"]), ours) for a in apps):
        return  # the app keeps the port it has
    if usable(port, ours):
        return
    if running is not None:
        kept = (f"The running app (pid {running.get('pid')}, port {running.get('port')}) was left as it was: it "
                f"still serves; nothing was changed.")  # fmt: skip
    else:
        kept = "Nothing was changed." if state.resources else "Nothing was created."
    raise port_in_use(port, port_holder(port), whose=_whose_port(port, store, stack.name), kept=kept)


def _whose_port(port: int, store: StateStore, own: str) -> str:
    """Whose service listens on ``port`` when another stack in ``store`` records it ("stack X's app, recorded in
    <its state file>"), else an empty string."""
    from mbops.components.local.provider import port_owners

    owners = port_owners(port)
    for other in store.list():
        if isinstance(other, StateError) or other.stack == own:
            continue
        for res in (r for r in other.resources if r.custom):
            props = unwrap(res.outputs)
            try:
                provider = load_provider(props.get(PROVIDER_KEY))
            except DeployError:
                continue
            holders = getattr(provider, "holders", None)
            if holders is not None and owners & holders(props):
                what = "app" if getattr(provider, "serves_app", False) else (res.component or res.name)
                return f"stack {other.stack}'s {what}, recorded in {store.path(other.stack)}"
    return ""


def cleanup_command(stack: Stack, store: StateStore) -> str:
    """The command that stops a stack's services (data kept), as the user would type it."""
    where = f"-f {stack.source}" if stack.source not in ("flags", "") else f"-n {stack.name}"
    flags = "" if store.root == state_dir(None) else f" --state-dir {store.root}"
    return f"mbops destroy {where}{flags}"


def _failed_up(error: MbopsError, applier: Applier, stack: Stack, store: StateStore) -> MbopsError:
    """The error of a failed ``up``, saying which services this run started that keep running, and how to stop
    them."""
    started = sorted(set(applier.started))
    if not started:
        return error
    hint = (
        f"\nThis run started {', '.join(started)}, which keep running (recorded in the state; the last run is "
        f"marked failed). Fix the cause and run `mbops up` again to continue from them, or stop them with "
        f"`{cleanup_command(stack, store)}` (the data is kept)."
    )
    return type(error)(f"{error}{hint}")


def up(stack: Stack, store: StateStore, *, on_event: EventSink = lambda _e: None,
       notice: Callable[[str], None] = lambda _m: None, parallel: int = 8, port_auto: bool = False,
       release_data: bool = False) -> ApplyResult:  # fmt: skip
    """Deploy ``stack`` on this machine: create, update, replace and delete until it matches the program.

    ``port_auto``: a busy ``app.port`` moves the app to a free port (with a notice) instead of failing.
    ``release_data``: the data resources record ``delete_data`` (see ``StackInfo.release_data``).
    """
    from mbops.stacks.program import make_program

    if stack.cloud != "local":
        raise DeployError(
            f"the embedded engine deploys only the local target (stack {stack.name} is {stack.cloud})"
        )
    started = time.monotonic()
    result = ApplyResult(stack=stack.name, command="up")
    with store.lock(stack.name, "up", notice), interruptible(notice) as cancel:
        state = store.load(stack.name) or StackState(stack=stack.name)
        if state.cloud != "local":
            raise DeployError(f"stack {stack.name} is recorded as a {state.cloud} stack, not a local one")
        check_paths(state, store)
        if not port_auto:
            check_app_port(stack, state, store)
        state.profile, state.environment = stack.profile, stack.environment
        applier = Applier(state, store, on_event, cancel)
        program = make_program(stack)
        config = {"mbops:stateDir": str(store.root)}
        if port_auto:
            config["mbops:portAuto"] = "true"
        if release_data:
            config["mbops:releaseData"] = "true"
        try:
            record = run_program(
                program, applier, project=PROJECT, stack=stack.name, dry_run=False, config=config,
                parallel=parallel,
            )  # fmt: skip
        except ProgramError as exc:
            _finish(store, state, applier, "up", "cancelled" if cancel.is_set() else "failed")
            if cancel.is_set():
                raise _interrupted("up", applier) from None
            if applier.failures:
                raise _failed_up(applier.failures[0], applier, stack, store) from None
            if isinstance(exc.cause, MbopsError):
                raise _failed_up(exc.cause, applier, stack, store) from None
            raise DeployError(f"the local program for stack '{stack.name}' failed: {exc}") from None
        if cancel.is_set():
            _finish(store, state, applier, "up", "cancelled")
            raise _interrupted("up", applier)
        seen = set(applier.seen)
        gone = [r for r in state.resources if r.urn not in seen]
        try:
            result.kept_data = applier.delete_all(gone, delete_data=False)
            result.kept_data += applier.delete_pending(delete_data=False, keep=frozenset(seen))
        except DeployError:
            _finish(store, state, applier, "up", "failed")
            raise
        order = {urn: i for i, urn in enumerate(record.order)}
        state.resources.sort(key=lambda r: order.get(r.urn, len(order)))
        if state.outputs != record.outputs:
            state.outputs = record.outputs
            applier.dirty = True
        if state.kept_data:  # the data a destroy kept is in use again
            state.kept_data = []
            applier.dirty = True
        unavailable = {kind: gap.as_dict() for kind, gap in sorted(program.result.gaps.items())}
        if state.unavailable != unavailable:
            state.unavailable = unavailable
            applier.dirty = True
        result.unavailable = unavailable
        result.counts = applier.counts
        result.outputs = state.outputs
        result.messages = [*record.messages, *(("warning", text) for text in applier.notices)]
        _finish(store, state, applier, "up", "succeeded", result.summary())
    result.elapsed = time.monotonic() - started
    return result


def _interrupted(command: str, applier: Applier) -> Interrupted:
    done = sum(n for op, n in applier.counts.items() if op != "same")
    return Interrupted(
        f"{command} interrupted (Ctrl-C): the steps in flight finished ({done} change(s) made"
        f"{f', {applier.skipped} not started' if applier.skipped else ''}) and the state is recorded. Run "
        f"`mbops {command}` again to continue."
    )


def destroy(name: str, store: StateStore, *, delete_data: bool = False, on_event: EventSink = lambda _e: None,
            notice: Callable[[str], None] = lambda _m: None) -> ApplyResult:  # fmt: skip
    """Delete every resource of stack ``name``, dependents first; keep data unless ``delete_data``.

    Also cleans up after unfinished steps (``pending``) and stops any process the stack's pid files still name;
    with ``delete_data`` every folder of the stack (``host.stack_roots``) goes, whatever the state recorded.
    """
    started = time.monotonic()
    result = ApplyResult(stack=name, command="destroy")
    with store.lock(name, "destroy", notice), interruptible(notice) as cancel:
        state = store.load(name)
        if state is None:
            raise DeployError(f"stack {name} has no state in {store.root}: nothing to destroy")
        check_paths(state, store)
        applier = Applier(state, store, on_event, cancel)
        try:
            kept = applier.delete_all(list(state.resources), delete_data=delete_data)
            kept += applier.delete_pending(delete_data=delete_data)
        except Interrupted:
            _finish(store, state, applier, "destroy", "cancelled")
            raise _interrupted("destroy", applier) from None
        except DeployError:
            _finish(store, state, applier, "destroy", "failed")
            raise
        roots = stack_roots(store.root, name)
        stopped = stop_survivors(roots)
        if stopped:
            result.messages.append(("warning", f"stopped what an interrupted run left running: {'; '.join(stopped)}"))
        result.counts = applier.counts
        if delete_data:
            for path in state.kept_data:  # what an earlier destroy kept (checked: under the stack's folders)
                remove_tree(path)
            for root in roots:
                stop_postgres_in(root)  # e.g. the bootstrap server of an initdb killed with mbops
                remove_tree(root)
            store.delete(name)
        else:
            # The stack stays listed with no resources and the data it kept, so that a later
            # `destroy --delete-data` can still remove that data; `up` reuses it.
            result.kept_data = sorted({*state.kept_data, *kept})
            state.resources, state.outputs, state.kept_data = [], {}, result.kept_data
            applier.dirty = True
            _finish(store, state, applier, "destroy", "succeeded", result.summary())
    result.elapsed = time.monotonic() - started
    return result


def refresh(name: str, store: StateStore, *, on_event: EventSink = lambda _e: None,
            notice: Callable[[str], None] = lambda _m: None) -> ApplyResult:  # fmt: skip
    """Read every resource of stack ``name`` and record what changed; the next ``up`` repairs the drift.

    Unfinished steps (an interrupted or failed create) are drift too, with what they left behind (a half-built
    cluster, a process still running)."""
    started = time.monotonic()
    result = ApplyResult(stack=name, command="refresh")
    with store.lock(name, "refresh", notice):
        state = store.load(name)
        if state is None:
            raise DeployError(f"stack {name} has no state in {store.root}: deploy it with mbops up first")
        check_paths(state, store)
        for res in list(state.resources):
            if not res.custom:
                continue
            provider = load_provider(res.outputs.get(PROVIDER_KEY) or res.inputs.get(PROVIDER_KEY))
            olds = unwrap(res.outputs)
            on_event(Event(res.urn, res.name, res.type, res.component, "refresh", "start"))
            t0 = time.monotonic()
            was = str(olds.get("status", ""))
            try:
                read = provider.read(res.id, olds)
            except Exception as exc:
                result.drift.append({"resource": res.name, "urn": res.urn, "was": was,
                                     "now": f"cannot read: {exc}",
                                     "repair": "check it by hand"})  # fmt: skip
                on_event(Event(res.urn, res.name, res.type, res.component, "refresh", "failed",
                               time.monotonic() - t0, str(exc)))  # fmt: skip
                continue
            if not read.id:
                state.resources.remove(res)
                drift = {"resource": res.name, "urn": res.urn, "was": was, "now": "gone",
                         "repair": "the next up creates it again"}  # fmt: skip
            else:
                outs = dict(read.outs or {})
                outs[PROVIDER_KEY] = res.outputs.get(PROVIDER_KEY)
                now_status = str(outs.get("status", ""))
                res.outputs = mark_secrets(outs, res.inputs, provider)
                healthy = getattr(provider, "healthy_status", was)
                drift = {} if now_status == was == healthy else {
                    "resource": res.name, "urn": res.urn, "was": was, "now": now_status,
                    "repair": "the next up repairs it",
                }  # fmt: skip
            if drift:
                result.drift.append(drift)
            on_event(Event(res.urn, res.name, res.type, res.component, "refresh", "done",
                           time.monotonic() - t0,
                           f"{drift['was']} -> {drift['now']}" if drift else "in sync"))  # fmt: skip
        for step in state.pending:
            provider = load_provider(step.inputs.get(PROVIDER_KEY))
            left = list(getattr(provider, "leftovers", lambda _i: [])(unwrap(step.inputs)))
            result.drift.append({
                "resource": step.name, "urn": step.urn,
                "was": f"{step.op} failed ({step.failed.splitlines()[0][:160]})" if step.failed else
                f"{step.op} interrupted (since {step.started})",
                "now": "; ".join(left) or "nothing left behind",
                "repair": "the next up runs it again; destroy removes what it left",
            })  # fmt: skip
        state.last = {"command": "refresh", "result": "succeeded", "at": now(), "drift": len(result.drift)}
        store.save(state)
    result.elapsed = time.monotonic() - started
    return result


def _finish(store: StateStore, state: StackState, applier: Applier, command: str, outcome: str,
            summary: dict[str, int] | None = None) -> None:  # fmt: skip
    if not applier.dirty and (outcome == "succeeded" or not store.path(state.stack).exists()):
        return  # nothing changed (or nothing was ever deployed): leave the state file as it is
    state.last = {
        "command": command,
        "result": outcome,
        "at": now(),
        "summary": summary or dict(applier.counts),
    }
    store.save(state)
