"""The app on this machine: its local command as a background process with the stack's wiring.

- The command (``app.command``) runs detached (own session), with stdin closed, output appended to
  ``<state>/<stack>/app/app.log`` and ``app.pid`` next to it; a command starting with ``python`` runs with
  the interpreter that runs mbops. Its working directory is the stack file's folder (or the current one).
- ``PORT``: ``app.port`` when that port is free on 127.0.0.1 at creation, else a free port (the ``endpoint``
  output says which); the port is kept across restarts while it stays free, so the endpoint does not move.
- Environment: a few variables of the deployer's (PATH, HOME, locale, VIRTUAL_ENV — never credentials),
  ``app.env`` and the wired plain variables (``STORAGE_URL``, ``DOCUMENT_TABLE``, ...), then the secrets
  file's values (``DATABASE_URL``, ``REDIS_URL``, ``app.secret_env``), read when the process starts.
- Creation waits until ``GET <health_path>`` answers 2xx/3xx (``MBOPS_HEALTH_TIMEOUT`` seconds, default 60);
  an app that exits or never answers is stopped and the error quotes the end of its log.
- Changing any input but the health timeout restarts the process (stop, then start on the same port); a
  process found dead by ``refresh``/``up`` is started again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.base import MbopsComponent
from mbops.components.local import process
from mbops.components.local.provider import (
    LOOPBACK,
    LocalProvider,
    free_port,
    port_answers,
    port_free,
    port_owners,
    tail,
)
from mbops.components.local.secrets import read_secrets
from mbops.components.spec import ComponentSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError, DeployError
from mbops.host import private_dir, remove_tree

HEALTH_TIMEOUT_ENV = "MBOPS_HEALTH_TIMEOUT"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
DEFAULT_HEALTH_TIMEOUT_S = 60.0


def health_timeout() -> float:
    raw = os.environ.get(HEALTH_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_HEALTH_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not 0 < value <= 3600:
        raise ConfigError(f"{HEALTH_TIMEOUT_ENV}={raw!r}: give the seconds to wait for the app (0-3600)")
    return value


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


class AppProcessProvider(LocalProvider):
    """The app as a supervised background process (see the module docstring)."""

    required = ("command", "cwd", "run_dir", "health_path")
    optional = ("env", "secrets_file", "secrets_version", "secret_env", "preferred_port", "health_timeout_s")
    computed = ("pid", "start_time", "port", "url", "log_file", "pid_file", "status")
    secret_outputs = ("secret_env",)
    replace_keys = ()
    quiet_keys = ("health_timeout_s",)
    healthy_status = "running"

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._start(props, free_port(props.get("preferred_port")))
        return CreateResult(id_=f"{props['run_dir']}#app", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        process.stop(olds.get("pid"), olds.get("start_time"))
        port = olds.get("port")
        if news.get("preferred_port") != olds.get("preferred_port") or not port or not port_free(int(port)):
            port = free_port(news.get("preferred_port"))
        return UpdateResult(outs=self._start(news, int(port)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        process.stop(props.get("pid"), props.get("start_time"))
        if props.get("delete_data"):
            remove_tree(props["run_dir"])
        elif props.get("pid_file"):
            remove_tree(props["pid_file"])

    def problems(self, outs: dict[str, Any]) -> list[str]:
        if not process.alive(outs.get("pid"), outs.get("start_time")):
            return [f"the app process (pid {outs.get('pid')}) is not running"]
        if not port_answers(outs.get("port")):
            return [f"the app (pid {outs.get('pid')}) does not answer on port {outs.get('port')}"]
        return []

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        """Alive, owning its port (it or a child of it), and the health path's answer and latency."""
        found = super().probe(outs)
        if found["state"] == "down":
            return found
        owners = port_owners(int(outs["port"]))
        family = process.family(int(outs["pid"]))
        if owners and not owners & family:
            return {"state": "down", "detail": f"port {outs['port']} is held by pid {', '.join(map(str, owners))}, "
                    f"not by the app (pid {outs['pid']})"}  # fmt: skip
        url = f"{outs['url']}{outs['health_path']}"
        started = time.monotonic()
        try:
            with _DIRECT.open(url, timeout=5) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (urllib.error.URLError, OSError) as exc:
            return {"state": "down", "detail": f"{url}: {getattr(exc, 'reason', exc)}"}
        latency = round((time.monotonic() - started) * 1000, 1)
        healthy = 200 <= code < 400
        return {"state": "up" if healthy else "down", "detail": f"GET {outs['health_path']} -> {code}",
                "latency_ms": latency, "pid": outs["pid"], "port": outs["port"]}  # fmt: skip

    # steps --------------------------------------------------------------------------------------------------
    def _start(self, props: dict[str, Any], port: int) -> dict[str, Any]:
        run_dir = private_dir(props["run_dir"])
        log, pid_file = run_dir / "app.log", run_dir / "app.pid"
        cwd = Path(props["cwd"])
        if not cwd.is_dir():
            raise DeployError(f"the app's working directory {cwd} does not exist")
        env = {**process.base_env(), **_strings(props.get("env"))}
        if props.get("secrets_file"):
            env.update(read_secrets(props["secrets_file"]))
        env.update(_strings(props.get("secret_env")))
        env["PORT"] = str(port)
        argv = command_argv(props["command"])
        pid, started = process.spawn(argv, cwd=cwd, env=env, log_file=log, pid_file=pid_file, timestamps=True)
        url = f"http://{LOOPBACK}:{port}"
        self._wait_healthy(
            url + props["health_path"], pid, started, log, float(props.get("health_timeout_s") or 60)
        )
        return {
            **props, "pid": pid, "start_time": started, "port": port, "url": url, "log_file": str(log),
            "pid_file": str(pid_file), "status": self.healthy_status,
        }  # fmt: skip

    @staticmethod
    def _wait_healthy(url: str, pid: int, started: int, log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            if not process.alive(pid, started):
                raise DeployError(
                    f"the app exited while starting (before {url} answered); "
                    f"last lines of {log}:\n{tail(log)}"
                )
            try:
                with _DIRECT.open(url, timeout=2) as response:
                    if 200 <= response.status < 400:
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            if time.monotonic() > deadline:
                process.stop(pid, started)
                raise DeployError(
                    f"the app did not become healthy: {url} gave no 2xx/3xx answer within {timeout:g}s "
                    f"(last: {last}); it was stopped. Set {HEALTH_TIMEOUT_ENV} to wait longer. "
                    f"Last lines of {log}:\n{tail(log)}"
                )
            time.sleep(0.1)


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


class AppService(MbopsComponent):
    """The app on this machine, for any app platform kind.

    Children: ``process``. Outputs: ``url``, ``log``.
    """

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self.kind = args.kind
        super().__init__("local", name, args.spec, args.tags, opts)
        props: dict[str, Any] = {
            "command": args.command, "cwd": str(args.cwd), "run_dir": str(args.stack_dir / "app"),
            "health_path": args.health_path, "env": dict(args.env), "preferred_port": args.port,
            "health_timeout_s": health_timeout(),
        }  # fmt: skip
        if args.secrets_file is not None:
            props.update(secrets_file=args.secrets_file, secrets_version=args.secrets_version)
        if args.secret_env is not None:
            props["secret_env"] = pulumi.Output.secret(args.secret_env)
        self.process = AppProcess(f"{name}-process", self.args("process", **props), opts=self.opts())
        self.url = self.process.url
        self.log = self.process.log_file
        self.finish({"url": self.url, "log": self.log})


def build(ctx: BuildContext) -> Built:
    """The app's command as a supervised process with the stack's env, reading its secrets from the secrets
    file (or, in a stack without one, from its own secret input)."""
    app, wiring, store = ctx.stack.app, ctx.wiring, ctx.built.get("secrets")
    files: dict[str, Any] = {}
    if store is not None:
        files = {"secrets_file": store.component.path, "secrets_version": store.component.version}
    service = AppService(
        ctx.name,
        AppServiceArgs(
            kind=ctx.kind, spec=ctx.spec, command=app.command, cwd=ctx.foundation.app_cwd,
            stack_dir=ctx.foundation.folder, health_path=app.health_path, port=app.port, env=wiring.env,
            secret_env=None if store is not None else dict(wiring.secrets), tags=dict(ctx.stack.tags), **files,
        ),
    )  # fmt: skip
    return Built(component=service, outputs={"endpoint": service.url, "app_log": service.log})
