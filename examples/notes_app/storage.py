"""Uploaded files kept flat in one local directory (the ``file://`` STORAGE_URL); the clouds' object stores
are in :mod:`.cloud_storage`, behind the same methods.

Names are restricted to ``[A-Za-z0-9._-]{1,128}`` and may not start with a dot, so no
name can escape the directory (``..``) or collide with in-progress uploads, which are
written to a hidden temporary file and renamed into place atomically when complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")


class InvalidName(ValueError):
    """The file name is not allowed."""


class StorageUnavailable(Exception):
    """The object store could not be used (unreachable, denied, misconfigured); the request gets a 503."""


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe, flat file name; raise :class:`InvalidName` otherwise."""
    if not NAME_PATTERN.fullmatch(name) or name.startswith("."):
        raise InvalidName("file name must be 1-128 characters of A-Z a-z 0-9 . _ - and must not start with '.'")
    return name


class Upload:
    """One file being received: chunks go to a hidden temporary file until :meth:`commit` or :meth:`abort`."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = check_name(name)
        self._target = root / name
        self._digest = hashlib.sha256()
        self.size = 0
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=root)
        self._tmp = Path(tmp)
        self._out = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the file."""
        self._out.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def commit(self) -> dict[str, object]:
        """Move the complete file into place (replacing any file of that name); return name, size and sha256."""
        try:
            self._out.close()
            os.replace(self._tmp, self._target)
        except BaseException:
            self.abort()
            raise
        return {"name": self.name, "size": self.size, "sha256": self._digest.hexdigest()}

    def abort(self) -> None:
        """Drop the partial file."""
        self._out.close()
        self._tmp.unlink(missing_ok=True)


class FileStorage:
    """Save, read, delete and list files in ``root``."""

    kind = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def upload(self, name: str) -> Upload:
        """Start receiving ``name``; the caller writes the chunks, then commits or aborts."""
        return Upload(self.root, name)

    def stat(self, name: str) -> tuple[Path, os.stat_result] | None:
        """Path and ``stat`` of the stored file ``name``, or None when there is no such file."""
        path = self.root / check_name(name)
        try:
            result = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (path, result) if stat.S_ISREG(result.st_mode) else None

    def delete(self, name: str) -> bool:
        """Remove ``name``; return False when it did not exist."""
        try:
            (self.root / check_name(name)).unlink()
        except (FileNotFoundError, IsADirectoryError):
            return False
        return True

    def list(self) -> list[dict[str, object]]:
        """Return ``{"name", "size"}`` for every stored file, sorted by name."""
        files = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_file() and not entry.name.startswith(".") and NAME_PATTERN.fullmatch(entry.name):
                    files.append({"name": entry.name, "size": entry.stat().st_size})
        return sorted(files, key=lambda f: str(f["name"]))
