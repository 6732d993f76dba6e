"""End-to-end tests of examples/notes_app: the app runs as a real subprocess, spoken to over real sockets.

Every process a test starts (app, PostgreSQL, Redis) is stopped by pid in fixture teardown.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
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
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
APP_ENV_VARS = (
    "PORT", "HOST", "DATABASE_URL", "STORAGE_URL", "STORAGE_BUCKET", "DOCUMENT_TABLE", "DOCUMENT_DB_URL", "REDIS_URL",
    "REDIS_CA_CERT", "APP_GREETING", "BODY_TIMEOUT", "LOG_LEVEL", "K_SERVICE", "CLOUD_RUN_JOB",
)  # fmt: skip
# The clouds' own variables (regions, endpoints, credentials, identities) never leak from the test's environment.
CLOUD_ENV_PREFIXES = (
    "AWS_", "GOOGLE_", "GCLOUD_", "AZURE_", "IDENTITY_", "MSI_", "ECS_", "STORAGE_EMULATOR", "FIRESTORE_",
)  # fmt: skip


def app_environ(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without the app's and the clouds' variables, plus ``env``."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if k not in APP_ENV_VARS and not k.endswith("_SECRET_ARN") and not k.startswith(CLOUD_ENV_PREFIXES)
    }
    return kept | env


MiB = 1024 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}

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


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _opener.open(req, timeout=30) as resp:
            return Response(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Response(err.code, err.headers, err.read())


def raw_request(url: str, data: bytes, method: str = "GET", timeout: float = 10) -> Response:
    """Send ``data`` as it is (no client-side checks) on a new connection; parse the answer with http.client."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        return Response(resp.status, resp.headers, resp.read())


def closed_by_server(sock: socket.socket, timeout: float = 5) -> bool:
    """True when the server closes ``sock`` (EOF or reset) within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


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

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

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
        full_env = app_environ(env)
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


STALL_SECONDS = 2.0  # BODY_TIMEOUT of the shared app below


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One app for the read-mostly hostile-input tests of this module, with a short BODY_TIMEOUT."""
    folder = tmp_path_factory.mktemp("shared-app")
    apps = AppRunner(folder)
    try:
        yield apps.start(
            {
                "DATABASE_URL": f"sqlite:///{folder / 'notes.db'}",
                "STORAGE_URL": f"file://{folder / 'files'}",
                "BODY_TIMEOUT": str(STALL_SECONDS),
            }
        )
    finally:
        apps.close()


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


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "%ff", ""])
def test_bad_limit_names_the_field(shared: App, limit: str) -> None:
    resp = request("GET", f"{shared.url}/notes?limit={limit}")
    assert resp.status == 400 and resp.json()["field"] == "limit"


def test_file_round_trip(app: App, tmp_path: Path) -> None:
    data = os.urandom(300_000) + b"\x00end"
    put = request("PUT", app.url + "/files/photo-1.v2_raw.bin", body=data)
    assert put.status == 201
    assert put.headers["Location"] == "/files/photo-1.v2_raw.bin"
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
    assert listing == {"files": [{"name": "empty.txt", "size": 0}, {"name": "photo-1.v2_raw.bin", "size": len(data)}]}

    overwritten = request("PUT", app.url + "/files/empty.txt", body=b"now full").json()
    assert overwritten["size"] == 8
    assert request("GET", app.url + "/files/empty.txt").body == b"now full"
    missing = request("GET", app.url + "/files/nope.bin")
    assert missing.status == 404 and "error" in missing.json()

    assert request("DELETE", app.url + "/files/empty.txt").status == 204
    assert request("GET", app.url + "/files/empty.txt").status == 404
    assert request("DELETE", app.url + "/files/empty.txt").status == 404
    assert [f["name"] for f in request("GET", app.url + "/files").json()["files"]] == ["photo-1.v2_raw.bin"]
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["photo-1.v2_raw.bin"]  # no temp files


def test_file_ranges(shared: App) -> None:
    """Downloads honour Range (resumable on mobile networks); a malformed or unsatisfiable one is a 4xx."""
    assert request("PUT", shared.url + "/files/range.bin", body=b"0123456789").status == 201
    part = request("GET", shared.url + "/files/range.bin", headers={"Range": "bytes=2-5"})
    assert part.status == 206 and part.body == b"2345"
    assert part.headers["Content-Range"] == "bytes 2-5/10"
    assert request("GET", shared.url + "/files/range.bin", headers={"Range": "bytes=5-2"}).status == 400
    assert request("GET", shared.url + "/files/range.bin", headers={"Range": "bytes=50-60"}).status == 416
    assert request("GET", shared.url + "/files/range.bin", headers={"Range": "lines=1-2"}).status == 400
    assert_no_server_errors(shared)


def test_chunked_upload(app: App) -> None:
    chunks = [b"hello ", b"chunked ", b"world"]
    data = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = b"PUT /files/chunked.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    put = raw_request(app.url, head + data)
    assert put.status == 201 and put.json()["size"] == len(b"hello chunked world")
    assert request("GET", app.url + "/files/chunked.txt").body == b"hello chunked world"


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
        "nul%00byte",
        "%ff%fe",
    ],
)
def test_unsafe_file_names_are_rejected(app: App, tmp_path: Path, name: str) -> None:
    def files_on_disk() -> list[Path]:
        # Everything under the test's directory except the app logs and the SQLite files.
        return sorted(p for p in tmp_path.rglob("*") if p.parent != tmp_path / "db" and not p.name.startswith("app-"))

    before = files_on_disk()
    resp = request("PUT", f"{app.url}/files/{name}", body=b"evil")
    assert resp.status == 400, (name, resp.status, resp.body)
    assert resp.json()["field"] == "name"
    assert request("GET", f"{app.url}/files/{name}").status == 400
    assert request("DELETE", f"{app.url}/files/{name}").status == 400
    assert files_on_disk() == before
    assert request("GET", app.url + "/files").json() == {"files": []}


def test_upload_size_limit(app: App, tmp_path: Path) -> None:
    exactly = request("PUT", app.url + "/files/exact.bin", body=b"\x01" * (10 * MiB))
    assert exactly.status == 201 and exactly.json()["size"] == 10 * MiB
    too_big = request("PUT", app.url + "/files/big.bin", body=b"\x01" * (10 * MiB + 1))
    assert too_big.status == 413 and "error" in too_big.json()
    assert request("GET", app.url + "/files/big.bin").status == 404
    assert request("GET", app.url + "/healthz").status == 200
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["exact.bin"]


def test_unknown_paths_and_wrong_methods(shared: App) -> None:
    for path in ("/nope", "/notes/", "/notes/abc", "/notes/999999", "/files/", "/healthz/x", "/notes%00"):
        resp = request("GET", shared.url + path)
        assert resp.status == 404, path
        assert "error" in resp.json()
    for method, path, allowed in [
        ("PATCH", "/notes", "GET, HEAD, POST"),
        ("PUT", "/notes/1", "GET, HEAD, DELETE"),
        ("POST", "/files/a.txt", "GET, HEAD, PUT, DELETE"),
        ("DELETE", "/files", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
        ("PUT", "/", "GET, HEAD"),
        ("OPTIONS", "/notes", "GET, HEAD, POST"),
        ("TRACE", "/", "GET, HEAD"),
        ("FOO", "/notes", "GET, HEAD, POST"),
        ("get", "/notes", "GET, HEAD, POST"),  # methods are case-sensitive
        ("DISPATCH", "/notes/1", "GET, HEAD, DELETE"),  # not a way into the endpoint class
        ("__INIT__", "/files", "GET, HEAD"),
    ]:
        resp = request(method, shared.url + path, body=b"{}", headers=JSON_HEADERS)
        assert resp.status == 405, (method, path)
        assert resp.headers["Allow"] == allowed
        assert "error" in resp.json()


def post_notes_concurrently(url: str, writers: int = 8, each: int = 5) -> list[int]:
    """``writers`` threads each POST ``each`` notes to the app at ``url``: the new ids (-status for a failure)."""
    results: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(each):
            resp = request("POST", url + "/notes", json_body={"title": f"n{i}-{j}", "body": ""})
            with lock:
                results.append(resp.json()["id"] if resp.status == 201 else -resp.status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_writes(app: App) -> None:
    results = post_notes_concurrently(app.url)
    assert len(results) == 40 and min(results) > 0 and len(set(results)) == 40
    assert len(request("GET", app.url + "/notes?limit=100").json()["notes"]) == 40


def test_data_survives_restart_and_env_change(runner: AppRunner, app: App, sqlite_env: dict[str, str]) -> None:
    note = create_note(app, "keep me", "across restarts")
    assert request("PUT", app.url + "/files/keep.bin", body=b"persist").status == 201

    assert runner.stop(app) == 0  # SIGTERM -> clean exit
    assert "stopped after SIGTERM" in app.output()
    with pytest.raises(OSError):
        request("GET", app.url + "/healthz")

    again = runner.start({**sqlite_env, "PORT": str(app.port), "APP_GREETING": "second deploy"})
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
        ("DELETE", "/files/a.txt", None),
    ]:
        resp = request(method, app.url + path, body=body)
        assert resp.status == 503, path
        assert "STORAGE_URL" in resp.json()["error"]
    assert create_note(app, "notes still work")["id"] == 1


def test_runs_as_top_level_package_from_any_cwd(runner: AppRunner, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "PYTHONPATH": str(REPO / "examples")}
    app = runner.start(env, module="notes_app", cwd=tmp_path)
    assert create_note(app, "from anywhere")["title"] == "from anywhere"


def test_listens_on_host(runner: AppRunner, tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 is not configured")
    app = runner.start({"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "HOST": "::1"}, wait=False)
    app.url = f"http://[::1]:{app.port}"
    runner.wait_healthy(app)
    with pytest.raises(OSError):
        request("GET", f"http://127.0.0.1:{app.port}/healthz")  # bound to ::1 only


def healthcheck(env: dict[str, str], cwd: Path = REPO, module: str = "examples.notes_app") -> tuple[int, str]:
    """Run the image's HEALTHCHECK command (``python -m notes_app.healthcheck``); its exit code and output."""
    full_env = app_environ(env)
    done = subprocess.run(
        [sys.executable, "-m", f"{module}.healthcheck"], cwd=cwd, env=full_env, capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr


def test_image_layout_runs_and_passes_its_healthcheck(runner: AppRunner, tmp_path: Path) -> None:
    """The package alone in /app/notes_app (as the Dockerfile lays it out), started the way the image starts it."""
    app_dir = tmp_path / "image" / "app"
    shutil.copytree(
        REPO / "examples" / "notes_app",
        app_dir / "notes_app",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "Dockerfile", ".dockerignore"),
    )
    env = {"HOST": "0.0.0.0", "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'notes.db'}"}
    (tmp_path / "data").mkdir()
    app = runner.start(env, module="notes_app", cwd=app_dir)
    assert create_note(app, "in the image")["id"] == 1
    code, out = healthcheck({**env, "PORT": str(app.port)}, cwd=app_dir, module="notes_app")
    assert code == 0 and "healthy" in out and '"status":"ok"' in out

    shutil.rmtree(tmp_path / "data")  # the database is gone: the check must fail, not crash
    code, out = healthcheck({**env, "PORT": str(app.port)}, cwd=app_dir, module="notes_app")
    assert code == 1 and "unhealthy" in out and "503" in out
    assert runner.stop(app) == 0
    code, out = healthcheck({**env, "PORT": str(app.port)}, cwd=app_dir, module="notes_app")
    assert code == 1 and "unhealthy" in out and "Traceback" not in out


def test_image_requirements_match_the_app_extra() -> None:
    """requirements.txt (what the image installs) and pyproject's ``app`` extra (local installs) do not drift."""
    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["app"]
    lines = (REPO / "examples" / "notes_app" / "requirements.txt").read_text().splitlines()
    image = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(image) == sorted(extra)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "8080"}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "PORT is not set"),
        ({"PORT": "8080", "DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        (
            {"PORT": "8080", "DATABASE_URL": "sqlite:////tmp/x.db", "STORAGE_URL": "ftp://bucket"},
            "STORAGE_URL",
        ),
        ({"PORT": "99999", "DATABASE_URL": "sqlite:////tmp/x.db"}, "PORT"),
        ({"PORT": "8080", "DATABASE_URL": "sqlite:////tmp/x.db", "BODY_TIMEOUT": "0"}, "BODY_TIMEOUT"),
        ({"PORT": "8080", "DATABASE_URL": "sqlite:////tmp/x.db", "BODY_TIMEOUT": "nan"}, "BODY_TIMEOUT"),
        ({"PORT": "8080", "DATABASE_URL": "sqlite:////tmp/x.db", "LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ],
)
def test_bad_configuration_fails_at_start(env: dict[str, str], message: str) -> None:
    full_env = app_environ(env)
    proc = subprocess.run(
        [sys.executable, "-m", "examples.notes_app"],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_dependency_is_one_clear_line(tmp_path: Path) -> None:
    env = app_environ({"PORT": str(free_port()), "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"})
    # -S: without site-packages, so uvicorn and starlette cannot be imported
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "examples.notes_app"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "is not installed" in line and "requirements.txt" in line


def test_busy_port_fails_at_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = app_environ({"PORT": str(taken.getsockname()[1]), "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"})
        proc = subprocess.run(
            [sys.executable, "-m", "examples.notes_app"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30
        )
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"notes_app: cannot start on 127.0.0.1:{env['PORT']}: [Errno 98] Address already in use")


# ---- hostile input: always a 4xx, never a 500 --------------------------------------------------------


def post_note(app: App, raw: bytes, content_type: str | None = "application/json") -> Response:
    return request("POST", app.url + "/notes", body=raw, headers={"Content-Type": content_type} if content_type else {})


def assert_no_server_errors(app: App) -> None:
    """No 5xx answer and no traceback in the app's log so far."""
    log = app.output()
    assert "Traceback" not in log and '" 500' not in log, log[-3000:]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"title": "caf\xe9"}', "not UTF-8"),  # Latin-1, not UTF-8
        (b'{"title": "\xc0\xaf"}', "not UTF-8"),  # overlong encoding of "/"
        (b'{"title": "\xed\xa0\x80"}', "not UTF-8"),  # a surrogate encoded as UTF-8 (CESU-8)
        (b'{"title": "a"}\x00', "not valid JSON"),  # a NUL byte outside any string
        (b'\xef\xbb\xbf{"title": "bom"}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"title": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
        (b'{"title": ' + b"7" * 5000 + b"}", "not valid JSON"),  # past Python's int digit limit
        (b'{"title": NaN}', "title"),
    ],
)
def test_malformed_json_is_400(shared: App, raw: bytes, message: str) -> None:
    resp = post_note(shared, raw)
    assert resp.status == 400, resp.body
    assert message in resp.json()["error"]
    assert_no_server_errors(shared)


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (b'{"title": "a\\u0000b"}', "title", "NUL"),
        (b'{"title": "ok", "body": "tail\\u0000"}', "body", "NUL"),
        (b'{"title": "\\ud800"}', "title", "lone surrogate"),
        (b'{"title": "ok", "body": "x\\udfffy"}', "body", "lone surrogate"),
        (b'{"title": "\\udc00\\ud800"}', "title", "lone surrogate"),  # a reversed pair is two lone halves
    ],
)
def test_nul_and_lone_surrogates_are_400(shared: App, raw: bytes, field: str, message: str) -> None:
    resp = post_note(shared, raw)
    assert resp.status == 400, resp.body
    assert resp.json()["field"] == field and message in resp.json()["error"]
    assert_no_server_errors(shared)


def test_lone_surrogate_in_a_field_name_is_echoed_safely(shared: App) -> None:
    resp = post_note(shared, b'{"title": "ok", "\\ud800": 1}')
    assert resp.status == 400
    assert resp.json()["field"] == "\ud800"  # escaped as \ud800 in the JSON answer, which json.loads accepts
    assert_no_server_errors(shared)


def test_valid_unicode_round_trips(shared: App) -> None:
    note = create_note(shared, "emoji \U0001f600 pair", "ünïcode ✓ \u2028 tab\t")
    assert request("GET", f"{shared.url}/notes/{note['id']}").json() == note


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json; charset=latin-1",
        "json",
    ],
)
def test_wrong_content_type_is_415(shared: App, content_type: str) -> None:
    resp = post_note(shared, b'{"title": "typed"}', content_type)
    assert resp.status == 415
    assert resp.json()["field"] == "content-type"


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "Application/JSON; charset=UTF-8", "application/vnd.notes+json"]
)
def test_json_content_types_are_accepted(shared: App, content_type: str | None) -> None:
    body = b'{"title": "typed"}'
    typed = f"Content-Type: {content_type}\r\n".encode() if content_type else b""
    head = b"POST /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n" % len(body)
    assert raw_request(shared.url, head + typed + b"\r\n" + body).status == 201


def test_oversize_note_is_413(shared: App) -> None:
    big = json.dumps({"title": "big", "body": "x" * (1024 * 1024)}).encode()
    resp = post_note(shared, big)
    assert resp.status == 413 and "too large" in resp.json()["error"]
    assert request("GET", shared.url + "/healthz").status == 200


def test_oversize_declared_length_is_413_before_any_body(shared: App) -> None:
    """A 10 GB Content-Length is refused at once, and the connection closed: nothing is read or stored."""
    for head in (
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n",
        b"PUT /files/huge.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", shared.port), timeout=10) as sock:
            sock.sendall(head)
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            assert resp.status == 413 and resp.getheader("Connection") == "close"
            assert "too large" in json.loads(resp.read())["error"]
            assert closed_by_server(sock)
    assert request("GET", shared.url + "/files/huge.bin").status == 404


def test_oversize_chunked_upload_is_413(shared: App) -> None:
    chunk = b"z" * 65536
    with socket.create_connection(("127.0.0.1", shared.port), timeout=10) as sock:
        sock.sendall(b"PUT /files/endless.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(11 * 16 + 1):  # a little over 11 MiB, past the 10 MiB limit
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert resp.status == 413
    assert request("GET", shared.url + "/files/endless.bin").status == 404


def test_upload_without_length_is_411(shared: App) -> None:
    resp = raw_request(shared.url, b"PUT /files/nolength.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.status == 411 and "Content-Length" in resp.json()["error"]


@pytest.mark.parametrize(
    "data",
    [
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",  # NUL in the request line
        b"GET /notes HTTP/1.1\r\nHost: x\r\nX-Evil: a\x00b\r\n\r\n",  # NUL in a header
        b"GET /notes HTTP/1.1\r\nHost: x\r\nX-Evil\r\n\r\n",  # a header without a colon
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /notes HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4 * MiB + b"\r\n\r\n",
        b"GET /notes HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32),  # a TLS ClientHello
    ],
)
def test_malformed_requests_are_400(shared: App, data: bytes) -> None:
    try:
        resp = raw_request(shared.url, data)
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        resp = None  # closing is a fine answer to garbage too, as long as it is not a 5xx
    assert resp is None or 400 <= resp.status < 500, resp
    assert request("GET", shared.url + "/healthz").status == 200
    assert_no_server_errors(shared)


def test_head_works_on_every_get_route(shared: App) -> None:
    note = create_note(shared, "headed", "body")
    assert request("PUT", shared.url + "/files/head.bin", body=b"0123456789").status == 201
    for path in ("/", "/healthz", "/notes", "/notes?limit=1", f"/notes/{note['id']}", "/files", "/files/head.bin"):
        get = request("GET", shared.url + path)
        head = request("HEAD", shared.url + path)
        assert get.status == head.status == 200, path
        assert head.body == b"", path
        assert head.headers["Content-Type"] == get.headers["Content-Type"], path
        assert int(head.headers["Content-Length"]) == len(get.body), path
    assert request("HEAD", shared.url + "/notes/999999").status == 404
    assert request("HEAD", shared.url + "/files/missing.bin").status == 404


def stall(app: App, head: bytes, partial: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    sock.sendall(head + partial)
    return sock


def test_stalled_uploads_get_408_and_hold_no_worker(shared: App) -> None:
    """Headers and part of a body, then silence: 408 after BODY_TIMEOUT, while other requests still flow."""
    count = 60  # more than the 40 threads of the app's pool
    started = time.monotonic()
    stalled_note = (
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        b'{"title": "sta',
    )
    stalled_file = (b"PUT /files/stalled.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", b"x" * 5000)
    socks = [stall(shared, *(stalled_note if i % 2 else stalled_file)) for i in range(count)]
    try:
        during = request("GET", shared.url + "/healthz")  # answered while every upload is stalled
        assert during.status == 200 and time.monotonic() - started < STALL_SECONDS
        for sock in socks:
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            assert resp.status == 408 and resp.getheader("Connection") == "close"
            assert "stalled" in json.loads(resp.read())["error"]
            assert closed_by_server(sock)
        assert time.monotonic() - started < STALL_SECONDS + 5
    finally:
        for sock in socks:
            sock.close()
    assert request("GET", shared.url + "/files/stalled.bin").status == 404
    leftovers = [p.name for p in (shared.log.parent / "files").iterdir() if p.name.startswith(".upload-")]
    assert leftovers == []
    assert_no_server_errors(shared)


def test_slow_but_steady_upload_is_not_a_stall(shared: App) -> None:
    """The timeout is for silence, not for the whole body: a body that keeps arriving is accepted."""
    parts = [b"a" * 100] * 4
    with stall(shared, b"PUT /files/slow.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n", b"") as sock:
        for part in parts:
            time.sleep(STALL_SECONDS * 0.6)
            sock.sendall(part)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert resp.status == 201 and json.loads(resp.read())["size"] == 400


def test_client_that_leaves_mid_upload_leaves_nothing(shared: App) -> None:
    with stall(shared, b"PUT /files/gone.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", b"y" * 100):
        pass  # closed with the body unfinished
    time.sleep(0.3)
    assert request("GET", shared.url + "/files/gone.bin").status == 404
    assert [p.name for p in (shared.log.parent / "files").iterdir() if p.name.startswith(".upload-")] == []
    assert_no_server_errors(shared)


# ---- concurrency and shutdown --------------------------------------------------------------------------


async def _one(port: int, payload: bytes) -> int | str:
    """Send one request on its own connection; the status, or the name of the error."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        try:
            writer.write(payload)
            answer = await asyncio.wait_for(reader.read(), 60)
        finally:
            writer.close()
    except (OSError, TimeoutError) as exc:
        return type(exc).__name__
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b""
    return int(status) if status.isdigit() else f"bad answer {answer[:40]!r}"


async def _burst(port: int, count: int) -> list[int | str]:
    body = b'{"title": "burst"}'
    kinds = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /notes?limit=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
    ]
    return await asyncio.gather(*(_one(port, kinds[i % 3]) for i in range(count)))


def test_holds_400_concurrent_connections(app: App) -> None:
    """400 connections opened at once (health, list, create): every one is answered, none reset."""
    results = asyncio.run(_burst(app.port, 400))
    assert [r for r in results if r not in (200, 201)] == []
    assert results.count(201) == len(range(2, 400, 3))
    assert len(request("GET", app.url + "/notes?limit=100").json()["notes"]) == 100
    assert_no_server_errors(app)


def test_sigterm_stops_promptly_with_open_connections(runner: AppRunner, app: App) -> None:
    """Idle keep-alive and stalled connections do not hold up a SIGTERM: the stalled upload gets a 503 about a
    second into the shutdown, and the app exits 0 (well within the 10 s that platforms give before SIGKILL)."""
    idle = socket.create_connection(("127.0.0.1", app.port))
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = http.client.HTTPResponse(idle)
    resp.begin()
    resp.read()
    stalled = stall(app, b"PUT /files/s.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"s")
    try:
        started = time.monotonic()
        assert runner.stop(app) == 0
        assert time.monotonic() - started < 5
        answer = http.client.HTTPResponse(stalled)
        answer.begin()
        assert answer.status == 503 and "shutting down" in json.loads(answer.read())["error"]
        assert closed_by_server(idle)
        assert "stopped after SIGTERM" in app.output()
        assert_no_server_errors(app)
    finally:
        idle.close()
        stalled.close()


def test_sigterm_lets_an_upload_in_progress_finish(runner: AppRunner, app: App, tmp_path: Path) -> None:
    """Graceful: a body still arriving when SIGTERM comes is received and stored before the app exits."""
    with stall(app, b"PUT /files/late.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n", b"a" * 100) as sock:
        time.sleep(0.2)
        os.kill(app.proc.pid, signal.SIGTERM)
        for _ in range(4):
            time.sleep(0.5)
            sock.sendall(b"b" * 100)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert resp.status == 201 and json.loads(resp.read())["size"] == 500
    assert app.proc.wait(10) == 0
    assert (tmp_path / "files" / "late.bin").read_bytes() == b"a" * 100 + b"b" * 400


def test_sigint_stops_cleanly(runner: AppRunner, app: App) -> None:
    assert stop_pid(app.proc, signal.SIGINT) == 0
    assert "stopped after SIGINT" in app.output()


# ---- Redis cache (optional) -----------------------------------------------------------------------


def test_unreachable_redis_degrades_gracefully(runner: AppRunner, sqlite_env: dict[str, str], tmp_path: Path) -> None:
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
