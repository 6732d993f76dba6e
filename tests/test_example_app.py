"""End-to-end tests of examples/notes_app: the app runs as a real subprocess, spoken to over HTTP.

Every process a test starts (app, PostgreSQL, Redis) is stopped by pid in fixture teardown.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
APP_ENV_VARS = ("PORT", "DATABASE_URL", "STORAGE_URL", "REDIS_URL", "APP_GREETING")
MiB = 1024 * 1024

# Talk to 127.0.0.1 directly even when the environment configures an HTTP proxy.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---- helpers --------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("Content-Type") == "application/json", self.headers
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | None = None, json_body: Any = None) -> Response:
    headers = {}
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _opener.open(req, timeout=30) as resp:
            return Response(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Response(err.code, err.headers, err.read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_pid(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Signal one process we started, by its pid, and reap it (SIGKILL if it ignores us)."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


@dataclass
class App:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class AppRunner:
    """Starts notes_app subprocesses and remembers them so teardown can stop them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[App] = []

    def start(
        self,
        env: dict[str, str],
        module: str = "examples.notes_app",
        cwd: Path = REPO,
        wait: bool = True,
    ) -> App:
        port = int(env.get("PORT") or free_port())
        full_env = {k: v for k, v in os.environ.items() if k not in APP_ENV_VARS}
        full_env.update(env)
        full_env["PORT"] = str(port)
        full_env["PYTHONUNBUFFERED"] = "1"
        log = self.tmp_path / f"app-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", module], cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
            )
        app = App(proc, f"http://127.0.0.1:{port}", log)
        self.started.append(app)
        if wait:
            self.wait_healthy(app)
        return app

    @staticmethod
    def wait_healthy(app: App, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if app.proc.poll() is not None:
                pytest.fail(f"notes_app exited with {app.proc.returncode}:\n{app.output()}")
            try:
                if request("GET", app.url + "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"notes_app did not become healthy in {timeout}s:\n{app.output()}")

    def stop(self, app: App) -> int:
        return stop_pid(app.proc)

    def close(self) -> None:
        for app in self.started:
            stop_pid(app.proc)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[AppRunner]:
    apps = AppRunner(tmp_path)
    try:
        yield apps
    finally:
        apps.close()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'notes.db'}",
        "STORAGE_URL": f"file://{tmp_path / 'files'}",
        "APP_GREETING": "hello from the tests",
    }


@pytest.fixture
def app(runner: AppRunner, sqlite_env: dict[str, str], tmp_path: Path) -> App:
    (tmp_path / "db").mkdir()
    return runner.start(sqlite_env)


def create_note(app: App, title: str, body: str = "") -> dict[str, Any]:
    resp = request("POST", app.url + "/notes", json_body={"title": title, "body": body})
    assert resp.status == 201, resp.body
    return resp.json()


def check_note_flow(app: App) -> None:
    """Create, list, read and delete notes; shared by the SQLite and PostgreSQL tests."""
    first = create_note(app, "groceries", "milk, eggs")
    second = create_note(app, "ideas", "x" * 100_000)
    assert set(first) == {"id", "title", "body", "created_at"}
    assert first["title"] == "groceries" and first["body"] == "milk, eggs"
    assert first["created_at"].endswith("Z")
    assert second["id"] != first["id"]

    listed = request("GET", app.url + "/notes")
    assert listed.status == 200
    assert [n["id"] for n in listed.json()["notes"]] == [second["id"], first["id"]]  # newest first
    assert listed.json()["notes"][1] == first
    limited = request("GET", app.url + "/notes?limit=1").json()["notes"]
    assert [n["id"] for n in limited] == [second["id"]]

    got = request("GET", f"{app.url}/notes/{first['id']}")
    assert got.status == 200 and got.json() == first

    deleted = request("DELETE", f"{app.url}/notes/{first['id']}")
    assert deleted.status == 204 and deleted.body == b""
    assert request("GET", f"{app.url}/notes/{first['id']}").status == 404
    assert request("DELETE", f"{app.url}/notes/{first['id']}").status == 404
    assert [n["id"] for n in request("GET", app.url + "/notes").json()["notes"]] == [second["id"]]


# ---- SQLite: the full API -------------------------------------------------------------------------


def test_health_and_index(app: App) -> None:
    health = request("GET", app.url + "/healthz")
    assert health.status == 200
    assert health.json() == {"status": "ok", "database": "sqlite", "storage": "file", "cache": "disabled"}
    index = request("GET", app.url + "/").json()
    assert index["app"] == "notes"
    assert index["greeting"] == "hello from the tests"
    assert isinstance(index["version"], str) and index["version"]


def test_note_crud(app: App) -> None:
    check_note_flow(app)


def test_one_log_line_per_request(app: App) -> None:
    request("GET", app.url + "/notes?limit=3")
    request("GET", app.url + "/nope")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = app.output().splitlines()
        if any('"GET /nope HTTP/1.1" 404' in line for line in lines):
            break
        time.sleep(0.05)
    assert sum('"GET /notes?limit=3 HTTP/1.1" 200' in line for line in lines) == 1
    assert sum('"GET /nope HTTP/1.1" 404' in line for line in lines) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "no title"}, "title"),
        ({"title": "", "body": "x"}, "title"),
        ({"title": "   ", "body": "x"}, "title"),
        ({"title": "t" * 201, "body": "x"}, "title"),
        ({"title": 42, "body": "x"}, "title"),
        ({"title": "ok", "body": 7}, "body"),
        ({"title": "ok", "body": "b" * 100_001}, "body"),
        ({"title": "ok", "body": "x", "color": "red"}, "color"),
    ],
)
def test_validation_error_names_the_field(app: App, payload: dict[str, Any], field: str) -> None:
    resp = request("POST", app.url + "/notes", json_body=payload)
    assert resp.status == 400
    error = resp.json()
    assert error["field"] == field
    assert field in error["error"]


def test_title_limits_are_inclusive(app: App) -> None:
    assert create_note(app, "t" * 200, "b" * 100_000)["title"] == "t" * 200
    assert create_note(app, "a")["body"] == ""


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_body_is_400(app: App, raw: bytes) -> None:
    resp = request("POST", app.url + "/notes", body=raw)
    assert resp.status == 400
    assert "JSON" in resp.json()["error"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
def test_bad_limit_names_the_field(app: App, limit: str) -> None:
    resp = request("GET", f"{app.url}/notes?limit={limit}")
    assert resp.status == 400 and resp.json()["field"] == "limit"


def test_file_round_trip(app: App, tmp_path: Path) -> None:
    data = os.urandom(300_000) + b"\x00end"
    put = request("PUT", app.url + "/files/photo-1.v2_raw.bin", body=data)
    assert put.status == 201
    assert put.json() == {
        "name": "photo-1.v2_raw.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (tmp_path / "files" / "photo-1.v2_raw.bin").read_bytes() == data

    got = request("GET", app.url + "/files/photo-1.v2_raw.bin")
    assert got.status == 200
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.body == data and hashlib.sha256(got.body).hexdigest() == put.json()["sha256"]

    assert request("PUT", app.url + "/files/empty.txt", body=b"").status == 201
    listing = request("GET", app.url + "/files").json()
    assert listing == {
        "files": [{"name": "empty.txt", "size": 0}, {"name": "photo-1.v2_raw.bin", "size": len(data)}]
    }

    overwritten = request("PUT", app.url + "/files/empty.txt", body=b"now full").json()
    assert overwritten["size"] == 8
    assert request("GET", app.url + "/files/empty.txt").body == b"now full"
    missing = request("GET", app.url + "/files/nope.bin")
    assert missing.status == 404 and "error" in missing.json()


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "../escape.txt",
        "..%2Fescape.txt",
        "%2E%2E",
        "a%2Fb",
        "sub/dir.txt",
        ".hidden",
        "sp%20ace",
        "n" * 129,
    ],
)
def test_unsafe_file_names_are_rejected(app: App, tmp_path: Path, name: str) -> None:
    def files_on_disk() -> list[Path]:
        # Everything under the test's directory except the app logs and the SQLite files.
        return sorted(
            p for p in tmp_path.rglob("*") if p.parent != tmp_path / "db" and not p.name.startswith("app-")
        )

    before = files_on_disk()
    resp = request("PUT", f"{app.url}/files/{name}", body=b"evil")
    assert resp.status == 400, (name, resp.status, resp.body)
    assert resp.json()["field"] == "name"
    assert request("GET", f"{app.url}/files/{name}").status == 400
    assert files_on_disk() == before
    assert request("GET", app.url + "/files").json() == {"files": []}


def test_upload_size_limit(app: App) -> None:
    exactly = request("PUT", app.url + "/files/exact.bin", body=b"\x01" * (10 * MiB))
    assert exactly.status == 201 and exactly.json()["size"] == 10 * MiB
    too_big = request("PUT", app.url + "/files/big.bin", body=b"\x01" * (10 * MiB + 1))
    assert too_big.status == 413 and "error" in too_big.json()
    assert request("GET", app.url + "/files/big.bin").status == 404
    assert request("GET", app.url + "/healthz").status == 200


def test_unknown_paths_and_wrong_methods(app: App) -> None:
    for path in ("/nope", "/notes/", "/notes/abc", "/notes/999999", "/files/", "/healthz/x"):
        resp = request("GET", app.url + path)
        assert resp.status == 404, path
        assert "error" in resp.json()
    for method, path, allowed in [
        ("PATCH", "/notes", "GET, POST"),
        ("PUT", "/notes/1", "GET, DELETE"),
        ("POST", "/files/a.txt", "GET, PUT"),
        ("DELETE", "/files", "GET"),
        ("POST", "/healthz", "GET"),
        ("PUT", "/", "GET"),
    ]:
        resp = request(method, app.url + path, body=b"{}")
        assert resp.status == 405, (method, path)
        assert resp.headers["Allow"] == allowed
        assert "error" in resp.json()


def test_concurrent_writes(app: App) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(5):
            resp = request("POST", app.url + "/notes", json_body={"title": f"n{i}-{j}", "body": ""})
            with lock:
                results.append(resp.json()["id"] if resp.status == 201 else -resp.status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and min(results) > 0 and len(set(results)) == 40
    assert len(request("GET", app.url + "/notes?limit=100").json()["notes"]) == 40


def test_data_survives_restart_and_env_change(
    runner: AppRunner, app: App, sqlite_env: dict[str, str]
) -> None:
    note = create_note(app, "keep me", "across restarts")
    assert request("PUT", app.url + "/files/keep.bin", body=b"persist").status == 201
    port = app.url.rsplit(":", 1)[1]

    assert runner.stop(app) == 0  # SIGTERM -> clean exit
    assert "stopped" in app.output()
    with pytest.raises(OSError):
        request("GET", app.url + "/healthz")

    again = runner.start({**sqlite_env, "PORT": port, "APP_GREETING": "second deploy"})
    assert request("GET", f"{again.url}/notes/{note['id']}").json() == note
    assert request("GET", again.url + "/files/keep.bin").body == b"persist"
    assert request("GET", again.url + "/").json()["greeting"] == "second deploy"
    assert runner.stop(again) == 0


def test_healthz_503_when_database_is_gone(app: App, tmp_path: Path) -> None:
    create_note(app, "doomed")
    shutil.rmtree(tmp_path / "db")
    health = request("GET", app.url + "/healthz")
    assert health.status == 503
    assert health.json()["status"] != "ok" and health.json()["database"] == "sqlite"
    notes = request("GET", app.url + "/notes")
    assert notes.status == 503 and "database" in notes.json()["error"]


def test_without_storage_and_greeting(runner: AppRunner, tmp_path: Path) -> None:
    app = runner.start({"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"})
    assert request("GET", app.url + "/healthz").json()["storage"] == "disabled"
    assert request("GET", app.url + "/").json()["greeting"] is None
    for method, path, body in [
        ("GET", "/files", None),
        ("PUT", "/files/a.txt", b"x"),
        ("GET", "/files/a.txt", None),
    ]:
        resp = request(method, app.url + path, body=body)
        assert resp.status == 503, path
        assert "STORAGE_URL" in resp.json()["error"]
    assert create_note(app, "notes still work")["id"] == 1


def test_runs_as_top_level_package_from_any_cwd(runner: AppRunner, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "PYTHONPATH": str(REPO / "examples")}
    app = runner.start(env, module="notes_app", cwd=tmp_path)
    assert create_note(app, "from anywhere")["title"] == "from anywhere"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "8080"}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "PORT is not set"),
        ({"PORT": "8080", "DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        (
            {"PORT": "8080", "DATABASE_URL": "sqlite:////tmp/x.db", "STORAGE_URL": "s3://bucket"},
            "STORAGE_URL",
        ),
        ({"PORT": "99999", "DATABASE_URL": "sqlite:////tmp/x.db"}, "PORT"),
    ],
)
def test_bad_configuration_fails_at_start(env: dict[str, str], message: str) -> None:
    full_env = {k: v for k, v in os.environ.items() if k not in APP_ENV_VARS} | env
    proc = subprocess.run(
        [sys.executable, "-m", "examples.notes_app"],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert message in proc.stderr


# ---- Redis cache (optional) -----------------------------------------------------------------------


def test_unreachable_redis_degrades_gracefully(
    runner: AppRunner, sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    pytest.importorskip("redis", reason="the redis package is not installed, so the cache is always disabled")
    (tmp_path / "db").mkdir()
    app = runner.start({**sqlite_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    health = request("GET", app.url + "/healthz")
    assert health.status == 200 and health.json()["cache"] == "unavailable"
    note = create_note(app, "no cache")
    assert request("GET", f"{app.url}/notes/{note['id']}").json() == note


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("redis", reason="the redis package is not installed")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    log = (tmp_path / "redis.log").open("wb")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("redis-server did not start: " + (tmp_path / "redis.log").read_text())
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_pid(proc)
        log.close()


def test_redis_cache(runner: AppRunner, sqlite_env: dict[str, str], tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "db").mkdir()
    app = runner.start({**sqlite_env, "REDIS_URL": redis_url})
    assert request("GET", app.url + "/healthz").json()["cache"] == "redis"
    note = create_note(app, "cached", "body")
    first = request("GET", f"{app.url}/notes/{note['id']}")
    second = request("GET", f"{app.url}/notes/{note['id']}")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.json() == second.json() == note
    assert request("DELETE", f"{app.url}/notes/{note['id']}").status == 204
    assert request("GET", f"{app.url}/notes/{note['id']}").status == 404  # deletion invalidates the cache


# ---- PostgreSQL -----------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    candidates = [os.environ.get("PG_BINDIR", ""), "/usr/lib/postgresql/15/bin"]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(out)
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "postgres").is_file():
            return Path(candidate)
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, run as an unprivileged user."""
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) not found; set PG_BINDIR to run this test")
    as_user: dict[str, Any] = {}
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no 'nobody' user to run PostgreSQL as")
        as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    # Not under pytest's tmp_path: its parents are private to root, and postgres must reach the cluster.
    root = Path(tempfile.mkdtemp(prefix="notes-app-pg-"))
    proc: subprocess.Popen[bytes] | None = None
    log = None
    try:
        (root / "pwfile").write_text("s3cret-pw\n")
        if as_user:
            for path in (root, root / "pwfile"):
                os.chown(path, as_user["user"], as_user["group"])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "HOME": str(root)}
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                "notes",
                f"--pwfile={root / 'pwfile'}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            **as_user,
        )
        if init.returncode != 0:
            pytest.skip(f"initdb failed, cannot run the PostgreSQL test: {init.stderr.strip()[-500:]}")
        port = free_port()
        log = (root / "postgres.log").open("wb")
        proc = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(root / "data"),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={root}",
                "-c",
                "fsync=off",
            ],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            **as_user,
        )
        import psycopg

        admin = f"postgresql://notes:s3cret-pw@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(admin, connect_timeout=2, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE notes")
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("PostgreSQL did not start:\n" + (root / "postgres.log").read_text())
                time.sleep(0.2)
        yield f"postgresql://notes:s3cret-pw@127.0.0.1:{port}/notes"
    finally:
        if proc is not None:
            stop_pid(proc, signal.SIGINT, timeout=30)  # SIGINT = PostgreSQL "fast" shutdown
        if log is not None:
            log.close()
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_flow(runner: AppRunner, tmp_path: Path, postgres_url: str) -> None:
    env = {"DATABASE_URL": postgres_url, "STORAGE_URL": f"file://{tmp_path / 'files'}"}
    app = runner.start(env)
    health = request("GET", app.url + "/healthz")
    assert health.json() == {"status": "ok", "database": "postgresql", "storage": "file", "cache": "disabled"}
    check_note_flow(app)
    bad = request("POST", app.url + "/notes", json_body={"title": "x" * 201})
    assert bad.status == 400 and bad.json()["field"] == "title"

    kept = create_note(app, "in postgres", "ünïcode ✓")
    assert runner.stop(app) == 0
    again = runner.start(env)
    assert request("GET", f"{again.url}/notes/{kept['id']}").json() == kept
