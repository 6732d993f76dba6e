"""Where a stack's commands run: one interface, two targets, the same guards on both.

- ``EmbeddedTarget``: the embedded engine. It deploys the ``local`` cloud on this machine (state in a folder,
  ``--state-dir``) and plans every cloud offline.
- ``PulumiTarget``: the Pulumi CLI through the Automation API, for every cloud (``local`` included: its
  components are dynamic providers), state in a Pulumi backend (``--backend``).

``Target.up`` / ``destroy`` / ``refresh`` / ``outputs`` / ``stacks`` / ``recorded`` are the same on both. The
guards live here, in the base class, so no caller can skip them: ``up`` enforces the policy rules on the
plan first; ``destroy`` of a prod stack needs ``delete_data`` and ``yes``; deleting data needs a confirmation
(a prompt on a terminal, else ``yes``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mbops.errors import ConfigError, DeployError, PolicyViolationError
from mbops.stacks.config import Stack

ENGINES = ("embedded", "pulumi")
Confirm = Callable[[str], bool]


class Progress(Protocol):
    """Where a command reports progress: resource events, notices, and lines the Pulumi CLI prints."""

    def event(self, event: Any) -> None: ...

    def notice(self, message: str) -> None: ...

    def line(self, text: str) -> None: ...

    def finding(self, finding: dict[str, Any]) -> None: ...


class Quiet:
    """A Progress that reports nothing."""

    def event(self, event: Any) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def finding(self, finding: dict[str, Any]) -> None:
        pass


@dataclass(kw_only=True)
class Outcome:
    """What a command did, the same shape on every target (outputs with secrets masked)."""

    stack: str
    command: str
    target: str
    result: str = "succeeded"  # succeeded | cancelled
    counts: dict[str, int] = field(default_factory=dict)  # op -> resources
    elapsed: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (severity, text)
    kept_data: list[str] = field(default_factory=list)
    drift: list[dict[str, str]] = field(default_factory=list)
    state: str = ""  # where the state is: a file, or the backend's stack

    @property
    def changes(self) -> int:
        return sum(n for op, n in self.counts.items() if op not in ("same", "refresh", "read"))


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """What the target remembers of a deployed stack."""

    name: str
    cloud: str
    environment: str
    profile: str = ""


class Target(ABC):
    """The commands every target runs; ``up`` and ``destroy`` hold the guards before the engine runs."""

    name: str = ""
    port_auto: bool = False  # `up --port auto`: a busy app.port moves a local app to a free port (with a notice)

    def up(self, stack: Stack, *, progress: Progress, yes: bool = False, confirm: Confirm | None = None) -> Outcome:
        """Plan the stack, stop on a mandatory policy violation (exit 3), then deploy it.

        A stack recorded as prod becomes dev only when asked explicitly and confirmed (a prompt, or ``yes``).
        """
        if self.port_auto and stack.cloud != "local":
            raise ConfigError("--port auto: only the local cloud picks a free port; give --port N or app.port")
        guard_environment(stack, self.recorded(stack), yes=yes, confirm=confirm)
        graph = self.check_policies(stack, progress)
        return self._up(stack, progress=progress, yes=yes, confirm=confirm, plan=graph)

    def destroy(
        self, stack: Stack, *, progress: Progress, delete_data: bool = False, yes: bool = False,
        confirm: Confirm | None = None,
    ) -> Outcome:  # fmt: skip
        """Delete the stack's resources; data (databases, buckets, tables) is kept unless ``delete_data``."""
        recorded = self.recorded(stack)
        guard_destroy(stack, recorded, delete_data=delete_data, yes=yes, confirm=confirm)
        return self._destroy(stack, progress=progress, delete_data=delete_data, yes=yes, confirm=confirm)

    def check_policies(self, stack: Stack, progress: Progress) -> dict[str, Any]:
        """The plan's policy findings; a mandatory one stops the command (exit 3) before anything changes."""
        from mbops.engine.plan import plan
        from mbops.policies.check import mandatory, report

        graph = plan(stack, with_cost=False, state_dir=self.state_dir_for_plan())
        findings = graph.get("policy") or []
        if mandatory(findings):
            raise PolicyViolationError(f"{report(findings)}\nNothing was deployed.")
        for finding in findings:
            progress.finding(finding)
        return graph

    def state_dir_for_plan(self) -> str | None:
        return None

    @abstractmethod
    def _up(
        self, stack: Stack, *, progress: Progress, yes: bool, confirm: Confirm | None, plan: dict[str, Any]
    ) -> Outcome: ...

    @abstractmethod
    def _destroy(
        self, stack: Stack, *, progress: Progress, delete_data: bool, yes: bool, confirm: Confirm | None
    ) -> Outcome: ...

    @abstractmethod
    def refresh(self, stack: Stack, *, progress: Progress) -> Outcome: ...

    @abstractmethod
    def outputs(self, stack: Stack, *, show_secrets: bool = False) -> Outcome: ...

    @abstractmethod
    def stacks(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def status(self, stack: Stack) -> list[dict[str, Any]]:
        """Each component's health: ``component``, ``resource``, ``state`` (up/down/unknown), ``detail``, ..."""

    @abstractmethod
    def logs(self, stack: Stack, *, component: str | None, lines: int, follow: bool) -> Iterator[str]:
        """The stack's log lines (local), or where the cloud keeps them."""

    @abstractmethod
    def recorded(self, stack: Stack) -> Recorded | None: ...


def guard_destroy(
    stack: Stack, recorded: Recorded | None, *, delete_data: bool, yes: bool, confirm: Confirm | None
) -> None:
    """Prod needs ``--delete-data --yes``; deleting data needs a yes (a prompt on a terminal, else ``--yes``)."""
    prod = stack.prod or (recorded is not None and recorded.environment == "prod")
    if prod and not (delete_data and yes):
        raise ConfigError(
            f"stack {stack.name} is a prod stack: destroying it stops its services and deletes its data; "
            f"pass --delete-data --yes to confirm"
        )
    if delete_data and not yes:
        question = f"Delete stack {stack.name} and its data (databases, buckets, tables) for good?"
        if confirm is None:
            raise ConfigError(
                f"--yes: `destroy --delete-data` deletes stack {stack.name}'s data and there is no terminal to "
                f"confirm on; pass --yes"
            )
        if not confirm(question):
            raise ConfigError(f"destroy of {stack.name} cancelled: nothing was deleted")


def guard_environment(stack: Stack, recorded: Recorded | None, *, yes: bool, confirm: Confirm | None) -> None:
    """Turning a deployed prod stack into a dev one (less HA, no deletion protection) needs a yes."""
    if recorded is None or recorded.environment != "prod" or stack.prod:
        return
    question = (
        f"Stack {stack.name} is deployed as prod; deploy it as {stack.environment} (HA, deletion protection and "
        f"backups reduced)?"
    )
    if yes or (confirm is not None and confirm(question)):
        return
    raise ConfigError(
        f"stack {stack.name} is deployed as prod and --env {stack.environment} would turn it into a "
        f"{stack.environment} stack (less HA, no deletion protection); confirm on a terminal or pass --yes, "
        f"or deploy with --env prod"
    )


# --- the embedded engine -----------------------------------------------------------------------------------


class EmbeddedTarget(Target):
    """The local cloud on this machine, deployed by the embedded engine (state folder ``state_dir``)."""

    name = "embedded"

    def __init__(self, state_dir: Path | str | None = None, *, port_auto: bool = False) -> None:
        from mbops.engine.state import StateStore

        self.store = StateStore(state_dir)
        self.port_auto = port_auto  # `up --port auto`: a busy app.port moves the app, with a notice

    def state_dir_for_plan(self) -> str | None:
        return str(self.store.root)

    def _local_only(self, stack: Stack, command: str) -> None:
        if stack.cloud != "local":
            raise ConfigError(
                f"--engine embedded: `mbops {command}` of a {stack.cloud} stack needs the Pulumi engine "
                f"(the embedded engine deploys the local cloud and plans the others); use --engine pulumi"
            )

    def _up(
        self, stack: Stack, *, progress: Progress, yes: bool, confirm: Confirm | None, plan: dict[str, Any]
    ) -> Outcome:
        from mbops.engine import apply

        self._local_only(stack, "up")
        unchanged = self._unchanged(stack, plan)
        if unchanged is not None:
            return unchanged
        done = apply.up(stack, self.store, on_event=progress.event, notice=progress.notice, port_auto=self.port_auto)
        return self._outcome(done, stack.name)

    def _unchanged(self, stack: Stack, plan: dict[str, Any]) -> Outcome | None:
        """The outcome of an `up` with nothing to do — the plan that gated it, made against the state with each
        provider's own diff (a dead process or a missing folder is a change), says every resource is the same
        and the last run finished — without running the program a second time."""
        from mbops.engine.embedded import plain

        state = self.store.load(stack.name)
        if (
            state is None or state.pending or state.kept_data or state.last.get("result") != "succeeded"
            or (state.profile, state.environment) != (stack.profile, stack.environment)
            or any(r["op"] != "same" for r in plan["resources"])
        ):  # fmt: skip
            return None
        return Outcome(
            stack=stack.name, command="up", target=self.name, counts={"same": plan["summary"].get("same", 0)},
            outputs=dict(sorted(plain(state.outputs).items())), unavailable=dict(state.unavailable),
            messages=[("warning", text) for text in plan.get("warnings") or []],
            state=str(self.store.path(stack.name)),
        )  # fmt: skip

    def _destroy(
        self, stack: Stack, *, progress: Progress, delete_data: bool, yes: bool, confirm: Confirm | None
    ) -> Outcome:
        from mbops.engine import apply

        self._local_only(stack, "destroy")
        if self.store.load(stack.name) is None:
            raise DeployError(
                f"stack {stack.name} has no state in {self.store.root}: nothing to destroy (see mbops stacks)"
            )
        done = apply.destroy(
            stack.name, self.store, delete_data=delete_data, on_event=progress.event, notice=progress.notice
        )
        return self._outcome(done, stack.name)

    def refresh(self, stack: Stack, *, progress: Progress) -> Outcome:
        from mbops.engine import apply

        self._local_only(stack, "refresh")
        done = apply.refresh(stack.name, self.store, on_event=progress.event, notice=progress.notice)
        return self._outcome(done, stack.name)

    def outputs(self, stack: Stack, *, show_secrets: bool = False) -> Outcome:
        from mbops.engine.embedded import plain, unwrap

        self._local_only(stack, "outputs")
        state = self.store.load(stack.name)
        if state is None:
            raise DeployError(f"stack {stack.name} has no state in {self.store.root}: deploy it with mbops up")
        values = unwrap(state.outputs) if show_secrets else plain(state.outputs)
        return Outcome(
            stack=stack.name, command="outputs", target=self.name, outputs=dict(sorted(values.items())),
            unavailable=dict(state.unavailable), state=str(self.store.path(stack.name)),
        )  # fmt: skip

    def stacks(self) -> list[dict[str, Any]]:
        from mbops.engine.state import StateError

        rows: list[dict[str, Any]] = []
        for item in self.store.list():
            if isinstance(item, StateError):
                rows.append({"name": None, "error": str(item)})
                continue
            holder = self.store.lock_holder(item.stack)
            rows.append({
                "name": item.stack, "cloud": item.cloud, "profile": item.profile, "environment": item.environment,
                "resources": item.resource_count, "last_update": item.updated,
                "last_result": item.last.get("result", ""), "locked_by": holder.pid if holder else None,
            })  # fmt: skip
        return rows

    def status(self, stack: Stack) -> list[dict[str, Any]]:
        from mbops.engine.observe import local_status

        return local_status(self._state(stack, "status"))

    def logs(self, stack: Stack, *, component: str | None, lines: int, follow: bool) -> Iterator[str]:
        from mbops.engine.observe import follow_logs, log_files, read_logs

        files = log_files(self._state(stack, "logs"), component)
        if not files:
            what = f"no {component} log" if component else "no logs"
            raise DeployError(f"stack {stack.name} has {what} (is it deployed? see mbops status)")
        yield from read_logs(files, lines)
        if follow:
            yield from follow_logs(files)

    def _state(self, stack: Stack, command: str) -> Any:
        from mbops.engine.apply import check_paths

        self._local_only(stack, command)
        state = self.store.load(stack.name)
        if state is None or not state.resources:
            raise DeployError(f"stack {stack.name} is not deployed in {self.store.root}: deploy it with mbops up")
        check_paths(state, self.store)
        return state

    def recorded(self, stack: Stack) -> Recorded | None:
        from mbops.engine.state import StateError

        try:
            state = self.store.load(stack.name)
        except StateError:
            return None
        if state is None:
            return None
        return Recorded(name=state.stack, cloud=state.cloud, environment=state.environment, profile=state.profile)

    def _outcome(self, done: Any, stack: str) -> Outcome:
        from mbops.engine.embedded import plain

        return Outcome(
            stack=stack, command=done.command, target=self.name, counts=dict(done.summary()),
            elapsed=done.elapsed, outputs=dict(sorted(plain(done.outputs).items())),
            unavailable=dict(done.unavailable), messages=list(done.messages), kept_data=list(done.kept_data),
            drift=list(done.drift), state=str(self.store.path(stack)),
        )  # fmt: skip


# --- the Pulumi engine -------------------------------------------------------------------------------------


class PulumiTarget(Target):
    """Any cloud through the Pulumi CLI (Automation API), state in ``backend``."""

    name = "pulumi"

    def __init__(self, backend: str | None = None, *, port_auto: bool = False) -> None:
        self.backend = backend
        self.port_auto = port_auto  # `up --port auto` of a local stack: a busy app.port moves the app

    def _run(self, action: str, stack: Stack, progress: Progress, **kwargs: Any) -> Outcome:
        from mbops.engine import automation

        started = time.monotonic()
        done = automation.run(action, stack, backend=self.backend, echo=progress.line, **kwargs)
        return Outcome(
            stack=stack.name, command=action, target=self.name, result=str(done.get("result") or "succeeded"),
            counts=dict(done.get("changes") or {}), elapsed=time.monotonic() - started,
            outputs=dict(sorted((done.get("outputs") or {}).items())), state=f"{done.get('stack')} in "
            f"{done.get('backend')}",
        )  # fmt: skip

    def _up(
        self, stack: Stack, *, progress: Progress, yes: bool, confirm: Confirm | None, plan: dict[str, Any]
    ) -> Outcome:
        from mbops.engine.automation import pulumi_command

        pulumi_command(f"mbops up --cloud {stack.cloud}")  # a missing CLI fails at once, before the plan
        return self._run("up", stack, progress, yes=yes, port_auto=self.port_auto)

    def check_policies(self, stack: Stack, progress: Progress) -> dict[str, Any]:
        from mbops.engine.automation import pulumi_command

        pulumi_command(f"mbops up --cloud {stack.cloud}")  # before a plan that would be thrown away
        return super().check_policies(stack, progress)

    def _destroy(
        self, stack: Stack, *, progress: Progress, delete_data: bool, yes: bool, confirm: Confirm | None
    ) -> Outcome:
        return self._run("destroy", stack, progress, yes=yes, delete_data=delete_data)

    def refresh(self, stack: Stack, *, progress: Progress) -> Outcome:
        return self._run("refresh", stack, progress, yes=True)

    def preview(self, stack: Stack, *, progress: Progress) -> Outcome:
        """The real engine's preview against the stack's state (needs the CLI and credentials)."""
        return self._run("preview", stack, progress)

    def outputs(self, stack: Stack, *, show_secrets: bool = False) -> Outcome:
        from mbops.engine.automation import stack_outputs

        values = stack_outputs(stack, backend=self.backend, show_secrets=show_secrets)
        return Outcome(stack=stack.name, command="outputs", target=self.name, outputs=dict(sorted(values.items())))

    def stacks(self) -> list[dict[str, Any]]:
        from mbops.engine.automation import list_stacks

        return list_stacks(self.backend)

    def status(self, stack: Stack) -> list[dict[str, Any]]:
        """The stack's outputs, and the public endpoint's health path probed from here."""
        from mbops.engine.observe import http_probe

        values = self.outputs(stack).outputs
        endpoint = values.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith("http"):
            return [{"component": "app", "resource": "endpoint", "state": "unknown",
                     "detail": "the stack has no endpoint output (is it deployed?)"}]  # fmt: skip
        return [{"component": "app", "resource": endpoint, **http_probe(endpoint + stack.app.health_path)}]

    def logs(self, stack: Stack, *, component: str | None, lines: int, follow: bool) -> Iterator[str]:
        """Where the cloud keeps the stack's logs: the ``logs`` output (commands and console links)."""
        hints = self.outputs(stack).outputs.get("logs")
        if not isinstance(hints, dict) or not hints:
            raise DeployError(
                f"stack {stack.name} has no `logs` output: read its logs in the {stack.cloud} console "
                f"(the stack's resources are tagged app={stack.name})"
            )
        for name, hint in sorted(hints.items()):
            if component is None or name == component:
                yield f"{name}:"
                for key in ("command", "follow", "console"):
                    if isinstance(hint, dict) and hint.get(key):
                        yield f"  {key}: {hint[key]}"

    def recorded(self, stack: Stack) -> Recorded | None:
        """What the stack's workspace config says (``mbops:environment``, ``mbops:profile``), read without the
        CLI; None before the first deploy from this machine."""
        import yaml

        from mbops.engine.automation import backend_url, pulumi_stack_name, workspace_dir

        config = workspace_dir(stack, backend_url(stack, self.backend)) / f"Pulumi.{pulumi_stack_name(stack)}.yaml"
        try:
            values = (yaml.safe_load(config.read_text()) or {}).get("config") or {}
        except (OSError, yaml.YAMLError, AttributeError):
            return None
        environment = values.get("mbops:environment")
        if not isinstance(environment, str):
            return None
        return Recorded(name=stack.name, cloud=stack.cloud, environment=environment,
                        profile=str(values.get("mbops:profile") or ""))  # fmt: skip


def default_engine(cloud: str) -> str:
    """The engine a command uses unless told: embedded for the local cloud, pulumi for the others."""
    return "embedded" if cloud == "local" else "pulumi"


def target_for(
    cloud: str, *, engine: str | None = None, state_dir: Path | str | None = None, backend: str | None = None
) -> Target:
    """The target for a stack on ``cloud`` (``engine`` overrides the default, see ``default_engine``)."""
    chosen = engine or default_engine(cloud)
    if chosen == "embedded":
        return EmbeddedTarget(state_dir)
    if chosen == "pulumi":
        return PulumiTarget(backend)
    raise ConfigError(f"--engine: '{chosen}' is not an engine; allowed: {', '.join(ENGINES)}")
