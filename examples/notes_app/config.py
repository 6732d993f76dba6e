"""Read the app's configuration from environment variables (and nowhere else).

Variables:

- ``PORT`` (required): TCP port to listen on.
- ``HOST`` (optional): address to bind, default ``127.0.0.1``; a container image sets ``0.0.0.0``.
- ``DATABASE_URL`` (required): ``postgresql://user:pass@host:port/db`` or ``sqlite:///abs/path/file.db``.
- ``STORAGE_URL`` (optional): ``file:///abs/dir``; without it the ``/files`` endpoints answer 503.
- ``REDIS_URL`` (optional): ``redis://host:port/db``; caches ``GET /notes/{id}`` when ``redis`` is installed.
- ``APP_GREETING`` (optional): any string, echoed by ``GET /``.
- ``BODY_TIMEOUT`` (optional): seconds a request body may stall (no byte received) before the app answers 408,
  default 30.
- ``LOG_LEVEL`` (optional): ``debug``, ``info`` (default), ``warning``, ``error`` or ``critical``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import unquote, urlsplit

DatabaseKind = Literal["postgresql", "sqlite"]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
T = TypeVar("T")


class ConfigError(Exception):
    """A missing or malformed environment variable; the message says which and how to fix it."""


@dataclass(frozen=True)
class Config:
    """Validated settings for one app process."""

    port: int
    host: str
    database_kind: DatabaseKind
    database_url: str
    sqlite_path: Path | None
    storage_dir: Path | None
    redis_url: str | None
    greeting: str | None
    body_timeout: float = 30.0
    log_level: str = "info"


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build a :class:`Config` from ``env`` (default: ``os.environ``).

    Raises :class:`ConfigError` listing every problem found, one per line.
    """
    env = os.environ if env is None else env
    problems: list[str] = []

    def check(parse: Callable[[str], T], name: str) -> T | None:
        try:
            return parse(env.get(name, ""))
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    port = check(_parse_port, "PORT")
    database = check(_parse_database_url, "DATABASE_URL")
    storage_dir = check(_parse_storage_url, "STORAGE_URL")
    body_timeout = check(_parse_body_timeout, "BODY_TIMEOUT")
    log_level = check(_parse_log_level, "LOG_LEVEL")
    if problems or port is None or database is None:
        raise ConfigError("\n".join(problems))
    return Config(
        port=port,
        host=env.get("HOST", "").strip() or "127.0.0.1",
        database_kind=database[0],
        database_url=env["DATABASE_URL"].strip(),
        sqlite_path=database[1],
        storage_dir=storage_dir,
        redis_url=env.get("REDIS_URL", "").strip() or None,
        greeting=env.get("APP_GREETING"),
        body_timeout=body_timeout if body_timeout is not None else 30.0,
        log_level=log_level or "info",
    )


def _parse_port(raw: str) -> int:
    if not raw.strip():
        raise ConfigError("PORT is not set: set it to the TCP port to listen on (1-65535), e.g. PORT=8080")
    try:
        port = int(raw.strip())
    except ValueError:
        raise ConfigError(f"PORT must be an integer between 1 and 65535, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"PORT must be between 1 and 65535, got {port}")
    return port


def _parse_database_url(raw: str) -> tuple[DatabaseKind, Path | None]:
    url = raw.strip()
    if not url:
        raise ConfigError(
            "DATABASE_URL is not set: use postgresql://user:pass@host:port/db or sqlite:///absolute/path/to/file.db"
        )
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.hostname and not parts.path.strip("/"):
            raise ConfigError("DATABASE_URL must name a host or database, e.g. postgresql://u:p@127.0.0.1:5432/app")
        return "postgresql", None
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path or parts.path == "/":
            raise ConfigError(f"DATABASE_URL for SQLite must be sqlite:///absolute/path/to/file.db, got {url!r}")
        # Accept both sqlite:///abs/file.db and the SQLAlchemy-style sqlite:////abs/file.db.
        path = Path("/" + unquote(parts.path).lstrip("/"))
        return "sqlite", path
    raise ConfigError(
        f"DATABASE_URL scheme {parts.scheme or '(none)'!r} is not supported: use postgresql:// or sqlite:///"
    )


def _parse_storage_url(raw: str) -> Path | None:
    url = raw.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ConfigError(f"STORAGE_URL must be file:///absolute/directory, got {url!r}")
    return Path(unquote(parts.path))


def _parse_body_timeout(raw: str) -> float | None:
    if not raw.strip():
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:  # also false for NaN
        raise ConfigError(f"BODY_TIMEOUT must be a number of seconds between 0 and 3600, got {raw!r}")
    return seconds


def _parse_log_level(raw: str) -> str | None:
    level = raw.strip().lower()
    if level and level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level or None
