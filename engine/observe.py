"""What a deployed stack is doing: each component's health (``mbops status``) and its logs (``mbops logs``).

Local stacks are read from their state: every resource's provider probes what it runs (process alive and
owning its port, health path answer and latency, database reachable, disk used), and the log files of the
app, the database and the cache are read (and followed); an app that runs as a container is read from the
Docker engine's log, with the engine's timestamps. Cloud stacks: the public endpoint's health path is
probed, and ``logs`` says where the cloud keeps the logs (the ``logs`` stack output: a command and a link).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mbops.engine.embedded import unwrap
from mbops.engine.state import StackState

LOG_COMPONENTS = ("app", "database", "cache")
APP_KINDS = ("servers", "containers", "serverless")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ContainerLog:
    """A container's output, kept by the Docker engine."""

    container_id: str
    docker_host: str | None = None

    def lines(self, tail: int | None = None, since: float | None = None) -> list[tuple[float, str]]:
        """(time, ``<timestamp> <line>``) of its output: the last ``tail`` lines, or those after ``since``."""
        from datetime import datetime

        from mbops.components.local.container import client

        raw = client(self.docker_host).containers.get(self.container_id).logs(
            timestamps=True, tail=tail if tail is not None else "all", since=since,
        )  # fmt: skip
        found = []
        for line in raw.decode(errors="replace").splitlines():
            stamp, _, text = line.partition(" ")
            try:
                when = datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()
            except ValueError:
                continue
            found.append((when, f"{stamp[:23]}Z {text}"))
        return found


LogSource = Path | ContainerLog


def local_status(state: StackState) -> list[dict[str, Any]]:
    """One row per resource: component, resource, state (up/down), detail and what it measured."""
    from mbops.engine.apply import PROVIDER_KEY, load_provider

    rows = []
    for res in state.resources:
        if not res.custom:
            continue
        outs = unwrap(res.outputs)
        try:
            provider = load_provider(res.outputs.get(PROVIDER_KEY) or res.inputs.get(PROVIDER_KEY))
            if getattr(provider, "probe", None) is None:
                continue  # nothing that runs (e.g. the app's image)
            found = provider.probe(outs)
        except Exception as exc:  # noqa: BLE001 - a probe that fails is itself the answer
            found = {"state": "unknown", "detail": f"cannot check: {exc}"}
        rows.append({"component": res.component, "resource": res.name, **found})
    return rows


def http_probe(url: str, timeout: float = 10) -> dict[str, Any]:
    """GET ``url``: up on 2xx/3xx, with the status code and latency."""
    started = time.monotonic()
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"state": "down", "detail": f"GET {url}: {getattr(exc, 'reason', exc)}"}
    latency = round((time.monotonic() - started) * 1000, 1)
    return {"state": "up" if 200 <= code < 400 else "down", "detail": f"GET {url} -> {code}", "latency_ms": latency}


def log_files(state: StackState, component: str | None = None) -> dict[str, LogSource]:
    """The stack's logs by component (app, database, cache), or only ``component``'s: files, or the Docker
    engine's log of the app's container."""
    found: dict[str, LogSource] = {}
    for res in state.resources:
        outs = unwrap(res.outputs) if res.custom else {}
        name = "app" if res.component in APP_KINDS else res.component
        if name not in LOG_COMPONENTS or (component is not None and component != name):
            continue
        if outs.get("container_id"):
            found[name] = ContainerLog(str(outs["container_id"]), outs.get("docker_host"))
        elif outs.get("log_file"):
            found[name] = Path(outs["log_file"])
    return found


def read_logs(files: dict[str, LogSource], lines: int) -> Iterator[str]:
    """The last ``lines`` lines of each log, prefixed by its component when there are several."""
    for name, source in files.items():
        last = [text for _, text in source.lines(tail=lines)] if isinstance(source, ContainerLog) else (
            _last_lines(source, lines))  # fmt: skip
        for line in last:
            yield f"{name:<9}| {line}" if len(files) > 1 else line


def follow_logs(files: dict[str, LogSource], *, stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """Lines written from now on (a rotated log is picked up from its start), until ``stop()``."""
    offsets: dict[str, float] = {
        name: (time.time() if isinstance(src, ContainerLog) else src.stat().st_size if src.exists() else 0)
        for name, src in files.items()
    }  # fmt: skip
    return _follow(files, offsets, stop)


def _follow(files: dict[str, LogSource], offsets: dict[str, float], stop: Callable[[], bool]) -> Iterator[str]:
    while not stop():
        quiet = True
        for name, path in files.items():
            if isinstance(path, ContainerLog):
                for when, line in path.lines(since=offsets[name]):
                    if when > offsets[name]:
                        offsets[name] = when
                        quiet = False
                        yield f"{name:<9}| {line}" if len(files) > 1 else line
                continue
            size = path.stat().st_size if path.exists() else 0
            if size < offsets[name]:
                offsets[name] = 0  # rotated
            if size > offsets[name]:
                with open(path, "rb") as handle:
                    handle.seek(int(offsets[name]))
                    chunk = handle.read(size - int(offsets[name]))
                complete = chunk.rfind(b"\n") + 1
                offsets[name] += complete
                for line in chunk[:complete].decode(errors="replace").splitlines():
                    quiet = False
                    yield f"{name:<9}| {line}" if len(files) > 1 else line
        if quiet:
            time.sleep(0.2)


def _last_lines(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 256 * lines - 4096))
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
