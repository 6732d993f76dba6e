"""What mbops does to this machine's files and processes: private files and folders, process liveness.

The base layer under the local components and the embedded engine's state (both import it; it imports
neither).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile
from pathlib import Path

DEFAULT_STATE_DIR = "~/.mbops/state"


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The state folder: ``explicit``, else ``$MBOPS_STATE_DIR``, else ``~/.mbops/state`` (absolute)."""
    raw = explicit or os.environ.get("MBOPS_STATE_DIR") or DEFAULT_STATE_DIR
    return Path(raw).expanduser().resolve()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file in the same folder, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def private_dir(path: str | Path, owner: str | None = None) -> Path:
    """Create ``path`` (and parents) with mode 0700, owned by ``owner`` when given (root only)."""
    folder = Path(path)
    for parent in reversed(folder.parents):  # missing parents are ours too: private as well
        if not parent.exists():
            parent.mkdir(mode=0o700, exist_ok=True)
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    if owner and os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


def remove_tree(path: str | Path) -> None:
    target = Path(path)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()


def pid_alive(pid: int) -> bool:
    """True when ``pid`` is a running (non-zombie) process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
