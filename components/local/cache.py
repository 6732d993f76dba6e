"""Local cache: ``redis-server`` on 127.0.0.1, a free port, a generated password, no persistence.

The configuration reaches redis-server on its stdin (``redis-server -``), so the password is never on a
command line (where ``ps`` would show it) nor in a file; it lives in the secret outputs ``password`` and
``url`` (``REDIS_URL=redis://:<password>@127.0.0.1:<port>/0``). As root, Redis runs as the unprivileged system
user ``mbops-cache``. A server left running by an interrupted run (its pid file names it) is stopped before a
new one starts. Without ``redis-server`` on PATH the stack reports the cache as unavailable instead (see
``redis_server()``).
"""

from __future__ import annotations

import secrets
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.base import MbopsComponent
from mbops.components.local import process
from mbops.components.local.provider import LOOPBACK, LocalProvider, free_port, port_free, tail
from mbops.components.spec import CacheSpec
from mbops.components.wiring import BuildContext, Built, Gap
from mbops.errors import DeployError
from mbops.host import private_dir, remove_tree

MAXMEMORY_MB = {"small": 64, "medium": 256, "large": 1024}


def redis_server() -> str | None:
    """Path of the installed redis-server, or None."""
    return shutil.which("redis-server")


class RedisProvider(LocalProvider):
    """A redis-server process with its config, pid file and log in ``run_dir``."""

    required = ("run_dir", "binary", "maxmemory_mb")
    optional = ("preferred_port", "run_as", "data_dir")
    record_keys = ("delete_data",)
    computed = ("host", "port", "password", "url", "pid", "start_time", "log_file", "status")
    secret_outputs = ("password", "url")
    replace_keys = ("run_dir",)
    quiet_keys = ("binary",)
    path_keys = ("run_dir", "log_file", "data_dir")
    healthy_status = "running"

    def create(self, props: dict[str, Any]) -> CreateResult:
        password = secrets.token_hex(24)
        process.stop_survivor(Path(props["run_dir"]) / "redis.pid")
        outs = self._start(props, free_port(props.get("preferred_port")), password)
        return CreateResult(id_=str(props["run_dir"]), outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.recording_only(olds, news):
            return self.recorded(olds, news)
        process.stop(olds.get("pid"), olds.get("start_time"))
        process.stop_survivor(Path(news["run_dir"]) / "redis.pid")
        port = olds.get("port")
        wanted = news.get("preferred_port") or (port if port and port_free(int(port)) else None)
        return UpdateResult(
            outs=self._start(news, free_port(wanted), olds.get("password") or secrets.token_hex(24))
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        process.stop(props.get("pid"), props.get("start_time"))
        run_dir = Path(props["run_dir"])
        process.stop_survivor(run_dir / "redis.pid")
        if props.get("delete_data"):
            remove_tree(run_dir)
            if props.get("data_dir"):
                remove_tree(props["data_dir"])
        else:
            for name in ("redis.conf", "redis.pid"):  # (older mbops kept the password in redis.conf)
                remove_tree(run_dir / name)

    def leftovers(self, inputs: dict[str, Any]) -> list[str]:
        found = process.recorded(Path(inputs["run_dir"]) / "redis.pid")
        return [f"redis-server (pid {found[0]}) of an interrupted run still runs"] if found else []

    def problems(self, outs: dict[str, Any]) -> list[str]:
        if not process.alive(outs.get("pid"), outs.get("start_time")):
            return [f"redis-server (pid {outs.get('pid')}) is not running"]
        if not _ping(int(outs["port"]), outs.get("password", ""), timeout=1.0):
            return [f"redis-server does not answer on port {outs['port']}"]
        return []

    def _start(self, props: dict[str, Any], port: int, password: str) -> dict[str, Any]:
        run_dir = private_dir(props["run_dir"])
        log, pid_file = run_dir / "redis.log", run_dir / "redis.pid"
        remove_tree(run_dir / "redis.conf")  # older mbops wrote the password there
        # Redis's own folder (persistence is off: it only looks for a dump there at start), its user's.
        data_dir = private_dir(props.get("data_dir") or run_dir, owner=props.get("run_as"))
        config = "\n".join([
            f"bind {LOOPBACK}", f"port {port}", "protected-mode yes", f"requirepass {password}",
            "daemonize no", 'save ""', "appendonly no", 'logfile ""', f"dir {data_dir}",
            f"maxmemory {int(props['maxmemory_mb'])}mb", "maxmemory-policy allkeys-lru", "",
        ])  # fmt: skip
        pid, started = process.spawn(
            [props["binary"], "-"], cwd=run_dir, env=process.base_env(), log_file=log, pid_file=pid_file,
            user=props.get("run_as"), stdin_data=config.encode(),
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not _ping(port, password):
            if not process.alive(pid, started) or time.monotonic() > deadline:
                process.stop(pid, started)
                raise DeployError(
                    f"redis-server did not start on port {port}; last lines of {log}:\n{tail(log)}"
                )
            time.sleep(0.05)
        return {
            **props, "host": LOOPBACK, "port": port, "password": password,
            "url": f"redis://:{password}@{LOOPBACK}:{port}/0", "pid": pid, "start_time": started,
            "log_file": str(log), "status": self.healthy_status,
        }  # fmt: skip


def _ping(port: int, password: str, timeout: float = 0.5) -> bool:
    """AUTH + PING over the RESP protocol; True on +OK / +PONG."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"+OK\r\n+PONG")


class RedisServer(Resource, module="mbops", name="RedisServer"):
    """A local redis-server (see RedisProvider)."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    password: pulumi.Output[str]
    url: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=list(RedisProvider.secret_outputs))
        )
        super().__init__(RedisProvider(), name, {**props, **dict.fromkeys(RedisProvider.computed)}, opts)


@dataclass(kw_only=True)
class CacheArgs:
    spec: CacheSpec = field(default_factory=CacheSpec)
    stack_dir: Path
    binary: str
    data_dir: Path | None = None  # Redis's working folder (as root: under /var/lib/mbops, its user's)
    run_as: str | None = None  # the OS user of redis-server (as root: mbops-cache)
    release_data: bool = False  # a later delete removes the cache's folder, whichever engine deletes
    tags: dict[str, str] = field(default_factory=dict)


class Cache(MbopsComponent):
    """The stack's Redis on this machine.

    Children: ``server``. Outputs: ``url`` (secret), ``host``, ``port``.
    """

    kind = "cache"

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        props: dict[str, Any] = {
            "run_dir": str(args.stack_dir / "redis"), "binary": args.binary,
            "maxmemory_mb": MAXMEMORY_MB[args.spec.size], "run_as": args.run_as,
            "data_dir": str(args.data_dir or args.stack_dir / "redis"),
        }  # fmt: skip
        if args.release_data:
            props["delete_data"] = True
        self.server = RedisServer(f"{name}-server", self.args("server", **props), opts=self.opts())
        self.url = pulumi.Output.secret(self.server.url)
        self.host = self.server.host
        self.port = self.server.port
        self.finish({"url": self.url, "host": self.host, "port": self.port})


NO_REDIS = Gap(
    reason="redis-server is not installed",
    alternative="install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) "
    "and run mbops up again",
)


def build(ctx: BuildContext) -> Built:
    """redis-server on loopback with a password (``REDIS_URL``); a gap when redis-server is not installed."""
    binary = redis_server()
    if not binary:
        return Built(gap=NO_REDIS)
    cache = Cache(
        ctx.name,
        CacheArgs(spec=ctx.spec, stack_dir=ctx.foundation.folder, binary=binary, run_as=ctx.foundation.cache_user,
                  data_dir=ctx.foundation.data / "redis",
                  release_data=ctx.stack.release_data, tags=dict(ctx.stack.tags)),
    )
    return Built(component=cache, secrets={"REDIS_URL": cache.url},
                 outputs={"redis_host": cache.host, "redis_port": cache.port})  # fmt: skip
