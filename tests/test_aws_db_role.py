"""The AWS database role bootstrap for real: the Lambda handler against a real PostgreSQL, logged in as an admin
that is what the RDS master user is (CREATEROLE, CREATEDB, never a superuser), its Secrets Manager reads on a
moto Secrets Manager, and the archive the function is deployed from."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mbops.components.aws import db_role_handler
from mbops.components.aws.db_role import function_code
from tests.test_example_app import postgres_url  # noqa: F401 - a fixture

ADMIN, ADMIN_PW = "dbadmin", "AdminPassw0rd"


@pytest.fixture
def rds_like(postgres_url: str) -> dict[str, str]:  # noqa: F811
    """An RDS-like server: a master user with CREATEROLE and CREATEDB but no SUPERUSER, owning the app database
    (RDS creates ``db_name`` owned by the master user)."""
    import psycopg

    superuser = postgres_url.rsplit("/", 1)[0]
    hostport = superuser.split("@", 1)[1]
    with psycopg.connect(f"{superuser}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ADMIN} LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '{ADMIN_PW}'")
        conn.execute(f"CREATE DATABASE app OWNER {ADMIN}")
    return {"admin": f"postgresql://{ADMIN}:{ADMIN_PW}@{hostport}/app?sslmode=disable", "hostport": hostport,
            "superuser": superuser}  # fmt: skip


def _app_url(rds: dict[str, str], password: str) -> str:
    return f"postgresql://app:{password}@{rds['hostport']}/app?sslmode=disable"


def test_the_admin_is_no_superuser_so_naming_nosuperuser_is_refused(rds_like: dict[str, str]) -> None:
    """The review's finding, reproduced: the old statement (naming NOSUPERUSER) fails for an RDS-like admin."""
    import psycopg

    with psycopg.connect(rds_like["admin"].split("?")[0], autocommit=True) as conn:
        conn.execute("CREATE ROLE probe LOGIN")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="superuser"):
            conn.execute("ALTER ROLE probe WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")


def test_the_bootstrap_creates_the_app_role_as_a_non_superuser_admin(rds_like: dict[str, str]) -> None:
    import psycopg

    for password, created in (("FirstPassw0rd", True), ("SecondPassw0rd", False)):  # a new password: idempotent
        result = db_role_handler.ensure_app_role(rds_like["admin"], _app_url(rds_like, password))
        assert result == {"role": "app", "database": "app", "created": created}
        with psycopg.connect(_app_url(rds_like, password).split("?")[0], autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS notes (id int)")  # owns the database and its public schema
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba), r.rolsuper, r.rolcreatedb, r.rolcreaterole "
                "FROM pg_database, pg_roles r WHERE datname = 'app' AND r.rolname = current_user"
            ).fetchone()
        assert row == ("app", False, False, False)
    with psycopg.connect(f"{rds_like['superuser']}/postgres") as conn:
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'").fetchone()[0]
        public = conn.execute("SELECT has_database_privilege('public', 'app', 'CONNECT')").fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$4096:")  # the password went over as a verifier, never in clear
    assert public is False
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(_app_url(rds_like, "FirstPassw0rd").split("?")[0]).close()  # the old password is gone


def test_the_handler_reads_both_urls_from_secrets_manager(rds_like: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with moto.mock_aws():
        client = boto3.client("secretsmanager")
        admin = client.create_secret(Name="mbops/x/DATABASE_ADMIN_URL-a", SecretString=rds_like["admin"])["ARN"]
        app = client.create_secret(Name="mbops/x/DATABASE_URL-a", SecretString=_app_url(rds_like, "Thr1rdPassword"))
        monkeypatch.setenv("ADMIN_URL_SECRET_ARN", admin)
        monkeypatch.setenv("APP_URL_SECRET_ARN", app["ARN"])
        assert db_role_handler.handler({"action": "ensure-app-role"}, None)["role"] == "app"


@pytest.mark.parametrize(("query", "verified"), [("sslmode=require", False), ("", False),
                                                 ("sslmode=verify-full", True)])  # fmt: skip
def test_tls_follows_the_urls_sslmode(query: str, verified: bool) -> None:
    args = db_role_handler.connect_args(f"postgresql://a:p%40ss@db.example:5433/app?{query}")
    assert (args["user"], args["password"], args["host"], args["port"], args["database"]) == (
        "a", "p@ss", "db.example", 5433, "app")  # fmt: skip
    context = args["ssl_context"]
    assert context is not None and context.check_hostname is verified
    assert db_role_handler.connect_args("postgresql://a:b@h/app?sslmode=disable")["ssl_context"] is None


def test_the_archive_runs_without_the_deployers_site_packages(tmp_path: Path) -> None:
    """Unpacked, the function's files import on a bare interpreter (no site-packages): the driver is inside."""
    code = function_code()
    assets: dict[str, Any] = code.archive.assets
    assert "index.py" in assets and "pg8000/native.py" in assets and "scramp/core.py" in assets
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in assets)
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as zf:
        for name, asset in assets.items():
            zf.write(asset.path, name)
    zipfile.ZipFile(tmp_path / "fn.zip").extractall(tmp_path / "fn")
    probe = "\n".join([
        "import sys",
        "sys.path.insert(0, '.')",
        "import index, pg8000.native",
        "assert index.scram_verifier('x').startswith('SCRAM-SHA-256$4096:')",
    ])  # fmt: skip
    run = subprocess.run([sys.executable, "-I", "-S", "-c", probe], cwd=tmp_path / "fn", capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert function_code().sha256 == code.sha256  # stable: the same files give the same hash
