"""HTTP routing and request handling for the notes API (JSON in, JSON out)."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import __version__
from .cache import NoteCache
from .config import Config
from .db import Database, DatabaseUnavailable
from .storage import FileStorage, IncompleteUpload, InvalidName, check_name
from .validation import ValidationError, parse_limit, parse_note, parse_note_id

NOTE_REQUEST_MAX = 1024 * 1024  # JSON of a 100 000-character body fits comfortably.
FILE_MAX = 10 * 1024 * 1024
DRAIN_MAX = 3 * FILE_MAX  # Unread bodies up to this size are discarded so clients can read the error.
CHUNK_SIZE = 64 * 1024

_log_lock = threading.Lock()


@dataclass(frozen=True)
class AppState:
    """Everything a request handler needs, shared by all threads."""

    config: Config
    db: Database
    storage: FileStorage | None
    cache: NoteCache


class ApiError(Exception):
    """An error answered as ``{"error": message[, "field": field]}`` with ``status``."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


class NotesServer(ThreadingHTTPServer):
    """Threading HTTP server carrying the shared :class:`AppState`; waits for requests on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], state: AppState) -> None:
        super().__init__(address, NotesHandler)
        self.state = state


# (path pattern, {method: handler method name}); patterns must match the whole path.
ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"/"), {"GET": "index"}),
    (re.compile(r"/healthz"), {"GET": "healthz"}),
    (re.compile(r"/notes"), {"GET": "list_notes", "POST": "create_note"}),
    (re.compile(r"/notes/(?P<note_id>[^/]+)"), {"GET": "get_note", "DELETE": "delete_note"}),
    (re.compile(r"/files"), {"GET": "list_files"}),
    (re.compile(r"/files/(?P<name>.+)"), {"GET": "get_file", "PUT": "put_file"}),
]


class NotesHandler(BaseHTTPRequestHandler):
    """One request: route it, run it, answer it, log one line to stdout."""

    server: NotesServer
    server_version = f"notes_app/{__version__}"
    sys_version = ""
    timeout = 30  # seconds of socket inactivity before a slow client is dropped

    _status = 0
    _size = 0
    _body_read = False

    # ---- plumbing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """Handle every method the same way: through the route table."""
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    @property
    def state(self) -> AppState:
        """Shared application state."""
        return self.server.state

    def _dispatch(self) -> None:
        started = time.monotonic()
        self._status, self._size, self._body_read = 0, 0, False
        try:
            url = urlsplit(self.path)
            action, params = self._route(url.path)
            action(query=parse_qs(url.query), **params)
        except ApiError as exc:
            self._fail(exc)
        except ValidationError as exc:
            self._fail(ApiError(400, str(exc), exc.field))
        except DatabaseUnavailable as exc:
            self.log_message("database unavailable: %s", exc)
            self._fail(ApiError(503, "database unavailable"))
        except Exception:
            traceback.print_exc(file=sys.stderr)
            if self._status:
                self.close_connection = True
            else:
                self._fail(ApiError(500, "internal server error"))
        finally:
            self._log(started)

    def _route(self, path: str) -> tuple[Callable[..., None], dict[str, str]]:
        for pattern, methods in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            name = methods.get(self.command)
            if name is None:
                allowed = ", ".join(methods)
                raise ApiError(
                    405,
                    f"method {self.command} not allowed on {path}; use {allowed}",
                    headers={"Allow": allowed},
                )
            return getattr(self, "_" + name), match.groupdict()
        raise ApiError(404, f"no such resource: {path}")

    def _fail(self, exc: ApiError) -> None:
        self._discard_body()
        payload: dict[str, Any] = {"error": exc.message}
        if exc.field:
            payload["field"] = exc.field
        self._send_json(exc.status, payload, exc.headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if status != HTTPStatus.NO_CONTENT:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and status != HTTPStatus.NO_CONTENT:
            self.wfile.write(body)
            self._size = len(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Record the status for the request log, then send it."""
        self._status = code
        super().send_response(code, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer errors raised by http.server itself (malformed request, unknown method) as JSON."""
        self.close_connection = True
        self._body_read = True
        self._send_json(code, {"error": message or HTTPStatus(code).phrase})
        self._log(None)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default per-response log; :meth:`_log` writes one line per request instead."""

    def _log(self, started: float | None) -> None:
        elapsed = f" {(time.monotonic() - started) * 1000:.1f}ms" if started is not None else ""
        line = (
            f'{self.address_string()} - [{self.log_date_time_string()}] "{self.requestline}" '
            f"{self._status} {self._size}{elapsed}\n"
        )
        with _log_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    # ---- request bodies -------------------------------------------------------------------------

    def _content_length(self, limit: int) -> int:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ApiError(411, "chunked request bodies are not supported; send Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise ApiError(411, "a Content-Length header is required")
        if not (raw.isascii() and raw.isdigit()):
            raise ApiError(400, f"invalid Content-Length: {raw!r}")
        length = int(raw)
        if length > limit:
            raise ApiError(413, f"request body too large: {length} bytes, the limit is {limit}")
        return length

    def _read_body(self, limit: int) -> bytes:
        length = self._content_length(limit)
        self._body_read = True
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise ApiError(400, f"incomplete request body: expected {length} bytes, got {len(body)}")
        return body

    def _discard_body(self) -> None:
        """Read and drop an unread request body so the client sees our answer instead of a reset."""
        if self._body_read:
            return
        self._body_read = True
        raw = self.headers.get("Content-Length", "") if self.headers else ""
        if not (raw.isascii() and raw.isdigit()):
            return
        remaining = int(raw)
        if remaining > DRAIN_MAX:
            self.close_connection = True
            return
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            self.close_connection = True

    # ---- endpoints ------------------------------------------------------------------------------

    def _index(self, query: dict[str, list[str]]) -> None:
        self._send_json(200, {"app": "notes", "greeting": self.state.config.greeting, "version": __version__})

    def _healthz(self, query: dict[str, list[str]]) -> None:
        database_ok = self.state.db.ping()
        self._send_json(
            200 if database_ok else 503,
            {
                "status": "ok" if database_ok else "unavailable",
                "database": self.state.db.kind,
                "storage": "file" if self.state.storage else "disabled",
                "cache": self.state.cache.status(),
            },
        )

    def _list_notes(self, query: dict[str, list[str]]) -> None:
        limit = parse_limit(query.get("limit"))
        self._send_json(200, {"notes": self.state.db.list_notes(limit)})

    def _create_note(self, query: dict[str, list[str]]) -> None:
        title, body = parse_note(self._read_body(NOTE_REQUEST_MAX))
        note = self.state.db.insert_note(title, body)
        self._send_json(201, note, {"Location": f"/notes/{note['id']}"})

    def _note_id(self, raw: str) -> int:
        note_id = parse_note_id(raw)
        if note_id is None:
            raise ApiError(404, f"note {raw!r} not found")
        return note_id

    def _get_note(self, query: dict[str, list[str]], note_id: str) -> None:
        key = self._note_id(note_id)
        cache = self.state.cache
        cached = cache.get(key)
        if cached is not None:
            self._send(200, cached, "application/json", {"X-Cache": "hit"})
            return
        note = self.state.db.get_note(key)
        if note is None:
            raise ApiError(404, f"note {key} not found")
        payload = json.dumps(note).encode("utf-8")
        cache.put(key, payload)
        self._send(200, payload, "application/json", {"X-Cache": "miss"} if cache.enabled else None)

    def _delete_note(self, query: dict[str, list[str]], note_id: str) -> None:
        key = self._note_id(note_id)
        if not self.state.db.delete_note(key):
            raise ApiError(404, f"note {key} not found")
        self.state.cache.forget(key)
        self._send(204, b"", "application/json")

    def _storage(self) -> FileStorage:
        if self.state.storage is None:
            raise ApiError(503, "file storage is not configured: set STORAGE_URL=file:///absolute/dir")
        return self.state.storage

    @staticmethod
    def _file_name(name: str) -> str:
        try:
            return check_name(name)
        except InvalidName as exc:
            raise ApiError(400, str(exc), "name") from None

    def _list_files(self, query: dict[str, list[str]]) -> None:
        self._send_json(200, {"files": self._storage().list()})

    def _put_file(self, query: dict[str, list[str]], name: str) -> None:
        storage = self._storage()
        name = self._file_name(name)
        length = self._content_length(FILE_MAX)
        self._body_read = True
        try:
            saved = storage.save(name, self.rfile, length)
        except IncompleteUpload as exc:
            self.close_connection = True
            raise ApiError(400, f"incomplete upload: {exc}") from None
        self._send_json(201, saved, {"Location": f"/files/{name}"})

    def _get_file(self, query: dict[str, list[str]], name: str) -> None:
        src = self._storage().open(self._file_name(name))
        if src is None:
            raise ApiError(404, f"file {name!r} not found")
        with src:
            size = os.fstat(src.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command == "HEAD":
                return
            while chunk := src.read(CHUNK_SIZE):
                self.wfile.write(chunk)
                self._size += len(chunk)
