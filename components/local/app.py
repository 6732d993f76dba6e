"""The app on this machine: its local command as a background process with the stack's wiring — or, when the
stack builds an image (``app.build``) and a Docker engine is reachable, that image as a container
(``container.py``; the ``registry`` kind builds it).

- The command (``app.command``) runs detached (own session), with stdin closed, output timestamped into
  ``<state>/<stack>/app/app.log`` and ``app.pid`` next to it; a command starting with ``python`` runs with
  the interpreter that runs mbops. Its working directory is the stack file's folder (or the current one).
- When mbops runs as root, the app runs as the unprivileged system user ``mbops-app`` (see ``process.py``).
- ``PORT``: ``app.port`` when free on 127.0.0.1, else an error naming who holds it, or with ``mbops up --port
  auto`` a free port and a notice (see ``health.py``); the port is kept across restarts while it stays free.
- Environment: a few variables of the deployer's (PATH, HOME, locale, VIRTUAL_ENV — never credentials),
  ``app.env`` and the wired plain variables (``STORAGE_URL``, ``DOCUMENT_TABLE``, ...), then the secrets
  file's values (``DATABASE_URL``, ``REDIS_URL``, ``app.secret_env``), read when the process starts.
- Creation waits until ``GET <health_path>`` answers 2xx/3xx from the app's own socket (``MBOPS_HEALTH_TIMEOUT``
  seconds, default 60); an app that exits, never answers or whose port answers for someone else is stopped
  and the error quotes the end of its log.
- A process left running by an interrupted run (its pid file names it, checked by start time) is stopped
  before a new one starts, and by ``destroy``.
- Changing any input but the health timeout and ``--port auto`` restarts the process (stop, then start on the
  same port); a process found dead by ``refresh``/``up`` is started again. The port is chosen before the running
  process stops: a busy new ``app.port`` is an error that leaves it serving on its old port.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.base import MbopsComponent
from mbops.components.local import process
from mbops.components.local.health import (
    PortInUse,
    Runner,
    choose_port,
    health_timeout,
    left_running,
    probe_http,
    wait_healthy,
    wait_released,
)
from mbops.components.local.provider import LOOPBACK, LocalProvider, owns_port, port_answers, port_holder, tail
from mbops.components.local.secrets import read_secrets
from mbops.components.spec import ComponentSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError, DeployError
from mbops.host import private_dir, remove_tree

__all__ = ["AppService", "AppServiceArgs", "build", "check_command", "command_argv", "health_timeout"]


def command_argv(command: str) -> list[str]:
    """The command as argv; ``python``/``python3``/``python3.X`` become the interpreter running mbops."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise DeployError(f"app.command {command!r} cannot be parsed: {exc}") from None
    if not argv:
        raise DeployError("app.command is empty")
    if re.fullmatch(r"python(3(\.\d+)?)?", argv[0]):
        argv[0] = sys.executable
    return argv


def check_command(command: str, cwd: Path, *, source: str = "flags") -> None:
    """A ConfigError when ``app.command`` cannot be parsed or its program cannot be found (from ``cwd``)."""
    where = f"{source}: " if source not in ("flags", "") else ""
    try:
        argv = command_argv(command)
    except DeployError as exc:
        raise ConfigError(f"{where}app.command: {exc}") from None
    program = argv[0]
    found = (cwd / program).is_file() if "/" in program else shutil.which(program) is not None
    if not found:
        raise ConfigError(
            f"{where}app.command: {program!r} is not a program on PATH (or a file relative to {cwd}, where the "
            f"command runs)"
        )


def app_env(props: Mapping[str, Any], port: int) -> dict[str, str]:
    """The app's environment: ``app.env`` and the wiring, the secrets file's values, ``PORT``."""
    env = _strings(props.get("env"))
    if props.get("secrets_file"):
        env.update(read_secrets(props["secrets_file"]))
    env.update(_strings(props.get("secret_env")))
    env["PORT"] = str(port)
    return env


class AppProcessProvider(LocalProvider):
    """The app as a supervised background process (see the module docstring)."""

    required = ("command", "cwd", "run_dir", "health_path")
    optional = (
        "env", "secrets_file", "secrets_version", "secret_env", "preferred_port", "health_timeout_s", "port_auto",
        "run_as",
    )  # fmt: skip
    computed = ("pid", "start_time", "port", "url", "log_file", "pid_file", "status", "notice")
    secret_outputs = ("secret_env",)
    replace_keys = ()
    quiet_keys = ("health_timeout_s", "port_auto")
    path_keys = ("run_dir", "log_file", "pid_file", "secrets_file")
    healthy_status = "running"
    serves_app = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        port, notice = choose_port(props, ours=self.holders(props))  # a survivor's port is ours
        self._stop_survivor(props)
        wait_released(port)
        outs = self._start(props, port)
        return CreateResult(id_=f"{props['run_dir']}#app", outs={**outs, "notice": notice})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Restart on the port chosen *before* the running app stops: a busy new port leaves it serving."""
        keep = olds.get("port") if news.get("preferred_port") == olds.get("preferred_port") else None
        try:
            port, notice = choose_port(news, keep=keep, ours=self.holders(olds))
        except PortInUse as exc:
            if process.alive(olds.get("pid"), olds.get("start_time")):
                raise left_running(exc, f"pid {olds['pid']}", olds.get("port")) from None
            raise
        process.stop(olds.get("pid"), olds.get("start_time"))
        self._stop_survivor(news)
        wait_released(port)
        return UpdateResult(outs={**self._start(news, port), "notice": notice})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        process.stop(props.get("pid"), props.get("start_time"))
        self._stop_survivor(props)
        if props.get("delete_data"):
            remove_tree(props["run_dir"])
        else:
            remove_tree(Path(props["run_dir"]) / "app.pid")

    def problems(self, outs: dict[str, Any]) -> list[str]:
        pid, port = outs.get("pid"), outs.get("port")
        if not process.alive(pid, outs.get("start_time")):
            return [f"the app process (pid {pid}) is not running"]
        if not port_answers(port):
            return [f"the app (pid {pid}) does not answer on port {port}"]
        if not owns_port(process.family(int(pid)), int(port)):
            return [f"port {port} is held by {port_holder(int(port)) or 'another process'}, not by the app (pid {pid})"]
        return []

    def leftovers(self, inputs: dict[str, Any]) -> list[str]:
        found = process.recorded(Path(inputs["run_dir"]) / "app.pid")
        return [f"the app process (pid {found[0]}) of an interrupted run still runs"] if found else []

    def holders(self, outs: dict[str, Any]) -> set[int]:
        """The recorded app and the one its pid file names (left by an interrupted run), with descendants."""
        found = super().holders(outs)
        survivor = process.recorded(Path(outs["run_dir"]) / "app.pid") if outs.get("run_dir") else None
        return (found | process.family(survivor[0])) if survivor else found

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        """Alive, owning its port (it or a child of it), and the health path's answer and latency."""
        found = super().probe(outs)
        if found["state"] == "down":
            return found
        return {**probe_http(outs["url"], outs["health_path"]), "pid": outs["pid"], "port": outs["port"]}

    # steps --------------------------------------------------------------------------------------------------
    @staticmethod
    def _stop_survivor(props: dict[str, Any]) -> None:
        """Stop the app an interrupted run left running (its pid file names it; checked by start time)."""
        process.stop_survivor(Path(props["run_dir"]) / "app.pid")

    def _start(self, props: dict[str, Any], port: int) -> dict[str, Any]:
        run_dir = private_dir(props["run_dir"])
        log, pid_file = run_dir / "app.log", run_dir / "app.pid"
        cwd = Path(props["cwd"])
        if not cwd.is_dir():
            raise DeployError(f"the app's working directory {cwd} does not exist")
        env = {**process.base_env(), **app_env(props, port)}
        argv = command_argv(props["command"])
        pid, started = process.spawn(
            argv, cwd=cwd, env=env, log_file=log, pid_file=pid_file, timestamps=True, user=props.get("run_as"),
        )  # fmt: skip
        url = f"http://{LOOPBACK}:{port}"
        runner = Runner(
            what=f"the app (pid {pid})", running=lambda: process.alive(pid, started),
            owners=lambda: process.family(pid), stop=lambda: process.stop(pid, started), log_tail=lambda: tail(log),
        )  # fmt: skip
        wait_healthy(url + props["health_path"], port, runner, float(props.get("health_timeout_s") or 60))
        return {
            **props, "pid": pid, "start_time": started, "port": port, "url": url, "log_file": str(log),
            "pid_file": str(pid_file), "status": self.healthy_status,
        }  # fmt: skip


def _strings(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


class AppProcess(Resource, module="mbops", name="AppProcess"):
    """The app as a local process (see AppProcessProvider)."""

    pid: pulumi.Output[int]
    port: pulumi.Output[int]
    url: pulumi.Output[str]
    log_file: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["secret_env"])
        )
        super().__init__(
            AppProcessProvider(), name, {**props, **dict.fromkeys(AppProcessProvider.computed)}, opts
        )


@dataclass(kw_only=True)
class AppServiceArgs:
    kind: str  # servers | containers | serverless: the profile's app platform
    spec: ComponentSpec = field(default_factory=ComponentSpec)
    command: str
    cwd: Path
    stack_dir: Path
    health_path: str
    port: int
    env: Mapping[str, Any] = field(default_factory=dict)
    secrets_file: Any = None  # Input[str]
    secrets_version: Any = None  # Input[str]
    secret_env: Any = None  # Input[dict[str, str]] when there is no secrets file
    tags: dict[str, str] = field(default_factory=dict)
    port_auto: bool = False  # a busy app.port moves the app to a free port (with a notice) instead of failing
    run_as: str | None = None  # the OS user of the app (as root: mbops-app)
    image: Any = None  # Input[str]: run this image as a container instead of the command
    mounts: list[str] = field(default_factory=list)  # host folders the container sees at the same path
    stack: str = ""


class AppService(MbopsComponent):
    """The app on this machine, for any app platform kind.

    Children: ``process`` (the command) or ``container`` (the built image). Outputs: ``url``, ``log``.
    """

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self.kind = args.kind
        super().__init__("local", name, args.spec, args.tags, opts)
        props: dict[str, Any] = {
            "run_dir": str(args.stack_dir / "app"), "health_path": args.health_path, "env": dict(args.env),
            "preferred_port": args.port, "health_timeout_s": health_timeout(), "port_auto": args.port_auto,
            "run_as": args.run_as,
        }  # fmt: skip
        if args.secrets_file is not None:
            props.update(secrets_file=args.secrets_file, secrets_version=args.secrets_version)
        if args.secret_env is not None:
            props["secret_env"] = pulumi.Output.secret(args.secret_env)
        self.process: AppProcess | None = None
        self.container: Any = None
        if args.image is not None:
            from mbops.components.local.container import AppContainer

            props.update(image=args.image, mounts=sorted(args.mounts), stack=args.stack)
            self.container = AppContainer(f"{name}-container", self.args("container", **props), opts=self.opts())
            self.url = self.container.url
            self.log = self.container.container_name.apply(lambda n: f"docker logs {n}")  # the engine keeps it
        else:
            props.update(command=args.command, cwd=str(args.cwd))
            self.process = AppProcess(f"{name}-process", self.args("process", **props), opts=self.opts())
            self.url = self.process.url
            self.log = self.process.log_file
        self.finish({"url": self.url, "log": self.log})


def container_mounts(ctx: BuildContext) -> list[str]:
    """The folders a container must see at the same path: the storage folder, the SQLite databases' folder."""
    local = ctx.foundation
    mounts = [local.storage_dir] if "storage" in ctx.built else []
    database = ctx.built.get("database")
    if "docdb" in ctx.built or (database is not None and getattr(database.component, "engine", "") == "sqlite"):
        mounts.append(local.sqlite_dir)
    return [str(path) for path in mounts]


def build(ctx: BuildContext) -> Built:
    """The app's command as a supervised process — or the image the registry kind built, as a container —
    with the stack's env, reading its secrets from the secrets file (or, in a stack without one, from its own
    secret input)."""
    app, wiring, store = ctx.stack.app, ctx.wiring, ctx.built.get("secrets")
    files: dict[str, Any] = {}
    if store is not None:
        files = {"secrets_file": store.component.path, "secrets_version": store.component.version}
    foundation = ctx.foundation
    image = wiring.image if wiring is not None else None
    mounts = container_mounts(ctx) if image is not None else []
    service = AppService(
        ctx.name,
        AppServiceArgs(
            kind=ctx.kind, spec=ctx.spec, command=app.command, cwd=foundation.app_cwd,
            stack_dir=foundation.folder, health_path=app.health_path, port=app.port, env=wiring.env,
            secret_env=None if store is not None else dict(wiring.secrets), tags=dict(ctx.stack.tags),
            port_auto=bool(pulumi.Config("mbops").get_bool("portAuto")), run_as=foundation.app_user, image=image,
            mounts=mounts, stack=ctx.stack.name, **files,
        ),
    )  # fmt: skip
    return Built(component=service, outputs={"endpoint": service.url, "app_log": service.log})
