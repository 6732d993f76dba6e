"""Local database: a real PostgreSQL cluster when PostgreSQL is installed, otherwise a SQLite file.

PostgreSQL (``initdb`` + ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin`` or ``PATH``):

- the cluster listens on 127.0.0.1 on a free port (kept across restarts while it stays free) and on a unix
  socket in a 0700 folder of the cluster; TCP logins need a password (scram-sha-256), socket logins are
  ``peer`` (only the cluster's OS user — how mbops itself manages it);
- the app logs in as role ``app`` (owner of the database, not a superuser) with a generated password that
  is a secret output, as is ``DATABASE_URL``;
- PostgreSQL refuses to run as root: as root, the cluster runs as the system user ``mbops`` (created with
  ``useradd --system`` when missing) and lives in ``/var/lib/mbops/postgres/<stack>-<hash of the state
  folder>`` (a folder that user owns; ``/root`` is not traversable by it); otherwise it lives in the
  stack's state folder. Either way the ``database_data_dir`` output says where.

``MBOPS_LOCAL_DATABASE`` chooses: ``auto`` (default: PostgreSQL when installed, else SQLite with a notice),
``postgres`` (fail when it is not installed) or ``sqlite`` (never PostgreSQL).

Deleting the resource stops the server and keeps the data unless ``delete_data`` is set — by the engine
(``mbops destroy --delete-data``) or as an input of a stack released for deletion (``release_data``); creating
it over an existing cluster or SQLite file adopts the data.

A new cluster is a copy of a template cluster, made once per PostgreSQL version and OS user with ``initdb``
(seconds) and cached (``MBOPS_POSTGRES_TEMPLATES``: the folder, default ``/var/lib/mbops/postgres/templates`` as
root, else ``~/.cache/mbops/postgres-templates``; ``off``: run ``initdb`` for every cluster). The copies share
the template's system identifier, which matters only to replication tools.

Interruptions: a cluster is written into ``data.init`` (by ``initdb`` or the copy) and the folder becomes
``data`` only when it is complete, so a killed run never leaves a cluster that looks real (the next create
starts it over; ``refresh`` reports it). The server's pid and start time are recorded: a server whose data
directory was removed under it is stopped (by signal) before a new cluster takes its place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.base import MbopsComponent
from mbops.components.local import process
from mbops.components.local.provider import (
    LOOPBACK,
    LocalProvider,
    disk_used,
    free_port,
    port_answers,
    port_free,
    tail,
)
from mbops.components.spec import DatabaseSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError, DeployError
from mbops.host import (
    PostgresServer,
    chown_tree,
    cluster_root,
    postmaster,
    private_dir,
    remove_tree,
    same_process,
    stop_postgres_in,
    stop_postmaster,
)

APP_ROLE = "app"
TEMPLATES_ENV = "MBOPS_POSTGRES_TEMPLATES"
PG_USER_AS_ROOT = "mbops"
PG_ROOT_AS_ROOT = Path("/var/lib/mbops/postgres")
MODE_ENV = "MBOPS_LOCAL_DATABASE"


@dataclass(frozen=True)
class Postgres:
    bin_dir: Path
    version: str


@cache
def find_postgres() -> Postgres | None:
    """The newest installed PostgreSQL server (Debian's versioned folders first, then PATH)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path))
    for initdb in candidates:
        bin_dir = initdb.parent
        if not (bin_dir / "pg_ctl").exists() or not (bin_dir / "postgres").exists():
            continue
        try:
            out = subprocess.run(
                [str(bin_dir / "postgres"), "-V"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
        if match:
            return Postgres(bin_dir=bin_dir, version=match.group(1))
    return None


def database_mode() -> tuple[Postgres | None, str]:
    """(PostgreSQL to use or None, why SQLite) from ``MBOPS_LOCAL_DATABASE`` and what is installed."""
    mode = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "postgres", "sqlite"):
        raise ConfigError(f"{MODE_ENV}={mode!r}: allowed values are auto, postgres, sqlite")
    if mode == "sqlite":
        return None, f"{MODE_ENV}=sqlite"
    found = find_postgres()
    if found is None and mode == "postgres":
        raise ConfigError(
            f"{MODE_ENV}=postgres but PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin "
            "or on "
            "PATH); install it (Debian/Ubuntu: apt-get install postgresql) or unset the variable"
        )
    return found, "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH)"


def cluster_dir(stack_dir: Path, stack: str) -> tuple[Path, str]:
    """Where the stack's cluster lives and which OS user runs it (see the module docstring)."""
    root = cluster_root(stack_dir.parent, stack)
    if os.geteuid() == 0:
        return root, PG_USER_AS_ROOT
    import pwd

    return root, pwd.getpwuid(os.geteuid()).pw_name


# -- PostgreSQL ----------------------------------------------------------------------------------------------

INITDB_OPTIONS = (
    "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions",
)  # fmt: skip


def template_root() -> Path | None:
    """Where template clusters are cached (see the module docstring); None when turned off."""
    raw = os.environ.get(TEMPLATES_ENV, "").strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser().resolve()
    if os.geteuid() == 0:
        return PG_ROOT_AS_ROOT / "templates"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mbops" / "postgres-templates"



class PostgresProvider(LocalProvider):
    """A PostgreSQL cluster: initdb once, pg_ctl start/stop, an app role and database."""

    required = ("cluster_dir", "bin_dir", "version", "os_user", "database_name")
    optional = ("preferred_port",)
    record_keys = ("delete_data",)
    computed = (
        "host", "port", "user", "password", "url", "data_dir", "socket_dir", "log_file", "pid", "start_time",
        "status",
    )  # fmt: skip
    secret_outputs = ("password", "url")
    replace_keys = ("cluster_dir", "os_user")
    quiet_keys = ("bin_dir",)
    path_keys = ("cluster_dir", "data_dir", "socket_dir", "log_file")
    healthy_status = "running"

    # paths --------------------------------------------------------------------------------------------------
    @staticmethod
    def _paths(props: dict[str, Any]) -> tuple[Path, Path, Path]:
        root = Path(props["cluster_dir"])
        return root / "data", root / "run", root / "postgres.log"

    def _bin(self, props: dict[str, Any], tool: str) -> str:
        return str(Path(props["bin_dir"]) / tool)

    # lifecycle ----------------------------------------------------------------------------------------------
    def create(self, props: dict[str, Any]) -> CreateResult:
        password = secrets.token_hex(24)
        self._prepare(props)
        self._stop(props)  # adopting a cluster whose server still runs (e.g. after its state was lost)
        port = self._start(props, free_port(props.get("preferred_port")))
        self._ensure_role_and_database(props, port, password)
        return CreateResult(id_=str(props["cluster_dir"]), outs=self._outs(props, port, password))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.recording_only(olds, news):
            return self.recorded(olds, news)
        data, _, _ = self._paths(news)
        rebuilt = not (data / "PG_VERSION").exists()
        if rebuilt:  # removed, maybe under a running server: stop it and start over
            self._stop(olds)
            self._prepare(news)
        on_disk = (
            (data / "PG_VERSION").read_text().strip() if (data / "PG_VERSION").exists() else news["version"]
        )
        if on_disk != str(news["version"]):
            raise DeployError(
                f"the cluster in {data} was made by PostgreSQL {on_disk} and the installed server is "
                f"{news['version']}: upgrade it with pg_upgrade (data is never converted implicitly)"
            )
        port = olds.get("port")
        if news.get("preferred_port") != olds.get("preferred_port"):
            self._stop(olds)
            port = None
        if self._running(news) and port and port_answers(port):
            pass
        else:
            self._stop(news)
            wanted = news.get("preferred_port") or (port if port and port_free(int(port)) else None)
            port = self._start(news, free_port(wanted))
        # A new cluster is a new database: new credentials, so what uses it (the app) restarts against it.
        password = secrets.token_hex(24) if rebuilt else olds.get("password") or secrets.token_hex(24)
        self._ensure_role_and_database(news, int(port), password)
        return UpdateResult(outs=self._outs(news, int(port), password))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # The data is about to go: no need for the shutdown checkpoint of a clean (fast) stop.
        self._stop(props, mode="immediate" if props.get("delete_data") else "fast")
        if props.get("delete_data"):
            stop_postgres_in(props["cluster_dir"])  # e.g. the bootstrap server of an interrupted initdb
            remove_tree(props["cluster_dir"])

    def problems(self, outs: dict[str, Any]) -> list[str]:
        data, _, _ = self._paths(outs)
        if not (data / "PG_VERSION").exists():
            orphan = self._orphan(outs)
            still = f" (its server, pid {orphan.pid}, still runs: it will be stopped)" if orphan else ""
            return [f"data directory {data} is missing{still}"]
        if not self._running(outs):
            return ["the PostgreSQL server is not running"]
        if not port_answers(outs.get("port")):
            return [f"nothing answers on port {outs.get('port')}"]
        return []

    def gone(self, outs: dict[str, Any]) -> bool:
        """No cluster left, and no server of it still running (that one must be stopped by an update)."""
        data, _, _ = self._paths(outs)
        return not (data / "PG_VERSION").exists() and self._orphan(outs) is None

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        """Running and accepting connections on its port, and the disk its data uses."""
        found = super().probe(outs)
        data, _, _ = self._paths(outs)
        return {**found, "port": outs.get("port"), "disk_bytes": disk_used(data)}

    def data_paths(self, outs: dict[str, Any]) -> list[str]:
        return [] if outs.get("delete_data") else [str(outs["cluster_dir"])]

    def leftovers(self, inputs: dict[str, Any]) -> list[str]:
        data, _, _ = self._paths(inputs)
        found = []
        if (data.parent / "data.init").exists():
            found.append(f"a half-built cluster in {data.parent / 'data.init'} (initdb did not finish)")
        elif data.is_dir() and not (data / "PG_VERSION").exists():
            found.append(f"an empty data directory {data}")
        server = postmaster(data)
        if server:
            found.append(f"PostgreSQL (pid {server[0]}) runs on {data}")
        return found

    # steps --------------------------------------------------------------------------------------------------
    def _prepare(self, props: dict[str, Any]) -> None:
        user = props["os_user"]
        root = Path(props["cluster_dir"])
        if os.geteuid() == 0:
            process.ensure_system_user(user)
        data, run, _ = self._paths(props)
        for folder in (root, run):
            private_dir(folder, owner=user)
        if (data / "PG_VERSION").exists():
            return
        # initdb into a folder of its own, renamed when complete: a killed initdb leaves no half cluster behind
        # under the real name (and the next create starts it over).
        building = root / "data.init"
        stop_postgres_in(building)  # an interrupted initdb's bootstrap server may still write there
        remove_tree(building)
        if data.is_dir() and not any(data.iterdir()):
            data.rmdir()  # an empty data folder (made by an older mbops before initdb ran)
        if data.exists():
            raise DeployError(
                f"{data} exists but holds no PostgreSQL cluster (no PG_VERSION): move it away, or remove the "
                f"stack's data with `mbops destroy --delete-data`"
            )
        private_dir(building, owner=user)
        template = self._template(props)
        if template is None:
            self._initdb(props, building)
        else:
            process.run(["cp", "-a", f"{template}/.", str(building)], what="copying the template cluster")
            os.sync()  # on disk before it becomes the cluster
        os.rename(building, data)

    def _initdb(self, props: dict[str, Any], folder: Path) -> None:
        user = props["os_user"]
        process.run(
            [self._bin(props, "initdb"), "-D", str(folder), "-U", user, *INITDB_OPTIONS], user=user, what="initdb",
            timeout=180,
        )  # fmt: skip

    def _template(self, props: dict[str, Any]) -> Path | None:
        """The cached template cluster of this version and OS user (made with initdb on first use), or None."""
        base = template_root()
        if base is None:
            return None
        user = props["os_user"]
        digest = hashlib.sha256(" ".join(INITDB_OPTIONS).encode()).hexdigest()[:8]
        template = base / f"{props['version']}-{user}-{digest}"
        if (template / "PG_VERSION").exists():
            return template
        private_dir(base)
        if os.geteuid() == 0:
            os.chmod(base, 0o711)  # the cluster's user enters it (to run initdb), nobody lists it
        with open(base / f".{template.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one initdb at a time; the others wait and copy its result
            if not (template / "PG_VERSION").exists():
                building = base / f"{template.name}.init"
                stop_postgres_in(building)
                remove_tree(building)
                private_dir(building, owner=user)
                self._initdb(props, building)
                os.rename(building, template)
        return template

    def _start(self, props: dict[str, Any], port: int) -> int:
        data, run, log = self._paths(props)
        options = f"-p {port} -c listen_addresses={LOOPBACK} -c unix_socket_directories={run}"
        try:
            process.run(
                [self._bin(props, "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options,
                 "start"],
                user=props["os_user"], what="pg_ctl start", timeout=90,
            )  # fmt: skip
        except DeployError as exc:
            raise DeployError(f"{exc}\nlast lines of {log}:\n{tail(log)}") from None
        return port

    def _stop(self, props: dict[str, Any], mode: str = "fast") -> None:
        data, _, _ = self._paths(props)
        if self._running(props):
            process.run(
                [self._bin(props, "pg_ctl"), "-D", str(data), "-m", mode, "-w", "-t", "60", "stop"],
                user=props["os_user"], what="pg_ctl stop", timeout=90,
            )  # fmt: skip
        orphan = self._orphan(props)
        if orphan:  # its data directory was removed under it: pg_ctl cannot reach it, a signal can
            stop_postmaster(orphan.pid, orphan.start_time)

    def _running(self, props: dict[str, Any]) -> bool:
        data, _, _ = self._paths(props)
        return postmaster(data) is not None

    @staticmethod
    def _orphan(props: dict[str, Any]) -> PostgresServer | None:
        """The recorded server when it still runs although its data directory is gone (no postmaster.pid)."""
        pid, started = props.get("pid"), props.get("start_time")
        if not pid or started is None or not same_process(int(pid), int(started)):
            return None
        data, _, _ = PostgresProvider._paths(props)
        return None if postmaster(data) else PostgresServer(int(pid), int(started))

    def _ensure_role_and_database(self, props: dict[str, Any], port: int, password: str) -> None:
        _, run, _ = self._paths(props)
        name = props["database_name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name) or not re.fullmatch(r"[0-9a-f]+", password):
            raise DeployError(f"database name '{name}' or the generated password has unexpected characters")
        sql = f"""
SELECT format('CREATE ROLE %I LOGIN', '{APP_ROLE}')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') \\gexec
ALTER ROLE {APP_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}';
SELECT format('CREATE DATABASE %I OWNER %I', '{name}', '{APP_ROLE}')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{name}') \\gexec
REVOKE ALL ON DATABASE {name} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {APP_ROLE};
"""
        process.run(
            [self._bin(props, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(run), "-p", str(port),
             "-U", props["os_user"], "-d", "postgres", "-f", "-"],
            user=props["os_user"], stdin=sql, what="setting up the app role and database",
        )  # fmt: skip

    def _outs(self, props: dict[str, Any], port: int, password: str) -> dict[str, Any]:
        data, run, log = self._paths(props)
        server = postmaster(data)
        pid, started = server if server else (0, None)
        return {
            **props,
            "host": LOOPBACK,
            "port": port,
            "user": APP_ROLE,
            "password": password,
            "url": f"postgresql://{APP_ROLE}:{password}@{LOOPBACK}:{port}/{props['database_name']}",
            "data_dir": str(data),
            "socket_dir": str(run),
            "log_file": str(log),
            "pid": pid,
            "start_time": started,
            "status": self.healthy_status,
        }


class PostgresCluster(Resource, module="mbops", name="PostgresCluster"):
    """A local PostgreSQL cluster (see PostgresProvider)."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    url: pulumi.Output[str]
    data_dir: pulumi.Output[str]
    log_file: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        outputs = dict.fromkeys(PostgresProvider.computed)
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=list(PostgresProvider.secret_outputs))
        )
        super().__init__(PostgresProvider(), name, {**props, **outputs}, opts)


# -- SQLite --------------------------------------------------------------------------------------------------


SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


class SqliteProvider(LocalProvider):
    """A SQLite database file (0600 in a 0700 folder, both the app's user's as root); an existing file is
    adopted, never truncated; a new path moves the file (and its journal) there."""

    required = ("path",)
    optional = ("table", "owner")
    record_keys = ("delete_data",)
    computed = ("url", "status")
    secret_outputs = ()
    replace_keys = ()
    path_keys = ("path",)
    healthy_status = "present"

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._make(props)
        return CreateResult(id_=str(props["path"]), outs=self._outs(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.recording_only(olds, news):
            return self.recorded(olds, news)
        old, new = Path(olds["path"]), Path(news["path"])
        if old != new and old.is_file() and not new.exists():
            private_dir(new.parent, owner=news.get("owner"))
            for suffix in SQLITE_SUFFIXES:
                if Path(f"{old}{suffix}").exists():
                    shutil.move(f"{old}{suffix}", f"{new}{suffix}")
        self._make(news)
        return UpdateResult(outs=self._outs(news))

    @staticmethod
    def _make(props: dict[str, Any]) -> None:
        path = Path(props["path"])
        owner = props.get("owner")
        private_dir(path.parent, owner=owner)
        try:
            sqlite3.connect(path).close()
        except sqlite3.Error as exc:
            raise DeployError(f"cannot create the SQLite database {path}: {exc}") from None
        os.chmod(path, 0o600)
        if owner:
            chown_tree(path.parent, owner)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("delete_data"):
            for suffix in SQLITE_SUFFIXES:
                remove_tree(f"{props['path']}{suffix}")

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        """The file is there and answers a query; its size."""
        found = super().probe(outs)
        if found["state"] == "up":
            try:
                with contextlib.closing(sqlite3.connect(f"file:{outs['path']}?mode=ro", uri=True)) as db:
                    db.execute("SELECT 1").fetchone()
            except sqlite3.Error as exc:
                found = {"state": "down", "detail": f"{outs['path']}: {exc}"}
        return {**found, "disk_bytes": disk_used(outs["path"])}

    def problems(self, outs: dict[str, Any]) -> list[str]:
        return [] if Path(outs["path"]).is_file() else [f"database file {outs['path']} is missing"]

    def gone(self, outs: dict[str, Any]) -> bool:
        return not Path(outs["path"]).is_file()

    def data_paths(self, outs: dict[str, Any]) -> list[str]:
        return [] if outs.get("delete_data") else [str(outs["path"])]

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        return {
            **props,
            "url": f"sqlite:///{Path(props['path']).as_posix().lstrip('/')}",
            "status": "present",
        }


class SqliteFile(Resource, module="mbops", name="SqliteFile"):
    """A local SQLite database file (see SqliteProvider)."""

    url: pulumi.Output[str]
    path: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SqliteProvider(), name, {**props, **dict.fromkeys(SqliteProvider.computed)}, opts)


# -- the component -------------------------------------------------------------------------------------------


def release(released: bool) -> dict[str, bool]:
    """The ``delete_data`` input of a data resource in a stack released for deletion (else nothing)."""
    return {"delete_data": True} if released else {}


@dataclass(kw_only=True)
class DatabaseArgs:
    spec: DatabaseSpec = field(default_factory=DatabaseSpec)
    stack: str
    stack_dir: Path
    sqlite_path: Path | None = None  # default: <stack_dir>/sqlite/database.sqlite
    owner: str | None = None  # the app's OS user, who writes the SQLite file (as root)
    release_data: bool = False  # the data goes with a later delete, whichever engine deletes
    tags: dict[str, str] = field(default_factory=dict)


class Database(MbopsComponent):
    """The stack's database on this machine. Children: ``cluster`` (PostgreSQL) or ``sqlite``.

    Outputs: ``url`` (secret), ``host``, ``port`` (PostgreSQL), ``name``, ``engine``, ``data_dir``.
    """

    kind = "database"
    engines: ClassVar[tuple[str, ...]] = ("postgresql", "sqlite")

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        postgres, why = database_mode()
        self.cluster: PostgresCluster | None = None
        self.sqlite: SqliteFile | None = None
        if postgres is not None:
            root, user = cluster_dir(args.stack_dir, args.stack)
            if postgres.version != args.spec.engine_version:
                pulumi.log.info(
                    f"database: the stack asks for PostgreSQL {args.spec.engine_version}; this machine runs "
                    f"the installed PostgreSQL {postgres.version}"
                )
            self.cluster = PostgresCluster(
                f"{name}-cluster",
                self.args("cluster", cluster_dir=str(root), bin_dir=str(postgres.bin_dir),
                          version=postgres.version, os_user=user, database_name=args.spec.database_name,
                          **release(args.release_data)),
                opts=self.opts(),
            )  # fmt: skip
            self.engine = "postgresql"
            self.url = pulumi.Output.secret(self.cluster.url)
            self.host = self.cluster.host
            self.port: pulumi.Output[int] | None = self.cluster.port
            self.data_dir = pulumi.Output.from_input(str(root))
        else:
            path = args.sqlite_path or args.stack_dir / "sqlite" / "database.sqlite"
            pulumi.log.warn(
                f"database: using a SQLite file ({path}) instead of PostgreSQL: {why}. Install PostgreSQL "
                f"(Debian/Ubuntu: apt-get install postgresql) for a real cluster."
            )
            self.sqlite = SqliteFile(
                f"{name}-sqlite", self.args("sqlite", path=str(path), owner=args.owner, **release(args.release_data)),
                opts=self.opts(),
            )  # fmt: skip
            self.engine = "sqlite"
            self.url = pulumi.Output.secret(self.sqlite.url)
            self.host = self.sqlite.path
            self.port = None
            self.data_dir = pulumi.Output.from_input(str(path))
        self.finish({
            "url": self.url, "host": self.host, "port": self.port, "name": args.spec.database_name,
            "engine": self.engine, "data_dir": self.data_dir,
        })  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """A PostgreSQL cluster (or a SQLite file); the app gets ``DATABASE_URL`` from the secrets file."""
    local = ctx.foundation
    db = Database(
        ctx.name, DatabaseArgs(spec=ctx.spec, stack=ctx.stack.name, stack_dir=local.folder,
                               sqlite_path=local.sqlite_dir / "database.sqlite", owner=local.app_user,
                               release_data=ctx.stack.release_data, tags=dict(ctx.stack.tags)),
    )  # fmt: skip
    outputs = {
        "database_host": db.host, "database_name": ctx.spec.database_name, "database_engine": db.engine,
        "database_url": db.url, "database_data_dir": db.data_dir,
    }  # fmt: skip
    if db.port is not None:
        outputs["database_port"] = db.port
    return Built(component=db, secrets={"DATABASE_URL": db.url}, outputs=outputs)
