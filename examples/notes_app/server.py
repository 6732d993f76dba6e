"""Wire configuration, database, storage and cache into the app and serve it with uvicorn until SIGTERM.

Startup problems end the process before it listens, with one line on stderr: exit 2 for configuration, 1 for
an unusable database, file store, secret store, address or a missing cloud SDK. SIGTERM (or SIGINT) stops it
gracefully: no new connections, requests in flight get up to :data:`GRACEFUL_SECONDS` to finish, then exit 0.
"""

from __future__ import annotations

import copy
import logging
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from . import __version__, aws
from .app import AppState, Storage, create_app
from .cache import NoteCache
from .config import Config, ConfigError, StorageTarget, load_config
from .db import Database, DatabaseUnavailable
from .documents import NoteStore, open_store
from .errors import one_line
from .storage import FileStorage, StorageUnavailable

# azure-identity logs each credential it tried, over many lines, when none gives a token; the error it raises
# says the same and reaches the log (or stderr, at start) as one line.
logging.getLogger("azure.identity").setLevel(logging.ERROR)

# Which requirements file brings the SDK a backend needs (the image installs them by its CLOUDS build argument).
SDK_REQUIREMENTS = {"boto3": "aws", "botocore": "aws", "google": "gcp", "azure": "azure"}

BACKLOG = 2048  # pending connections the kernel queues (capped by net.core.somaxconn)
GRACEFUL_SECONDS = 8  # Cloud Run and ECS kill 10 s / 30 s after SIGTERM; finish before that
KEEP_ALIVE_SECONDS = 75  # longer than load balancers' idle timeouts (ALB 60 s), so they never reuse a closed one


def open_storage(target: StorageTarget | None) -> Storage | None:
    """The file store ``target`` names (a cloud's SDK is imported only for its own backend)."""
    if target is None:
        return None
    if target.kind == "file":
        try:
            return FileStorage(target.path)
        except OSError as exc:
            raise ConfigError(f"STORAGE_URL directory {target.path} is not usable: {exc}") from exc
    from . import cloud_storage

    kinds: dict[str, Callable[[str], Storage]] = {
        "s3": cloud_storage.S3Storage, "gcs": cloud_storage.GcsStorage, "azure-blob": cloud_storage.AzureBlobStorage,
    }  # fmt: skip
    try:
        return kinds[target.kind](target.location)
    except ImportError:
        raise
    except Exception as exc:  # the SDK refused its settings (e.g. no credentials found): say so in one line
        raise StorageUnavailable(f"{target.kind} {target.location}: {one_line(exc)}") from exc


def build_state(config: Config, stopping: Callable[[], bool] = lambda: False) -> AppState:
    """Open the notes store (creating the SQL schema) and the file store; raise ConfigError / DatabaseUnavailable
    when unusable."""
    store: NoteStore
    if config.documents is not None:
        store = open_store(config.documents)
    else:
        store = Database(config)
    store.prepare()
    storage = open_storage(config.storage)
    cache = NoteCache(config.redis_url, config.redis_ca_cert)
    return AppState(config=config, db=store, storage=storage, cache=cache, stopping=stopping)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6, ``::`` also accepts IPv4)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    dualstack = family == socket.AF_INET6 and host in ("::", "[::]") and socket.has_dualstack_ipv6()
    return socket.create_server((host, port), family=family, backlog=BACKLOG, dualstack_ipv6=dualstack)


def log_config(level: str) -> dict[str, object]:
    """uvicorn's logging (access lines on stdout, the rest on stderr) with timestamps and without colours."""
    config = copy.deepcopy(LOGGING_CONFIG)
    for formatter in config["formatters"].values():
        formatter["use_colors"] = False
        formatter["fmt"] = "%(asctime)s " + formatter["fmt"]
    config["loggers"]["notes_app"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def main() -> int:
    """Run the app; return the process exit code (0 after SIGTERM/SIGINT, 1-2 on startup errors)."""
    try:
        aws.resolve()
    except aws.SecretError as exc:
        kind = "configuration error" if exc.config else "cannot read the app's secrets"
        print(f"notes_app: {kind}: {exc}", file=sys.stderr)
        return 2 if exc.config else 1
    try:
        config = load_config()
    except ConfigError as exc:
        for problem in str(exc).splitlines():
            print(f"notes_app: configuration error: {problem}", file=sys.stderr)
        return 2
    server: uvicorn.Server | None = None  # made below; the app asks it whether a shutdown has begun
    try:
        state = build_state(config, stopping=lambda: server is not None and server.should_exit)
    except ConfigError as exc:
        print(f"notes_app: configuration error: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(f"notes_app: cannot use the {config.notes_kind} database: {exc}", file=sys.stderr)
        return 1
    except StorageUnavailable as exc:
        print(f"notes_app: cannot use the file storage: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        package = (exc.name or "?").split(".")[0]
        cloud = SDK_REQUIREMENTS.get(package)
        if cloud is None:
            raise
        print(
            f"notes_app: the {cloud} SDK ({exc.name}) is not installed: pip install -r requirements-{cloud}.txt "
            f"(the image: docker build --build-arg CLOUDS={cloud} ...)",
            file=sys.stderr,
        )
        return 1
    try:
        sock = listen(config.host, config.port)
    except OSError as exc:
        print(f"notes_app: cannot start on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(state),
            lifespan="off",
            http="h11",
            loop="asyncio",
            backlog=BACKLOG,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            log_config=log_config(config.log_level),
            log_level=config.log_level,
            server_header=False,
        )
    )
    stop_signals: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        # uvicorn installs its own handlers while it serves; after a graceful shutdown it restores these and
        # raises the signal again, which lands here instead of killing the process: the exit code stays 0.
        stop_signals.append(signum)
        assert server is not None
        server.should_exit = True  # a signal before uvicorn took over must stop it too

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"notes_app {__version__} listening on http://{config.host}:{config.port} "
        f"(database={state.db.kind}, storage={state.storage.kind if state.storage else 'disabled'}, "
        f"cache={state.cache.status()})",
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        state.db.close()
    reason = f" after {signal.Signals(stop_signals[0]).name}" if stop_signals else ""
    print(f"notes_app: stopped{reason}", flush=True)
    return 0
