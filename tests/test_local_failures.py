"""The local target when things go wrong: locks, crashed and unhealthy apps, corrupted state, prod safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mbops.components.local import process
from mbops.engine.state import StateStore
from tests.test_local_helpers import (
    REPO,
    http,
    last_json,
    local_env,
    mbops,
    outputs_of,
    processes_of,
    state_of,
    write_stack,
)

__all__ = ["local_env"]


@pytest.fixture
def sqlite(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the engine, not the database: SQLite keeps them fast."""
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")


def _custom_stack(tmp_path: Path, name: str, **app: object) -> Path:
    return write_stack(tmp_path / f"{name}.yaml", name=name, profile="custom", app=dict(app))


@pytest.mark.usefixtures("sqlite")
def test_second_up_fails_at_once_while_another_process_holds_the_lock(
    local_env: Path, tmp_path: Path
) -> None:
    stack_file = _custom_stack(tmp_path, "locked")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from mbops.engine.state import StateStore
            with StateStore({str(local_env)!r}).lock("locked", "up"):
                print("held", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        result = mbops("up", "-f", str(stack_file))
        elapsed = time.monotonic() - t0
        assert result.exit_code == 1, result.output
        assert f"stack locked is locked by pid {holder.pid} (since " in result.output
        assert elapsed < 10, f"waited {elapsed:.1f}s instead of failing at once"
        assert not (local_env / "locked.json").exists()  # nothing was deployed
        destroy = mbops("destroy", "-f", str(stack_file))
        assert destroy.exit_code == 1  # no state yet; and the lock is not touched
        assert StateStore(local_env).lock_holder("locked").pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.usefixtures("sqlite")
def test_a_stale_lock_from_a_dead_process_is_taken_over(local_env: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    local_env.mkdir(parents=True)
    (local_env / "stale.lock").write_text(json.dumps(
        {"pid": dead.pid, "since": "2024-01-01T00:00:00+00:00", "command": "up", "host": "here"}
    ))  # fmt: skip
    result = mbops("up", "-f", str(_custom_stack(tmp_path, "stale")))
    assert result.exit_code == 0, result.output
    assert f"taking over a stale lock on stack stale: pid {dead.pid}" in result.output
    assert "no longer running" in result.output
    assert not (local_env / "stale.lock").exists()  # released after the run


@pytest.mark.usefixtures("sqlite")
def test_refresh_finds_a_crashed_app_and_up_repairs_it(local_env: Path, tmp_path: Path) -> None:
    stack_file = _custom_stack(tmp_path, "crash")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    app = outputs_of(state_of(local_env, "crash"), "app-process")
    os.kill(app["pid"], signal.SIGKILL)
    for _ in range(100):
        if not process.alive(app["pid"], app["start_time"]):
            break
        time.sleep(0.02)

    result = mbops("refresh", "-f", str(stack_file), "--json")
    assert result.exit_code == 0, result.output
    drift = last_json(result.output)["drift"]
    assert [(d["resource"], d["was"]) for d in drift] == [("crash-app-process", "running")]
    assert f"pid {app['pid']}) is not running" in drift[0]["now"]
    human = mbops("refresh", "-f", str(stack_file))
    assert "1 resource(s) drifted" in human.output and "Run `mbops up` to repair" in human.output

    repaired = mbops("up", "-f", str(stack_file))
    assert repaired.exit_code == 0, repaired.output
    assert "1 updated, 3 unchanged" in repaired.output and "repair:" in repaired.output
    new = outputs_of(state_of(local_env, "crash"), "app-process")
    assert new["pid"] != app["pid"] and new["port"] == app["port"]  # same endpoint
    assert http("GET", f"{new['url']}/healthz")[0] == 200
    assert last_json(mbops("refresh", "-f", str(stack_file), "--json").output)["drift"] == []


@pytest.mark.usefixtures("sqlite")
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("python -c 'import time; time.sleep(600)'", "did not become healthy"),
        ("python -c 'import sys; print(\"boom: no config\"); sys.exit(3)'", "exited while starting"),
    ],
    ids=["never-answers", "exits"],
)
def test_an_app_that_never_becomes_healthy_fails_clearly(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, expected: str
) -> None:
    monkeypatch.setenv("MBOPS_HEALTH_TIMEOUT", "2")
    stack_file = _custom_stack(tmp_path, "sick", command=command)
    t0 = time.monotonic()
    result = mbops("up", "-f", str(stack_file))
    assert result.exit_code == 1, result.output
    assert time.monotonic() - t0 < 30
    assert expected in result.output and "Error: sick-app-process:" in result.output, result.output
    assert "last lines of" in result.output.lower() or "Last lines of" in result.output
    if "exits" in expected:
        assert "boom: no config" in result.output  # the tail of the app's log
    pid_file = json.loads((local_env / "sick" / "app" / "app.pid").read_text())
    assert not process.alive(pid_file["pid"], pid_file["start_time"]), "the failed app was left running"
    state = state_of(local_env, "sick")  # what was created is recorded, so destroy can remove it
    assert state["last"]["result"] == "failed"
    assert not any(r["name"] == "sick-app-process" for r in state["resources"])
    assert {r["name"] for r in state["resources"] if r["custom"]} == {
        "sick-db-sqlite", "sick-files-directory", "sick-secrets-file",
    }  # fmt: skip


@pytest.mark.usefixtures("sqlite")
def test_a_corrupted_state_file_stops_everything_and_is_kept(local_env: Path, tmp_path: Path) -> None:
    stack_file = _custom_stack(tmp_path, "broken")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    path = local_env / "broken.json"
    good = path.read_text()
    running = processes_of(state_of(local_env, "broken"))
    path.write_text(good[: len(good) // 2])  # a torn write, e.g. from a full disk

    for command in ("up", "destroy", "refresh"):
        result = mbops(command, "-f", str(stack_file))
        assert result.exit_code == 1, result.output
        assert (
            f"the state file {path} is corrupted" in result.output and "Nothing was changed" in result.output
        )
    backups = list(local_env.glob("broken.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == good[: len(good) // 2]
    assert path.read_text() == good[: len(good) // 2]  # left in place: no command mistakes it for empty
    assert all(process.alive(pid, started) for pid, started in running.values())  # nothing deleted
    listed = json.loads(mbops("stacks", "--json").output)
    assert listed[0]["name"] is None and "corrupted" in listed[0]["error"]

    path.write_text(good)  # repaired: everything works again
    assert mbops("destroy", "-f", str(stack_file)).exit_code == 0


@pytest.mark.usefixtures("sqlite")
def test_destroy_refuses_a_prod_stack_without_delete_data_and_yes(local_env: Path, tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path / "p.yaml", name="shop-prod", profile="custom", environment="prod")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    for flags in ([], ["--yes"], ["--delete-data"]):
        result = mbops("destroy", "-f", str(stack_file), *flags)
        assert result.exit_code == 2, result.output
        assert "prod stack" in result.output and "--delete-data --yes" in result.output
    assert (local_env / "shop-prod.json").exists()
    result = mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes")
    assert result.exit_code == 0, result.output
    assert not (local_env / "shop-prod").exists()


def test_cloud_targets_go_through_pulumi_and_say_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mbops.engine.automation.find_pulumi", lambda *args, **kwargs: None)  # no pulumi CLI
    result = mbops("up", "--cloud", "aws", "--profile", "saas", "--yes")
    assert result.exit_code == 4, result.output
    assert "pulumi" in result.output.lower() and "mbops preview" in result.output


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure", "local"])
def test_prod_destroy_without_flags_exits_2_before_anything_else(
    cloud: str, local_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard holds on every target, before the engine (or the Pulumi CLI) is even looked for."""
    looked_for: list[str] = []
    monkeypatch.setattr("mbops.engine.automation.find_pulumi", lambda *a, **k: looked_for.append("cli"))
    for flags in ([], ["--yes"], ["--delete-data"]):
        result = mbops("destroy", "--cloud", cloud, "--env", "prod", *flags)
        assert result.exit_code == 2, result.output
        assert "prod stack" in result.output and "--delete-data --yes" in result.output
    assert looked_for == []


@pytest.mark.usefixtures("sqlite")
def test_up_enforces_mandatory_policies_before_touching_anything(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mbops.policies import check

    def violating(graph: dict, stack: object = None) -> list[dict]:
        app = next(r for r in graph["resources"] if r["name"].endswith("app-process"))
        return [{"rule": "demo-rule", "severity": "high", "enforcement": "mandatory", "resource": app["urn"],
                 "name": app["name"], "type": app["type"], "message": "planted violation",
                 "remediation": "remove it", "control": None, "reason": None}]  # fmt: skip

    monkeypatch.setattr(check, "evaluate", violating)
    result = mbops("up", "-f", str(_custom_stack(tmp_path, "policed")))
    assert result.exit_code == 3, result.output
    assert "planted violation" in result.output
    assert not (local_env / "policed.json").exists() and not (local_env / "policed").exists()
