"""Read request bodies defensively: media type, declared and received size, and an idle timeout.

A body arrives from the ASGI server in chunks (``http.request`` messages). Each wait for the next chunk is
bounded by ``timeout`` seconds, so a client that sends the headers and part of a body and then stalls gets a
408 and its connection closed, instead of holding anything open for good.

An error answered before the body was read (413, 415, 404, ...) first reads and drops the rest of the body, up
to :data:`DRAIN_MAX`: a client that sends its whole body before reading (most do) then gets the answer instead
of a connection reset. Past that size, or when the client stalls, the answer closes the connection instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.types import Message

from .errors import ApiError, ClientGone

DRAIN_MAX = 32 * 1024 * 1024  # the most of an unwanted body read (and dropped) to answer it cleanly
BODY_READ = "notes_app.body_read"  # scope key: set once the whole body has been received
JSON_TYPES = ("application/json",)
POLL_SECONDS = 0.5  # how often a wait for body data looks whether the server is stopping
STOPPING_PATIENCE = 1.0  # seconds of silence a body gets once the server is stopping

Stopping = Callable[[], bool]


def require_json(request: Request) -> None:
    """Accept ``application/json`` or ``application/*+json`` in UTF-8 (or no Content-Type at all); else 415."""
    raw = request.headers.get("content-type")
    if raw is None:
        return
    media, *params = (part.strip() for part in raw.split(";"))
    media = media.lower()
    if not (media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))):
        raise ApiError(415, f"Content-Type must be application/json, got {media[:100]!r}", "content-type")
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ApiError(415, f"JSON must be UTF-8, got charset {value.strip()[:40]!r}", "content-type")


def declared_length(request: Request, limit: int) -> int | None:
    """The Content-Length (None for a chunked body); 411 when the body has no framing, 413 when over ``limit``."""
    raw = request.headers.get("content-length")
    if raw is None:
        if "chunked" not in request.headers.get("transfer-encoding", "").lower():
            raise ApiError(411, "send the body with a Content-Length header (or Transfer-Encoding: chunked)")
        return None
    if not (raw.isascii() and raw.isdigit()):  # the HTTP server refuses these already; never trust one layer
        raise ApiError(400, f"invalid Content-Length: {raw[:40]!r}", close=True)
    length = int(raw)
    if length > limit:
        raise ApiError(413, f"request body too large: {length} bytes, the limit is {limit}", close=length > DRAIN_MAX)
    return length


class Stalled(Exception):
    """No body data arrived in time."""


async def next_message(request: Request, timeout: float, stopping: Stopping = lambda: False) -> Message:
    """The next ASGI message of the body; :class:`Stalled` after ``timeout`` s without one.

    Once ``stopping()`` is true (the server is shutting down) the wait ends after :data:`STOPPING_PATIENCE` s of
    silence instead: a stalled upload must not hold the shutdown for its whole grace period, while a body that
    is still arriving gets to finish.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    receiving = asyncio.ensure_future(request.receive())
    try:
        while True:
            waited = loop.time() - started
            patience = min(timeout, STOPPING_PATIENCE) if stopping() else timeout
            if waited >= patience:
                raise Stalled(f"no data for {waited:.3g} s")
            done, _ = await asyncio.wait({receiving}, timeout=min(POLL_SECONDS, patience - waited))
            if done:
                return receiving.result()
    finally:
        receiving.cancel()


async def body_chunks(
    request: Request, limit: int, timeout: float, stopping: Stopping = lambda: False
) -> AsyncIterator[bytes]:
    """Yield the request body as it arrives: 413 past ``limit`` bytes, 408 when it stalls (see :func:`next_message`),
    503 when it stalls while the server is stopping."""
    expected = declared_length(request, limit)
    received = 0
    while True:
        try:
            message = await next_message(request, timeout, stopping)
        except Stalled as exc:
            of = f" of {expected}" if expected is not None else ""
            if stopping():
                raise ApiError(503, f"the server is shutting down; request body stalled ({exc})", close=True) from None
            raise ApiError(408, f"request body stalled: {exc} after {received}{of} bytes", close=True) from None
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise ApiError(413, f"request body too large: over the limit of {limit} bytes", close=True)
        if not message.get("more_body", False):
            request.scope[BODY_READ] = True
        if chunk:
            yield chunk
        if request.scope.get(BODY_READ):
            return


async def read_body(request: Request, limit: int, timeout: float, stopping: Stopping = lambda: False) -> bytes:
    """The whole request body, read with the limits of :func:`body_chunks`."""
    return b"".join([chunk async for chunk in body_chunks(request, limit, timeout, stopping)])


async def discard_body(request: Request, timeout: float, stopping: Stopping = lambda: False) -> bool:
    """Read and drop the rest of the request body; False when it is too large, stalls or the client left."""
    length = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if request.scope.get(BODY_READ) or (length in (None, "0") and not chunked):
        return True  # nothing (left) to read
    if length is not None and (not length.isdigit() or int(length) > DRAIN_MAX):
        return False
    received = 0
    while received <= DRAIN_MAX:
        try:
            message = await next_message(request, timeout, stopping)
        except Stalled:
            return False
        if message["type"] == "http.disconnect":
            return False
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            request.scope[BODY_READ] = True
            return True
    return False
