"""Background processes for the local target: start detached, identify by pid + start time, stop by group.

A process is identified by its pid and its kernel start time (``/proc/<pid>/stat`` field 22), so a pid that
the system reused for something else is never mistaken for ours, and never signalled.

When mbops runs as root, the services it starts run as unprivileged system users (``run_as``): PostgreSQL as
``mbops``, the app as ``mbops-app``, Redis as ``mbops-cache``, each created on first use. A user switch happens
in the child before it runs the program (its working directory is entered first, as root, so it need not be
reachable by that user). When the program itself lives where that user cannot go (a Python under ``/root``,
mode 0700), it starts through ``sandbox.py``: a private mount namespace in which only those folders are made
reachable (read-only), the rest of ``/root`` hidden.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from mbops.components.local.provider import private_file
from mbops.errors import DeployError
from mbops.host import as_root, same_process, terminate, user_can_reach
from mbops.host import start_time as _start_time

# Variables of the deployer's environment a local process may see; everything else (cloud credentials,
# tokens, ...) stays out of it.
MAX_LOG_BYTES = 10 * 1024 * 1024
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV", "SSL_CERT_FILE")
APP_USER = "mbops-app"
CACHE_USER = "mbops-cache"
SANDBOX = Path(__file__).with_name("sandbox.py")
_USERS = threading.Lock()  # useradd locks /etc/passwd: one at a time


def base_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def service_user(name: str) -> str | None:
    """The user a service runs as: ``name`` when mbops runs as root, else None (the current user)."""
    return name if as_root() else None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    return _start_time(pid)


def alive(pid: int | None, started: int | None = None) -> bool:
    """True when ``pid`` runs and (when ``started`` is given) is the same process that was started."""
    return same_process(int(pid) if pid else None, int(started) if started is not None else None)


def family(pid: int) -> set[int]:
    """``pid`` and its descendants (a server's workers own its sockets too)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        return {pid, *(child.pid for child in parent.children(recursive=True))}
    except psutil.Error:
        return {pid}


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is our child (so it does not linger as a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def recorded(pid_file: str | Path) -> tuple[int, int] | None:
    """The (pid, start time) a pid file written by ``spawn`` names, while that process still runs."""
    try:
        info = json.loads(Path(pid_file).read_text())
        pid, started = int(info["pid"]), int(info["start_time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, started) if alive(pid, started) else None


def stop_survivor(pid_file: str | Path) -> int | None:
    """Stop the process a pid file names if it still runs (left by an interrupted run); its pid, or None."""
    found = recorded(pid_file)
    if found is None:
        return None
    stop(*found)
    return found[0]


def spawn(
    argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str], log_file: str | Path,
    pid_file: str | Path | None = None, timestamps: bool = False, user: str | None = None,
    stdin_data: bytes | None = None,
) -> tuple[int, int]:  # fmt: skip
    """Start ``argv`` detached (its own session, output appended to ``log_file``), as ``user`` when given.

    With ``timestamps``, the output goes through ``mbops.components.local.stamp`` (each line timestamped;
    it rotates the log); otherwise a log over 10 MiB is moved to ``<log>.1`` first (one previous generation).
    ``stdin_data`` is written to the process's stdin (then closed); otherwise stdin is closed at once.

    Returns ``(pid, start_time)``. The pid file, when given, holds ``{"pid", "start_time", "argv", "user"}``.
    """
    log_path = Path(log_file)
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        if log_path.stat().st_size > MAX_LOG_BYTES:  # keep one previous generation
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
    banner = f"--- mbops: starting {' '.join(argv)}{f' as {user}' if user else ''}\n".encode()
    if timestamps:
        read_end, fd = os.pipe()
        stamper = subprocess.Popen(
            [sys.executable, "-m", "mbops.components.local.stamp", str(log_path)], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
            env=base_env(),
        )  # fmt: skip
        os.close(read_end)
        del stamper  # it exits when the app closes the pipe; subprocess reaps it (no zombie)
    else:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        banner = time.strftime("%Y-%m-%dT%H:%M:%S%z ").encode() + banner
    full, extra = list(argv), dict(env)
    switch: dict[str, object] = {}
    if user and as_root():
        ensure_system_user(user)
        entry = pwd.getpwnam(user)
        extra.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
        hidden = [p for p in needed_paths(argv, env) if not user_can_reach(p, user)]
        if hidden:
            full = [sys.executable, "-I", "-S", str(SANDBOX), "--user", user,
                    *(a for p in hidden for a in ("--expose", p)), "--", *argv]  # fmt: skip
        else:
            switch = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    try:
        os.write(fd, banner)
        try:
            proc = subprocess.Popen(
                full, cwd=str(cwd), env=extra, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=fd, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, **switch,  # type: ignore[arg-type]
            )  # fmt: skip
        except OSError as exc:
            raise DeployError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if stdin_data is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin_data)
        proc.stdin.close()
    started = None
    for _ in range(50):
        started = start_time(proc.pid)
        if started is not None:
            break
        time.sleep(0.01)
    started = started or 0
    if pid_file:
        record = {"pid": proc.pid, "start_time": started, "argv": list(argv), "user": user}
        private_file(pid_file, json.dumps(record).encode())
    return proc.pid, started


def needed_paths(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The folders a program may need to reach to run: its own folder, those of absolute paths among its
    arguments, the ``PYTHONPATH`` entries, and this Python's installation (stdlib) and environment
    (site-packages) — a ``python`` command runs with it, directly or through a wrapper."""
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH")) or argv[0]
    found: list[str] = []
    for path in (program, *argv[1:]):
        if os.path.isabs(path) and os.path.exists(path):
            real = os.path.realpath(path)
            found.append(real if os.path.isdir(real) else os.path.dirname(real))
    found += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if os.path.isabs(p)]
    found += [os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)]
    return [p for p in dict.fromkeys(found) if os.path.isdir(p)]


def stop(pid: int | None, started: int | None = None, *, timeout: float = 10.0) -> bool:
    """Stop the process group led by ``pid`` (SIGTERM, then SIGKILL after ``timeout``); True if it ran."""
    return terminate(pid, started, timeout=timeout)


def as_user(argv: Sequence[str], user: str | None) -> list[str]:
    """``argv`` run as ``user`` (via runuser) when we are root and ``user`` is someone else."""
    if user and os.geteuid() == 0 and user != "root":
        return ["runuser", "-u", user, "--", *argv]
    return list(argv)


def run(
    argv: Sequence[str], *, user: str | None = None, env: Mapping[str, str] | None = None,
    stdin: str | None = None, timeout: float = 120, what: str = "",
) -> str:  # fmt: skip
    """Run a command to completion (as ``user`` when given); its stdout, or a DeployError with its output.

    It runs in its own session, so a Ctrl-C on mbops's terminal does not cut it short: mbops finishes the step
    in flight and stops there.
    """
    full = as_user(argv, user)
    try:
        done = subprocess.run(
            full, input=stdin, capture_output=True, text=True, timeout=timeout,
            env={**base_env(), **(env or {})}, cwd="/", start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise DeployError(f"{what or argv[0]}: {full[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise DeployError(f"{what or argv[0]}: no answer after {timeout:.0f}s") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise DeployError(f"{what or argv[0]} failed (exit {done.returncode}): {output[-2000:]}")
    return done.stdout


def ensure_system_user(name: str) -> None:
    """Create the unprivileged system user ``name`` (no login, no home) when it does not exist (root only)."""
    with _USERS:
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            pass
        if os.geteuid() != 0:
            raise DeployError(f"the system user '{name}' does not exist and only root can create it")
        run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--comment", "mbops local services", name],
            what=f"creating the system user '{name}'",
        )  # fmt: skip
