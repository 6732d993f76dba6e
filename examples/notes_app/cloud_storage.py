"""Uploaded files in a cloud's object store: S3, Google Cloud Storage or an Azure Blob container.

Same names and answers as :class:`.storage.FileStorage`. Each backend imports its SDK when it is made, so the
local target never pays for them, and signs in with the app's cloud identity as its SDK finds it: the IAM role
(boto3's credential chain), the service account (Application Default Credentials), the managed identity
(``DefaultAzureCredential``, which picks the one named by ``AZURE_CLIENT_ID``). An upload is received into a
spooled temporary file (memory up to :data:`SPOOL_MEMORY`, then ``$TMPDIR``: ``/tmp``, the only writable place
on Lambda) and stored in one request when complete, so a half-received file never shows. Downloads stream the
object (or the asked range) pinned to the version that was looked up, so a file replaced mid-download is an
error, never a mix of two files. Any SDK error other than "no such object" becomes :class:`StorageUnavailable`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from .errors import one_line
from .storage import NAME_PATTERN, StorageUnavailable, check_name

SPOOL_MEMORY = 1024 * 1024
CHUNK = 256 * 1024
TIMEOUT_SECONDS = 10
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object: its size and the version (ETag, generation) a download is pinned to."""

    size: int
    version: Any


class SpooledUpload:
    """One file being received: :meth:`write` chunks, then :meth:`commit` stores it whole (or :meth:`abort`)."""

    def __init__(self, name: str, put: Callable[[str, IO[bytes], int], None]) -> None:
        self.name = check_name(name)
        self.size = 0
        self._put = put
        self._digest = hashlib.sha256()
        # Open across calls (write, then commit or abort), which close it.
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the file."""
        self._file.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def commit(self) -> dict[str, object]:
        """Store the complete file (replacing any of that name); return name, size and sha256."""
        try:
            self._file.seek(0)
            self._put(self.name, self._file, self.size)
        finally:
            self._file.close()
        return {"name": self.name, "size": self.size, "sha256": self._digest.hexdigest()}

    def abort(self) -> None:
        """Drop what was received."""
        self._file.close()


class ObjectStorage:
    """What every cloud backend provides; subclasses set ``kind`` and ``_errors`` and implement the rest."""

    kind = "object"
    _errors: tuple[type[BaseException], ...] = ()

    def upload(self, name: str) -> SpooledUpload:
        """Start receiving ``name``; the caller writes the chunks, then commits or aborts."""
        return SpooledUpload(name, self._put_guarded)

    def _put_guarded(self, name: str, data: IO[bytes], size: int) -> None:
        with self._guard(f"store {name}"):
            self._put(name, data, size)

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StorageUnavailable(f"{self.kind}: cannot {doing}: {one_line(exc)}") from exc

    def stat(self, name: str) -> ObjectInfo | None:
        """Size and version of ``name``, or None when there is no such object."""
        check_name(name)
        with self._guard(f"look up {name}"):
            return self._stat(name)

    def read(self, name: str, info: ObjectInfo, first: int, last: int) -> Iterator[bytes]:
        """The bytes ``first..last`` (inclusive) of the version ``info`` of ``name``, as chunks.

        The request is made here; the chunks are read as the caller iterates (errors then end the stream).
        """
        with self._guard(f"read {name}"):
            return self._read(name, info, first, last)

    def delete(self, name: str) -> bool:
        """Remove ``name``; return False when it did not exist."""
        check_name(name)
        with self._guard(f"delete {name}"):
            return self._delete(name)

    def list(self) -> list[dict[str, object]]:
        """``{"name", "size"}`` of every object with an allowed name, sorted by name."""
        with self._guard("list the files"):
            found = [{"name": n, "size": s} for n, s in self._list() if NAME_PATTERN.fullmatch(n) and n[0] != "."]
        return sorted(found, key=lambda f: str(f["name"]))

    def _put(self, name: str, data: IO[bytes], size: int) -> None:
        raise NotImplementedError

    def _stat(self, name: str) -> ObjectInfo | None:
        raise NotImplementedError

    def _read(self, name: str, info: ObjectInfo, first: int, last: int) -> Iterator[bytes]:
        raise NotImplementedError

    def _delete(self, name: str) -> bool:
        raise NotImplementedError

    def _list(self) -> Iterator[tuple[str, int]]:
        raise NotImplementedError


class S3Storage(ObjectStorage):
    """An S3 bucket through boto3 (region, endpoint and credentials from the environment: see :mod:`.aws`)."""

    kind = "s3"

    def __init__(self, bucket: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from . import aws

        self.bucket = bucket
        self._client = aws.client("s3")
        self._errors = (BotoCoreError, ClientError)

    def _put(self, name: str, data: IO[bytes], size: int) -> None:
        self._client.put_object(Bucket=self.bucket, Key=name, Body=data, ContentLength=size, ContentType=CONTENT_TYPE)

    def _stat(self, name: str) -> ObjectInfo | None:
        # A listing, not HEAD: HEAD answers a bare 404 for a missing bucket too, which must be an error, not "no
        # such file". The first key at or after the prefix is the name itself when it exists.
        found = self._client.list_objects_v2(Bucket=self.bucket, Prefix=name, MaxKeys=1).get("Contents", [])
        if not found or found[0]["Key"] != name:
            return None
        return ObjectInfo(int(found[0]["Size"]), found[0]["ETag"])

    def _read(self, name: str, info: ObjectInfo, first: int, last: int) -> Iterator[bytes]:
        got = self._client.get_object(Bucket=self.bucket, Key=name, IfMatch=info.version, Range=f"bytes={first}-{last}")
        body = got["Body"]
        return _closing(body.iter_chunks(CHUNK), body.close)

    def _delete(self, name: str) -> bool:
        if self._stat(name) is None:  # S3 deletes are idempotent: ask first, to answer 404 as the others do
            return False
        self._client.delete_object(Bucket=self.bucket, Key=name)
        return True

    def _list(self) -> Iterator[tuple[str, int]]:
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"])


class GcsStorage(ObjectStorage):
    """A Cloud Storage bucket through google-cloud-storage (ADC; ``STORAGE_EMULATOR_HOST`` for an emulator)."""

    kind = "gcs"

    def __init__(self, bucket: str) -> None:
        import google.auth.exceptions
        import requests
        from google.api_core import exceptions
        from google.cloud import storage

        self._client = storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None)
        self._bucket = self._client.bucket(bucket)
        self._not_found = exceptions.NotFound
        self._errors = (
            exceptions.GoogleAPIError,
            google.auth.exceptions.GoogleAuthError,
            requests.exceptions.RequestException,
        )

    def _put(self, name: str, data: IO[bytes], size: int) -> None:
        blob = self._bucket.blob(name)
        blob.upload_from_file(data, size=size, content_type=CONTENT_TYPE, rewind=True, timeout=TIMEOUT_SECONDS)

    def _stat(self, name: str) -> ObjectInfo | None:
        blob = self._bucket.get_blob(name, timeout=TIMEOUT_SECONDS)
        return None if blob is None else ObjectInfo(int(blob.size or 0), blob.generation)

    def _read(self, name: str, info: ObjectInfo, first: int, last: int) -> Iterator[bytes]:
        blob = self._bucket.blob(name)
        # At most FILE_MAX (10 MiB) per file: one ranged request into memory, pinned to the generation looked up.
        data = blob.download_as_bytes(start=first, end=last, if_generation_match=info.version, timeout=TIMEOUT_SECONDS)
        return iter([data])

    def _delete(self, name: str) -> bool:
        try:
            self._bucket.delete_blob(name, timeout=TIMEOUT_SECONDS)
        except self._not_found:
            return False
        return True

    def _list(self) -> Iterator[tuple[str, int]]:
        for blob in self._client.list_blobs(self._bucket, timeout=TIMEOUT_SECONDS):
            yield blob.name, int(blob.size or 0)


class AzureBlobStorage(ObjectStorage):
    """An Azure Blob container, by its URL, signed in with ``DefaultAzureCredential`` (the managed identity named
    by ``AZURE_CLIENT_ID`` on Azure); ``AZURE_STORAGE_CONNECTION_STRING``, when set, is used instead (Azurite,
    or an account key outside Azure)."""

    kind = "azure-blob"

    def __init__(self, container_url: str) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError, ResourceNotFoundError
        from azure.storage.blob import ContainerClient, ContentSettings, ExponentialRetry

        # The SDK's default retries wait 15 s and more between tries (also when no token can be had): a request
        # would hang for most of a minute. Three tries within a few seconds, then a 503.
        retry = ExponentialRetry(initial_backoff=0.5, increment_base=2, retry_total=2)
        options: dict[str, Any] = {"connection_timeout": 5, "read_timeout": TIMEOUT_SECONDS, "retry_policy": retry}
        connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "").strip()
        if connection_string:
            container = container_url.rstrip("/").rpartition("/")[2]
            self._container = ContainerClient.from_connection_string(connection_string, container, **options)
        else:
            self._container = ContainerClient.from_container_url(
                container_url, credential=azure_credential(), **options
            )
        self._settings = ContentSettings(content_type=CONTENT_TYPE)
        self._unchanged = MatchConditions.IfNotModified
        self._not_found = ResourceNotFoundError
        self._errors = (AzureError,)

    def _put(self, name: str, data: IO[bytes], size: int) -> None:
        self._container.upload_blob(name, data, length=size, overwrite=True, content_settings=self._settings)

    def _stat(self, name: str) -> ObjectInfo | None:
        try:
            props = self._container.get_blob_client(name).get_blob_properties()
        except self._not_found:
            return None
        return ObjectInfo(int(props.size), props.etag)

    def _read(self, name: str, info: ObjectInfo, first: int, last: int) -> Iterator[bytes]:
        download = self._container.download_blob(
            name, offset=first, length=last - first + 1, etag=info.version, match_condition=self._unchanged
        )
        return download.chunks()

    def _delete(self, name: str) -> bool:
        try:
            self._container.delete_blob(name)
        except self._not_found:
            return False
        return True

    def _list(self) -> Iterator[tuple[str, int]]:
        for blob in self._container.list_blobs():
            yield blob.name, int(blob.size)


def azure_credential() -> Any:
    """``DefaultAzureCredential``: on Azure, the managed identity ``AZURE_CLIENT_ID`` names (its token endpoint
    from ``IDENTITY_ENDPOINT`` on Container Apps, IMDS on VMs); elsewhere a developer's sign-in. One retry: the
    clients retry their requests (token included) themselves."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(retry_total=1)


def _closing(chunks: Iterator[bytes], close: Callable[[], None]) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        close()
