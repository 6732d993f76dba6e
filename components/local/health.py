"""An app on a loopback port, as a process or a container: which port it gets, and when it counts as healthy.

- Port: ``app.port`` when it is free on 127.0.0.1. A busy port is an error that names who holds it, unless the
  deploy allows another (``mbops up --port auto``): then a free port is picked and the ``notice`` output says
  so (``mbops up`` prints it, ``--json`` lists it in ``messages``). Never silent. An update checks the new port
  *before* it stops the running app: a busy port fails the update and the running app keeps serving.
- Healthy: ``GET <health_path>`` answers 2xx/3xx within the timeout *and* the answering socket belongs to the
  app (its process or a descendant: a server's workers), so another process on the same port never passes for
  the app (two stacks on one port fail clearly instead of sharing one app and its database).
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from mbops.components.local.provider import free_port, owns_port, port_free, port_holder, port_owners
from mbops.errors import ConfigError, DeployError

HEALTH_TIMEOUT_ENV = "MBOPS_HEALTH_TIMEOUT"
DEFAULT_HEALTH_TIMEOUT_S = 60.0
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def health_timeout() -> float:
    raw = os.environ.get(HEALTH_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_HEALTH_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not 0 < value <= 3600:
        raise ConfigError(f"{HEALTH_TIMEOUT_ENV}={raw!r}: give the seconds to wait for the app (0-3600)")
    return value


class PortInUse(DeployError):
    """``app.port`` is held by another process: raised before anything was stopped or started, so the engine
    records no unfinished step (``nothing_changed``)."""

    nothing_changed = True


def usable(port: int, ours: Collection[int] = ()) -> bool:
    """True when the app may listen on ``port``: it is free, or only ``ours`` (the app being replaced, stopped
    before the new one starts) listen on it."""
    if port_free(port):
        return True
    owners = port_owners(port)
    return bool(owners) and owners <= set(ours)


def port_in_use(port: int, holder: str, *, whose: str = "", kept: str = "") -> PortInUse:
    """The error for a busy ``app.port``: who holds it (``whose``: e.g. another stack's app), what to do, and
    ``kept`` (what was left as it was)."""
    held = f" by {holder}" if holder else ""
    said = f" ({whose})" if whose else ""
    return PortInUse(
        f"app.port {port} on 127.0.0.1 is in use{held}{said}. Stop that process, choose another port "
        f"(app.port in the stack file, or `mbops up --port N`), or let mbops pick a free one: `mbops up --port auto`."
        + (f" {kept}" if kept else "")
    )


def choose_port(props: dict[str, Any], keep: int | None = None, ours: Collection[int] = ()) -> tuple[int, str]:
    """(port, notice): ``keep`` (the port the app had) while it is usable and ``app.port`` did not change, else
    ``app.port`` when usable; a busy ``app.port`` is a ``PortInUse`` error unless ``port_auto``. A port only
    ``ours`` listen on (the running app, about to be replaced) counts as usable: call this *before* stopping it."""
    preferred = props.get("preferred_port")
    if keep and usable(int(keep), ours):
        return int(keep), ""
    if not preferred:
        return free_port(), ""
    preferred = int(preferred)
    if usable(preferred, ours):
        return preferred, ""
    holder = port_holder(preferred)
    if props.get("port_auto"):
        port = free_port()
        held = f" by {holder}" if holder else ""
        return port, f"app.port {preferred} is in use{held}: the app listens on {port} instead (--port auto)"
    raise port_in_use(preferred, holder)


def left_running(error: PortInUse, what: str, port: Any) -> PortInUse:
    """``error`` saying that the running app (``what``, on ``port``) was left as it was."""
    return PortInUse(f"{error} The running app ({what}, port {port}) was left as it was: it still serves.")


def wait_released(port: int, timeout: float = 5.0) -> None:
    """Wait (up to ``timeout``) until ``port`` is free: a stopped app's socket closes as its processes exit."""
    deadline = time.monotonic() + timeout
    while not port_free(port) and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass(frozen=True)
class Runner:
    """What the health wait checks the app by: ``running()`` (False once it has exited), ``owners()`` (the pids
    whose sockets count as the app's), ``stop()`` and ``log_tail()`` for the error message."""

    what: str
    running: Callable[[], bool]
    owners: Callable[[], set[int]]
    stop: Callable[[], None]
    log_tail: Callable[[], str]


def wait_healthy(url: str, port: int, runner: Runner, timeout: float) -> None:
    """Wait until ``url`` answers 2xx/3xx from the app's own socket; stop it and raise otherwise."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if not runner.running():
            raise DeployError(
                f"{runner.what} exited while starting (before {url} answered); last lines of its log:\n"
                f"{runner.log_tail()}"
            )
        try:
            with DIRECT.open(url, timeout=2) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (urllib.error.URLError, OSError) as exc:
            code, last = 0, str(getattr(exc, "reason", exc))
        if 200 <= code < 400:
            if owns_port(runner.owners(), port):
                return
            holder = port_holder(port) or "another process"
            runner.stop()
            raise DeployError(
                f"port {port} answers, but not from {runner.what}: it is held by {holder}. Two services cannot "
                f"share a port; stop the other one or give this stack another port (`mbops up --port N` or "
                f"`--port auto`). {runner.what.capitalize()} was stopped."
            )
        if code:
            last = f"HTTP {code}"
        if time.monotonic() > deadline:
            runner.stop()
            raise DeployError(
                f"the app did not become healthy: {url} gave no 2xx/3xx answer within {timeout:g}s "
                f"(last: {last}); it was stopped. Set {HEALTH_TIMEOUT_ENV} to wait longer. "
                f"Last lines of its log:\n{runner.log_tail()}"
            )
        time.sleep(0.1)


def probe_http(url: str, health_path: str) -> dict[str, Any]:
    """GET the health path: state up on 2xx/3xx, with the answer and its latency."""
    target = f"{url}{health_path}"
    started = time.monotonic()
    try:
        with DIRECT.open(target, timeout=5) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return {"state": "down", "detail": f"{target}: {getattr(exc, 'reason', exc)}"}
    latency = round((time.monotonic() - started) * 1000, 1)
    return {"state": "up" if 200 <= code < 400 else "down", "detail": f"GET {health_path} -> {code}",
            "latency_ms": latency}  # fmt: skip
