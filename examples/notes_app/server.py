"""Wire configuration, database, storage and cache into an HTTP server and run it until SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from . import __version__
from .cache import NoteCache
from .config import Config, ConfigError, load_config
from .db import Database, DatabaseUnavailable
from .handler import AppState, NotesServer
from .storage import FileStorage


def build_server(config: Config) -> NotesServer:
    """Create the schema and storage directory, then bind the server (not yet serving)."""
    database = Database(config)
    database.create_schema()
    try:
        storage = FileStorage(config.storage_dir) if config.storage_dir else None
    except OSError as exc:
        raise ConfigError(f"STORAGE_URL directory {config.storage_dir} is not usable: {exc}") from exc
    state = AppState(config=config, db=database, storage=storage, cache=NoteCache(config.redis_url))
    return NotesServer((config.host, config.port), state)


def main() -> int:
    """Run the app; return the process exit code (0 after SIGTERM/SIGINT, 1-2 on startup errors)."""
    try:
        config = load_config()
    except ConfigError as exc:
        for problem in str(exc).splitlines():
            print(f"notes_app: configuration error: {problem}", file=sys.stderr)
        return 2
    try:
        server = build_server(config)
    except ConfigError as exc:
        print(f"notes_app: configuration error: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(f"notes_app: cannot use the {config.database_kind} database: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"notes_app: cannot start on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1

    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever() returns, so it must not run on the serving thread.
        if not stopping.is_set():
            stopping.set()
            print(f"notes_app: received {signal.Signals(signum).name}, shutting down", flush=True)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = server.state
    print(
        f"notes_app {__version__} listening on http://{config.host}:{config.port} "
        f"(database={config.database_kind}, storage={'file' if state.storage else 'disabled'}, "
        f"cache={state.cache.status()})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("notes_app: stopped", flush=True)
    return 0
