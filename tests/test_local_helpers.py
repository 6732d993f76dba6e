"""Helpers for the local-target tests (no tests here): the CLI runner, HTTP, state inspection, cleanup.

Every test gets its own state folder (``local_env``); teardown destroys what the test deployed, then stops by
pid anything still recorded (app, redis-server, PostgreSQL), so no test leaves a process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from mbops.cli.main import cli
from mbops.components.local import process
from mbops.components.local.cache import redis_server
from mbops.components.local.database import find_postgres
from mbops.engine.embedded import unwrap
from mbops.engine.state import StateStore

REPO = Path(__file__).resolve().parents[1]
HAS_POSTGRES = find_postgres() is not None
HAS_REDIS = redis_server() is not None
NO_POSTGRES = "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH)"
NO_REDIS = "redis-server is not installed"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, body: bytes | dict | None = None) -> tuple[int, Any]:
    """One HTTP request to the loopback app: (status, parsed JSON or raw bytes)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method)
    if isinstance(body, dict):
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=10) as response:
            status, raw, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, json.loads(raw) if kind.startswith("application/json") else raw


def free_port() -> int:
    """A port nothing listens on now (8080 may be taken on a shared machine)."""
    from mbops.components.local.provider import free_port as pick

    return pick()


def write_stack(path: Path, **fields: Any) -> Path:
    """A stack file whose app can import ``examples`` from any folder (PYTHONPATH = the repo), on a free port."""
    app = fields.setdefault("app", {})
    app.setdefault("env", {}).setdefault("PYTHONPATH", str(REPO))
    if path.exists() and "port" not in app:  # rewriting a stack file: keep its port
        app["port"] = (yaml.safe_load(path.read_text()).get("app") or {}).get("port") or free_port()
    app.setdefault("port", free_port())
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def mbops(*args: str) -> Result:
    """Run the CLI in-process (click's runner) with the current environment."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def mbops_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the CLI as a separate process, as a user would."""
    code = "from mbops.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def last_json(output: str) -> Any:
    """The JSON document at the end of a command's output (after any progress lines)."""
    start = output.index("{") if output.lstrip().startswith("{") else output.rindex("\n{") + 1
    return json.loads(output[start:])


def state_of(state_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((state_dir / f"{name}.json").read_text())


def outputs_of(state: dict[str, Any], suffix: str) -> dict[str, Any]:
    """Unwrapped outputs of the resource whose name ends with ``suffix`` (e.g. ``app-process``)."""
    found = [r for r in state["resources"] if r["custom"] and r["name"].endswith(suffix)]
    assert len(found) == 1, [r["name"] for r in state["resources"]]
    return unwrap(found[0]["outputs"])


def processes_of(state: dict[str, Any]) -> dict[str, tuple[int, int | None]]:
    """name -> (pid, start time) of every process the stack runs."""
    found: dict[str, tuple[int, int | None]] = {}
    for res in state["resources"]:
        outs = unwrap(res["outputs"]) if res["custom"] else {}
        if outs.get("start_time"):
            found[res["name"]] = (int(outs["pid"]), int(outs["start_time"]))
        elif outs.get("data_dir") and res["type"].endswith("PostgresCluster"):
            pid = _postmaster_pid(Path(outs["data_dir"]))
            if pid:
                found[res["name"]] = (pid, process.start_time(pid))
    return found


def ports_of(state: dict[str, Any]) -> dict[str, int]:
    return {
        r["name"]: int(unwrap(r["outputs"])["port"])
        for r in state["resources"]
        if r["custom"] and unwrap(r["outputs"]).get("port")
    }


def port_listening(port: int) -> bool:
    from mbops.components.local.provider import port_answers

    return port_answers(port)


def _postmaster_pid(data_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    return None


def kill(pid: int, started: int | None = None) -> None:
    """Stop one process we started (by pid, checking its start time)."""
    if process.alive(pid, started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not process.alive(pid, started):
                break
            time.sleep(0.02)


def cleanup(state_dir: Path) -> None:
    """Destroy every stack in ``state_dir`` with its data; stop by pid whatever is still running."""
    from mbops.engine import apply
    from mbops.host import stack_roots, stop_survivors

    store = StateStore(state_dir)
    names = {p.name.split(".json")[0] for p in state_dir.glob("*.json*")} if state_dir.is_dir() else set()
    names |= {p.name for p in state_dir.iterdir() if p.is_dir()} if state_dir.is_dir() else set()
    for name in sorted(names):
        leftovers: dict[str, tuple[int, int | None]] = {}
        with contextlib.suppress(Exception):
            leftovers = processes_of(state_of(state_dir, name))
        with contextlib.suppress(Exception):
            apply.destroy(name, store, delete_data=True)
        for pid, started in leftovers.values():
            kill(pid, started)
        roots = stack_roots(state_dir, name)
        stop_survivors(roots)  # pid files, and PostgreSQL servers of the stack's data directories
        _remove_containers(state_dir / name)
        for root in roots:
            if root.is_dir() and str(root).startswith(("/var/lib/mbops/", str(state_dir))):
                subprocess.run(["rm", "-rf", str(root)], check=False)


def _remove_containers(stack_dir: Path) -> None:
    """Remove the app containers of a stack (labelled with its folder), when a Docker engine answers."""
    if not os.environ.get("DOCKER_HOST"):
        return
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env(timeout=5)
        for found in client.containers.list(all=True, filters={"label": f"io.mbops.run-dir={stack_dir / 'app'}"}):
            found.remove(force=True)


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private state folder (MBOPS_STATE_DIR) and a short health timeout; everything is cleaned up after."""
    state_dir = tmp_path / "state"
    monkeypatch.setenv("MBOPS_STATE_DIR", str(state_dir))
    monkeypatch.setenv("MBOPS_HEALTH_TIMEOUT", "30")
    monkeypatch.delenv("MBOPS_LOCAL_DATABASE", raising=False)
    monkeypatch.chdir(REPO)
    try:
        yield state_dir
    finally:
        cleanup(state_dir)
