"""What the local dynamic providers share: a base class, input checks, ports, private files and folders.

Every local resource is a ``pulumi.dynamic.Resource`` whose provider is a module-level ``LocalProvider``
subclass without instance state, so it pickles by reference and both the embedded engine and the real
Pulumi engine (``pulumi up`` on this repo) can run it. Conventions the embedded engine relies on:

- ``create`` returns the inputs plus computed outputs (the engine passes old outputs to ``diff``/``update``);
- ``secret_outputs`` names outputs that are secrets (also given as ``additional_secret_outputs``);
- a changed input means ``update``, except ``replace_keys`` (a new resource, the old one deleted first)
  and ``quiet_keys`` (recorded, nothing touched);
- ``problems(outs)`` says what is wrong with the live resource (a dead process, a missing folder): ``diff``
  treats any problem as a change, so the next ``up`` repairs it, and ``read`` reports it (``mbops refresh``);
- ``delete`` keeps data unless the properties say ``delete_data=True``: the embedded engine passes it for
  ``destroy --delete-data``; a data resource also gets it as an input from a stack released for deletion
  (``release_data``), so that a later delete by any engine (the Pulumi CLI's dynamic provider host included)
  removes the data. Such ``record_keys`` are updated in place without touching the service;
- ``path_keys`` name the outputs that are paths the provider writes, stops or deletes: the engine refuses a
  state whose paths lie outside the stack's own folders (a state file copied from another stack);
- ``leftovers(inputs)`` says what an interrupted ``create`` may have left (a survivor process, a half-built
  cluster), for ``mbops refresh``; ``delete`` with the inputs alone cleans it up.
- ``holders(outs)`` names the pids whose listening sockets are the resource's own (the engine's port preflight
  tells them from another process, or another stack's service).
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from mbops.host import write_private

PROVIDER_KEY = "__provider"
LOOPBACK = "127.0.0.1"


class LocalProvider(ResourceProvider):
    """Base of the local providers: input checks, a generic diff and read built on ``problems``."""

    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()
    computed: ClassVar[tuple[str, ...]] = ()
    secret_outputs: ClassVar[tuple[str, ...]] = ()
    replace_keys: ClassVar[tuple[str, ...]] = ()
    quiet_keys: ClassVar[tuple[str, ...]] = ()
    record_keys: ClassVar[tuple[str, ...]] = ()  # a change is an update that only records the new value
    path_keys: ClassVar[tuple[str, ...]] = ()
    healthy_status: ClassVar[str] = "ok"  # the ``status`` output of a resource without problems
    serves_app: ClassVar[bool] = False  # the app (process or container) on ``app.port``

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        allowed = {*self.required, *self.optional, *self.record_keys, *self.computed, PROVIDER_KEY}
        failures = [CheckFailure(key, "required") for key in self.required if news.get(key) in (None, "")]
        failures += [
            CheckFailure(key, f"unknown property; allowed: {', '.join(sorted(allowed - {PROVIDER_KEY}))}")
            for key in news
            if key not in allowed
        ]
        return CheckResult(news, failures)

    def problems(self, outs: dict[str, Any]) -> list[str]:
        """What is wrong with the live resource described by ``outs`` (empty when it is healthy)."""
        return []

    def leftovers(self, inputs: dict[str, Any]) -> list[str]:
        """What an interrupted create of a resource with ``inputs`` left behind (empty: nothing)."""
        return []

    def holders(self, outs: dict[str, Any]) -> set[int]:
        """The pids whose sockets are the resource's own: its recorded process (``pid`` checked by
        ``start_time``) and that process's descendants, while it runs; empty otherwise."""
        from mbops.components.local import process  # process.py imports this module

        pid, started = outs.get("pid"), outs.get("start_time")
        if not pid or not process.alive(pid, started):
            return set()
        return process.family(int(pid))

    def paths(self, outs: dict[str, Any]) -> list[str]:
        """The paths the resource acts on (its ``path_keys`` outputs that are set)."""
        found: list[str] = []
        for key in self.path_keys:
            value = outs.get(key)
            if isinstance(value, str) and value:
                found.append(value)
            elif isinstance(value, list | tuple):
                found += [str(v) for v in value if v]
        return found

    def recording_only(self, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        """True when only ``record_keys`` changed and the resource is healthy: the update just records them."""
        changed = changed_inputs(olds, news, ignore=(*self.computed, *self.quiet_keys))
        return bool(changed) and set(changed) <= set(self.record_keys) and not self.problems(olds)

    def recorded(self, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """The update of a ``recording_only`` change: the old outputs with the new record keys."""
        return UpdateResult(outs={**olds, **{key: news.get(key) for key in self.record_keys}})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_inputs(olds, news, ignore=(*self.computed, *self.quiet_keys))
        replaces = [key for key in changed if key in self.replace_keys]
        problems = self.problems(olds)
        if problems and self.gone(olds):
            replaces = replaces or ["id"]  # nothing left to update: create it again
        return DiffResult(
            changes=bool(changed or problems),
            replaces=replaces,
            stables=[],
            delete_before_replace=True,
        )

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        """Health for ``mbops status``: ``state`` (up / down), ``detail``, and what the resource can measure."""
        problems = self.problems(outs)
        return {"state": "down" if problems else "up", "detail": "; ".join(problems) or self.healthy_status}

    def gone(self, outs: dict[str, Any]) -> bool:
        """True when the resource no longer exists at all (so it must be created again, not updated)."""
        return False

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if self.gone(props):
            return ReadResult("", {})
        problems = self.problems(props)
        return ReadResult(id_, {**props, "status": "; ".join(problems) if problems else self.healthy_status})


def changed_inputs(olds: dict[str, Any], news: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Input keys whose value differs between the old outputs and the new inputs.

    ``ignore`` lists computed outputs (absent from the new inputs) and keys whose change does not matter.
    """
    keys = (set(olds) | set(news)) - {PROVIDER_KEY, "status", *ignore}
    return sorted(k for k in keys if olds.get(k) != news.get(k))


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free on the loopback, else a free ephemeral port."""
    if preferred and port_free(int(preferred)):
        return int(preferred)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    """True when a server could listen on the loopback ``port`` (with SO_REUSEADDR, as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, int(port)))
        except OSError:
            return False
        return True


def port_answers(port: int | None, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on the loopback ``port``."""
    if not port:
        return False
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, int(port)), timeout=timeout):
        return True
    return False


def private_file(path: str | Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), atomically."""
    write_private(Path(path), data)


def disk_used(path: str | Path) -> int:
    """Bytes used by the files under ``path`` (0 when it does not exist)."""
    root = Path(path)
    if root.is_file():
        return root.stat().st_size
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total


def port_holder(port: int) -> str:
    """Who listens on the loopback ``port``, for an error message ("pid 123: python -m app"), or ''."""
    import psutil

    for pid in sorted(port_owners(port)):
        with contextlib.suppress(psutil.Error):
            return f"pid {pid}: {' '.join(psutil.Process(pid).cmdline())[:120]}"
    return ""


def owns_port(pids: set[int], port: int) -> bool:
    """True when one of ``pids`` has a socket listening on ``port`` (reads only those processes' sockets)."""
    import psutil

    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == int(port):
                    return True
    return False


def port_owners(port: int) -> set[int]:
    """The pids with a socket listening on ``port`` (those this user may see)."""
    import psutil

    owners: set[int] = set()
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == int(port) and conn.pid:
                owners.add(conn.pid)
    return owners


def tail(path: str | Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
