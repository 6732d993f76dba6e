"""Read the app's configuration from environment variables (and nowhere else).

Variables:

- ``PORT`` (required): TCP port to listen on.
- ``HOST`` (optional): address to bind, default ``127.0.0.1``; a container image sets ``0.0.0.0``.
- ``DATABASE_URL``: ``postgresql://user:pass@host:port/db`` or ``sqlite:///abs/path/file.db``. Without it the
  notes go to the document store the cloud wires (saas profile): ``DOCUMENT_TABLE`` is the DynamoDB table (AWS)
  or the Firestore database id (GCP); with ``DOCUMENT_DB_URL`` (a Cosmos DB account endpoint, Azure) it is the
  Cosmos ``database/container``. One of the two is required; ``DATABASE_URL`` wins when both are set.
- ``STORAGE_URL`` (optional): ``file:///abs/dir``, ``s3://bucket``, ``gs://bucket`` or an Azure Blob container
  URL ``https://<account>.blob.core.windows.net/<container>``; or ``STORAGE_BUCKET`` alone, an S3 or GCS bucket.
  Without either the ``/files`` endpoints answer 503.
- ``REDIS_URL`` (optional): ``redis://host:port/db``; caches ``GET /notes/{id}`` when ``redis`` is installed.
  ``REDIS_CA_CERT`` (optional): the PEM certificate(s) a ``rediss://`` server is verified with (Memorystore).
- ``DATABASE_CA_CERT`` (optional): the PEM certificate(s) the PostgreSQL server is verified with (Cloud SQL's own
  CA, with ``sslmode=verify-ca`` in ``DATABASE_URL``).
- ``<NAME>_SECRET_ARN`` (AWS Lambda, which injects no secrets): ``NAME`` is read from Secrets Manager at start,
  see :mod:`.aws`.
- ``APP_GREETING`` (optional): any string, echoed by ``GET /``.
- ``BODY_TIMEOUT`` (optional): seconds a request body may stall (no byte received) before the app answers 408,
  default 30.
- ``LOG_LEVEL`` (optional): ``debug``, ``info`` (default), ``warning``, ``error`` or ``critical``.

A bare ``STORAGE_BUCKET`` or ``DOCUMENT_TABLE`` names no cloud: the platform's own variables tell which one
(AWS: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``AWS_EXECUTION_ENV``, ``AWS_LAMBDA_FUNCTION_NAME``; GCP:
``K_SERVICE``, ``CLOUD_RUN_JOB``, ``GOOGLE_CLOUD_PROJECT``). Credentials are never configured here: each SDK
finds the app's cloud identity (IAM role, service account through ADC, managed identity via ``AZURE_CLIENT_ID``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import unquote, urlsplit

DatabaseKind = Literal["postgresql", "sqlite"]
DocumentKind = Literal["dynamodb", "firestore", "cosmos"]
StorageKind = Literal["file", "s3", "gcs", "azure-blob"]
Cloud = Literal["aws", "gcp"]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Variables each platform sets by itself (or that its SDK reads): they tell which cloud a bare name is on.
CLOUD_MARKERS: dict[Cloud, tuple[str, ...]] = {
    "aws": ("AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "gcp": ("K_SERVICE", "CLOUD_RUN_JOB", "GOOGLE_CLOUD_PROJECT"),
}
BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")  # S3 and GCS names (each cloud checks its own rules)
BLOB_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
COSMOS_NAME = re.compile(r"[^/\\?#]{1,255}")
T = TypeVar("T")


class ConfigError(Exception):
    """A missing or malformed environment variable; the message says which and how to fix it."""


@dataclass(frozen=True)
class DocumentStore:
    """Where the notes go when there is no ``DATABASE_URL``: a cloud's serverless document database."""

    kind: DocumentKind
    table: str  # DynamoDB table name, Firestore database id, or Cosmos "database/container"
    endpoint: str | None = None  # the Cosmos DB account endpoint


@dataclass(frozen=True)
class StorageTarget:
    """Where uploaded files go."""

    kind: StorageKind
    location: str  # the directory (file), the bucket (s3, gcs) or the container URL (azure-blob)

    @property
    def path(self) -> Path:
        """The directory of a ``file`` target."""
        return Path(self.location)


@dataclass(frozen=True)
class Config:
    """Validated settings for one app process."""

    port: int
    host: str
    database_kind: DatabaseKind | None  # None: the notes are in ``documents``
    database_url: str | None
    sqlite_path: Path | None
    storage: StorageTarget | None
    redis_url: str | None
    greeting: str | None
    body_timeout: float = 30.0
    log_level: str = "info"
    documents: DocumentStore | None = None
    redis_ca_cert: str | None = None
    database_ca_cert: str | None = None

    @property
    def notes_kind(self) -> str:
        """What holds the notes: ``postgresql``, ``sqlite``, ``dynamodb``, ``firestore`` or ``cosmos``."""
        return self.database_kind or (self.documents.kind if self.documents else "none")


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

    def attempt(parse: Callable[[Mapping[str, str]], T]) -> T | None:
        try:
            return parse(env)
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    port = check(_parse_port, "PORT")
    database_url = _notes_database_url(env)
    database = check(lambda raw: _parse_database_url(raw, database_url), database_url) if database_url else None
    documents = None if database_url else attempt(_parse_documents)
    storage = attempt(_parse_storage)
    body_timeout = check(_parse_body_timeout, "BODY_TIMEOUT")
    log_level = check(_parse_log_level, "LOG_LEVEL")
    if problems or port is None or (database is None and documents is None):
        raise ConfigError("\n".join(problems))
    return Config(
        port=port,
        host=env.get("HOST", "").strip() or "127.0.0.1",
        database_kind=database[0] if database else None,
        database_url=env[database_url].strip() if database_url else None,
        sqlite_path=database[1] if database else None,
        storage=storage,
        redis_url=env.get("REDIS_URL", "").strip() or None,
        greeting=env.get("APP_GREETING"),
        body_timeout=body_timeout if body_timeout is not None else 30.0,
        log_level=log_level or "info",
        documents=documents,
        redis_ca_cert=env.get("REDIS_CA_CERT", "").strip() or None,
        database_ca_cert=env.get("DATABASE_CA_CERT", "").strip() or None,
    )


def _notes_database_url(env: Mapping[str, str]) -> str | None:
    """The variable holding the notes' SQL URL: ``DATABASE_URL``, or a SQLite ``DOCUMENT_DB_URL`` (local saas)."""
    if env.get("DATABASE_URL", "").strip():
        return "DATABASE_URL"
    if urlsplit(env.get("DOCUMENT_DB_URL", "").strip()).scheme == "sqlite":
        return "DOCUMENT_DB_URL"
    return None


def platform_cloud(env: Mapping[str, str], wanted_by: str) -> Cloud:
    """The cloud this process runs on, from the variables its platform sets; ``wanted_by`` names what asks."""
    found = {cloud: [n for n in names if env.get(n, "").strip()] for cloud, names in CLOUD_MARKERS.items()}
    clouds = [cloud for cloud, names in found.items() if names]
    if len(clouds) == 1:
        return clouds[0]
    if clouds:
        raise ConfigError(
            f"{wanted_by} is set and both AWS ({', '.join(found['aws'])}) and GCP ({', '.join(found['gcp'])}) "
            "variables are present: unset the other cloud's"
        )
    raise ConfigError(
        f"{wanted_by} is set but nothing says which cloud it is on: on AWS set AWS_REGION, on GCP set "
        "GOOGLE_CLOUD_PROJECT (Lambda, ECS and Cloud Run set theirs)"
    )


def _parse_documents(env: Mapping[str, str]) -> DocumentStore:
    table = env.get("DOCUMENT_TABLE", "").strip()
    endpoint = env.get("DOCUMENT_DB_URL", "").strip()
    if not table:
        if endpoint:
            raise ConfigError("DOCUMENT_DB_URL is set but DOCUMENT_TABLE is not: set it to <database>/<container>")
        raise ConfigError(
            "DATABASE_URL is not set: use postgresql://user:pass@host:port/db or sqlite:///absolute/path/to/file.db "
            "(or DOCUMENT_TABLE for the cloud's document database)"
        )
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(
                f"DOCUMENT_DB_URL must be a Cosmos DB endpoint https://<account>.documents.azure.com:443/ "
                f"(or sqlite:///absolute/file.db), got {endpoint!r}"
            )
        database, _, container = table.partition("/")
        if not (COSMOS_NAME.fullmatch(database) and COSMOS_NAME.fullmatch(container)):
            raise ConfigError(f"DOCUMENT_TABLE for Cosmos DB must be <database>/<container>, got {table!r}")
        return DocumentStore("cosmos", table, endpoint)
    if platform_cloud(env, f"DOCUMENT_TABLE={table}") == "aws":
        if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", table):
            raise ConfigError(f"DOCUMENT_TABLE must be a DynamoDB table name (3-255 of A-Za-z0-9_.-), got {table!r}")
        if not (env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip()):
            raise ConfigError(f"DOCUMENT_TABLE={table} is a DynamoDB table: set AWS_REGION to its region")
        return DocumentStore("dynamodb", table)
    if not re.fullmatch(r"\(default\)|[a-z][a-z0-9-]{2,62}", table):
        raise ConfigError(f"DOCUMENT_TABLE must be a Firestore database id (4-63 of a-z 0-9 -), got {table!r}")
    return DocumentStore("firestore", table)


def _parse_storage(env: Mapping[str, str]) -> StorageTarget | None:
    url = env.get("STORAGE_URL", "").strip()
    bucket = env.get("STORAGE_BUCKET", "").strip()
    if not url:
        if not bucket:
            return None
        cloud = platform_cloud(env, f"STORAGE_BUCKET={bucket}")
        url = f"{'s3' if cloud == 'aws' else 'gs'}://{bucket}"
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"STORAGE_URL must be file:///absolute/directory, got {url!r}")
        return StorageTarget("file", unquote(parts.path))
    if parts.scheme in ("s3", "gs"):
        name = parts.netloc
        if not BUCKET.fullmatch(name) or parts.path.strip("/") or parts.query:
            raise ConfigError(f"STORAGE_URL must name a bucket alone, like {parts.scheme}://my-bucket, got {url!r}")
        target = StorageTarget("s3" if parts.scheme == "s3" else "gcs", name)
    elif parts.scheme in ("https", "http") and parts.hostname:
        container = parts.path.rstrip("/").rpartition("/")[2]
        if not BLOB_CONTAINER.fullmatch(container) or parts.query:
            raise ConfigError(
                f"STORAGE_URL must be an Azure Blob container URL https://<account>.blob.core.windows.net/<container>"
                f" (no query string: the app signs in with its identity), got {url!r}"
            )
        target, name = StorageTarget("azure-blob", url.rstrip("/")), container
    else:
        raise ConfigError(
            f"STORAGE_URL must be file:///absolute/directory, s3://bucket, gs://bucket or "
            f"https://<account>.blob.core.windows.net/<container>, got {url!r}"
        )
    if bucket and bucket != name:
        raise ConfigError(f"STORAGE_BUCKET={bucket!r} and STORAGE_URL={url!r} name different buckets: keep one")
    return target


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


def _parse_database_url(raw: str, name: str = "DATABASE_URL") -> tuple[DatabaseKind, Path | None]:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.hostname and not parts.path.strip("/"):
            raise ConfigError(f"{name} must name a host or database, e.g. postgresql://u:p@127.0.0.1:5432/app")
        return "postgresql", None
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path or parts.path == "/":
            raise ConfigError(f"{name} for SQLite must be sqlite:///absolute/path/to/file.db, got {url!r}")
        # Accept both sqlite:///abs/file.db and the SQLAlchemy-style sqlite:////abs/file.db.
        path = Path("/" + unquote(parts.path).lstrip("/"))
        return "sqlite", path
    raise ConfigError(f"{name} scheme {parts.scheme or '(none)'!r} is not supported: use postgresql:// or sqlite:///")


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
