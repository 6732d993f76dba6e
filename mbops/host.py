"""What mbops does to this machine's files and processes: private files and folders, where a local stack's files
live, which folders are safe to keep a state in, and process identity (pid + start time).

The base layer under the local components and the embedded engine's state (both import it; it imports
neither).

Where a local stack lives (``stack_roots``): its folder in the state folder (``<state>/<stack>/``: logs, pid
files, secrets, and the data when mbops runs as a normal user) and, when mbops runs as root (its services then
run as unprivileged system users, who cannot enter ``/root``), ``/var/lib/mbops/postgres/<stack>-<key>`` (the
PostgreSQL cluster) and ``/var/lib/mbops/data/<stack>-<key>`` (the app's files and SQLite databases); ``<key>``
is a hash of the state folder, so two state folders never share a stack's data.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import json
import os
import pwd
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from mbops.errors import ConfigError

DEFAULT_STATE_DIR = "~/.mbops/state"
SERVICE_ROOT = Path("/var/lib/mbops")


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The state folder: ``explicit``, else ``$MBOPS_STATE_DIR``, else ``~/.mbops/state`` (absolute)."""
    raw = explicit or os.environ.get("MBOPS_STATE_DIR") or DEFAULT_STATE_DIR
    return Path(raw).expanduser().resolve()


# -- where a stack's files live ----------------------------------------------------------------------------


def as_root() -> bool:
    return os.geteuid() == 0


def stack_key(state_root: Path) -> str:
    """A short hash of the state folder: the stack folders outside it are named ``<stack>-<key>``."""
    return hashlib.sha256(str(state_root).encode()).hexdigest()[:8]


def cluster_root(state_root: Path, stack: str) -> Path:
    """The stack's PostgreSQL cluster folder (as root: outside the state folder, which its user cannot enter)."""
    if as_root():
        return SERVICE_ROOT / "postgres" / f"{stack}-{stack_key(state_root)}"
    return state_root / stack / "postgres"


def data_root(state_root: Path, stack: str) -> Path:
    """Where the app's files and SQLite databases live (as root: a folder its unprivileged user can reach)."""
    if as_root():
        return SERVICE_ROOT / "data" / f"{stack}-{stack_key(state_root)}"
    return state_root / stack


def stack_roots(state_root: Path, stack: str) -> tuple[Path, ...]:
    """Every folder a local stack may name in its state (and ``destroy --delete-data`` removes)."""
    roots = [state_root / stack, cluster_root(state_root, stack), data_root(state_root, stack)]
    return tuple(dict.fromkeys(roots))


def is_under(path: str | os.PathLike[str], roots: Iterable[Path]) -> bool:
    """True when ``path`` (normalised, ``..`` resolved) is one of ``roots`` or inside one."""
    target = Path(os.path.normpath(os.path.join("/", os.fspath(path))))
    return any(target == root or target.is_relative_to(root) for root in roots)


# -- a state folder only we can change -----------------------------------------------------------------------


def unsafe_ancestry(folder: Path) -> str | None:
    """Why another user could change what is in ``folder`` (None when nobody but us and root can).

    The rule, for ``folder`` and each existing folder above it: it belongs to root or to us, and no other user
    can write to it — except a *sticky* folder (like /tmp, mode 1777), where others may create entries but
    cannot rename or remove ours; the entry below it on our path is then checked like every other (ours, not
    writable by others), so nobody can swap it. A group counts as "others" unless it is the owner's private
    group (no other members). Folders that do not exist yet are created by mbops, mode 0700.
    """
    me = os.geteuid()
    chain = [p for p in (*reversed(folder.parents), folder) if p.exists()]
    for path in chain:
        info = path.stat()
        if info.st_uid not in (0, me):
            return f"{path} belongs to {_user_name(info.st_uid)}, not to {_user_name(me)} or root"
        if _others_can_write(info) and not info.st_mode & stat.S_ISVTX:
            return f"{path} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    if folder.exists():
        info = folder.stat()
        if info.st_uid != me:
            return f"{folder} belongs to {_user_name(info.st_uid)}: a state folder must be your own"
    return None


def secure_state_folder(folder: Path) -> None:
    """Refuse a state folder another user could change (see ``unsafe_ancestry``); keep an existing one 0700.

    The state file is code for the dynamic providers (it names their classes) and holds secrets, so whoever
    can write to the folder could make mbops run anything.
    """
    why = unsafe_ancestry(folder)
    if why:
        raise ConfigError(
            f"--state-dir: {folder} is not safe for a state folder: {why}. A state file tells mbops which code "
            f"to run and holds the stack's secrets; keep it where only you can write (e.g. ~/.mbops/state)"
        )
    if folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) & 0o077:
        os.chmod(folder, 0o700)


def _others_can_write(info: os.stat_result) -> bool:
    if info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and not _private_group(info)


def _private_group(info: os.stat_result) -> bool:
    """The folder's group is its owner's own group with no other members (a user private group)."""
    try:
        owner = pwd.getpwuid(info.st_uid)
        group = grp.getgrgid(info.st_gid)
    except KeyError:
        return False
    return owner.pw_gid == info.st_gid and set(group.gr_mem) <= {owner.pw_name}


def _user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


# -- files and folders ---------------------------------------------------------------------------------------


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
    """Create ``path`` (and parents) with mode 0700, owned by ``owner`` when given (root only).

    Missing parents are private too, except under ``/var/lib/mbops`` (as root), whose folders the services'
    users must be able to pass through (0711: they can enter, not list).
    """
    folder = Path(path)
    for parent in reversed(folder.parents):
        if not parent.exists():
            shared = parent == SERVICE_ROOT or parent.is_relative_to(SERVICE_ROOT)
            parent.mkdir(mode=0o711 if shared else 0o700, exist_ok=True)
            if shared:
                os.chmod(parent, 0o711)
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    if owner and as_root():
        entry = pwd.getpwnam(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


def chown_tree(path: str | Path, owner: str) -> None:
    """Give ``path`` and everything below it to ``owner`` (root only; a no-op otherwise)."""
    if not as_root():
        return
    entry = pwd.getpwnam(owner)
    root = Path(path)
    if not root.exists():
        return
    os.chown(root, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def remove_tree(path: str | Path) -> None:
    target = Path(path)
    if target.is_dir() and not target.is_symlink():
        try:
            shutil.rmtree(target)
        except OSError:  # a process still wrote a file into it (one that is stopping): once more
            time.sleep(0.2)
            shutil.rmtree(target, ignore_errors=False)
    else:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()


def user_can_reach(path: str | Path, user: str) -> bool:
    """True when ``user`` could enter every folder on the way to ``path`` (and ``path`` itself if a folder)."""
    entry = pwd.getpwnam(user)
    groups = {entry.pw_gid, *(g.gr_gid for g in grp.getgrall() if user in g.gr_mem)}
    target = Path(path)
    for folder in (*reversed(target.parents), target):
        try:
            info = folder.stat()
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            continue
        if entry.pw_uid == 0:
            continue
        if info.st_uid == entry.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


# -- processes -------------------------------------------------------------------------------------------------


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
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat_line.rsplit(")", 1)[-1].split()[0] != "Z"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), None if it is gone."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat_line.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def same_process(pid: int | None, started: int | None) -> bool:
    """True when ``pid`` runs and, when ``started`` is given, is the process that started then (never a reused
    pid)."""
    if not pid:
        return False
    pid = int(pid)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(int(pid), os.WNOHANG)  # our own child that exited: collect it (no zombie)
    if not pid_alive(int(pid)):
        return False
    return started is None or start_time(int(pid)) == int(started)


def terminate(
    pid: int | None, started: int | None = None, *, timeout: float = 10.0,
    signals: Sequence[signal.Signals] = (signal.SIGTERM,),
) -> bool:  # fmt: skip
    """Stop ``pid`` (its process group when it leads one): each of ``signals`` in turn, waiting ``timeout``
    after each, then SIGKILL. Only the process that started at ``started`` is ever signalled. True if it ran."""
    if not same_process(pid, started):
        return False
    assert pid is not None
    pid, started = int(pid), int(started) if started is not None else None  # the Pulumi engine sends floats
    for sig in (*signals, signal.SIGKILL):
        _signal(pid, sig)
        deadline = time.monotonic() + (timeout if sig != signal.SIGKILL else 2.0)
        while time.monotonic() < deadline:
            if not same_process(pid, started):
                return True
            time.sleep(0.02)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


class PostgresServer(NamedTuple):
    pid: int
    start_time: int


def postmaster(data_dir: Path) -> PostgresServer | None:
    """The running PostgreSQL server of ``data_dir`` (pid, start time) from its ``postmaster.pid``, checked by the
    process's working directory (a postmaster runs in its data directory), or None."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    started = start_time(pid)
    if started is None or not pid_alive(pid):
        return None
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)")
    except OSError:
        return None
    return PostgresServer(pid, started) if Path(cwd) == data_dir else None


def postgres_in(folder: Path) -> list[tuple[int, int]]:
    """The PostgreSQL processes (pid, start time) working in ``folder`` or below it: a backend runs in its data
    directory, so this finds the bootstrap server an interrupted ``initdb`` left writing. Nothing else is
    matched (a shell that happens to sit in the folder is not ours to stop)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if Path(f"/proc/{entry.name}/comm").read_text().strip() != "postgres":
                continue
            cwd = Path(os.readlink(f"/proc/{entry.name}/cwd").removesuffix(" (deleted)"))
        except OSError:
            continue  # gone, or not ours to read
        started = start_time(int(entry.name))
        if started is not None and (cwd == folder or folder in cwd.parents):
            found.append((int(entry.name), started))
    return found


def stop_postgres_in(folder: str | Path) -> None:
    """Stop every PostgreSQL process working in ``folder`` (see ``postgres_in``) before the folder is removed."""
    for pid, started in postgres_in(Path(folder).resolve()):
        stop_postmaster(pid, started, timeout=5.0)


def stop_postmaster(pid: int, started: int | None, timeout: float = 30.0) -> bool:
    """Stop a PostgreSQL server by signal: fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
    return terminate(pid, started, timeout=timeout, signals=(signal.SIGINT, signal.SIGQUIT))


def stop_survivors(roots: Iterable[Path]) -> list[str]:
    """Stop every process mbops started for a stack that still runs: the pid files (``{"pid", "start_time"}``,
    written when a service starts) one folder below each of ``roots``, and the PostgreSQL servers of the data
    directories there. Returns what was stopped (for the record)."""
    stopped: list[str] = []
    for root in roots:
        if not root.is_dir():
            continue
        for pid_file in sorted(root.glob("*/*.pid")):
            try:
                info = json.loads(pid_file.read_text())
                pid, started = int(info["pid"]), int(info["start_time"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if terminate(pid, started):
                stopped.append(f"pid {pid} ({pid_file})")
        for data_dir in (root / "data", root / "postgres" / "data"):
            found = postmaster(data_dir)
            if found and stop_postmaster(*found):
                stopped.append(f"PostgreSQL pid {found[0]} ({data_dir})")
    return stopped
