"""The example app on the clouds' services: the real app process, the real SDKs, over the wire to emulators.

- AWS: moto in server mode (S3, DynamoDB, Secrets Manager) on a loopback port, reached through
  ``AWS_ENDPOINT_URL`` with fake credentials, as the app would reach AWS from Lambda, ECS or a VM.
- Azure Blob: Azurite. Once with a connection string (account key); once the way Azure runs the app: over
  HTTPS with OAuth on, the app signing in with ``DefaultAzureCredential`` through a managed-identity token
  endpoint (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``, as Container Apps sets them) for ``AZURE_CLIENT_ID``.
- GCS: fake-gcs-server through ``STORAGE_EMULATOR_HOST`` (the client library's own emulator switch; it signs
  nothing there, so the service-account (ADC) path is the library's default and not exercised here).
- Firestore and Cosmos DB: neither emulator can be installed here (Firestore's comes with the gcloud CLI and
  needs Java; Cosmos DB's is a container image that cannot be pulled), so each has a fake below, serving only
  the calls the app makes, with the SDK's own wire format: Firestore's gRPC service (messages from the client
  library, reached through ``FIRESTORE_EMULATOR_HOST``), Cosmos DB's REST gateway over HTTPS with managed-
  identity tokens. What a fake cannot show: the real services' limits, consistency and indexes.

The emulators come from the test tools folder (``$MBOPS_TEST_TOOLS``, default ``~/.cache/mbops-test-tools``;
``.ci/run`` installs them): a test whose emulator is missing is skipped, saying how to install it. Every
process started here is stopped by its pid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from examples.notes_app.config import ConfigError, load_config
from tests.test_example_app import (
    REPO,
    App,
    AppRunner,
    MiB,
    app_environ,
    check_note_flow,
    create_note,
    free_port,
    post_notes_concurrently,
    request,
    stop_pid,
)

TOOLS = Path(
    os.environ.get("MBOPS_TEST_TOOLS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mbops-test-tools"
)
REGION = "eu-west-1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_PACKAGE = "azurite@3.37.0"
FAKE_GCS_MODULE = "github.com/fsouza/fake-gcs-server@v1.56.1"


# ---- helpers ----------------------------------------------------------------------------------------------------


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[AppRunner]:
    """Starts app processes; stops them (by pid) after the test."""
    runner = AppRunner(tmp_path)
    try:
        yield runner
    finally:
        runner.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)


def start_service(argv: list[str], port: int, folder: Path, what: str, env: dict[str, str] | None = None) -> Any:
    """Start a service we stop by pid; wait until its port accepts connections."""
    log = folder / f"{what}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, proc, log, what)
    except BaseException:
        stop_pid(proc)
        raise
    return proc


def run_app(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the app to its end (a start that fails); its exit code and output."""
    full = app_environ({"PORT": str(free_port()), **env})
    return subprocess.run(
        [sys.executable, "-m", "examples.notes_app"],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_file_flow(app: App, stored: Callable[[str], bytes | None]) -> None:
    """Upload, download (whole, ranges, HEAD), list, replace and delete files; ``stored(name)`` reads the object
    straight from the cloud's store (None when it is not there)."""
    data = os.urandom(300_000) + b"\x00end"
    put = request("PUT", app.url + "/files/photo-1.v2_raw.bin", body=data)
    assert put.status == 201, put.body
    assert put.headers["Location"] == "/files/photo-1.v2_raw.bin"
    assert put.json() == {"name": "photo-1.v2_raw.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert stored("photo-1.v2_raw.bin") == data

    got = request("GET", app.url + "/files/photo-1.v2_raw.bin")
    assert got.status == 200 and got.body == data
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert int(got.headers["Content-Length"]) == len(data) and got.headers["Accept-Ranges"] == "bytes"
    head = request("HEAD", app.url + "/files/photo-1.v2_raw.bin")
    assert head.status == 200 and head.body == b"" and int(head.headers["Content-Length"]) == len(data)

    big = os.urandom(3 * MiB + 17)  # past the upload's in-memory part: spooled to a temporary file
    assert request("PUT", app.url + "/files/big.bin", body=big).json()["size"] == len(big)
    assert stored("big.bin") == big and request("GET", app.url + "/files/big.bin").body == big

    assert request("PUT", app.url + "/files/range.bin", body=b"0123456789").status == 201
    for header, status, body, content_range in [
        ("bytes=2-5", 206, b"2345", "bytes 2-5/10"),
        ("bytes=7-", 206, b"789", "bytes 7-9/10"),
        ("bytes=-3", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
        ("bytes=0-1,4-5", 200, b"0123456789", None),  # several ranges: the whole file (RFC 9110 allows it)
    ]:
        part = request("GET", app.url + "/files/range.bin", headers={"Range": header})
        assert (part.status, part.body, part.headers.get("Content-Range")) == (status, body, content_range), header
    for header, status in [("bytes=5-2", 400), ("lines=1-2", 400), ("bytes=x-y", 400), ("bytes=50-60", 416)]:
        assert request("GET", app.url + "/files/range.bin", headers={"Range": header}).status == status, header

    assert request("PUT", app.url + "/files/empty.txt", body=b"").status == 201
    empty = request("GET", app.url + "/files/empty.txt")
    assert empty.status == 200 and empty.body == b"" and stored("empty.txt") == b""
    listing = request("GET", app.url + "/files").json()["files"]
    assert listing == [
        {"name": "big.bin", "size": len(big)},
        {"name": "empty.txt", "size": 0},
        {"name": "photo-1.v2_raw.bin", "size": len(data)},
        {"name": "range.bin", "size": 10},
    ]
    assert request("PUT", app.url + "/files/empty.txt", body=b"now full").json()["size"] == 8
    assert request("GET", app.url + "/files/empty.txt").body == b"now full" and stored("empty.txt") == b"now full"

    missing = request("GET", app.url + "/files/nope.bin")
    assert missing.status == 404 and "error" in missing.json()
    assert request("HEAD", app.url + "/files/nope.bin").status == 404
    assert request("DELETE", app.url + "/files/empty.txt").status == 204
    assert request("GET", app.url + "/files/empty.txt").status == 404 and stored("empty.txt") is None
    assert request("DELETE", app.url + "/files/empty.txt").status == 404
    bad = request("PUT", app.url + "/files/..%2Fescape", body=b"evil")
    assert bad.status == 400 and bad.json()["field"] == "name"

    too_big = request("PUT", app.url + "/files/huge.bin", body=b"\x01" * (10 * MiB + 1))
    assert too_big.status == 413 and stored("huge.bin") is None
    assert [f["name"] for f in request("GET", app.url + "/files").json()["files"]] == [
        "big.bin", "photo-1.v2_raw.bin", "range.bin",
    ]  # fmt: skip
    log = app.output()
    assert "Traceback" not in log and '" 500' not in log, log[-3000:]


# ---- which backends the env of each platform selects (in process, no service) ----------------------------------

# The app's environment on each cloud, as `mbops preview --cloud C --profile P --json` shows it, plus what the
# platform adds by itself (Lambda: AWS_LAMBDA_FUNCTION_NAME and AWS_REGION; ECS: AWS_REGION and AWS_EXECUTION_ENV;
# Cloud Run: K_SERVICE). Secrets are shown with the value they resolve to.
PLATFORMS: dict[str, tuple[dict[str, str], str, str | None]] = {
    "aws saas (Lambda)": (
        {"DOCUMENT_TABLE": "saas-dev-docs", "STORAGE_BUCKET": "saas-dev-files-1a2b", "AWS_LWA_PORT": "8080",
         "AWS_LAMBDA_FUNCTION_NAME": "saas-dev-app", "AWS_REGION": "us-east-1"},
        "dynamodb", "s3",
    ),
    "aws managed (ECS)": (
        {"DATABASE_URL": "postgresql://app:pw@db:5432/app", "STORAGE_BUCKET": "managed-dev-files",
         "REDIS_URL": "rediss://:t@cache:6379/0", "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE", "AWS_REGION": "us-east-1"},
        "postgresql", "s3",
    ),
    "gcp saas (Cloud Run)": (
        {"DOCUMENT_TABLE": "saas-dev-docs", "STORAGE_BUCKET": "saas-dev-files", "K_SERVICE": "saas-dev-app"},
        "firestore", "gcs",
    ),
    "gcp managed (Cloud Run)": (
        {"DATABASE_URL": "postgresql://app:pw@10.0.0.3/app", "STORAGE_BUCKET": "managed-dev-files",
         "REDIS_URL": "rediss://:t@10.0.0.4:6378/0", "REDIS_CA_CERT": "-----BEGIN CERTIFICATE-----",
         "K_SERVICE": "managed-dev-app"},
        "postgresql", "gcs",
    ),
    "azure saas (Container Apps)": (
        {"STORAGE_BUCKET": "app-files", "STORAGE_URL": "https://stsaasdev417a61.blob.core.windows.net/app-files",
         "DOCUMENT_TABLE": "app/items", "DOCUMENT_DB_URL": "https://cosmos-saas-dev-417a61.documents.azure.com:443/",
         "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001"},
        "cosmos", "azure-blob",
    ),
    "azure managed (Container Apps)": (
        {"STORAGE_BUCKET": "app-files", "STORAGE_URL": "https://stmanageddev15ef92.blob.core.windows.net/app-files",
         "DATABASE_URL": "postgresql://app:pw@pg.postgres.database.azure.com/app", "AZURE_CLIENT_ID": "x"},
        "postgresql", "azure-blob",
    ),
    "local saas": (
        {"DATABASE_URL": "sqlite:////var/mbops/docs.db", "DOCUMENT_DB_URL": "sqlite:////var/mbops/docs.db",
         "DOCUMENT_TABLE": "documents", "STORAGE_URL": "file:///var/mbops/files"},
        "sqlite", "file",
    ),
}  # fmt: skip


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_each_platform_env_selects_its_backends(platform: str) -> None:
    env, notes, storage = PLATFORMS[platform]
    config = load_config({"PORT": "8080", **env})
    assert config.notes_kind == notes
    assert (config.storage.kind if config.storage else None) == storage


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STORAGE_BUCKET": "b"}, "nothing says which cloud"),
        ({"STORAGE_BUCKET": "bkt", "AWS_REGION": "us-east-1", "K_SERVICE": "app"}, "both AWS (AWS_REGION) and GCP"),
        ({"STORAGE_BUCKET": "bkt", "STORAGE_URL": "gs://other"}, "name different buckets"),
        ({"STORAGE_URL": "s3://bkt/sub/dir"}, "bucket alone"),
        ({"STORAGE_URL": "https://acct.blob.core.windows.net/c?sv=2024&sig=x"}, "no query string"),
        ({"STORAGE_URL": "https://acct.blob.core.windows.net/"}, "container URL"),
    ],
)
def test_storage_settings_that_cannot_work_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({"PORT": "8080", "DATABASE_URL": "sqlite:////tmp/n.db", **env})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOCUMENT_TABLE": "docs"}, "nothing says which cloud"),
        ({"DOCUMENT_TABLE": "docs", "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}, "set AWS_REGION"),
        ({"DOCUMENT_TABLE": "Bad_Id", "K_SERVICE": "app"}, "Firestore database id"),
        (
            {"DOCUMENT_TABLE": "items", "DOCUMENT_DB_URL": "https://a.documents.azure.com:443/"},
            "<database>/<container>",
        ),
        ({"DOCUMENT_DB_URL": "https://a.documents.azure.com:443/"}, "DOCUMENT_TABLE is not"),
        ({}, "DATABASE_URL is not set"),
    ],
)
def test_document_settings_that_cannot_work_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({"PORT": "8080", **env})


def test_a_bare_bucket_without_a_cloud_stops_the_start_with_one_line(tmp_path: Path) -> None:
    done = run_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "STORAGE_BUCKET": "files"})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("notes_app: configuration error: STORAGE_BUCKET=files is set but nothing says") and (
        "AWS_REGION" in line and "GOOGLE_CLOUD_PROJECT" in line
    )


def test_the_local_target_imports_no_cloud_sdk(apps: AppRunner, tmp_path: Path) -> None:
    """The local app starts without boto3, the Google or the Azure libraries: start time is not spent on them."""
    probe = (
        "import sys, runpy\n"
        "import examples.notes_app.server as server\n"
        "state = server.build_state(server.load_config())\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'google', 'azure'})\n"
        "print(state.db.kind, state.storage.kind, loaded)\n"
    )
    env = app_environ(
        {"PORT": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "STORAGE_URL": f"file://{tmp_path}"}
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "sqlite file []", done.stderr


# ---- AWS: moto --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in server mode on a free loopback port (S3, DynamoDB, Secrets Manager share it)."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("moto")
    port = free_port()
    proc = start_service(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port, folder, "moto"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_pid(proc)


def aws_env(moto_url: str, **extra: str) -> dict[str, str]:
    """What an app on AWS has (region, credentials from its role) with the endpoint moved to moto."""
    return {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true", **extra}  # fmt: skip


def aws_client(moto_url: str, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=moto_url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def make_table(moto_url: str) -> str:
    """A table shaped like the stack's (components/aws/docdb.py): string keys pk (hash) and sk (range)."""
    name = unique("docs")
    aws_client(moto_url, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def make_bucket(moto_url: str) -> str:
    name = unique("files")
    aws_client(moto_url, "s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def s3_object(moto_url: str, bucket: str) -> Callable[[str], bytes | None]:
    s3 = aws_client(moto_url, "s3")

    def read(name: str) -> bytes | None:
        try:
            return s3.get_object(Bucket=bucket, Key=name)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    return read


def lambda_env(moto_url: str, table: str, bucket: str) -> dict[str, str]:
    """The saas app's environment on Lambda (components/aws/serverless.py) plus what Lambda sets itself."""
    return aws_env(moto_url, DOCUMENT_TABLE=table, STORAGE_BUCKET=bucket, AWS_LWA_PORT="8080",
                   AWS_LWA_READINESS_CHECK_PATH="/healthz", AWS_LAMBDA_FUNCTION_NAME="saas-dev-app")  # fmt: skip


def test_aws_saas_keeps_notes_in_dynamodb_and_files_in_s3(apps: AppRunner, moto_url: str) -> None:
    table, bucket = make_table(moto_url), make_bucket(moto_url)
    app = apps.start(lambda_env(moto_url, table, bucket))
    health = request("GET", app.url + "/healthz")
    assert health.json() == {"status": "ok", "database": "dynamodb", "storage": "s3", "cache": "disabled"}
    assert "database=dynamodb, storage=s3" in app.output()
    check_note_flow(app)

    kept = create_note(app, "in dynamodb", "ünïcode ✓ \U0001f600")
    items = aws_client(moto_url, "dynamodb").scan(TableName=table)["Items"]
    stored = next(i for i in items if i["id"]["N"] == str(kept["id"]))
    assert stored["pk"] == {"S": "note"} and stored["sk"] == {"S": f"{kept['id']:016d}"}
    assert stored["body"] == {"S": "ünïcode ✓ \U0001f600"} and kept["id"] < 2**53
    assert apps.stop(app) == 0
    again = apps.start(lambda_env(moto_url, table, bucket))  # a new instance (cold start) sees the same notes
    assert request("GET", f"{again.url}/notes/{kept['id']}").json() == kept

    check_file_flow(again, s3_object(moto_url, bucket))


def test_dynamodb_note_ids_stay_unique_and_ordered_under_concurrent_writes(
    apps: AppRunner,
    moto_url: str,
) -> None:
    app = apps.start(lambda_env(moto_url, make_table(moto_url), make_bucket(moto_url)))
    results = post_notes_concurrently(app.url)
    assert len(results) == 40 and min(results) > 0 and len(set(results)) == 40
    listed = [n["id"] for n in request("GET", app.url + "/notes?limit=100").json()["notes"]]
    assert listed == sorted(results, reverse=True)


def test_lambda_reads_its_secrets_from_secrets_manager_at_cold_start(
    apps: AppRunner,
    moto_url: str,
    tmp_path: Path,
) -> None:
    """``<NAME>_SECRET_ARN`` becomes ``NAME``: the database, the cache and an app secret all come through."""
    secrets = aws_client(moto_url, "secretsmanager")
    database = tmp_path / "lambda.db"

    def secret(value: str) -> str:
        return secrets.create_secret(Name=unique("mbops/saas-dev/s"), SecretString=value)["ARN"]

    env = aws_env(
        moto_url,
        DATABASE_URL_SECRET_ARN=secret(f"sqlite:///{database}"),
        REDIS_URL_SECRET_ARN=secret(f"redis://127.0.0.1:{free_port()}/0"),  # nothing listens: "unavailable"
        APP_GREETING_SECRET_ARN=secret("hello from secrets manager"),
        AWS_LAMBDA_FUNCTION_NAME="saas-dev-app",
        STORAGE_BUCKET=make_bucket(moto_url),
    )
    app = apps.start(env)
    health = request("GET", app.url + "/healthz").json()
    assert (health["database"], health["storage"]) == ("sqlite", "s3")
    assert health["cache"] == ("unavailable" if _has_redis() else "disabled")
    assert request("GET", app.url + "/").json()["greeting"] == "hello from secrets manager"
    note = create_note(app, "via a secret URL")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT title FROM notes WHERE id = ?", (note["id"],)).fetchone() == ("via a secret URL",)


def _has_redis() -> bool:
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize(
    ("secret_env", "code", "message"),
    [
        ({"DATABASE_URL_SECRET_ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:missing-AbCdEf"}, 1,
         "cannot read the app's secrets: cannot read DATABASE_URL from Secrets Manager"),
        ({"DATABASE_URL_SECRET_ARN": "mbops/saas-dev/DATABASE_URL"}, 2, "must be a Secrets Manager ARN"),
        ({"DATABASE_URL_SECRET_ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:x-AbCdEf",
          "DATABASE_URL": "sqlite:////tmp/x.db"}, 2, "both DATABASE_URL and DATABASE_URL_SECRET_ARN are set"),
    ],
)  # fmt: skip
def test_a_secret_that_cannot_be_read_stops_the_start_with_one_line(
    moto_url: str, secret_env: dict[str, str], code: int, message: str
) -> None:
    done = run_app(aws_env(moto_url, **secret_env))
    assert done.returncode == code, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert message in line


def test_a_missing_table_stops_the_start(moto_url: str) -> None:
    done = run_app(aws_env(moto_url, DOCUMENT_TABLE="no-such-table", AWS_LAMBDA_FUNCTION_NAME="f"))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("notes_app: cannot use the dynamodb database: dynamodb no-such-table:"), line
    assert "ResourceNotFoundException" in line


def test_a_table_with_other_keys_stops_the_start(moto_url: str) -> None:
    name = unique("other")
    aws_client(moto_url, "dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    done = run_app(aws_env(moto_url, DOCUMENT_TABLE=name))
    assert done.returncode == 1 and "the app needs HASH pk and RANGE sk" in done.stderr


def test_a_table_gone_while_running_is_a_503_and_an_unhealthy_health_check(apps: AppRunner, moto_url: str) -> None:
    table = make_table(moto_url)
    app = apps.start(aws_env(moto_url, DOCUMENT_TABLE=table))
    note = create_note(app, "before")
    aws_client(moto_url, "dynamodb").delete_table(TableName=table)
    health = request("GET", app.url + "/healthz")
    assert health.status == 503 and health.json()["status"] == "unavailable"
    for method, path in [("GET", "/notes"), ("GET", f"/notes/{note['id']}"), ("DELETE", f"/notes/{note['id']}")]:
        resp = request(method, app.url + path)
        assert resp.status == 503 and resp.json() == {"error": "database unavailable"}, (method, path)
    assert request("POST", app.url + "/notes", json_body={"title": "after"}).status == 503
    assert "Traceback" not in app.output()


def test_an_unusable_bucket_is_a_503_not_a_crash(apps: AppRunner, moto_url: str, tmp_path: Path) -> None:
    app = apps.start(aws_env(moto_url, DATABASE_URL=f"sqlite:///{tmp_path / 'n.db'}", STORAGE_BUCKET="no-such-bucket"))
    assert request("GET", app.url + "/healthz").json()["storage"] == "s3"
    for method, body in [("GET", None), ("PUT", b"x"), ("DELETE", None)]:
        resp = request(method, app.url + "/files/a.txt", body=body)
        assert resp.status == 503 and resp.json() == {"error": "file storage unavailable"}, (method, resp.body)
    assert request("GET", app.url + "/files").status == 503
    assert "NoSuchBucket" in app.output() and "Traceback" not in app.output()
    assert create_note(app, "notes still work")["id"] == 1


# ---- Azure Blob: Azurite ----------------------------------------------------------------------------------------


def azurite_bin() -> Path:
    found = TOOLS / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if found.exists():
        return found
    on_path = shutil.which("azurite-blob")
    if on_path is None or shutil.which("node") is None:
        pytest.skip(f"Azurite is not installed: npm install --prefix {TOOLS / 'azurite'} {AZURITE_PACKAGE}")
    return Path(on_path)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), for Azurite's HTTPS."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def start_azurite(folder: Path, tls: tuple[Path, Path] | None = None) -> tuple[Any, str]:
    port = free_port()
    argv = [str(azurite_bin()), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder),
            "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl"]  # fmt: skip
    if tls:
        argv += ["--oauth", "basic", "--cert", str(tls[0]), "--key", str(tls[1])]
    proc = start_service(argv, port, folder, "azurite")
    return proc, f"{'https' if tls else 'http'}://127.0.0.1:{port}/{AZURITE_ACCOUNT}"


def connection_string(blob_endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol={urlsplit(blob_endpoint).scheme};AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={blob_endpoint};")  # fmt: skip


def blob_reader(blob_endpoint: str, container: str, **options: Any) -> Callable[[str], bytes | None]:
    """Create ``container`` with the account key and return a reader of its blobs."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import ContainerClient

    client = ContainerClient.from_connection_string(connection_string(blob_endpoint), container, **options)
    client.create_container()

    def read(name: str) -> bytes | None:
        try:
            return client.download_blob(name).readall()
        except ResourceNotFoundError:
            return None

    return read


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's Blob service over HTTP (account key); yields the account's blob endpoint."""
    pytest.importorskip("azure.storage.blob", reason="azure-storage-blob is not installed (pip install -e '.[test]')")
    proc, endpoint = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield endpoint
    finally:
        stop_pid(proc)


def test_azure_files_in_a_blob_container(apps: AppRunner, azurite: str, tmp_path: Path) -> None:
    container = unique("files")
    stored = blob_reader(azurite, container)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
        "STORAGE_BUCKET": container,
        "STORAGE_URL": f"{azurite}/{container}",
        "AZURE_STORAGE_CONNECTION_STRING": connection_string(azurite),
    }
    app = apps.start(env)  # fmt: skip
    health = request("GET", app.url + "/healthz").json()
    assert (health["database"], health["storage"]) == ("sqlite", "azure-blob")
    check_file_flow(app, stored)


class TokenEndpoint:
    """A managed-identity token endpoint as Container Apps and App Service serve it (``IDENTITY_ENDPOINT``):
    answers with an Entra ID-shaped JWT for the requested resource, and records who asked."""

    HEADER = "test-identity-header"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.minted: set[str] = set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                endpoint.requests.append({"query": query, "header": self.headers.get("X-IDENTITY-HEADER")})
                if self.headers.get("X-IDENTITY-HEADER") != TokenEndpoint.HEADER:
                    self.send_response(401)
                    self.end_headers()
                    return
                now = int(time.time())
                claims = {"aud": query.get("resource"), "iss": "https://sts.windows.net/tenant-id/", "iat": now,
                          "nbf": now - 60, "exp": now + 3600, "oid": query.get("client_id")}  # fmt: skip
                token = (
                    ".".join(
                        base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                        for part in ({"alg": "RS256", "typ": "JWT"}, claims)
                    )
                    + ".c2lnbmF0dXJl"
                )
                endpoint.minted.add(token)
                body = json.dumps({"access_token": token, "expires_on": str(now + 3600),
                                   "resource": query.get("resource"), "token_type": "Bearer"}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/msi/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Azurite's Blob service as Azure serves it to an identity: HTTPS, bearer tokens checked (issuer, audience,
    lifetime; not signatures). Yields the account's blob endpoint and the CA file that trusts it."""
    pytest.importorskip("azure.identity", reason="azure-identity is not installed (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("azurite-oauth")
    cert, key = self_signed(folder)
    proc, endpoint = start_azurite(folder, (cert, key))
    try:
        yield endpoint, cert
    finally:
        stop_pid(proc)


def test_azure_app_signs_in_to_blob_storage_with_its_managed_identity(
    apps: AppRunner, azurite_oauth: tuple[str, Path], tmp_path: Path
) -> None:
    """The production path: no key anywhere, DefaultAzureCredential finds the managed identity named by
    AZURE_CLIENT_ID, asks its token endpoint for storage, and Azurite (OAuth on, HTTPS) accepts the token."""
    endpoint, cert = azurite_oauth
    tokens = TokenEndpoint()
    try:
        container = unique("files")
        stored = blob_reader(endpoint, container, connection_verify=str(cert))
        client_id = str(uuid.uuid4())
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "STORAGE_BUCKET": container,
               "STORAGE_URL": f"{endpoint}/{container}", "AZURE_CLIENT_ID": client_id,
               "IDENTITY_ENDPOINT": tokens.url, "IDENTITY_HEADER": TokenEndpoint.HEADER,
               "REQUESTS_CA_BUNDLE": str(cert)}  # fmt: skip
        app = apps.start(env)
        assert request("GET", app.url + "/healthz").json()["storage"] == "azure-blob"
        check_file_flow(app, stored)
        asked = {(r["query"].get("client_id"), r["query"].get("resource"), r["header"]) for r in tokens.requests}
        assert asked == {(client_id, "https://storage.azure.com", TokenEndpoint.HEADER)}
    finally:
        tokens.close()

    # Azurite checks the tokens: a request without one is refused, so the round trip above needed them.
    context = ssl.create_default_context(cafile=str(cert))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{endpoint}/{container}/range.bin", context=context, timeout=10)
    assert refused.value.code in (401, 403, 404)


def test_azure_without_an_identity_still_serves_notes_and_answers_503_for_files(
    apps: AppRunner, azurite_oauth: tuple[str, Path], tmp_path: Path
) -> None:
    """No connection string and no token to be had (the identity endpoint is down): the app starts, notes work,
    files answer 503 and the log says why."""
    endpoint, cert = azurite_oauth
    container = unique("files")
    blob_reader(endpoint, container, connection_verify=str(cert))
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "STORAGE_URL": f"{endpoint}/{container}",
           "IDENTITY_ENDPOINT": f"http://127.0.0.1:{free_port()}/msi/token", "IDENTITY_HEADER": "h",
           "REQUESTS_CA_BUNDLE": str(cert), "HOME": str(tmp_path)}  # fmt: skip
    app = apps.start(env)
    resp = request("GET", app.url + "/files")
    assert resp.status == 503 and resp.json() == {"error": "file storage unavailable"}
    assert "DefaultAzureCredential failed to retrieve a token" in app.output()
    assert "Traceback" not in app.output()
    assert create_note(app, "notes still work")["id"] == 1


# ---- GCS: fake-gcs-server ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """fake-gcs-server on a free loopback port; yields its URL (the STORAGE_EMULATOR_HOST)."""
    pytest.importorskip(
        "google.cloud.storage", reason="google-cloud-storage is not installed (pip install -e '.[test]')"
    )
    binary = TOOLS / "bin" / "fake-gcs-server"
    if not binary.exists():
        found = shutil.which("fake-gcs-server")
        if found is None:
            pytest.skip(f"fake-gcs-server is not installed: GOBIN={TOOLS / 'bin'} go install {FAKE_GCS_MODULE}")
        binary = Path(found)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
            "-external-url", url, "-public-host", f"127.0.0.1:{port}", "-log-level", "warn"]  # fmt: skip
    proc = start_service(argv, port, tmp_path_factory.mktemp("fake-gcs"), "fake-gcs-server")
    try:
        yield url
    finally:
        stop_pid(proc)


def test_gcp_files_in_a_gcs_bucket(
    apps: AppRunner, fake_gcs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs)
    bucket = storage.Client().create_bucket(unique("files"))

    def stored(name: str) -> bytes | None:
        blob = bucket.get_blob(name)
        return None if blob is None else blob.download_as_bytes()

    # Cloud Run's shape: K_SERVICE set by the platform, STORAGE_BUCKET by mbops.
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "STORAGE_BUCKET": bucket.name, "K_SERVICE": "notes",
           "STORAGE_EMULATOR_HOST": fake_gcs}  # fmt: skip
    app = apps.start(env)
    health = request("GET", app.url + "/healthz").json()
    assert (health["database"], health["storage"]) == ("sqlite", "gcs")
    check_file_flow(app, stored)


# ---- the image's cloud SDKs -------------------------------------------------------------------------------------


def test_the_cloud_sdks_the_image_installs_are_the_ones_tested() -> None:
    """requirements-<cloud>.txt (the image's CLOUDS build argument) are in the test extra, so the tests above
    run the SDK versions the image ships; and a missing SDK's message names a file that exists."""
    import tomllib

    from examples.notes_app.server import SDK_REQUIREMENTS

    test_extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    folder = REPO / "examples" / "notes_app"
    clouds = sorted(
        p.name.removeprefix("requirements-").removesuffix(".txt") for p in folder.glob("requirements-*.txt")
    )
    assert clouds == ["aws", "azure", "gcp"] and set(SDK_REQUIREMENTS.values()) == set(clouds)
    for cloud in clouds:
        lines = (folder / f"requirements-{cloud}.txt").read_text().splitlines()
        wanted = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        assert wanted and set(wanted) <= set(test_extra), (cloud, sorted(set(wanted) - set(test_extra)))
    dockerfile = (folder / "Dockerfile").read_text()
    assert 'ARG CLOUDS="aws gcp azure"' in dockerfile  # the default image runs on every cloud


def test_a_missing_cloud_sdk_is_one_clear_line(tmp_path: Path) -> None:
    """An image built for one cloud and run on another says which SDK is missing and how to build it in."""
    blocker = tmp_path / "no_boto3"
    (blocker / "boto3").mkdir(parents=True)
    (blocker / "boto3" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'boto3'\", name='boto3')\n"
    )
    done = run_app({"DOCUMENT_TABLE": "docs", "AWS_REGION": REGION, "PYTHONPATH": str(blocker)})
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("notes_app: the aws SDK (boto3) is not installed: pip install -r requirements-aws.txt"), line


# ---- Cosmos DB: a fake gateway ----------------------------------------------------------------------------------


class FakeCosmos:
    """The part of the Cosmos DB for NoSQL gateway (REST over HTTPS) that azure-cosmos calls for the app: the
    account read, the container read, and create / read / delete / query of items in one container.

    No Cosmos DB emulator can be had here (its Linux form is a container image), so this stands in for one.
    It keeps items per partition key, answers 409 for an id taken in its partition and 404 for what is not
    there, as the REST reference says. It accepts only Entra ID tokens (``type=aad``) minted by the test's
    identity endpoint, never keys (the stack's account has keys off). Queries: only the app's one query
    (:data:`examples.notes_app.documents.CosmosNotes.QUERY`) is evaluated; any other is a 400, so a change of the
    app's query shows here instead of passing untried.
    """

    def __init__(self, cert: Path, key: Path, tokens: TokenEndpoint, database: str, container: str) -> None:
        from examples.notes_app.documents import CosmosNotes

        self.items: dict[tuple[str, str], dict[str, Any]] = {}  # (partition key, id) -> item
        self.denied = 0
        fake = self
        query = CosmosNotes.QUERY
        base = f"/dbs/{database}/colls/{container}"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status: int, payload: Any = None) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-ms-request-charge", "1")
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                auth = parse_qs(self.headers.get("authorization", ""))
                if auth.get("type") != ["aad"] or auth.get("sig", [""])[0] not in tokens.minted:
                    fake.denied += 1
                    return self.answer(401, {"code": "Unauthorized", "message": "an Entra ID token is required"})
                path = self.path.rstrip("/")
                partition = json.loads(self.headers.get("x-ms-documentdb-partitionkey") or "null")
                pk = partition[0] if isinstance(partition, list) and len(partition) == 1 else None
                if self.command == "GET" and path == "":
                    endpoint = [{"name": "West Europe", "databaseAccountEndpoint": fake.url}]
                    return self.answer(200, {
                        "id": "fake", "_rid": "fake.documents.azure.com", "writableLocations": endpoint,
                        "readableLocations": endpoint, "enableMultipleWriteLocations": False,
                        "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
                        "userReplicationPolicy": {"minReplicaSetSize": 3, "maxReplicasetSize": 4},
                        "systemReplicationPolicy": {"minReplicaSetSize": 3, "maxReplicasetSize": 4},
                        "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
                        "queryEngineConfiguration": "{}",
                    })  # fmt: skip
                if self.command == "GET" and path == base:
                    partition_key = {"paths": ["/pk"], "kind": "Hash", "version": 2}
                    return self.answer(200, {"id": container, "_rid": "coll1", "partitionKey": partition_key})
                if not path.startswith(f"{base}/docs") or pk is None:
                    return self.answer(404, {"code": "NotFound", "message": f"{self.command} {self.path}"})
                if self.command == "POST" and self.headers.get("x-ms-documentdb-isquery") == "true":
                    params = {p["name"]: p["value"] for p in body.get("parameters", [])}
                    if body.get("query") != query or set(params) != {"@limit", "@pk"} or params["@pk"] != pk:
                        return self.answer(400, {"code": "BadRequest", "message": f"not the app's query: {body}"})
                    found = sorted((i for (p, _), i in fake.items.items() if p == pk), key=lambda i: -i["n"])
                    return self.answer(200, {"_rid": "coll1", "Documents": found[: params["@limit"]], "_count": 1})
                if self.command == "POST" and path == f"{base}/docs":
                    if body.get("pk") != pk:
                        return self.answer(400, {"code": "BadRequest", "message": "partition key does not match"})
                    if (pk, body["id"]) in fake.items:
                        return self.answer(409, {"code": "Conflict", "message": "Entity with the specified id exists"})
                    item = {**body, "_rid": uuid.uuid4().hex, "_etag": f'"{uuid.uuid4()}"', "_ts": int(time.time())}
                    fake.items[(pk, body["id"])] = item
                    return self.answer(201, item)
                key = (pk, path.removeprefix(f"{base}/docs/"))
                if key not in fake.items:
                    return self.answer(
                        404, {"code": "NotFound", "message": "Entity with the specified id does not exist"}
                    )
                if self.command == "GET":
                    return self.answer(200, fake.items[key])
                if self.command == "DELETE":
                    del fake.items[key]
                    return self.answer(204)
                return self.answer(405, {"code": "MethodNotAllowed", "message": self.command})

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = handle_any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cosmos(tmp_path: Path) -> Iterator[tuple[FakeCosmos, TokenEndpoint, dict[str, str]]]:
    """A fake Cosmos DB account, its managed identity's token endpoint, and the app's env on Azure's saas."""
    pytest.importorskip("azure.cosmos", reason="azure-cosmos is not installed (pip install -e '.[test]')")
    pytest.importorskip("azure.identity", reason="azure-identity is not installed (pip install -e '.[test]')")
    cert, key = self_signed(tmp_path)
    tokens = TokenEndpoint()
    fake = FakeCosmos(cert, key, tokens, "app", "items")
    env = {"DOCUMENT_TABLE": "app/items", "DOCUMENT_DB_URL": fake.url, "AZURE_CLIENT_ID": str(uuid.uuid4()),
           "IDENTITY_ENDPOINT": tokens.url, "IDENTITY_HEADER": TokenEndpoint.HEADER,
           "REQUESTS_CA_BUNDLE": str(cert)}  # fmt: skip
    try:
        yield fake, tokens, env
    finally:
        fake.close()
        tokens.close()


def test_azure_saas_keeps_notes_in_cosmos_db_with_its_managed_identity(
    apps: AppRunner, cosmos: tuple[FakeCosmos, TokenEndpoint, dict[str, str]]
) -> None:
    fake, tokens, env = cosmos
    app = apps.start(env)
    assert request("GET", app.url + "/healthz").json() == {
        "status": "ok", "database": "cosmos", "storage": "disabled", "cache": "disabled",
    }  # fmt: skip
    check_note_flow(app)
    kept = create_note(app, "in cosmos", "ünïcode ✓")
    stored = fake.items[("note", str(kept["id"]))]
    assert (stored["n"], stored["title"], stored["body"]) == (kept["id"], "in cosmos", "ünïcode ✓")
    assert fake.denied == 0
    asked = {(r["query"].get("client_id"), r["query"].get("resource")) for r in tokens.requests}
    assert asked == {(env["AZURE_CLIENT_ID"], fake.url.rstrip("/").replace(f":{urlsplit(fake.url).port}", ""))}
    assert apps.stop(app) == 0
    again = apps.start(env)
    assert request("GET", f"{again.url}/notes/{kept['id']}").json() == kept


def test_cosmos_without_a_token_stops_the_start(cosmos: tuple[FakeCosmos, TokenEndpoint, dict[str, str]]) -> None:
    fake, _, env = cosmos
    done = run_app({**env, "IDENTITY_ENDPOINT": f"http://127.0.0.1:{free_port()}/msi/token"}, timeout=120)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("notes_app: cannot use the cosmos database: cosmos app/items: DefaultAzureCredential"), line
    assert fake.items == {}


# ---- Firestore: a fake of its gRPC service ----------------------------------------------------------------------


class FakeFirestore:
    """The part of the Firestore (Native mode) gRPC service ``google.firestore.v1.Firestore`` that the client
    library calls for the app, reached the way the library reaches an emulator (``FIRESTORE_EMULATOR_HOST``):
    ``Commit`` (creates with the "must not exist" precondition, deletes with "must exist"),
    ``BatchGetDocuments`` and ``RunQuery``.

    No Firestore emulator can be had here (it comes with the gcloud CLI and needs Java), so this stands in for
    one, with the library's own message types. It serves one named database (the stack's; any other is
    NOT_FOUND, as Firestore answers), enforces the preconditions (ALREADY_EXISTS, NOT_FOUND) and evaluates
    only the app's query (collection ``notes``, ordered by ``id`` descending, limited); any other query is
    INVALID_ARGUMENT, so a change of the app's query shows here instead of passing untried. The service-account
    (ADC) sign-in is not exercised: the library skips it for an emulator.
    """

    SERVICE = "google.firestore.v1.Firestore"

    def __init__(self, project: str, database: str) -> None:
        import grpc
        from google.cloud.firestore_v1.types import firestore as fs
        from google.cloud.firestore_v1.types import query

        self._descending = query.StructuredQuery.Direction.DESCENDING
        self.database = f"projects/{project}/databases/{database}"
        self.docs: dict[str, Any] = {}  # document name -> google.firestore.v1.Document
        self._lock = threading.Lock()
        self._fs = fs

        def handler(kind: Callable[..., Any], method: Callable[..., Any], request: Any, response: Any) -> Any:
            return kind(method, request_deserializer=request.pb().FromString,
                        response_serializer=response.pb().SerializeToString)  # fmt: skip

        handlers = {
            "Commit": handler(grpc.unary_unary_rpc_method_handler, self.commit, fs.CommitRequest, fs.CommitResponse),
            "BatchGetDocuments": handler(grpc.unary_stream_rpc_method_handler, self.batch_get,
                                         fs.BatchGetDocumentsRequest, fs.BatchGetDocumentsResponse),
            "RunQuery": handler(grpc.unary_stream_rpc_method_handler, self.run_query, fs.RunQueryRequest,
                                fs.RunQueryResponse),
        }  # fmt: skip
        self.server = grpc.server(__import__("concurrent.futures").futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.SERVICE, handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self._grpc = grpc

    def close(self) -> None:
        self.server.stop(grace=None)

    def _now(self) -> Any:
        from google.protobuf.timestamp_pb2 import Timestamp

        stamp = Timestamp()
        stamp.GetCurrentTime()
        return stamp

    def _check_database(self, name: str, context: Any) -> None:
        if name != self.database and not name.startswith(self.database + "/"):
            context.abort(self._grpc.StatusCode.NOT_FOUND, f"The database {name} does not exist.")

    def commit(self, request: Any, context: Any) -> Any:
        self._check_database(request.database, context)
        now = self._now()
        with self._lock:
            for write in request.writes:
                operation = write.WhichOneof("operation")
                name = write.update.name if operation == "update" else write.delete
                self._check_database(name, context)
                exists = name in self.docs
                if write.HasField("current_document"):
                    wanted = write.current_document.exists
                    if wanted and not exists:
                        context.abort(self._grpc.StatusCode.NOT_FOUND, f"No document to update: {name}")
                    if not wanted and exists:
                        context.abort(self._grpc.StatusCode.ALREADY_EXISTS, f"Document already exists: {name}")
                if operation == "update":
                    stored = type(write.update)()
                    stored.CopyFrom(write.update)
                    stored.create_time.CopyFrom(now)
                    stored.update_time.CopyFrom(now)
                    self.docs[name] = stored
                elif operation == "delete":
                    self.docs.pop(name, None)
                else:
                    context.abort(self._grpc.StatusCode.UNIMPLEMENTED, f"write {operation} is not faked")
        response = self._fs.CommitResponse.pb()()
        for _ in request.writes:
            response.write_results.add().update_time.CopyFrom(now)
        response.commit_time.CopyFrom(now)
        return response

    def batch_get(self, request: Any, context: Any) -> Iterator[Any]:
        self._check_database(request.database, context)
        for name in request.documents:
            answer = self._fs.BatchGetDocumentsResponse.pb()()
            with self._lock:
                if name in self.docs:
                    answer.found.CopyFrom(self.docs[name])
                else:
                    answer.missing = name
            answer.read_time.CopyFrom(self._now())
            yield answer

    def run_query(self, request: Any, context: Any) -> Iterator[Any]:
        self._check_database(request.parent, context)
        query = request.structured_query
        sources = [s.collection_id for s in query.from_]  # the library's descriptor spells `from` as from_
        orders = [(o.field.field_path, o.direction) for o in query.order_by]
        if (
            sources != ["notes"]
            or orders != [("id", int(self._descending))]
            or query.HasField("where")
            or not query.HasField("limit")
        ):
            context.abort(self._grpc.StatusCode.INVALID_ARGUMENT, f"not the app's query: {query}")
        prefix = f"{request.parent}/notes/"
        with self._lock:
            found = [d for n, d in self.docs.items() if n.startswith(prefix) and "/" not in n[len(prefix) :]]
        found.sort(key=lambda d: d.fields["id"].integer_value, reverse=True)
        now = self._now()
        for document in found[: query.limit.value]:
            answer = self._fs.RunQueryResponse.pb()(read_time=now)
            answer.document.CopyFrom(document)
            yield answer
        if not found:
            yield self._fs.RunQueryResponse.pb()(read_time=now)


@pytest.fixture
def firestore() -> Iterator[tuple[FakeFirestore, dict[str, str]]]:
    """A fake Firestore serving the database ``saas-dev-docs``, and the app's env on Cloud Run's saas."""
    pytest.importorskip(
        "google.cloud.firestore", reason="google-cloud-firestore is not installed (pip install -e '.[test]')"
    )
    fake = FakeFirestore("test-project", "saas-dev-docs")
    env = {"DOCUMENT_TABLE": "saas-dev-docs", "K_SERVICE": "saas-dev-app", "GOOGLE_CLOUD_PROJECT": "test-project",
           "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{fake.port}", "PYTHONWARNINGS": "ignore::FutureWarning"}  # fmt: skip
    try:
        yield fake, env
    finally:
        fake.close()


def test_gcp_saas_keeps_notes_in_firestore(apps: AppRunner, firestore: tuple[FakeFirestore, dict[str, str]]) -> None:
    fake, env = firestore
    app = apps.start(env)
    assert request("GET", app.url + "/healthz").json() == {
        "status": "ok", "database": "firestore", "storage": "disabled", "cache": "disabled",
    }  # fmt: skip
    check_note_flow(app)
    kept = create_note(app, "in firestore", "ünïcode ✓ \U0001f600")
    stored = fake.docs[f"{fake.database}/documents/notes/{kept['id']}"]
    assert stored.fields["id"].integer_value == kept["id"] and stored.fields["body"].string_value == kept["body"]
    assert apps.stop(app) == 0
    again = apps.start(env)
    assert request("GET", f"{again.url}/notes/{kept['id']}").json() == kept
    assert "Traceback" not in again.output()


def test_a_missing_firestore_database_stops_the_start(firestore: tuple[FakeFirestore, dict[str, str]]) -> None:
    _, env = firestore
    done = run_app({**env, "DOCUMENT_TABLE": "other-docs"})
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("notes_app: cannot use the firestore database: firestore database other-docs: 404"), line


# ---- Redis over TLS with the instance's own CA (Memorystore) ------------------------------------------------------


def test_a_tls_cache_is_trusted_through_redis_ca_cert(apps: AppRunner, tmp_path: Path) -> None:
    """GCP's Memorystore serves TLS with a per-instance CA that mbops passes as REDIS_CA_CERT: with it the cache
    works; without it the server is not trusted and the cache is reported unavailable (notes still work)."""
    pytest.importorskip("redis", reason="the redis package is not installed")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    cert, key = self_signed(tmp_path)
    port = free_port()
    argv = [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
            "--tls-key-file", str(key), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"]  # fmt: skip
    proc = start_service(argv, port, tmp_path, "redis-tls")
    try:
        base = {"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}", "REDIS_URL": f"rediss://127.0.0.1:{port}/0"}
        trusted = apps.start({**base, "REDIS_CA_CERT": cert.read_text()})
        assert request("GET", trusted.url + "/healthz").json()["cache"] == "redis"
        note = create_note(trusted, "cached over TLS")
        first, second = (request("GET", f"{trusted.url}/notes/{note['id']}") for _ in range(2))
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
        untrusted = apps.start(base)
        assert request("GET", untrusted.url + "/healthz").json()["cache"] == "unavailable"
    finally:
        stop_pid(proc)
