"""``mbops doctor``: what the machine has and what each thing enables; always exit 0, never a secret."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine import tools

TOOL_NAMES = {"pulumi", "postgresql", "redis", "docker", "graphviz", "chromium"}
CREDENTIAL_NAMES = {"aws", "gcp", "azure", "pulumi-state"}
FIELDS = {"name", "present", "enables", "path", "version", "detail", "sources"}
AMBIENT = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
           "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "GOOGLE_APPLICATION_CREDENTIALS",
           "GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_CONFIG", "ARM_CLIENT_ID",
           "ARM_CLIENT_SECRET", "ARM_USE_MSI", "ARM_USE_OIDC", "ARM_SUBSCRIPTION_ID", "AZURE_CONFIG_DIR",
           "MBOPS_BACKEND", "PULUMI_BACKEND_URL", "MBOPS_SECRETS_PROVIDER", "PULUMI_CONFIG_PASSPHRASE",
           "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN")  # fmt: skip


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient credentials; HOME is an empty temp dir."""
    for var in AMBIENT:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MBOPS_HOME", str(home / ".mbops"))
    monkeypatch.setenv("MBOPS_TOOLS_DIR", str(tmp_path / "no-tools"))  # the repo's own CLI build stays out of view
    return home


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def without_pulumi() -> str:
    dirs = os.environ["PATH"].split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / "pulumi").exists())


def doctor_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- the command -------------------------------------------------------------------------------------------


def test_json_report_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", without_pulumi())
    data = doctor_json()
    assert set(data) >= {"mbops", "python", "platform", "tools", "credentials", "ready"}
    assert set(data["tools"]) == TOOL_NAMES
    assert set(data["credentials"]) == CREDENTIAL_NAMES
    for group in ("tools", "credentials"):
        for name, finding in data[group].items():
            assert set(finding) == FIELDS, name
            assert finding["name"] == name
            assert isinstance(finding["present"], bool)
            assert finding["enables"]
    pulumi = data["tools"]["pulumi"]
    assert pulumi["present"] is False
    assert "mbops preview" in pulumi["enables"]
    assert "curl -fsSL https://get.pulumi.com | sh" in pulumi["detail"]
    assert "tools/build-pulumi.sh" in pulumi["detail"]
    assert data["ready"]["pulumi_engine"] == {"ready": False, "cli": None, "version": None, "found_on": None}
    assert data["ready"]["deploy"] == {"aws": False, "gcp": False, "azure": False}
    assert data["ready"]["preview"] == {"aws": True, "gcp": True, "azure": True}
    assert data["ready"]["local"]["ready"] is True


def test_local_database_matches_what_is_installed() -> None:
    data = doctor_json()
    postgres = data["tools"]["postgresql"]
    installed = tools.postgres_bin_dir() is not None
    assert postgres["present"] is installed
    assert data["ready"]["local"]["database"] == ("postgresql" if installed else "sqlite")
    if installed:
        assert postgres["enables"] == f"local database: PostgreSQL {postgres['version']}"
    else:
        assert postgres["enables"] == "local database: SQLite fallback"


def test_ready_for_a_cloud_with_cli_credentials_and_passphrase(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    executable(tmp_path / "bin" / "pulumi", 'echo "v3.190.0"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{without_pulumi()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-very-secret")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["tools"]["pulumi"]["present"] is True
    assert data["tools"]["pulumi"]["version"] == "3.190.0"
    assert data["tools"]["pulumi"]["path"] == str(tmp_path / "bin" / "pulumi")
    assert data["tools"]["pulumi"]["sources"] == ["PATH"]
    assert data["ready"]["pulumi_engine"]["ready"] is True
    assert data["credentials"]["aws"]["present"] is True
    assert data["credentials"]["aws"]["sources"] == ["env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"]
    assert data["credentials"]["pulumi-state"]["present"] is True
    assert data["ready"]["deploy"] == {"aws": True, "gcp": False, "azure": False}
    for secret in ("AKIAEXAMPLEKEY", "wJalrXUtnFEMI-very-secret", "correct horse battery staple"):
        assert secret not in result.output


def test_no_passphrase_means_no_cloud_deploys_even_with_credentials(monkeypatch, tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "pulumi", 'echo "v3.190.0"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{without_pulumi()}")
    monkeypatch.setenv("AWS_PROFILE", "prod-admin")
    data = doctor_json()
    state = data["credentials"]["pulumi-state"]
    assert state["present"] is False
    assert "PULUMI_CONFIG_PASSPHRASE is not set" in state["detail"]
    assert data["ready"]["deploy"]["aws"] is False


def test_a_cli_built_into_the_tools_folder_is_found_off_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tools_dir = tmp_path / "tools"
    executable(tools_dir / "bin" / "pulumi", 'echo "v3.274.0"')
    (tools_dir / "pulumi-build").write_text(
        "python_sdk=3.272.0\npulumi=3.274.0\nlanguage_host=3.68.0\n"
        "language_host_module=github.com/pulumi/pulumi/sdk/v3@v3.68.0 (python/cmd/pulumi-language-python)\n"
    )
    monkeypatch.setenv("MBOPS_TOOLS_DIR", str(tools_dir))
    monkeypatch.setenv("PATH", without_pulumi())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "p")
    data = doctor_json()
    pulumi = data["tools"]["pulumi"]
    built = str(tools_dir / "bin" / "pulumi")
    assert (pulumi["present"], pulumi["version"], pulumi["path"]) == (True, "3.274.0", built)
    assert pulumi["sources"] == [f"{tools_dir / 'bin'} (tools/build-pulumi.sh)"]
    assert "built by tools/build-pulumi.sh; not on PATH" in pulumi["detail"]
    assert "Python language host 3.68.0 (github.com/pulumi/pulumi/sdk/v3@v3.68.0" in pulumi["detail"]
    assert data["ready"]["pulumi_engine"] == {
        "ready": True, "cli": str(tools_dir / "bin" / "pulumi"), "version": "3.274.0",
        "found_on": f"{tools_dir / 'bin'} (tools/build-pulumi.sh)",
    }  # fmt: skip
    human = CliRunner().invoke(cli, ["doctor"])
    assert f"Pulumi CLI: 3.274.0 at {tools_dir / 'bin' / 'pulumi'}" in human.output.replace("\n", "")


def test_human_report_is_a_table_and_exit_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", without_pulumi())
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    for text in ("Tools", "Credentials and Pulumi state", "pulumi", "postgresql", "redis", "docker",
                 "graphviz", "chromium", "aws", "gcp", "azure", "Local target: ready",
                 "Cloud deploys: none yet", "Pulumi CLI: not found"):  # fmt: skip
        assert text in result.output


def test_a_crashing_probe_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> tools.Finding:
        raise RuntimeError("probe exploded")

    monkeypatch.setitem(tools.TOOLS, "redis", broken)
    data = doctor_json()
    assert data["tools"]["redis"]["present"] is False
    assert "probe exploded" in data["tools"]["redis"]["detail"]


def test_doctor_imports_no_provider_sdk() -> None:
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from mbops.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['doctor', '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native', 'pulumi_random', 'pulumi_policy'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# --- probes ------------------------------------------------------------------------------------------------


def test_postgres_bin_dir_picks_the_newest_complete_install(tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    for version in ("13", "16"):
        for tool in ("initdb", "pg_ctl", "postgres"):
            executable(root / version / "bin" / tool, "exit 0")
    executable(root / "17" / "bin" / "initdb", "exit 0")  # client-only leftovers: no server
    assert tools.postgres_bin_dir((root,)) == root / "16" / "bin"
    assert tools.postgres_bin_dir((tmp_path / "none",)) in (None, tools.postgres_bin_dir(()))


def test_postgresql_finding(tmp_path: Path) -> None:
    bin_dir = tmp_path / "16" / "bin"
    executable(bin_dir / "initdb", 'echo "initdb (PostgreSQL) 16.4"')
    found = tools.postgresql(bin_dir, euid=1000)
    assert (found.present, found.version, found.path) == (True, "16.4", str(bin_dir / "initdb"))
    assert found.enables == "local database: PostgreSQL 16.4"
    assert found.detail == ""
    as_root = tools.postgresql(bin_dir, euid=0)
    assert "running as root: initdb and postgres refuse root" in as_root.detail


def test_postgresql_absent_means_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "postgres_bin_dir", lambda roots=(): None)
    found = tools.postgresql()
    assert (found.present, found.enables) == (False, "local database: SQLite fallback")
    assert "apt-get install postgresql" in found.detail


def test_a_broken_tool_is_not_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "bin" / "redis-server", 'echo "cannot load libssl" >&2; exit 127')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = tools.redis_server()
    assert found.present is False
    assert "exited 127: cannot load libssl" in found.detail


def test_redis_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "bin" / "redis-server", 'echo "Redis server v=7.2.4 sha=00000000:0 bits=64"')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = tools.redis_server()
    assert (found.present, found.version) == (True, "7.2.4")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert tools.redis_server().enables == "local cache: unavailable (reported in the stack's outputs)"


def test_graphviz_reads_the_version_from_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "bin" / "dot", 'echo "dot - graphviz version 2.43.0 (0)" >&2')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert tools.graphviz().version == "2.43.0"


def test_chromium_under_any_usual_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "bin" / "google-chrome", 'echo "Google Chrome 126.0.6478.126"')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = tools.chromium()
    assert (found.present, found.version) == (True, "126.0.6478.126")


def test_docker_engine_reachable_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    class Client:
        def __init__(self, timeout: float) -> None:
            assert timeout == tools.DOCKER_TIMEOUT

        def ping(self) -> bool:
            return True

        def version(self) -> dict[str, str]:
            return {"Version": "27.1.1"}

        def close(self) -> None:
            pass

    def unreachable(timeout: float) -> Any:
        raise ConnectionError("Error while fetching server API version: connection refused")

    up = tools.docker_engine(client_factory=Client)
    assert (up.present, up.version) == (True, "27.1.1")
    down = tools.docker_engine(client_factory=unreachable)
    assert down.present is False
    assert down.detail == (
        "no Docker engine reachable: connection refused (at /var/run/docker.sock; start dockerd or set DOCKER_HOST)"
    )
    assert "process" in down.enables


def _sdk_error(cause: OSError) -> Exception:
    """What the docker SDK raises: DockerException from requests' ConnectionError wrapping urllib3's
    ProtocolError('Connection aborted.', <the OSError>), its message the nested repr."""
    import docker.errors
    import requests
    from urllib3.exceptions import ProtocolError

    inner = requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", cause))
    try:
        try:
            raise inner
        except requests.exceptions.ConnectionError as exc:
            raise docker.errors.DockerException(f"Error while fetching server API version: {exc}") from exc
    except docker.errors.DockerException as outer:
        return outer


@pytest.mark.parametrize(
    ("cause", "host", "said"),
    [
        (FileNotFoundError(2, "No such file or directory"), None,
         "/var/run/docker.sock does not exist (start dockerd or set DOCKER_HOST)"),
        (PermissionError(13, "Permission denied"), None,
         "permission denied on /var/run/docker.sock (add your user to the docker group, or set DOCKER_HOST)"),
        (ConnectionRefusedError(111, "Connection refused"), "tcp://10.0.0.5:2375",
         "nothing accepts connections at tcp://10.0.0.5:2375 (start dockerd or set DOCKER_HOST)"),
        (TimeoutError("timed out"), None, "/var/run/docker.sock did not answer within 2 s"),
    ],
)  # fmt: skip
def test_an_unreachable_docker_engine_is_said_in_words(
    monkeypatch: pytest.MonkeyPatch, cause: OSError, host: str | None, said: str
) -> None:
    """Issue: doctor showed `no Docker engine reachable (('Connection aborted.', FileNotFoundError(2, ...)))`."""
    if host:
        monkeypatch.setenv("DOCKER_HOST", host)
    else:
        monkeypatch.delenv("DOCKER_HOST", raising=False)

    def fails(timeout: float) -> Any:
        raise _sdk_error(cause)

    found = tools.docker_engine(client_factory=fails)
    assert found.detail == f"no Docker engine reachable: {said}"
    assert "Error(" not in found.detail and "Connection aborted" not in found.detail


def test_aws_credentials_sources(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tools.aws_credentials({}, isolated).present is False
    (isolated / ".aws").mkdir()
    (isolated / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIA\n")
    found = tools.aws_credentials({"AWS_PROFILE": "prod"}, isolated)
    assert found.present is True
    assert found.sources == ["env AWS_PROFILE=prod", str(isolated / ".aws" / "credentials")]
    # A key id without its secret is not a credential.
    assert tools.aws_credentials({"AWS_ACCESS_KEY_ID": "AKIA"}, isolated / "elsewhere").present is False


def test_gcp_credentials_sources(isolated: Path, tmp_path: Path) -> None:
    assert tools.gcp_credentials({}, isolated).present is False
    missing = tools.gcp_credentials({"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "nope.json")}, isolated)
    assert missing.present is False
    assert "names a missing file" in missing.detail
    adc = isolated / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text("{}")
    found = tools.gcp_credentials({"GOOGLE_CLOUD_PROJECT": "shop-prod"}, isolated)
    assert found.present is True
    assert found.sources == [f"gcloud ADC ({adc})"]
    assert "default project shop-prod" in found.detail


def test_azure_credentials_sources(isolated: Path) -> None:
    assert tools.azure_credentials({}, isolated).present is False
    half = tools.azure_credentials({"ARM_CLIENT_ID": "app-id"}, isolated)
    assert half.present is False
    assert "without ARM_CLIENT_SECRET" in half.detail
    env = {"ARM_CLIENT_ID": "app-id", "ARM_CLIENT_SECRET": "s", "ARM_SUBSCRIPTION_ID": "x"}
    sp = tools.azure_credentials(env, isolated)
    assert sp.sources == ["env ARM_CLIENT_ID + ARM_CLIENT_SECRET"]
    assert sp.detail == ""
    (isolated / ".azure").mkdir()
    (isolated / ".azure" / "msal_token_cache.json").write_text("{}")
    cli_login = tools.azure_credentials({}, isolated)
    assert cli_login.present is True
    assert "no subscription" in cli_login.detail


def test_pulumi_state_settings(isolated: Path, tmp_path: Path) -> None:
    env = {"MBOPS_HOME": str(tmp_path / "m"), "PULUMI_CONFIG_PASSPHRASE": "p"}
    default = tools.pulumi_state(env, isolated)
    assert default.present is True
    assert default.sources == [
        f"backend file://{tmp_path / 'm' / 'pulumi-state'}", "secrets provider passphrase",
        "env PULUMI_CONFIG_PASSPHRASE",
    ]  # fmt: skip
    cloud = tools.pulumi_state({"MBOPS_BACKEND": "pulumi cloud"}, isolated)
    assert cloud.present is False
    assert "secrets provider default" in cloud.sources
    assert "PULUMI_ACCESS_TOKEN" in cloud.detail
    kms_env = {"MBOPS_BACKEND": "s3://state", "MBOPS_SECRETS_PROVIDER": "awskms://alias/x"}
    kms = tools.pulumi_state(kms_env, isolated)
    assert kms.present is True
    bad = tools.pulumi_state({"MBOPS_BACKEND": "ftp://x"}, isolated)
    assert bad.present is False and "MBOPS_BACKEND" in bad.detail
