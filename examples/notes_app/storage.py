"""Uploaded files kept flat in one local directory (the ``file://`` STORAGE_URL).

Names are restricted to ``[A-Za-z0-9._-]{1,128}`` and may not start with a dot, so no
name can escape the directory (``..``) or collide with in-progress uploads, which are
written to a hidden temporary file and renamed into place atomically.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
CHUNK_SIZE = 64 * 1024


class InvalidName(ValueError):
    """The file name is not allowed."""


class IncompleteUpload(Exception):
    """The client sent fewer bytes than it announced."""


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe, flat file name; raise :class:`InvalidName` otherwise."""
    if not NAME_PATTERN.fullmatch(name) or name.startswith("."):
        raise InvalidName(
            "file name must be 1-128 characters of A-Z a-z 0-9 . _ - and must not start with '.'"
        )
    return name


class FileStorage:
    """Save, read and list files in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def save(self, name: str, stream: BinaryIO, length: int) -> dict[str, object]:
        """Copy exactly ``length`` bytes from ``stream`` into ``name``; return name, size and sha256."""
        target = self._path(name)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                remaining = length
                while remaining > 0:
                    chunk = stream.read(min(CHUNK_SIZE, remaining))
                    if not chunk:
                        raise IncompleteUpload(f"expected {length} bytes, received {length - remaining}")
                    out.write(chunk)
                    digest.update(chunk)
                    remaining -= len(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return {"name": name, "size": length, "sha256": digest.hexdigest()}

    def open(self, name: str) -> BinaryIO | None:
        """Open ``name`` for reading, or return None when it does not exist."""
        try:
            return self._path(name).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            return None

    def list(self) -> list[dict[str, object]]:
        """Return ``{"name", "size"}`` for every stored file, sorted by name."""
        files = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_file() and not entry.name.startswith(".") and NAME_PATTERN.fullmatch(entry.name):
                    files.append({"name": entry.name, "size": entry.stat().st_size})
        return sorted(files, key=lambda f: str(f["name"]))
