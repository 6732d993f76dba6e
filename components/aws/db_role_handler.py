"""The AWS Lambda function that creates the app's PostgreSQL role (packaged by ``db_role``; runs on python3.12).

It logs in with the admin URL (the RDS master user: CREATEROLE and CREATEDB, never a superuser) and makes the
app's role from the app's own ``DATABASE_URL``: created when missing, its password (re)set, no CREATEDB or
CREATEROLE (SUPERUSER is not named: only a superuser may name it, even to deny it), the owner of the app
database, which PUBLIC may no longer connect to. Idempotent: every run converges to the same state.

The password reaches the server only as a SCRAM-SHA-256 verifier computed here (what ``psql``'s ``\\password``
does), so no statement that could be logged carries it. TLS as the URL's ``sslmode`` says: ``disable`` (tests),
``verify-ca``/``verify-full`` with ``sslrootcert``, anything else encrypted without verifying the server (the
``require`` of libpq). Self-contained: the standard library, boto3 (in the Lambda runtime) and pg8000 (packaged
with it).
"""

from __future__ import annotations

import base64
import os
import ssl
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


def connect_args(url: str) -> dict[str, Any]:
    """pg8000 connection arguments for a ``postgresql://user:password@host:port/db?sslmode=...`` URL."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    mode = query.get("sslmode", "require")
    context: ssl.SSLContext | None = None
    if mode != "disable":
        if mode in ("verify-ca", "verify-full"):
            context = ssl.create_default_context(cafile=query.get("sslrootcert"))
            context.check_hostname = mode == "verify-full"
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    return {
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "database": unquote(parts.path.lstrip("/")),
        "ssl_context": context,
        "timeout": 30,
    }


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 secret PostgreSQL stores for ``password`` (``pg_authid.rolpassword``)."""
    from scramp import ScramMechanism

    salt, stored, server, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
        password, iteration_count=SCRAM_ITERATIONS, salt=os.urandom(16)
    )
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def ensure_app_role(admin_url: str, app_url: str) -> dict[str, Any]:
    """Create or update the app's role (user and password of ``app_url``), owner of its database."""
    import pg8000.native
    from pg8000.native import identifier, literal

    app = connect_args(app_url)
    role, database = app["user"], app["database"]
    if not role or not database:
        raise ValueError("the app's DATABASE_URL names no user or no database")
    conn = pg8000.native.Connection(**connect_args(admin_url))
    try:
        created = not conn.run("SELECT 1 FROM pg_roles WHERE rolname = :role", role=role)
        if created:
            conn.run(f"CREATE ROLE {identifier(role)} LOGIN")
        conn.run(
            f"ALTER ROLE {identifier(role)} WITH LOGIN NOCREATEDB NOCREATEROLE "
            f"PASSWORD {literal(scram_verifier(app['password']))}"
        )
        conn.run(f"GRANT {identifier(role)} TO CURRENT_USER")  # to hand it the database (and manage it later)
        conn.run(f"ALTER DATABASE {identifier(database)} OWNER TO {identifier(role)}")
        conn.run(f"REVOKE ALL ON DATABASE {identifier(database)} FROM PUBLIC")
    finally:
        conn.close()
    return {"role": role, "database": database, "created": created}


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Lambda entry point: the two URLs come from Secrets Manager (ARNs in the environment), never the event."""
    import boto3

    secrets = boto3.client("secretsmanager")

    def value(env: str) -> str:
        return secrets.get_secret_value(SecretId=os.environ[env])["SecretString"]

    result = ensure_app_role(value("ADMIN_URL_SECRET_ARN"), value("APP_URL_SECRET_ARN"))
    print(f"app role {result['role']}: {'created' if result['created'] else 'updated'}, "
          f"owns database {result['database']}")  # fmt: skip
    return result
