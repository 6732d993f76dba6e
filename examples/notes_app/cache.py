"""Optional Redis cache for single-note reads.

Enabled only when ``REDIS_URL`` is set and the ``redis`` package is importable. A ``rediss://`` server is
verified against the system's CAs, or against ``REDIS_CA_CERT`` (PEM) when given: Memorystore's server
certificates come from a per-instance CA. Cache failures never fail a request: reads fall through to the
database.
"""

from __future__ import annotations

import contextlib
from typing import Any

TTL_SECONDS = 60


class NoteCache:
    """Get/set/delete serialized notes in Redis, or do nothing when disabled."""

    def __init__(self, redis_url: str | None, ca_cert: str | None = None) -> None:
        self._client: Any = None
        self._errors: tuple[type[BaseException], ...] = ()
        if not redis_url:
            return
        try:
            import redis
        except ImportError:
            return
        tls = {"ssl_ca_data": ca_cert} if ca_cert and redis_url.startswith("rediss://") else {}
        self._client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, **tls)
        self._errors = (redis.RedisError, OSError)

    @property
    def enabled(self) -> bool:
        """True when a Redis client is configured."""
        return self._client is not None

    @staticmethod
    def key(note_id: int) -> str:
        """Cache key of one note."""
        return f"notes_app:note:{note_id}"

    def get(self, note_id: int) -> bytes | None:
        """Return the cached JSON of a note, or None (miss, disabled or Redis down)."""
        if self._client is None:
            return None
        try:
            return self._client.get(self.key(note_id))
        except self._errors:
            return None

    def put(self, note_id: int, payload: bytes) -> None:
        """Cache the JSON of a note for :data:`TTL_SECONDS`."""
        if self._client is not None:
            with contextlib.suppress(*self._errors):
                self._client.set(self.key(note_id), payload, ex=TTL_SECONDS)

    def forget(self, note_id: int) -> None:
        """Drop a note from the cache."""
        if self._client is not None:
            with contextlib.suppress(*self._errors):
                self._client.delete(self.key(note_id))

    def status(self) -> str:
        """``"disabled"``, ``"redis"`` (answers PING) or ``"unavailable"``."""
        if self._client is None:
            return "disabled"
        try:
            return "redis" if self._client.ping() else "unavailable"
        except self._errors:
            return "unavailable"
