"""End to end on the local target: real PostgreSQL (or SQLite), Redis, the notes app, over HTTP.

up -> notes and files over HTTP -> up again (0 changes, nothing touched) -> change an app env var -> up (only
the app restarts, the note is still there) -> destroy (no process left, ports free, data kept) -> up again
(the kept data comes back) -> destroy --delete-data (data gone). Timings are printed (pytest -s).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mbops.components.local import process
from mbops.host import data_root
from tests.test_local_helpers import (
    HAS_POSTGRES,
    HAS_REDIS,
    NO_POSTGRES,
    http,
    last_json,
    local_env,
    mbops,
    mbops_process,
    outputs_of,
    port_listening,
    ports_of,
    processes_of,
    state_of,
    write_stack,
)

__all__ = ["local_env"]
# managed on this machine: app, database, storage, secrets, and redis-server when installed (else reported
# in `unavailable`, and the test runs without it).
COUNT = 5 if HAS_REDIS else 4


def _up_json(stack_file: Path) -> dict:
    result = mbops("up", "-f", str(stack_file), "--json")
    assert result.exit_code == 0, result.output
    return last_json(result.output)


@pytest.mark.parametrize(
    "database",
    [
        pytest.param("postgresql", marks=pytest.mark.skipif(not HAS_POSTGRES, reason=NO_POSTGRES)),
        pytest.param("sqlite"),
    ],
)
def test_up_use_change_destroy_keeps_data(
    local_env: Path, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database == "sqlite":
        monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")  # the documented switch that disables PostgreSQL
    name = f"e2e-{database[:6]}"
    stack_file = write_stack(tmp_path / "stack.yaml", name=name, profile="managed",
                             app={"env": {"APP_GREETING": "first"}})  # fmt: skip
    times: dict[str, float] = {}

    # 1. up (the first one through a real subprocess for the sqlite run: the app must outlive the CLI)
    t0 = time.monotonic()
    if database == "sqlite":
        done = mbops_process("up", "-f", str(stack_file), "--json", env={"MBOPS_STATE_DIR": str(local_env)})
        assert done.returncode == 0, done.stdout + done.stderr
        first = last_json(done.stdout)
    else:
        first = _up_json(stack_file)
    times["up"] = time.monotonic() - t0
    assert first["summary"]["create"] == COUNT and first["changes"] == COUNT, first
    outputs = first["outputs"]
    assert outputs["database_url"] == "[secret]" and outputs["database_engine"] == database
    endpoint = outputs["endpoint"]

    status, health = http("GET", f"{endpoint}/healthz")
    assert (
        status == 200
        and health["database"] == database
        and health["cache"] == ("redis" if HAS_REDIS else "disabled")
    ), health
    status, note = http("POST", f"{endpoint}/notes", {"title": "groceries", "body": "milk, eggs"})
    assert status == 201, note
    status, got = http("GET", f"{endpoint}/notes/{note['id']}")
    assert status == 200 and got["title"] == "groceries"
    status, saved = http("PUT", f"{endpoint}/files/photo.bin", b"\x00\x01binary\xff")
    assert status == 201, saved
    status, content = http("GET", f"{endpoint}/files/photo.bin")
    assert status == 200 and content == b"\x00\x01binary\xff"
    assert (Path(outputs["bucket"]) / "photo.bin").is_file()
    assert http("GET", endpoint + "/")[1]["greeting"] == "first"

    state = state_of(local_env, name)
    running = processes_of(state)
    expected = (
        {f"{name}-app-process"}
        | ({f"{name}-cache-server"} if HAS_REDIS else set())
        | ({f"{name}-db-cluster"} if database == "postgresql" else set())
    )
    assert set(running) == expected
    ports = ports_of(state)
    secrets_file = Path(outputs["secrets_store"])
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    wired = {"DATABASE_URL", "REDIS_URL"} if HAS_REDIS else {"DATABASE_URL"}
    assert set(json.loads(secrets_file.read_text())) == wired
    raw_state = (local_env / f"{name}.json").read_text()
    assert (local_env / f"{name}.json").stat().st_mode & 0o777 == 0o600

    # 2. up again: 0 changes, no process restarted, the state file not rewritten
    mtime = (local_env / f"{name}.json").stat().st_mtime_ns
    t0 = time.monotonic()
    second = _up_json(stack_file)
    times["second up"] = time.monotonic() - t0
    assert second["changes"] == 0 and second["summary"]["same"] == COUNT, second
    assert processes_of(state_of(local_env, name)) == running
    assert (local_env / f"{name}.json").stat().st_mtime_ns == mtime
    assert (local_env / f"{name}.json").read_text() == raw_state

    # 3. change an app env var: only the app restarts; the note survives
    write_stack(stack_file, name=name, profile="managed", app={"env": {"APP_GREETING": "second"}})
    result = mbops("up", "-f", str(stack_file))
    assert result.exit_code == 0, result.output
    assert f"1 updated, {COUNT - 1} unchanged" in result.output and "changed: env" in result.output, (
        result.output
    )
    after = processes_of(state_of(local_env, name))
    app = f"{name}-app-process"
    assert after[app] != running[app]
    assert {k: v for k, v in after.items() if k != app} == {k: v for k, v in running.items() if k != app}
    assert not process.alive(*running[app])
    assert http("GET", endpoint + "/")[1]["greeting"] == "second"  # same endpoint, new process
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "groceries"

    # 4. destroy: nothing of the stack left running, ports free, data kept
    data_path = Path(outputs["database_data_dir"])
    t0 = time.monotonic()
    result = mbops("destroy", "-f", str(stack_file))
    times["destroy"] = time.monotonic() - t0
    assert result.exit_code == 0, result.output
    assert f"{COUNT} deleted" in result.output and "Data kept" in result.output
    for pid, started in after.values():
        assert not process.alive(pid, started), f"pid {pid} still runs"
    for resource, port in ports.items():
        assert not port_listening(port), f"{resource}'s port {port} still answers"
    recorded = state_of(local_env, name)  # the stack stays listed: no resources, the data it kept
    assert recorded["resources"] == [] and str(data_path) in recorded["kept_data"]
    assert data_path.exists() and (Path(outputs["bucket"]) / "photo.bin").is_file()

    # 5. up again over the kept data: the note and the file are back
    again = _up_json(stack_file)
    assert again["summary"]["create"] == COUNT
    endpoint = again["outputs"]["endpoint"]
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "groceries"
    assert http("GET", f"{endpoint}/files/photo.bin")[1] == b"\x00\x01binary\xff"

    # 6. destroy --delete-data removes the data too
    final = processes_of(state_of(local_env, name))
    result = mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes")
    assert result.exit_code == 0, result.output
    assert not data_path.exists() and not Path(outputs["bucket"]).exists()
    assert all(not process.alive(pid, started) for pid, started in final.values())
    print(f"\nlocal target timings ({database}): " + ", ".join(f"{k} {v:.2f}s" for k, v in times.items()))


def test_app_environment_secrets_stacks_and_outputs(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "deployer-credential")  # must not leak into the app
    stack_file = write_stack(tmp_path / "s.yaml", name="outs-one", profile="custom",
                             app={"secret_env": {"API_TOKEN": "env:OUTS_TOKEN"}})  # fmt: skip
    missing = mbops("up", "-f", str(stack_file))
    assert missing.exit_code == 2, missing.output
    assert "app.secret_env.API_TOKEN" in missing.output and "OUTS_TOKEN" in missing.output
    assert not (local_env / "outs-one.json").exists()
    monkeypatch.setenv("OUTS_TOKEN", "s3cr3t-token")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0

    app = outputs_of(state_of(local_env, "outs-one"), "app-process")
    raw = Path(f"/proc/{app['pid']}/environ").read_text().split("\0")
    environ = dict(item.split("=", 1) for item in raw if "=" in item)
    assert environ["API_TOKEN"] == "s3cr3t-token" and environ["PORT"] == str(app["port"])
    data = data_root(local_env, "outs-one")  # the stack's folder, or as root one its app's user can reach
    assert environ["DATABASE_URL"] == f"sqlite://{data}/sqlite/database.sqlite"
    assert environ["STORAGE_URL"] == f"file://{data}/storage"
    assert "AWS_SECRET_ACCESS_KEY" not in environ
    secrets = json.loads((local_env / "outs-one" / "secrets.json").read_text())
    assert secrets == {"API_TOKEN": "s3cr3t-token", "DATABASE_URL": environ["DATABASE_URL"]}
    assert "s3cr3t-token" not in json.dumps(app)  # the app's inputs name the secrets file, not the values

    masked = json.loads(mbops("outputs", "-f", str(stack_file), "--json").output)
    assert masked["database_url"] == "[secret]" and masked["endpoint"].startswith("http://127.0.0.1:")
    shown = json.loads(mbops("outputs", "-f", str(stack_file), "--json", "--show-secrets").output)
    assert shown["database_url"] == f"sqlite://{data}/sqlite/database.sqlite"
    assert mbops("outputs", "-f", str(stack_file), "endpoint").output.strip() == masked["endpoint"]
    refused = mbops("outputs", "-f", str(stack_file), "database_url")
    assert refused.exit_code == 2 and "--show-secrets" in refused.output
    # the state file keeps secrets marked as secrets
    state = state_of(local_env, "outs-one")
    assert (
        state["outputs"]["database_url"]["4dabf18193072939515e22adb298388d"]
        == "1b47061264138c4ac30d75fd1eb44270"
    )

    listed = json.loads(mbops("stacks", "--json").output)
    assert [(s["name"], s["cloud"], s["profile"], s["resources"]) for s in listed] == [
        ("outs-one", "local", "custom", 4)
    ]
    assert listed[0]["last_update"] and listed[0]["locked_by"] is None
    human = mbops("stacks")
    assert "outs-one" in human.output and "custom" in human.output


def test_data_kept_by_destroy_is_removed_by_a_later_delete_data(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    stack_file = write_stack(tmp_path / "stack.yaml", name="kept")
    outputs = _up_json(stack_file)["outputs"]
    assert mbops("destroy", "-f", str(stack_file)).exit_code == 0
    bucket = Path(outputs["bucket"])
    assert bucket.is_dir(), "a plain destroy keeps the data"
    refused = mbops("destroy", "-f", str(stack_file), "--delete-data")  # no terminal to confirm on
    assert refused.exit_code == 2 and "pass --yes" in refused.output, refused.output
    assert bucket.is_dir(), "an unconfirmed --delete-data deletes nothing"
    result = mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes")
    assert result.exit_code == 0, result.output
    assert not bucket.exists()
    assert not (local_env / "kept.json").exists()
