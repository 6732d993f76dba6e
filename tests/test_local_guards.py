"""Guard rails of the local target, each reproducing a way it broke (issues 12 and 16): processes are who they say
they are, ports are never shared or moved silently, interrupted runs leave a stack some command repairs, services
run unprivileged as root, a state acts only on its own stack's folders, and released data goes with a delete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mbops.components.local import process
from mbops.components.local.provider import port_answers
from mbops.engine.embedded import unwrap
from mbops.host import cluster_root, data_root
from tests.test_local_docker import (  # noqa: F401  (fixtures: dockerd, a registry, a base image, the env)
    base_image,
    docker_env,
    docker_host,
    registry,
)
from tests.test_local_helpers import (
    HAS_POSTGRES,
    HAS_REDIS,
    NO_POSTGRES,
    REPO,
    free_port,
    http,
    kill,
    last_json,
    local_env,
    mbops,
    outputs_of,
    processes_of,
    state_of,
    write_stack,
)

__all__ = ["base_image", "docker_host", "local_env", "registry"]
ROOT = os.geteuid() == 0


@pytest.fixture
def sqlite(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    return local_env


def _stack(tmp_path: Path, name: str, **app: object) -> Path:
    return write_stack(tmp_path / f"{name}.yaml", name=name, profile="custom", app=dict(app))


def _spawn_cli(*args: str, state_dir: Path) -> subprocess.Popen:
    """`mbops ARGS` as its own process group (as a shell starts it), output captured."""
    return subprocess.Popen(
        [sys.executable, "-c", "from mbops.cli.main import main; main()", *args], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "MBOPS_STATE_DIR": str(state_dir)},
    )  # fmt: skip


def _wait_for(check, timeout: float = 60, what: str = "") -> object:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# A slow app: it serves only after 4 s (long enough to interrupt `up` while it waits for the health path).
SLOW_APP = (
    "python -c \"import runpy, sys, time; time.sleep(4); sys.argv = ['notes']; "
    "runpy.run_module('examples.notes_app', run_name='__main__')\""
)


# -- the app owns the port it answers on -----------------------------------------------------------------------


@pytest.mark.usefixtures("sqlite")
def test_a_port_answered_by_another_process_never_passes_for_the_app(local_env: Path, tmp_path: Path) -> None:
    """The app starts a server that is not its descendant and idles: the port answers 200, but not from the app."""
    script = textwrap.dedent("""
        import http.server, os, time
        port = int(os.environ["PORT"])
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:  # reparented: no longer the app's descendant
                class Ok(http.server.BaseHTTPRequestHandler):
                    def do_GET(self):
                        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
                    def log_message(self, *args):
                        pass
                server = http.server.HTTPServer(("127.0.0.1", port), Ok)
                print("squatter", os.getpid(), flush=True)
                server.serve_forever()
            os._exit(0)
        time.sleep(600)
    """)
    (tmp_path / "squat.py").write_text(script)
    os.chmod(tmp_path, 0o755)  # as root the app runs as mbops-app, who must be able to read its code
    stack_file = _stack(tmp_path, "squat", command=f"python {tmp_path / 'squat.py'}")
    log = local_env / "squat" / "app" / "app.log"
    try:
        result = mbops("up", "-f", str(stack_file))
        assert result.exit_code == 1, result.output
        assert "answers, but not from the app" in result.output and "was stopped" in result.output, result.output
        holder = int(log.read_text().split("squatter ", 1)[1].split()[0])
        assert f"held by pid {holder}" in result.output
        pid_file = json.loads((local_env / "squat" / "app" / "app.pid").read_text())
        assert not process.alive(pid_file["pid"], pid_file["start_time"]), "the app was left running"
    finally:
        if log.exists() and "squatter " in log.read_text():
            kill(int(log.read_text().split("squatter ", 1)[1].split()[0]))


@pytest.mark.usefixtures("sqlite")
def test_an_app_whose_worker_owns_the_socket_is_healthy(local_env: Path, tmp_path: Path) -> None:
    """A wrapper whose child serves (a descendant: a server's workers) is the app."""
    wrapper = ("python -c \"import subprocess, sys; "
               "sys.exit(subprocess.call([sys.executable, '-m', 'examples.notes_app']))\"")
    result = mbops("up", "-f", str(_stack(tmp_path, "wrapped", command=wrapper)))
    assert result.exit_code == 0, result.output
    app = outputs_of(state_of(local_env, "wrapped"), "app-process")
    owners = {c.pid for c in psutil.net_connections("inet") if c.laddr and c.laddr.port == app["port"] and c.pid}
    assert app["pid"] not in owners and owners <= process.family(app["pid"])  # the child listens, not the wrapper
    status = json.loads(mbops("status", "-f", str(_stack(tmp_path, "wrapped", command=wrapper)), "--json").output)
    assert next(r for r in status if r["component"] == "servers")["state"] == "up"


# -- ports: never shared, never moved silently ----------------------------------------------------------------


@pytest.mark.usefixtures("sqlite")
def test_two_stacks_on_one_port_fail_clearly_and_port_auto_says_where_it_went(local_env: Path, tmp_path: Path) -> None:
    port = free_port()
    first = _stack(tmp_path, "one", port=port)
    assert mbops("up", "-f", str(first)).exit_code == 0
    one = outputs_of(state_of(local_env, "one"), "app-process")
    assert one["port"] == port

    second = _stack(tmp_path, "two", port=port)
    result = mbops("up", "-f", str(second))
    assert result.exit_code == 1, result.output
    assert f"app.port {port} on 127.0.0.1 is in use by pid {one['pid']}" in result.output
    assert f"(stack one's app, recorded in {local_env / 'one.json'})" in result.output, result.output
    assert "--port auto" in result.output and "--port N" in result.output
    assert not (local_env / "two.json").exists() and not (local_env / "two").exists()  # checked before anything
    note = http("POST", f"{one['url']}/notes", {"title": "one's", "body": "still one's"})
    assert note[0] == 201  # the first stack still serves, with its own database

    moved = mbops("up", "-f", str(second), "--port", "auto", "--json")
    assert moved.exit_code == 0, moved.output
    done = last_json(moved.output)
    two = outputs_of(state_of(local_env, "two"), "app-process")
    assert two["port"] != port and done["outputs"]["endpoint"] == f"http://127.0.0.1:{two['port']}"
    said = [m["message"] for m in done["messages"] if m["severity"] == "warning"]
    assert any(f"app.port {port} is in use" in m and f"listens on {two['port']} instead (--port auto)" in m
               for m in said), said  # fmt: skip
    assert http("GET", f"{two['url']}/notes/{note[1]['id']}")[0] == 404  # two stacks, two databases

    human = mbops("up", "-f", str(second), "--port", "auto")  # nothing to move: nothing said, nothing restarted
    assert human.exit_code == 0 and "in use" not in human.output, human.output
    chosen = free_port()
    result = mbops("up", "-f", str(second), "--port", str(chosen))
    assert result.exit_code == 0, result.output
    assert outputs_of(state_of(local_env, "two"), "app-process")["port"] == chosen
    bad = mbops("up", "-f", str(second), "--port", "http")
    assert bad.exit_code == 2 and "give a port number (1-65535) or 'auto'" in bad.output


@pytest.mark.usefixtures("sqlite")
def test_port_auto_is_said_on_the_terminal_too(local_env: Path, tmp_path: Path) -> None:
    port = free_port()
    holder = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(lambda: port_answers(port), what="the port's holder")
        result = mbops("up", "-f", str(_stack(tmp_path, "said", port=port)), "--port", "auto")
        assert result.exit_code == 0, result.output
        assert f"warning: said-app-process: app.port {port} is in use by pid {holder.pid}" in result.output
    finally:
        holder.kill()
        holder.wait()


@contextlib.contextmanager
def _blocked(port: int) -> Iterator[subprocess.Popen]:
    """Another process (not an mbops stack's) listening on ``port`` for the block; stopped by its pid after."""
    holder = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(lambda: port_answers(port), what="the port's holder")
        yield holder
    finally:
        kill(holder.pid)
        holder.wait()


def _stack_processes(state_dir: Path) -> list[str]:
    """The running processes whose command line names the state folder (PostgreSQL, Redis, the app's pid file)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(str(state_dir) in part for part in proc.info["cmdline"] or []):
                found.append(f"{proc.info['pid']}: {' '.join(proc.info['cmdline'])}")
    return found


@pytest.mark.usefixtures("sqlite")
def test_a_busy_new_port_fails_the_up_and_leaves_the_running_app_serving(local_env: Path, tmp_path: Path) -> None:
    stack_file = _stack(tmp_path, "moving")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    before = state_of(local_env, "moving")
    app = outputs_of(before, "app-process")
    busy = free_port()
    with _blocked(busy) as holder:
        result = mbops("up", "-f", str(stack_file), "--port", str(busy))
        assert result.exit_code == 1, result.output
        assert f"app.port {busy} on 127.0.0.1 is in use by pid {holder.pid}" in result.output, result.output
        assert f"The running app (pid {app['pid']}, port {app['port']}) was left as it was" in result.output
        assert process.alive(app["pid"], app["start_time"])
        assert http("GET", f"{app['url']}/healthz")[0] == 200  # still serving on its old port
        after = state_of(local_env, "moving")
        assert after["resources"] == before["resources"] and not after.get("pending"), after.get("pending")

        _stack(tmp_path, "moving", port=busy)  # app.port in the stack file; --port auto moves it, and says so
        moved = mbops("up", "-f", str(stack_file), "--port", "auto")
        assert moved.exit_code == 0, moved.output
        assert f"app.port {busy} is in use by pid {holder.pid}" in moved.output, moved.output
        now = outputs_of(state_of(local_env, "moving"), "app-process")
        assert now["port"] not in (busy, app["port"]) and http("GET", f"{now['url']}/healthz")[0] == 200


@pytest.mark.usefixtures("sqlite")
def test_app_port_set_to_the_port_the_stacks_own_app_holds_is_not_busy(local_env: Path, tmp_path: Path) -> None:
    """Moved by --port auto, then pinned there: the port is the stack's own app's, so the up restarts it on it."""
    busy = free_port()
    stack_file = _stack(tmp_path, "pinned", port=busy)
    with _blocked(busy):
        assert mbops("up", "-f", str(stack_file), "--port", "auto").exit_code == 0
        moved = outputs_of(state_of(local_env, "pinned"), "app-process")
        result = mbops("up", "-f", str(stack_file), "--port", str(moved["port"]))
        assert result.exit_code == 0, result.output
        pinned = outputs_of(state_of(local_env, "pinned"), "app-process")
        assert pinned["port"] == pinned["preferred_port"] == moved["port"] and pinned["pid"] != moved["pid"]
        assert http("GET", f"{pinned['url']}/healthz")[0] == 200


@pytest.mark.usefixtures("sqlite")
def test_the_app_provider_checks_a_new_port_before_it_stops_the_running_app(local_env: Path, tmp_path: Path) -> None:
    """The provider itself (as the Pulumi engine runs it, without the embedded engine's preflight)."""
    from mbops.components.local.app import AppProcessProvider
    from mbops.components.local.health import PortInUse

    assert mbops("up", "-f", str(_stack(tmp_path, "direct"))).exit_code == 0
    entry = next(r for r in state_of(local_env, "direct")["resources"] if r["name"] == "direct-app-process")
    olds, news = unwrap(entry["outputs"]), unwrap(entry["inputs"])
    busy = free_port()
    with _blocked(busy) as holder:
        with pytest.raises(PortInUse) as raised:
            AppProcessProvider().update(entry["id"], olds, {**news, "preferred_port": busy})
        assert f"in use by pid {holder.pid}" in str(raised.value) and "was left as it was" in str(raised.value)
        assert process.alive(olds["pid"], olds["start_time"])
        assert http("GET", f"{olds['url']}/healthz")[0] == 200


def test_a_busy_new_port_leaves_the_running_app_container_serving(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_env: None, base_image: str,  # noqa: F811
) -> None:  # fmt: skip
    """The container variant, through the CLI (the preflight) and its provider alone (as the Pulumi engine runs it)."""
    from mbops.components.local.container import AppContainerProvider
    from mbops.components.local.health import PortInUse

    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "examples" / "notes_app", tmp_path / "notes_app", ignore=ignore)
    stack_file = write_stack(tmp_path / "boxed.yaml", name="boxed", profile="managed", app={
        "build": {"context": "notes_app", "args": {"BASE_IMAGE": base_image}},
    })  # fmt: skip
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    before = state_of(local_env, "boxed")
    entry = next(r for r in before["resources"] if r["name"] == "boxed-app-container")
    app = unwrap(entry["outputs"])
    busy = free_port()
    with _blocked(busy) as holder:
        result = mbops("up", "-f", str(stack_file), "--port", str(busy))
        assert result.exit_code == 1, result.output
        assert f"app.port {busy} on 127.0.0.1 is in use by pid {holder.pid}" in result.output, result.output
        assert "was left as it was" in result.output
        assert state_of(local_env, "boxed")["resources"] == before["resources"]

        with pytest.raises(PortInUse) as raised:
            AppContainerProvider().update(entry["id"], app, {**unwrap(entry["inputs"]), "preferred_port": busy})
        assert f"container {app['container_id'][:12]}, port {app['port']}) was left as it was" in str(raised.value)
        assert not AppContainerProvider().problems(app)  # the same container, running, owning its port
        assert http("GET", f"{app['url']}/healthz")[0] == 200


@pytest.mark.skipif(not HAS_POSTGRES, reason=NO_POSTGRES)
def test_a_first_up_on_a_busy_port_creates_nothing(local_env: Path, tmp_path: Path) -> None:
    busy = free_port()
    stack_file = write_stack(tmp_path / "first.yaml", name="first", profile="managed", app={"port": busy})
    with _blocked(busy) as holder:
        result = mbops("up", "-f", str(stack_file))
        assert result.exit_code == 1, result.output
        assert f"app.port {busy} on 127.0.0.1 is in use by pid {holder.pid}" in result.output, result.output
        assert "Nothing was created." in result.output and "This run started" not in result.output
        assert result.output.count(f"app.port {busy} on 127.0.0.1 is in use") == 1, result.output
        assert not (local_env / "first.json").exists()
        assert not cluster_root(local_env, "first").exists() and not (local_env / "first").exists()
        assert _stack_processes(local_env) == []


# -- interrupted runs -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("sqlite")
def test_a_survivor_of_a_killed_up_is_reported_then_stopped_by_up_and_by_destroy(
    local_env: Path, tmp_path: Path
) -> None:
    stack_file = _stack(tmp_path, "killed", command=SLOW_APP)
    for then in ("up", "destroy"):
        cli = _spawn_cli("up", "-f", str(stack_file), state_dir=local_env)
        pid_file = local_env / "killed" / "app" / "app.pid"
        survivor = _wait_for(lambda: process.recorded(pid_file), what="the app to start")  # noqa: B023
        os.kill(cli.pid, signal.SIGKILL)  # mbops dies; the app (its own session) lives on
        cli.wait()
        assert process.alive(*survivor)

        drift = last_json(mbops("refresh", "-f", str(stack_file), "--json").output)["drift"]
        interrupted = next(d for d in drift if d["resource"] == "killed-app-process")
        assert interrupted["was"].startswith("create interrupted")
        assert f"the app process (pid {survivor[0]}) of an interrupted run still runs" in interrupted["now"]

        result = mbops(then, "-f", str(stack_file))
        assert result.exit_code == 0, result.output
        _wait_for(lambda: not process.alive(*survivor), timeout=15, what="the survivor to stop")  # noqa: B023
        if then == "up":
            app = outputs_of(state_of(local_env, "killed"), "app-process")
            assert app["pid"] != survivor[0] and http("GET", f"{app['url']}/healthz")[0] == 200
            assert state_of(local_env, "killed")["pending"] == []
            assert mbops("destroy", "-f", str(stack_file)).exit_code == 0
        else:
            assert state_of(local_env, "killed")["pending"] == [] and not processes_of(state_of(local_env, "killed"))


@pytest.mark.usefixtures("sqlite")
def test_ctrl_c_during_up_finishes_the_step_in_flight_records_it_and_exits_130(
    local_env: Path, tmp_path: Path
) -> None:
    stack_file = _stack(tmp_path, "ctrlc", command=SLOW_APP)
    cli = _spawn_cli("up", "-f", str(stack_file), state_dir=local_env)
    pid_file = local_env / "ctrlc" / "app" / "app.pid"
    _wait_for(lambda: process.recorded(pid_file), what="the app to start")
    os.killpg(cli.pid, signal.SIGINT)  # Ctrl-C on a terminal signals the whole foreground group
    output, _ = cli.communicate(timeout=60)
    assert cli.returncode == 130, output
    assert "interrupted: finishing the steps in flight" in output and "up interrupted (Ctrl-C)" in output, output
    state = state_of(local_env, "ctrlc")
    assert state["last"]["result"] == "cancelled" and state["pending"] == []
    app = outputs_of(state, "app-process")  # the step in flight finished: the app is up and recorded
    assert process.alive(app["pid"], app["start_time"]) and http("GET", f"{app['url']}/healthz")[0] == 200
    again = mbops("up", "-f", str(stack_file), "--json")
    assert again.exit_code == 0 and last_json(again.output)["changes"] == 0, again.output


@pytest.mark.skipif(not HAS_POSTGRES, reason=NO_POSTGRES)
def test_ctrl_c_during_initdb_lets_it_finish_and_starts_nothing_after_it(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MBOPS_POSTGRES_TEMPLATES", "off")  # initdb for this cluster itself
    stack_file = _stack(tmp_path, "ctrlpg")
    cli = _spawn_cli("up", "-f", str(stack_file), state_dir=local_env)
    _wait_for(lambda: _initdb_of(cluster_root(local_env, "ctrlpg")), what="initdb")
    os.killpg(cli.pid, signal.SIGINT)
    output, _ = cli.communicate(timeout=120)
    assert cli.returncode == 130, output
    state = state_of(local_env, "ctrlpg")
    names = {r["name"] for r in state["resources"] if r["custom"]}
    assert "ctrlpg-db-cluster" in names and "ctrlpg-app-process" not in names, names  # finished; nothing after
    assert (cluster_root(local_env, "ctrlpg") / "data" / "PG_VERSION").exists()
    assert mbops("up", "-f", str(stack_file)).exit_code == 0


def _initdb_of(root: Path) -> psutil.Process | None:
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "initdb" and any(str(root) in part for part in cmdline):
            return proc
    return None


@pytest.mark.skipif(not HAS_POSTGRES, reason=NO_POSTGRES)
def test_a_killed_initdb_leaves_a_stack_that_refresh_reports_up_repairs_and_destroy_removes(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MBOPS_POSTGRES_TEMPLATES", "off")  # initdb for this cluster itself
    stack_file = _stack(tmp_path, "halfpg")
    root = cluster_root(local_env, "halfpg")

    def kill_during_initdb() -> None:
        cli = _spawn_cli("up", "-f", str(stack_file), state_dir=local_env)
        initdb = _wait_for(lambda: _initdb_of(root), what="initdb")
        time.sleep(0.3)  # let it write part of the cluster
        os.killpg(cli.pid, signal.SIGKILL)  # the whole process group of mbops ...
        with pytest.raises(psutil.NoSuchProcess):
            initdb.kill()  # ... and initdb itself (its own session: a Ctrl-C does not reach it)
            initdb.wait(10)
            raise psutil.NoSuchProcess(initdb.pid)
        cli.wait()

    kill_during_initdb()
    assert (root / "data.init").is_dir() and not (root / "data").exists()  # half built, never under the real name
    monkeypatch.delenv("MBOPS_POSTGRES_TEMPLATES")  # the repair copies the (default) template cluster
    drift = last_json(mbops("refresh", "-f", str(stack_file), "--json").output)["drift"]
    cluster = next(d for d in drift if d["resource"] == "halfpg-db-cluster")
    assert cluster["was"].startswith("create interrupted") and "a half-built cluster" in cluster["now"], drift

    result = mbops("up", "-f", str(stack_file))  # starts the cluster over
    assert result.exit_code == 0, result.output
    assert (root / "data" / "PG_VERSION").exists() and not (root / "data.init").exists()
    assert mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes").exit_code == 0
    assert not root.exists()

    monkeypatch.setenv("MBOPS_POSTGRES_TEMPLATES", "off")
    kill_during_initdb()  # again, then straight to destroy: the state has no cluster, the folder goes anyway
    assert state_of(local_env, "halfpg")["resources"] == [] or not any(
        r["name"] == "halfpg-db-cluster" for r in state_of(local_env, "halfpg")["resources"])  # fmt: skip
    result = mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes")
    assert result.exit_code == 0, result.output
    assert not root.exists() and not (local_env / "halfpg").exists()


@pytest.mark.skipif(not HAS_POSTGRES, reason=NO_POSTGRES)
def test_a_data_directory_removed_under_a_running_postgres_stops_the_old_server(
    local_env: Path, tmp_path: Path
) -> None:
    stack_file = _stack(tmp_path, "rmpg")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    cluster = outputs_of(state_of(local_env, "rmpg"), "db-cluster")
    old = (int(cluster["pid"]), int(cluster["start_time"]))
    assert process.alive(*old)
    shutil.rmtree(cluster["data_dir"])  # the server keeps running on deleted files, holding its port

    drift = last_json(mbops("refresh", "-f", str(stack_file), "--json").output)["drift"]
    assert any("still runs: it will be stopped" in d["now"] and str(old[0]) in d["now"] for d in drift), drift
    result = mbops("up", "-f", str(stack_file))
    assert result.exit_code == 0, result.output
    assert not process.alive(*old), "the old postmaster was left running"
    new = outputs_of(state_of(local_env, "rmpg"), "db-cluster")
    assert new["pid"] != old[0] and (Path(new["data_dir"]) / "PG_VERSION").exists()
    app = outputs_of(state_of(local_env, "rmpg"), "app-process")
    assert http("POST", f"{app['url']}/notes", {"title": "after", "body": "the new cluster"})[0] == 201


# -- a failed up says what it left running and how to stop it -------------------------------------------------


@pytest.mark.skipif(not (HAS_POSTGRES or HAS_REDIS), reason="needs PostgreSQL or Redis: a service that keeps running")
def test_a_failed_up_names_the_services_it_left_running_and_the_command_that_stops_them(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MBOPS_HEALTH_TIMEOUT", "2")
    stack_file = write_stack(tmp_path / "fails.yaml", name="fails", profile="managed",
                             app={"command": "python -c 'import time; time.sleep(600)'"})  # fmt: skip
    result = mbops("up", "-f", str(stack_file))
    assert result.exit_code == 1, result.output
    running = processes_of(state_of(local_env, "fails"))
    assert running and all(process.alive(*p) for p in running.values())
    for name in running:
        assert name in result.output
    command = f"mbops destroy -f {stack_file}"
    assert f"stop them with `{command}` (the data is kept)" in result.output, result.output
    assert mbops(*command.split()[1:]).exit_code == 0
    assert not any(process.alive(*p) for p in running.values())


# -- services run unprivileged as root ------------------------------------------------------------------------


@pytest.mark.skipif(not ROOT, reason="mbops runs as the current user's services when not root")
def test_as_root_the_app_redis_and_postgres_run_as_unprivileged_users(local_env: Path, tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path / "users.yaml", name="users", profile="managed")
    result = mbops("up", "-f", str(stack_file))
    assert result.exit_code == 0, result.output
    state = state_of(local_env, "users")
    users = {name: psutil.Process(pid).username() for name, (pid, _) in processes_of(state).items()}
    assert users["users-app-process"] == "mbops-app"
    if HAS_REDIS:
        assert users["users-cache-server"] == "mbops-cache"
    if HAS_POSTGRES:
        assert users["users-db-cluster"] == "mbops"
    app = outputs_of(state, "app-process")
    bucket = Path(unwrap(state["outputs"])["bucket"])
    assert bucket.is_relative_to(data_root(local_env, "users")) and bucket.owner() == "mbops-app"
    assert http("PUT", f"{app['url']}/files/x.txt", b"written by mbops-app")[0] == 201
    assert (bucket / "x.txt").owner() == "mbops-app"
    assert "/root " not in Path("/proc/self/mountinfo").read_text()  # the app's view of /root is its own


# -- a state acts only on its own stack ------------------------------------------------------------------------


@pytest.mark.usefixtures("sqlite")
def test_a_state_file_copied_from_another_stack_does_not_act_on_that_stacks_data(
    local_env: Path, tmp_path: Path
) -> None:
    one = _stack(tmp_path, "one")
    assert mbops("up", "-f", str(one)).exit_code == 0
    running = processes_of(state_of(local_env, "one"))
    bucket = Path(unwrap(state_of(local_env, "one")["outputs"])["bucket"])

    copied = (local_env / "one.json").read_text()
    (local_env / "two.json").write_text(copied)  # a plain copy
    result = mbops("destroy", "-n", "two", "--delete-data", "--yes")
    assert result.exit_code == 1 and "is not stack two's: it names one" in result.output, result.output

    edited = json.loads(copied.replace("urn:pulumi:one::", "urn:pulumi:two::"))
    edited["stack"] = "two"  # a copy made to look like stack two's own: its paths are still one's
    (local_env / "two.json").write_text(json.dumps(edited))
    for command in (["destroy", "-n", "two", "--delete-data", "--yes"], ["refresh", "-n", "two"],
                    ["up", "-n", "two", "--profile", "custom"], ["status", "-n", "two"]):  # fmt: skip
        result = mbops(*command)
        assert result.exit_code == 1, (command, result.output)
        assert "names paths outside stack two's folders" in result.output and "Nothing was done" in result.output
    assert bucket.is_dir() and all(process.alive(*p) for p in running.values())  # stack one untouched

    foreign = dict(json.loads(copied), kept_data=[str(tmp_path)])  # "kept data" that is not the stack's
    (local_env / "one.json").write_text(json.dumps(foreign))
    result = mbops("destroy", "-n", "one", "--delete-data", "--yes")
    assert result.exit_code == 1 and "names paths outside stack one's folders" in result.output
    assert tmp_path.is_dir()
    (local_env / "one.json").write_text(copied)


def test_a_state_folder_other_users_can_write_to_is_refused_by_every_command(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    for command in (["up"], ["destroy"], ["refresh"], ["stacks"], ["outputs"]):
        result = mbops(*command, "--state-dir", str(shared / "state"))
        assert result.exit_code == 2, (command, result.output)
        assert f"{shared} can be written by other users" in result.output
    assert not (shared / "state").exists()


# -- released data goes with a later delete, whichever engine deletes ----------------------------------------


def test_released_data_resources_record_delete_data_without_a_restart_and_lose_their_data_on_delete(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mbops.engine import apply
    from mbops.engine.apply import PROVIDER_KEY, load_provider
    from mbops.engine.state import StateStore
    from mbops.stacks.config import read_stack_file, resolve

    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    stack_file = write_stack(tmp_path / "rel.yaml", name="rel", profile="managed")  # sqlite, storage, cache
    stack = resolve(read_stack_file(stack_file), source=str(stack_file))
    store = StateStore(local_env)
    apply.up(stack, store)
    before = processes_of(state_of(local_env, "rel"))

    released = apply.up(stack, store, release_data=True)  # what `pulumi up` with mbops:releaseData does
    data = {r["name"]: r for r in state_of(local_env, "rel")["resources"] if r["custom"]
            and unwrap(r["inputs"]).get("delete_data")}  # fmt: skip
    assert set(data) == {"rel-files-directory", "rel-db-sqlite"} | (
        {"rel-cache-server"} if HAS_REDIS else set()), data  # fmt: skip
    assert released.counts["update"] == len(data) and processes_of(state_of(local_env, "rel")) == before

    # The Pulumi CLI's dynamic provider host deletes with the recorded outputs, nothing else: the data goes.
    for name, res in data.items():
        outs = unwrap(res["outputs"])
        paths = [outs.get("path") or outs.get("data_dir")]
        load_provider(res["outputs"][PROVIDER_KEY]).delete(res["id"], outs)
        assert not any(Path(p).exists() for p in paths if p), name

    apply.up(stack, store)  # not released any more: a delete keeps the data again
    files = outputs_of(state_of(local_env, "rel"), "files-directory")
    assert not files.get("delete_data")
    provider = load_provider(next(r for r in state_of(local_env, "rel")["resources"]
                                  if r["name"] == "rel-files-directory")["outputs"][PROVIDER_KEY])  # fmt: skip
    provider.delete(files["path"], files)
    assert Path(files["path"]).is_dir()
    for pid, started in processes_of(state_of(local_env, "rel")).values():
        assert process.alive(pid, started)
