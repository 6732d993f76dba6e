"""The Cloud SQL app-role job's script, run for real: ``psql`` against a PostgreSQL cluster set up the way Cloud
SQL sets one up (``cloudsqlsuperuser`` owns the app's database; API users are its members with CREATEROLE and
CREATEDB; TLS with a server certificate from the instance's own CA). The app's role must end up a plain role that
can create its tables, nothing more, and the script must verify the server against ``DATABASE_CA_CERT``."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mbops.components.gcp.db_roles import ADMIN_USER, APP_USER, SETUP_SCRIPT, run_token

ADMIN_PW, APP_PW, DATABASE = "Adm1n-pw_xyz", "App-pw_1234-abc", "app"


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return found[0].parent if found and (found[0].parent / "postgres").is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _psql(url: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True,
                          timeout=30)  # fmt: skip


def _ca_and_server_cert(common_name: str) -> tuple[str, str, str]:
    """(CA certificate, server certificate, server key) as PEM: a CA of its own signs the server's certificate,
    as Cloud SQL's per-instance CA does (the server's name is not the IP clients dial: verify-ca, not -full)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def name(cn: str) -> object:
        return x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)])

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name(f"{common_name} CA")).issuer_name(name(f"{common_name} CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    server = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
              .sign(ca_key, hashes.SHA256()))  # fmt: skip
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem).decode(), server.public_bytes(pem).decode(), key_pem.decode()


@pytest.fixture
def cloud_sql_like() -> Iterator[dict[str, str]]:
    """A cluster on a free loopback port shaped like Cloud SQL's, TLS on; yields the admin and app URLs (verify-ca,
    as the stack writes them), a superuser's, and the server's CA (PEM)."""
    bindir = _bindir()
    if bindir is None or shutil.which("psql") is None:
        pytest.skip("PostgreSQL server binaries and psql are needed (apt-get install postgresql)")
    user: dict[str, object] = {}
    if os.geteuid() == 0:  # initdb and postgres refuse root
        nobody = pwd.getpwnam("nobody")
        user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    root = Path(tempfile.mkdtemp(prefix="mbops-cloudsql-"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(root)}
    proc = None
    try:
        ca, cert, key = _ca_and_server_cert("mbops-test:instance")
        (root / "pw").write_text("root-pw\n")
        (root / "server.crt").write_text(cert)
        (root / "server.key").write_text(key)
        (root / "server.key").chmod(0o600)
        if user:
            for path in (root, root / "pw", root / "server.crt", root / "server.key"):
                os.chown(path, user["user"], user["group"])  # type: ignore[arg-type]
        subprocess.run([str(bindir / "initdb"), "-D", str(root / "data"), "-U", "root", f"--pwfile={root / 'pw'}",
                        "--auth=scram-sha-256", "--no-sync"], env=env, cwd=root, check=True, capture_output=True,
                       timeout=120, **user)  # fmt: skip
        port = _free_port()
        proc = subprocess.Popen([str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(port), "-c",
                                 "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}", "-c",
                                 "fsync=off", "-c", "ssl=on", "-c", f"ssl_cert_file={root / 'server.crt'}", "-c",
                                 f"ssl_key_file={root / 'server.key'}"], env=env, cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, **user)  # fmt: skip
        superuser = f"postgresql://root:root-pw@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while _psql(superuser, "SELECT 1").returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.2)
        setup = [
            "CREATE ROLE cloudsqlsuperuser CREATEROLE CREATEDB",
            f"CREATE ROLE {ADMIN_USER} LOGIN CREATEROLE CREATEDB PASSWORD '{ADMIN_PW}' IN ROLE cloudsqlsuperuser",
            f"CREATE DATABASE {DATABASE} OWNER cloudsqlsuperuser",
        ]
        for sql in setup:
            assert _psql(superuser, sql).returncode == 0, sql
        yield {
            "superuser": superuser.rsplit("/", 1)[0] + f"/{DATABASE}",
            "ADMIN_URL": f"postgresql://{ADMIN_USER}:{ADMIN_PW}@127.0.0.1:{port}/{DATABASE}?sslmode=verify-ca",
            "APP_URL": f"postgresql://{APP_USER}:{APP_PW}@127.0.0.1:{port}/{DATABASE}?sslmode=verify-ca",
            "DATABASE_CA_CERT": ca,
        }
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _run_setup(urls: dict[str, str], ca: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ADMIN_URL": urls["ADMIN_URL"],
           "APP_URL": urls["APP_URL"], "DATABASE": DATABASE, "DATABASE_CA_CERT": ca or urls["DATABASE_CA_CERT"],
           "HOME": tempfile.gettempdir()}  # fmt: skip
    return subprocess.run(["/bin/sh", "-c", SETUP_SCRIPT], env=env, capture_output=True, text=True, timeout=60)


def _app(urls: dict[str, str]) -> str:
    """The app's URL for psql from the test: TLS required, the server not verified (the test's own checks)."""
    return urls["APP_URL"].replace("sslmode=verify-ca", "sslmode=require")


def _attributes(urls: dict[str, str]) -> str:
    sql = (f"SELECT rolsuper, rolcreatedb, rolcreaterole, pg_has_role('{APP_USER}', 'cloudsqlsuperuser', 'MEMBER') "
           f"FROM pg_roles WHERE rolname = '{APP_USER}'")  # fmt: skip
    return _psql(urls["superuser"], sql).stdout.strip()


def test_the_app_role_can_own_its_tables_and_nothing_more(cloud_sql_like: dict[str, str]) -> None:
    done = _run_setup(cloud_sql_like)
    assert done.returncode == 0, done.stderr
    assert _attributes(cloud_sql_like) == "f|f|f|f"
    app = _app(cloud_sql_like)
    created = _psql(app, "CREATE TABLE notes (id serial PRIMARY KEY, title text); INSERT INTO notes VALUES (1, 'x')")
    assert created.returncode == 0, created.stderr  # the app creates its schema at start
    assert _psql(app, "CREATE ROLE intruder").returncode != 0
    assert _psql(app, "CREATE DATABASE other").returncode != 0
    assert _run_setup(cloud_sql_like).returncode == 0  # idempotent: a rerun (new password) changes nothing else


def test_an_app_user_made_by_the_api_loses_its_admin_membership(cloud_sql_like: dict[str, str]) -> None:
    made_by_api = f"CREATE ROLE {APP_USER} LOGIN CREATEROLE CREATEDB PASSWORD 'old' IN ROLE cloudsqlsuperuser"
    assert _psql(cloud_sql_like["superuser"], made_by_api).returncode == 0
    done = _run_setup(cloud_sql_like)
    assert done.returncode == 0, done.stderr
    assert _attributes(cloud_sql_like) == "f|f|f|f"
    assert _psql(_app(cloud_sql_like), "SELECT 1").stdout.strip() == "1"  # the new password works


def test_the_setup_refuses_a_server_its_ca_did_not_sign(cloud_sql_like: dict[str, str]) -> None:
    other_ca, _, _ = _ca_and_server_cert("someone-else")
    done = _run_setup(cloud_sql_like, ca=other_ca)
    assert done.returncode != 0 and "certificate verify failed" in done.stderr


def test_the_run_token_changes_with_the_script_and_the_passwords() -> None:
    token = run_token(SETUP_SCRIPT, DATABASE, "1", "1")
    assert len(token) == 12 and token == run_token(SETUP_SCRIPT, DATABASE, "1", "1")
    assert token != run_token(SETUP_SCRIPT, DATABASE, "1", "2")


def test_the_example_app_verifies_cloud_sql_against_its_ca(cloud_sql_like: dict[str, str]) -> None:
    """The app connects as its role with verify-ca and DATABASE_CA_CERT (libpq needs the CA as a file)."""
    from examples.notes_app.config import load_config
    from examples.notes_app.db import Database, DatabaseUnavailable

    assert _run_setup(cloud_sql_like).returncode == 0
    env = {"DATABASE_URL": cloud_sql_like["APP_URL"], "DATABASE_CA_CERT": cloud_sql_like["DATABASE_CA_CERT"],
           "PORT": "8080"}  # fmt: skip
    database = Database(load_config(env))
    try:
        database.create_schema()
        assert database.ping()
    finally:
        database.close()
    foreign, _, _ = _ca_and_server_cert("someone-else")
    stranger = Database(load_config({**env, "DATABASE_CA_CERT": foreign}))
    try:
        with pytest.raises(DatabaseUnavailable):
            stranger.create_schema(wait_seconds=1)
    finally:
        stranger.close()
