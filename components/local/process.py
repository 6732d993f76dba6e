"""Background processes for the local target: start detached, identify by pid + start time, stop by group.

A process is identified by its pid and its kernel start time (``/proc/<pid>/stat`` field 22), so a pid that
the system reused for something else is never mistaken for ours, and never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from mbops.components.local.provider import private_file
from mbops.errors import DeployError
from mbops.host import pid_alive

# Variables of the deployer's environment a local process may see; everything else (cloud credentials,
# tokens, ...) stays out of it.
MAX_LOG_BYTES = 10 * 1024 * 1024
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV", "SSL_CERT_FILE")


def base_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def alive(pid: int | None, started: int | None = None) -> bool:
    """True when ``pid`` runs and (when ``started`` is given) is the same process that was started."""
    if not pid:
        return False
    reap(int(pid))
    if not pid_alive(int(pid)):
        return False
    return started is None or start_time(int(pid)) == int(started)


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


def spawn(
    argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str], log_file: str | Path,
    pid_file: str | Path | None = None, timestamps: bool = False,
) -> tuple[int, int]:  # fmt: skip
    """Start ``argv`` detached (its own session, stdin closed, output appended to ``log_file``).

    With ``timestamps``, the output goes through ``mbops.components.local.stamp`` (each line timestamped;
    it rotates the log); otherwise a log over 10 MiB is moved to ``<log>.1`` first (one previous generation).

    Returns ``(pid, start_time)``. The pid file, when given, holds ``{"pid", "start_time", "argv"}``.
    """
    log_path = Path(log_file)
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        if log_path.stat().st_size > MAX_LOG_BYTES:  # keep one previous generation
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
    banner = f"--- mbops: starting {' '.join(argv)}\n".encode()
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
    try:
        os.write(fd, banner)
        try:
            proc = subprocess.Popen(
                list(argv), cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL, stdout=fd,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            raise DeployError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    started = None
    for _ in range(50):
        started = start_time(proc.pid)
        if started is not None:
            break
        time.sleep(0.01)
    started = started or 0
    if pid_file:
        private_file(
            pid_file, json.dumps({"pid": proc.pid, "start_time": started, "argv": list(argv)}).encode()
        )
    return proc.pid, started


def stop(pid: int | None, started: int | None = None, *, timeout: float = 10.0) -> bool:
    """Stop the process group led by ``pid`` (SIGTERM, then SIGKILL after ``timeout``); True if it ran."""
    if not alive(pid, started):
        return False
    assert pid is not None
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, started):
            return True
        time.sleep(0.05)
    _signal(pid, signal.SIGKILL)
    for _ in range(100):
        if not alive(pid, started):
            break
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


def as_user(argv: Sequence[str], user: str | None) -> list[str]:
    """``argv`` run as ``user`` (via runuser) when we are root and ``user`` is someone else."""
    if user and os.geteuid() == 0 and user != "root":
        return ["runuser", "-u", user, "--", *argv]
    return list(argv)


def run(
    argv: Sequence[str], *, user: str | None = None, env: Mapping[str, str] | None = None,
    stdin: str | None = None, timeout: float = 120, what: str = "",
) -> str:  # fmt: skip
    """Run a command to completion (as ``user`` when given); its stdout, or a DeployError with its output."""
    full = as_user(argv, user)
    try:
        done = subprocess.run(
            full, input=stdin, capture_output=True, text=True, timeout=timeout,
            env={**base_env(), **(env or {})}, cwd="/",
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
