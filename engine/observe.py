"""What a deployed stack is doing: each component's health (``mbops status``) and its logs (``mbops logs``).

Local stacks are read from their state: every resource's provider probes what it runs (process alive and
owning its port, health path answer and latency, database reachable, disk used), and the log files of the
app, the database and the cache are read (and followed). Cloud stacks: the public endpoint's health path is
probed, and ``logs`` says where the cloud keeps the logs (the ``logs`` stack output: a command and a link).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mbops.engine.embedded import unwrap
from mbops.engine.state import StackState

LOG_COMPONENTS = ("app", "database", "cache")
APP_KINDS = ("servers", "containers", "serverless")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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


def log_files(state: StackState, component: str | None = None) -> dict[str, Path]:
    """The stack's log files by component (app, database, cache), or only ``component``'s."""
    found: dict[str, Path] = {}
    for res in state.resources:
        outs = unwrap(res.outputs) if res.custom else {}
        if not outs.get("log_file"):
            continue
        name = "app" if res.component in APP_KINDS else res.component
        if name in LOG_COMPONENTS and (component is None or component == name):
            found[name] = Path(outs["log_file"])
    return found


def read_logs(files: dict[str, Path], lines: int) -> Iterator[str]:
    """The last ``lines`` lines of each file, prefixed by its component when there are several."""
    for name, path in files.items():
        for line in _last_lines(path, lines):
            yield f"{name:<9}| {line}" if len(files) > 1 else line


def follow_logs(files: dict[str, Path], *, stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """Lines written from now on (a rotated log is picked up from its start), until ``stop()``."""
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in files.items()}
    return _follow(files, offsets, stop)


def _follow(files: dict[str, Path], offsets: dict[str, int], stop: Callable[[], bool]) -> Iterator[str]:
    while not stop():
        quiet = True
        for name, path in files.items():
            size = path.stat().st_size if path.exists() else 0
            if size < offsets[name]:
                offsets[name] = 0  # rotated
            if size > offsets[name]:
                with open(path, "rb") as handle:
                    handle.seek(offsets[name])
                    chunk = handle.read(size - offsets[name])
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
