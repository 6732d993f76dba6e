"""The embedded engine's state: one JSON file per stack, written atomically, guarded by a lock file.

Layout of the state folder (``--state-dir`` / ``MBOPS_STATE_DIR``, default ``~/.mbops/state``)::

    <stack>.json                  the stack's state (mode 0600): resources with inputs/outputs, stack outputs
    <stack>.lock                  while an up/destroy/refresh runs: {"pid", "since", "command", "host"}
    <stack>.json.corrupt-<ts>     a copy of a state file that could not be read (the original is left as is)
    <stack>/                      the stack's working files (logs, pid files, SQLite files, storage, secrets)

Values in ``inputs``/``outputs`` keep the Pulumi wire form, so secrets stay marked as secrets (and are masked
when shown). The lock is an ``flock`` on the lock file: the kernel drops it when its process dies, so a lock
left by a crashed run is taken over (with a notice) rather than blocking the stack forever.

``pending`` lists the steps that started and did not finish (a create killed half-way, one that failed): what
they may have left is cleaned up by ``destroy`` and reported by ``refresh``, as Pulumi's pending operations.

A state file is code for the dynamic providers (it names their classes) and holds the stack's secrets: the
folder must be one only its owner (and root) can change (``host.secure_state_folder``), is kept 0700, and a
file is only read as the state of the stack it names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mbops.errors import ConfigError, DeployError
from mbops.host import pid_alive, secure_state_folder, state_dir, write_private

STATE_VERSION = 1
STACK_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class StateError(DeployError):
    """A state file cannot be read; nothing was changed (exit 1)."""


class LockedError(DeployError):
    """Another mbops process is working on the stack (exit 1)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(kw_only=True)
class ResourceState:
    """One resource as last applied: what the program asked for and what the provider returned."""

    urn: str
    type: str
    name: str
    parent: str | None = None
    custom: bool = True
    component: str | None = None
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    created: str = ""
    updated: str = ""


@dataclass(kw_only=True)
class PendingStep:
    """A step that started and did not finish: what the program asked for (``inputs``, wire form)."""

    urn: str
    type: str
    name: str
    op: str  # create | update | replace
    component: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    failed: str = ""  # the error, when the step failed (empty: it was interrupted)


@dataclass(kw_only=True)
class StackState:
    """Everything the engine remembers about one stack."""

    stack: str
    cloud: str = "local"
    profile: str = ""
    environment: str = ""
    created: str = field(default_factory=now)
    updated: str = field(default_factory=now)
    resources: list[ResourceState] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)  # {"command", "result", "at", "summary"}
    kept_data: list[str] = field(default_factory=list)  # data a destroy kept: reused by up, removed by --delete-data
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> reason, alternative
    pending: list[PendingStep] = field(default_factory=list)  # steps that did not finish

    def find(self, urn: str) -> ResourceState | None:
        return next((r for r in self.resources if r.urn == urn), None)

    @property
    def resource_count(self) -> int:
        return sum(1 for r in self.resources if r.custom)

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any) -> StackState:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        version = data.get("version")
        if version != STATE_VERSION:
            raise ValueError(
                f"state version {version!r} is not supported (this mbops reads version {STATE_VERSION})"
            )
        body = {k: v for k, v in data.items() if k != "version"}
        try:
            resources = [ResourceState(**r) for r in body.pop("resources", [])]
            pending = [PendingStep(**p) for p in body.pop("pending", [])]
            return cls(resources=resources, pending=pending, **body)
        except TypeError as exc:
            raise ValueError(f"unexpected content: {exc}") from None


@dataclass(frozen=True)
class LockInfo:
    pid: int
    since: str
    command: str
    host: str


class StateStore:
    """The state folder: read, write, list and lock stacks."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = state_dir(root)
        self._secured = False

    def secure(self) -> None:
        """Refuse a folder another user could change (a ConfigError), keep it 0700; checked once per store."""
        if not self._secured:
            secure_state_folder(self.root)
            self._secured = True

    def path(self, stack: str) -> Path:
        return self.root / f"{_checked(stack)}.json"

    def lock_path(self, stack: str) -> Path:
        return self.root / f"{_checked(stack)}.lock"

    def stack_dir(self, stack: str) -> Path:
        """The stack's working folder (created 0700 on demand by the providers)."""
        return self.root / _checked(stack)

    def ensure_root(self) -> None:
        self.secure()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- reading and writing -------------------------------------------------------------------------------

    def load(self, stack: str) -> StackState | None:
        """The stack's state, or None when it was never deployed.

        A file that cannot be parsed raises StateError after a copy is kept as ``.corrupt-<ts>``; the
        original stays where it is, so no later command mistakes the stack for an empty one.
        """
        path = self.path(stack)
        self.secure()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read the state file {path}: {exc.strerror}") from None
        try:
            state = StackState.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            backup = self._backup(path, raw)
            raise StateError(
                f"the state file {path} is corrupted ({exc}).\n"
                f"A copy was kept at {backup}. Nothing was changed: every process and data folder of the "
                f"stack "
                f"is left as it is.\nRepair the file (or restore an older copy) and run the command again; "
                f"to start the stack over instead, move the file away (its processes keep running until "
                f"you stop them)."
            ) from None
        prefix = f"urn:pulumi:{stack}::"
        if state.stack != stack or any(not r.urn.startswith(prefix) for r in state.resources):
            named = state.stack if state.stack != stack else "another stack's resources"
            raise StateError(
                f"the state file {path} is not stack {stack}'s: it names {named} (a copy of another stack's "
                f"state?). Nothing was done; put that stack's own state back, or move this file away."
            )
        return state

    def save(self, state: StackState) -> None:
        """Write the state atomically (temp file + fsync + rename), mode 0600."""
        self.ensure_root()
        state.updated = now()
        data = json.dumps(state.to_json(), indent=1, sort_keys=False).encode()
        write_private(self.path(state.stack), data)

    def delete(self, stack: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(stack).unlink()

    def list(self) -> list[StackState | StateError]:
        """Every stack in the folder (sorted by name); unreadable ones as their StateError."""
        self.secure()
        if not self.root.is_dir():
            return []
        found: list[StackState | StateError] = []
        for path in sorted(self.root.glob("*.json")):
            try:
                state = self.load(path.stem)
            except (StateError, ConfigError) as exc:
                found.append(StateError(str(exc).splitlines()[0]))
                continue
            if state is not None:
                found.append(state)
        return found

    def _backup(self, path: Path, raw: bytes) -> Path:
        for old in path.parent.glob(f"{path.name}.corrupt-*"):
            with contextlib.suppress(OSError):
                if old.read_bytes() == raw:
                    return old
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = path.with_name(f"{path.name}.corrupt-{stamp}")
        write_private(backup, raw)
        return backup

    # -- locking -------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(
        self, stack: str, command: str, notice: Callable[[str], None] = lambda _: None
    ) -> Iterator[LockInfo]:
        """Hold the stack's lock for the block; fail at once if another live process holds it."""
        self.ensure_root()
        path = self.lock_path(stack)
        fd = _acquire(path, stack, notice)
        info = LockInfo(pid=os.getpid(), since=now(), command=command, host=socket.gethostname())
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(info)).encode(), 0)
            yield info
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)

    def lock_holder(self, stack: str) -> LockInfo | None:
        """Who holds the stack's lock right now (None when nobody does)."""
        path = self.lock_path(stack)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(path) or LockInfo(pid=0, since="?", command="?", host="?")
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


def _acquire(path: Path, stack: str, notice: Callable[[str], None]) -> int:
    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_info(path, retries=10)
            if holder is None:
                raise LockedError(f"stack {stack} is locked by another mbops process ({path})") from None
            raise LockedError(
                f"stack {stack} is locked by pid {holder.pid} (since {holder.since}, "
                f"running '{holder.command}' "
                f"on {holder.host}). Wait for it to finish; if that process is gone, run the command again."
            ) from None
        # The previous holder may have unlinked the file between open() and flock(): retry on a new one.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        stale = _read_info(path)
        if stale is not None:
            state = "no longer running" if not pid_alive(stale.pid) else "not holding the lock"
            notice(
                f"taking over a stale lock on stack {stack}: pid {stale.pid} (since {stale.since}, "
                f"'{stale.command}') is {state}"
            )
        return fd
    raise LockedError(
        f"stack {stack}: could not take the lock file {path}; another process keeps replacing it"
    )


def _read_info(path: Path, retries: int = 0) -> LockInfo | None:
    for attempt in range(retries + 1):
        try:
            data = json.loads(path.read_text() or "null")
            if isinstance(data, dict):
                return LockInfo(
                    pid=int(data.get("pid", 0)), since=str(data.get("since", "?")),
                    command=str(data.get("command", "?")), host=str(data.get("host", "?")),
                )  # fmt: skip
        except (OSError, ValueError):
            pass
        if attempt < retries:
            time.sleep(0.02)  # the holder may be between ftruncate and write
    return None


def _checked(stack: str) -> str:
    if not stack or set(stack) - STACK_NAME_CHARS or stack[0] == "-":
        raise ConfigError(f"stack name '{stack}': use lowercase letters, digits and '-'")
    return stack
