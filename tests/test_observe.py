"""`mbops status` and `mbops logs` on a deployed local stack (real processes), and on a cloud stack's outputs."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from mbops.components.local import process
from mbops.engine.observe import follow_logs, log_files
from mbops.engine.state import StateStore
from tests.test_local_helpers import local_env, mbops, outputs_of, state_of, write_stack  # noqa: F401

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


@pytest.fixture
def deployed(local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    stack_file = write_stack(tmp_path / "obs.yaml", name="obs", profile="custom")
    result = mbops("up", "-f", str(stack_file))
    assert result.exit_code == 0, result.output
    return stack_file


def test_status_shows_every_component_up_with_the_health_latency(deployed: Path) -> None:
    result = mbops("status", "-f", str(deployed), "--json")
    assert result.exit_code == 0, result.output
    rows = {row["component"]: row for row in json.loads(result.output)}
    assert {"servers", "database", "storage", "secrets"} <= set(rows)
    assert all(row["state"] == "up" for row in rows.values()), rows
    assert rows["servers"]["detail"] == "GET /healthz -> 200" and rows["servers"]["latency_ms"] > 0
    assert rows["database"]["disk_bytes"] > 0


def test_a_killed_app_shows_as_down_and_status_exits_1(deployed: Path, local_env: Path) -> None:  # noqa: F811
    pid = int(outputs_of(state_of(local_env, "obs"), "app-process")["pid"])
    os.killpg(pid, signal.SIGKILL)
    for _ in range(100):
        if not process.alive(pid):
            break
        time.sleep(0.05)
    result = mbops("status", "-f", str(deployed), "--json")
    assert result.exit_code == 1, result.output
    app = next(row for row in json.loads(result.output) if row["component"] == "servers")
    assert app["state"] == "down" and str(pid) in app["detail"]


def test_logs_have_timestamps_and_can_be_filtered(deployed: Path) -> None:
    result = mbops("logs", "-f", str(deployed), "--component", "app", "--lines", "5")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines
    assert any("GET /healthz" in line for line in lines), "the health checks of `up` are in the app's log"


def test_follow_prints_lines_written_after_it_started(deployed: Path, local_env: Path) -> None:  # noqa: F811
    files = log_files(StateStore(local_env).load("obs"), "app")
    seen: list[str] = []
    started = time.monotonic()
    stream = follow_logs(files, stop=lambda: bool(seen) or time.monotonic() - started > 10)
    endpoint = outputs_of(state_of(local_env, "obs"), "app-process")["url"]
    import urllib.request

    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{endpoint}/notes", timeout=5).read()
    for line in stream:
        seen.append(line)
    assert any("/notes" in line and STAMP.match(line) for line in seen), seen


def test_logs_of_a_stack_that_is_not_deployed_say_so(local_env: Path) -> None:  # noqa: F811
    result = mbops("logs", "-n", "nothing-here")
    assert result.exit_code == 1 and "not deployed" in result.output


def test_status_of_a_stack_that_does_not_exist_is_bad_input(local_env: Path) -> None:  # noqa: F811
    """Exit 1 means a component is down (README); a stack name that names nothing is bad input: exit 2."""
    result = mbops("status", "-n", "nothing-here")
    assert result.exit_code == 2, result.output
    assert "nothing-here is not deployed" in result.output and "mbops stacks" in result.output
