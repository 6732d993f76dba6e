"""The notes API as an ASGI application (Starlette): routes, endpoints and JSON errors.

Every answer is JSON except file downloads. Each route is an ``HTTPEndpoint``: HEAD works wherever GET does,
and any other method is a 405 naming the allowed ones in ``Allow``. Blocking work (SQL, Redis, the file system)
runs in Starlette's thread pool; request bodies are read on the event loop with the limits of :mod:`.body`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import __version__
from .body import body_chunks, discard_body, read_body, require_json
from .cache import NoteCache
from .config import Config
from .db import DatabaseUnavailable
from .documents import NoteStore
from .errors import ApiError, ClientGone
from .storage import FileStorage, InvalidName, StorageUnavailable, check_name
from .validation import ValidationError, parse_limit, parse_note, parse_note_id

if TYPE_CHECKING:
    from .cloud_storage import ObjectStorage

Storage = Union[FileStorage, "ObjectStorage"]

NOTE_REQUEST_MAX = 1024 * 1024  # JSON of a 100 000-character body fits comfortably.
FILE_MAX = 10 * 1024 * 1024

log = logging.getLogger("notes_app")


@dataclass(frozen=True)
class AppState:
    """Everything the endpoints need, shared by all requests."""

    config: Config
    db: NoteStore
    storage: Storage | None
    cache: NoteCache
    stopping: Callable[[], bool] = lambda: False  # true once the server is shutting down


class Json(JSONResponse):
    """JSON in UTF-8; text that UTF-8 cannot carry (a lone surrogate echoed in an error) is escaped instead."""

    def render(self, content: Any) -> bytes:
        try:
            return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, separators=(",", ":")).encode("ascii")


def state_of(request: Request) -> AppState:
    """The :class:`AppState` of the app serving ``request``."""
    state: AppState = request.app.state.notes
    return state


def _note_id(raw: str) -> int:
    note_id = parse_note_id(raw)
    if note_id is None:
        raise ApiError(404, f"note {raw[:40]!r} not found")
    return note_id


def _file_name(request: Request) -> str:
    name: str = request.path_params["name"]
    if not name:
        raise ApiError(404, f"no such resource: {request.url.path}")
    try:
        return check_name(name)
    except InvalidName as exc:
        raise ApiError(400, str(exc), "name") from None


def _storage(request: Request) -> Storage:
    storage = state_of(request).storage
    if storage is None:
        raise ApiError(503, "file storage is not configured: set STORAGE_URL (file:///absolute/dir) or STORAGE_BUCKET")
    return storage


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) of a single ``Range: bytes=...`` over ``size`` (> 0) bytes.

    None means "send the whole file": several ranges (allowed by RFC 9110, which lets a server ignore Range).
    Answers as the local files do: 400 when malformed or reversed, 416 when it starts past the end.
    """
    units, equals, spec = header.partition("=")
    if not equals or units.strip().lower() != "bytes":
        raise ApiError(400, "Range must be bytes=first-last", "range")
    parts = [part.strip() for part in spec.split(",") if part.strip() not in ("", "-")]
    if len(parts) > 1:
        return None
    first, dash, last = parts[0].partition("-") if parts else ("", "", "")
    numbers = [x.strip() for x in (first, last) if x.strip()]
    if not dash or not numbers or not all(x.isascii() and x.isdigit() for x in numbers):
        raise ApiError(400, "Range must be bytes=first-last, bytes=first- or bytes=-suffix", "range")
    if first.strip():
        start = int(first)
        end = min(int(last), size - 1) if last.strip() else size - 1
        if last.strip() and int(last) < start:
            raise ApiError(400, "Range: the last byte is before the first", "range")
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size:
        past = f"Range starts past the end of the file ({size} bytes)"
        raise ApiError(416, past, "range", headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _object_response(request: Request, storage: ObjectStorage, name: str) -> Response:
    """A stored object (or the one range asked for) streamed from the cloud's object store."""
    info = storage.stat(name)
    if info is None:
        raise ApiError(404, f"file {name!r} not found")
    headers = {"Accept-Ranges": "bytes"}
    wanted = parse_range(request.headers["range"], info.size) if "range" in request.headers and info.size else None
    first, last = wanted or (0, info.size - 1)
    headers["Content-Length"] = str(last - first + 1)
    if wanted:
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    status = 206 if wanted else 200
    if request.method == "HEAD" or info.size == 0:
        return Response(None, status, headers, "application/octet-stream")
    return StreamingResponse(storage.read(name, info, first, last), status, headers, "application/octet-stream")


# ---- endpoints --------------------------------------------------------------------------------------------------


class Index(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        greeting = state_of(request).config.greeting
        return Json({"app": "notes", "greeting": greeting, "version": __version__})


class Health(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        state = state_of(request)
        database_ok = state.db.ping()
        return Json(
            {
                "status": "ok" if database_ok else "unavailable",
                "database": state.db.kind,
                "storage": state.storage.kind if state.storage else "disabled",
                "cache": state.cache.status(),
            },
            200 if database_ok else 503,
        )


class Notes(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        limit = parse_limit(request.query_params.getlist("limit"))
        return Json({"notes": state_of(request).db.list_notes(limit)})

    async def post(self, request: Request) -> Response:
        state = state_of(request)
        require_json(request)
        title, body = parse_note(await read_body(request, NOTE_REQUEST_MAX, state.config.body_timeout, state.stopping))
        note = await run_in_threadpool(state.db.insert_note, title, body)
        return Json(note, 201, headers={"Location": f"/notes/{note['id']}"})


class Note(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        state, key = state_of(request), _note_id(request.path_params["note_id"])
        cached = state.cache.get(key)
        if cached is not None:
            return Response(cached, 200, {"X-Cache": "hit"}, "application/json")
        note = state.db.get_note(key)
        if note is None:
            raise ApiError(404, f"note {key} not found")
        payload = Json(note).body
        state.cache.put(key, payload)
        return Response(payload, 200, {"X-Cache": "miss"} if state.cache.enabled else None, "application/json")

    def delete(self, request: Request) -> Response:
        state, key = state_of(request), _note_id(request.path_params["note_id"])
        if not state.db.delete_note(key):
            raise ApiError(404, f"note {key} not found")
        state.cache.forget(key)
        return Response(status_code=204)


class Files(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        return Json({"files": _storage(request).list()})


class File(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        name, storage = _file_name(request), _storage(request)
        if not isinstance(storage, FileStorage):
            return _object_response(request, storage, name)
        found = storage.stat(name)
        if found is None:
            raise ApiError(404, f"file {name!r} not found")
        path, stat = found
        return FileResponse(path, stat_result=stat, media_type="application/octet-stream")

    async def put(self, request: Request) -> Response:
        state, storage, name = state_of(request), _storage(request), _file_name(request)
        upload = await run_in_threadpool(storage.upload, name)
        try:
            async for chunk in body_chunks(request, FILE_MAX, state.config.body_timeout, state.stopping):
                await run_in_threadpool(upload.write, chunk)
            saved = await run_in_threadpool(upload.commit)
        except BaseException:
            upload.abort()
            raise
        return Json(saved, 201, headers={"Location": f"/files/{name}"})

    def delete(self, request: Request) -> Response:
        name = _file_name(request)
        if not _storage(request).delete(name):
            raise ApiError(404, f"file {name!r} not found")
        return Response(status_code=204)


# ---- errors -----------------------------------------------------------------------------------------------------


async def _error(
    request: Request, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Json:
    """A JSON error answer; the unread rest of the body is dropped first, or the connection closed after."""
    headers = dict(headers or {})
    state = state_of(request)
    if "Connection" not in headers and not await discard_body(request, state.config.body_timeout, state.stopping):
        headers["Connection"] = "close"
    payload = {"error": message} if field is None else {"error": message, "field": field}
    return Json(payload, status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return await _error(request, exc.status, exc.message, exc.field, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return await _error(request, 400, str(exc), exc.field)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return await _error(request, 503, "database unavailable")


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("file storage unavailable: %s", exc)
    return await _error(request, 503, "file storage unavailable")


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own answers (unknown path, method not allowed) as JSON."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such resource: {request.url.path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} not allowed on {request.url.path}; use {allowed}"
    else:
        message = exc.detail
    return await _error(request, exc.status_code, message, headers=exc.headers)


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=400)  # the server drops it: the connection is closed


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Any other exception: a JSON 500 (the server logs the traceback), closing the connection."""
    return Json({"error": "internal server error"}, 500, headers={"Connection": "close"})


ROUTES = [
    Route("/", Index),
    Route("/healthz", Health),
    Route("/notes", Notes),
    Route("/notes/{note_id}", Note),
    Route("/files", Files),
    Route("/files/{name:path}", File),
]


def create_app(state: AppState) -> Starlette:
    """The ASGI app serving ``state``."""
    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            ApiError: _api_error,
            ValidationError: _validation_error,
            DatabaseUnavailable: _database_unavailable,
            StorageUnavailable: _storage_unavailable,
            HTTPException: _http_exception,
            ClientGone: _client_gone,
            Exception: _internal_error,
        },
    )
    app.router.redirect_slashes = False  # /notes/ is not /notes
    app.state.notes = state
    return app
