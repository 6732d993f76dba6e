"""A throwaway PostgreSQL cluster for tests that run real SQL (the database setup scripts mbops ships)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_local_helpers import free_port


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[tuple[str, list[str]]]:
    """A cluster on a free loopback port with password (SCRAM) logins over TCP, run as ``nobody`` when the tests
    run as root; yields the port and the ``psql`` command line of its superuser. Stopped and removed after; the
    test is skipped where PostgreSQL is not installed."""
    if not (shutil.which("initdb") and shutil.which("pg_ctl") and shutil.which("psql")):
        pytest.skip("PostgreSQL is not installed")
    root = Path(tempfile.mkdtemp(prefix=prefix))  # not under pytest's root-only folder: nobody must reach it
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "nobody")
    data, port = root / "data", str(free_port())
    subprocess.run([*as_user, "initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=scram-sha-256"], check=True, capture_output=True)  # fmt: skip
    subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-o", f"-p {port} -k {root} -h 127.0.0.1", "-w", "start",
                    "-l", str(root / "log")], check=True, capture_output=True)  # fmt: skip
    try:
        yield port, ["psql", "-h", str(root), "-p", port, "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]
    finally:
        subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
