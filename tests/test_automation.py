"""The Pulumi engine (Automation API), tested without the real Pulumi CLI.

Pure parts are tested directly (backend, secrets provider, workspace options, config, policy packs). The
whole ``run()`` path goes through the real ``pulumi.automation`` code against a fake ``pulumi`` executable
on PATH: a small script that answers ``pulumi version``, records every invocation (argv, cwd, env) and plays
back known outcomes (success, a provider error, a policy violation, a lock, a wrong passphrase). What it plays
back was checked against the real CLI (3.274, tests/test_pulumi_cli.py checks it again wherever the real CLI
runs): exit code 6 for a missing stack and 1 for every failure of a command, the ``Policies:`` report on
stdout with nothing on stderr, the passphrase and lock messages word for word, history entries of a file
backend (version 0, config values as {value, secret}).
"""

from __future__ import annotations

import json
import os
import runpy
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mbops.engine import automation
from mbops.errors import ConfigError, DeployError, MissingToolError, PolicyViolationError
from mbops.stacks.config import read_stack_file, resolve

REPO = Path(__file__).resolve().parents[1]

FAKE_PULUMI = textwrap.dedent(
    '''\
    #!{python}
    """A stand-in for the pulumi CLI: records each call, answers like the real one for known cases."""
    import json, os, socket, sys
    from pathlib import Path

    state = Path(os.environ["FAKE_PULUMI_STATE"])
    args = sys.argv[1:]
    call = {{"args": args, "cwd": os.getcwd(), "env": {{k: os.environ.get(k) for k in (
        "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_SKIP_UPDATE_CHECK",
        "PULUMI_AUTOMATION_API")}}}}
    for arg in args:
        if arg.startswith("--client="):
            host, port = arg.split("=", 1)[1].rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5):
                call["client_reachable"] = True
    with open(state / "calls.jsonl", "a") as log:
        log.write(json.dumps(call) + "\\n")
    if args == ["version"]:
        print(os.environ.get("FAKE_PULUMI_VERSION", "v3.190.0"))
        sys.exit(0)
    if args and args[0] == "--non-interactive":
        args = args[1:]
    mode = os.environ.get("FAKE_PULUMI_MODE", "ok")
    stacks = state / "stacks"
    stacks.mkdir(exist_ok=True)

    def value(flag):
        return args[args.index(flag) + 1] if flag in args else None

    def fail(stdout, stderr, code=1):
        sys.stdout.write(stdout)
        sys.stderr.write(stderr)
        sys.exit(code)

    if args[:2] == ["stack", "select"]:
        if not (stacks / value("--stack")).exists():
            fail("", "error: no stack named '%s' found\\n" % value("--stack"), code=6)
        sys.exit(0)
    if args[:2] == ["stack", "init"]:
        (stacks / args[2]).write_text("")
        sys.exit(0)
    if args[:2] == ["config", "set-all"]:  # written to Pulumi.<stack>.yaml in the workspace, as the CLI does
        import yaml
        path = Path(os.getcwd()) / ("Pulumi.%s.yaml" % value("--stack"))
        settings = yaml.safe_load(path.read_text()) if path.exists() else {{}}
        config = settings.setdefault("config", {{}})
        for flag, item in zip(args, args[1:]):
            if flag in ("--plaintext", "--secret"):
                key, _, raw = item.partition("=")
                config[key] = raw if flag == "--plaintext" else {{"secure": "v1:fake-ciphertext"}}
        path.write_text(yaml.safe_dump(settings))
        sys.exit(0)
    if args[:2] == ["stack", "ls"]:
        print(json.dumps([{{"name": p.name, "current": False, "lastUpdate": "2025-01-01T10:01:30.000Z",
                            "resourceCount": 13}} for p in sorted(stacks.iterdir())]))
        sys.exit(0)
    if args[:2] == ["stack", "output"]:
        outputs = {{"endpoint": "https://app.example.com", "bucket": "managed-dev-files",
                   "db_password": "s3cret"}}
        if "--show-secrets" not in args:
            outputs["db_password"] = "[secret]"
        print(json.dumps(outputs))
        sys.exit(0)
    if args[:2] == ["stack", "history"]:
        print(json.dumps([{{
            "version": 0, "kind": "update", "startTime": "2025-01-01T10:00:00.000Z", "message": "",
            "environment": {{"exec.kind": "auto.inline"}},
            "config": {{"aws:region": {{"value": "us-east-1", "secret": False}}}},
            "result": "succeeded", "endTime": "2025-01-01T10:01:30.000Z",
            "resourceChanges": {{"create": 12, "same": 2}}}}]))
        sys.exit(0)
    if args[0] in ("up", "preview", "destroy", "refresh"):
        print("%s (%s):" % ({{"up": "Updating", "preview": "Previewing update", "destroy": "Destroying",
                             "refresh": "Refreshing"}}[args[0]], value("--stack")))
        print(" +  aws:s3:BucketV2 managed-dev-files creating")
        if value("--event-log"):
            with open(value("--event-log"), "a") as events:
                events.write(json.dumps({{"sequence": 1, "timestamp": 1,
                                         "summaryEvent": {{"resourceChanges": {{"create": 12}}}}}}) + "\\n")
                events.write(json.dumps({{"sequence": 2, "timestamp": 2, "cancelEvent": {{}}}}) + "\\n")
        if mode == "fail":
            fail(
                "Diagnostics:\\n"
                "  aws:s3:BucketV2 (managed-dev-files):\\n"
                "    error: Traceback (most recent call last):\\n"
                "      File \\"/venv/lib/python3.11/site-packages/pulumi/dynamic/__main__.py\\", line 170\\n"
                "        result = provider.create(props)\\n"
                "                 ^^^^^^^^^^^^^^^^^^^^^^\\n"
                "    PermissionError: creating S3 Bucket (managed-dev-files): AccessDenied: not authorized\\n"
                "\\n"
                "  pulumi:pulumi:Stack (mbops-managed-dev.aws):\\n"
                "    error: update failed\\n"
                "    error: Resource monitor has terminated, shutting down\\n"
                "\\n"
                "Resources:\\n"
                "    1 unchanged\\n"
                "    1 errored\\n"
                "\\n"
                "Duration: 3s\\n",
                "",
            )
        if mode == "policy":
            fail(
                "Policies:\\n"
                "    \\u274c mbops@v0.1.0 (local: /repo/policies)\\n"
                "        - [mandatory] [severity: high]  storage-encrypted  "
                "(aws:s3/bucketV2:BucketV2: managed-dev-files)\\n"
                "          Buckets are encrypted at rest.\\n"
                "          server-side encryption is not configured\\n"
                "          fix: set server_side_encryption_configuration\\n"
                "\\n"
                "Diagnostics:\\n"
                "  pulumi:pulumi:Stack (mbops-managed-dev.aws):\\n"
                "    error: preview failed\\n"
                "\\n",
                "",
            )
        if mode == "locked":
            fail("", "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
                     "to end or delete the lock file with `pulumi cancel`.\\n"
                     "  file:///state/.pulumi/locks/organization/mbops/managed-dev.aws/1f0c.json: "
                     "created by root@ci-runner (pid 4242) at 2025-01-01T10:00:00Z\\n")
        if mode == "passphrase":
            fail("", "error: getting stack configuration: get stack secrets manager: incorrect passphrase\\n")
        print("Resources:\\n    + 12 created")
        sys.exit(0)
    fail("", "fake pulumi: unexpected command %r\\n" % (args,))
    '''
)


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient backend/secrets settings; mbops's home in a temp dir; never CI-interactive guesses."""
    for var in ("MBOPS_BACKEND", "PULUMI_BACKEND_URL", "MBOPS_SECRETS_PROVIDER", "PULUMI_CONFIG_PASSPHRASE",
                "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
                "CI"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "mbops-home"
    monkeypatch.setenv("MBOPS_HOME", str(home))
    monkeypatch.setenv("MBOPS_TOOLS_DIR", str(tmp_path / "no-tools"))  # the repo's own build stays out of view
    return home


@pytest.fixture
def fake_pulumi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake `pulumi` first on PATH; returns its state dir (calls.jsonl holds every invocation)."""
    bin_dir, state = tmp_path / "bin", tmp_path / "fake-state"
    bin_dir.mkdir()
    state.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(state))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    return state


def calls(state: Path) -> list[dict[str, Any]]:
    lines = (state / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def subcommands(state: Path) -> list[list[str]]:
    """Each call's argv without the flags the Automation API adds in front."""
    return [[a for a in c["args"] if a != "--non-interactive"][:2] for c in calls(state)]


def the_call(state: Path, first: str) -> dict[str, Any]:
    found = [c for c in calls(state) if [a for a in c["args"] if a != "--non-interactive"][:1] == [first]]
    assert len(found) == 1, [c["args"] for c in calls(state)]
    return found[0]


def flag_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def stack_of(cloud: str = "aws", **flags: Any):
    return resolve(profile=flags.pop("profile", "managed"), cloud=cloud, **flags)


def pulumi_free_path() -> str:
    """PATH without any directory holding a `pulumi` executable."""
    keep = [d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "pulumi").exists()]
    return os.pathsep.join(keep)


# --- backend -----------------------------------------------------------------------------------------------


def test_default_backend_is_a_local_file_backend_under_mbops_home(clean_env: Path) -> None:
    url = automation.backend_url(stack_of())
    assert url == f"file://{clean_env / 'pulumi-state'}"
    assert Path(url.removeprefix("file://")).is_absolute()


def test_default_backend_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MBOPS_HOME")
    assert automation.backend_url(stack_of()) == f"file://{Path.home() / '.mbops' / 'pulumi-state'}"


def test_backend_flag_wins_over_env_and_env_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = stack_of()
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://pulumi-env-bucket")
    assert automation.backend_url(stack) == "gs://pulumi-env-bucket"
    monkeypatch.setenv("MBOPS_BACKEND", "s3://team-state/mbops")
    assert automation.backend_url(stack) == "s3://team-state/mbops"
    assert automation.backend_url(stack, "azblob://state") == "azblob://state"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s3://team-state/mbops?region=eu-west-1", "s3://team-state/mbops?region=eu-west-1"),
        ("gs://team-state", "gs://team-state"),
        ("azblob://state-container", "azblob://state-container"),
        ("https://api.pulumi.com/", "https://api.pulumi.com"),
        ("pulumi cloud", "https://api.pulumi.com"),
        ("Pulumi Cloud", "https://api.pulumi.com"),
        ("https://pulumi.internal.example.com", "https://pulumi.internal.example.com"),
    ],
)
def test_backend_urls_accepted(given: str, expected: str) -> None:
    assert automation.backend_url(stack_of(), given) == expected


def test_file_backends_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert automation.backend_url(stack_of(), "file://~/state") == f"file://{Path.home() / 'state'}"
    assert automation.backend_url(stack_of(), "./state") == f"file://{tmp_path / 'state'}"
    assert automation.backend_url(stack_of(), "file://rel/state") == f"file://{tmp_path / 'rel' / 'state'}"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("ftp://state", "allowed: file://<dir>, s3://<bucket>"),
        ("s3://", "names no bucket"),
        ("http://pulumi.internal", "use https://"),
        ("file://", "needs a directory"),
    ],
)
def test_bad_backend_is_a_config_error_naming_the_source(given: str, says: str) -> None:
    with pytest.raises(ConfigError, match="--backend") as err:
        automation.backend_url(stack_of(), given)
    assert says in str(err.value)
    assert err.value.exit_code == 2


def test_bad_backend_from_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBOPS_BACKEND", "mysql://state")
    with pytest.raises(ConfigError, match="^MBOPS_BACKEND: 'mysql://state'"):
        automation.backend_url(stack_of())


# --- secrets provider --------------------------------------------------------------------------------------


def test_passphrase_is_the_default_and_requires_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        automation.secrets_provider("file:///tmp/state", {})
    assert str(err.value).startswith("PULUMI_CONFIG_PASSPHRASE is not set")
    assert "MBOPS_SECRETS_PROVIDER=awskms://" in str(err.value)
    assert automation.secrets_provider("file:///tmp/state", {"PULUMI_CONFIG_PASSPHRASE": "x"}) == "passphrase"


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ConfigError, match="^PULUMI_CONFIG_PASSPHRASE is empty"):
        automation.secrets_provider("s3://state", {"PULUMI_CONFIG_PASSPHRASE": ""})


def test_passphrase_file_is_accepted_when_readable(tmp_path: Path) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse")
    env = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(secret)}
    assert automation.secrets_provider("s3://s", env) == "passphrase"
    with pytest.raises(ConfigError, match="PULUMI_CONFIG_PASSPHRASE_FILE: .* is not a readable file"):
        automation.secrets_provider("s3://s", {"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    "provider",
    [
        "awskms://alias/mbops-state",
        "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k",
        "azurekeyvault://mbops.vault.azure.net/keys/state",
        "hashivault://mbops",
    ],
)
def test_kms_providers_need_no_passphrase(provider: str) -> None:
    assert automation.secrets_provider("s3://state", {"MBOPS_SECRETS_PROVIDER": provider}) == provider


def test_pulumi_cloud_uses_its_own_secrets_manager_by_default() -> None:
    assert automation.secrets_provider("https://api.pulumi.com", {}) == "default"
    with pytest.raises(ConfigError, match="'default' is Pulumi Cloud's secrets manager"):
        automation.secrets_provider("s3://state", {"MBOPS_SECRETS_PROVIDER": "default"})


@pytest.mark.parametrize("provider", ["vault", "awskms://", "rot13"])
def test_unknown_secrets_provider_is_a_config_error(provider: str) -> None:
    with pytest.raises(ConfigError, match=f"^MBOPS_SECRETS_PROVIDER: '{provider}' is not a secrets provider"):
        automation.secrets_provider("s3://state", {"MBOPS_SECRETS_PROVIDER": provider})


# --- workspace options -------------------------------------------------------------------------------------


def test_workspace_options(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    stack = stack_of("gcp")
    url = automation.backend_url(stack)
    opts = automation.workspace_options(stack, url)
    settings = opts.project_settings
    assert settings is not None
    assert (settings.name, settings.runtime) == ("mbops", "python")
    assert settings.backend is not None and settings.backend.url == url
    assert opts.secrets_provider == "passphrase"
    assert opts.env_vars == {
        "PULUMI_BACKEND_URL": url, "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_PYTHON_CMD": sys.executable,
    }  # fmt: skip
    assert Path(opts.work_dir).parent == clean_env / "pulumi"
    assert Path(opts.work_dir).name.startswith("managed-dev.gcp-")
    # The passphrase is inherited from the environment, never copied where a repr could print it.
    assert "correct horse" not in repr(opts.__dict__)


def test_workspaces_are_separate_per_cloud_and_per_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    aws, gcp = stack_of("aws"), stack_of("gcp")
    dirs = {
        automation.workspace_options(aws, "s3://a").work_dir,
        automation.workspace_options(aws, "s3://b").work_dir,
        automation.workspace_options(gcp, "s3://a").work_dir,
    }
    assert len(dirs) == 3
    assert automation.pulumi_stack_name(aws) == "managed-dev.aws"
    assert automation.pulumi_stack_name(gcp) == "managed-dev.gcp"


def test_workspace_options_with_a_kms_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBOPS_SECRETS_PROVIDER", "awskms://alias/mbops")
    opts = automation.workspace_options(stack_of(), "s3://state")
    assert opts.secrets_provider == "awskms://alias/mbops"


def test_workspace_options_refuse_without_a_passphrase() -> None:
    with pytest.raises(ConfigError, match="^PULUMI_CONFIG_PASSPHRASE is not set"):
        automation.workspace_options(stack_of(), "s3://state")


# --- stack config ------------------------------------------------------------------------------------------


def plain_config(config: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {key: (value.value, value.secret) for key, value in config.items()}


def test_config_per_cloud() -> None:
    aws = plain_config(automation.stack_config(stack_of("aws", region="eu-west-1")))
    assert aws["aws:region"] == ("eu-west-1", False)
    assert not [k for k in aws if k.startswith(("gcp:", "azure-native:"))]

    gcp_stack = stack_of("gcp", region="europe-west1", gcp_project="shop-prod-1")
    gcp = plain_config(automation.stack_config(gcp_stack))
    assert gcp["gcp:project"] == ("shop-prod-1", False)
    assert gcp["gcp:region"] == ("europe-west1", False)
    assert not [k for k in gcp if k.startswith(("aws:", "azure-native:"))]

    azure = plain_config(automation.stack_config(stack_of("azure", region="westeurope")))
    assert azure["azure-native:location"] == ("westeurope", False)
    assert not [k for k in azure if k.startswith(("aws:", "gcp:"))]


def test_config_records_the_stack_as_mbops_keys() -> None:
    config = plain_config(automation.stack_config(stack_of("gcp", profile="saas", environment="prod")))
    assert {k: v for k, (v, _) in config.items() if k.startswith("mbops:")} == {
        "mbops:name": "saas-prod", "mbops:profile": "saas", "mbops:cloud": "gcp",
        "mbops:environment": "prod", "mbops:region": "us-central1",
    }  # fmt: skip


def test_config_names_the_stack_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text("name: shop\nprofile: custom\ncloud: azure\n")
    stack = resolve(read_stack_file(path), source=str(path))
    config = plain_config(automation.stack_config(stack))
    assert config["mbops:stackFile"] == (str(path.resolve()), False)
    assert config["mbops:name"] == ("shop", False)


def app_with_secrets(tmp_path: Path):
    path = tmp_path / "stack.yaml"
    path.write_text(
        "cloud: aws\napp:\n  secret_env:\n    STRIPE_KEY: env:SHOP_STRIPE_KEY\n    JWT_SECRET: env:SHOP_JWT\n"
    )
    return resolve(read_stack_file(path), source=str(path))


def test_app_secrets_become_one_secret_config_value(tmp_path: Path) -> None:
    stack = app_with_secrets(tmp_path)
    config = automation.stack_config(stack, env={"SHOP_STRIPE_KEY": "sk_live_1", "SHOP_JWT": "jwt-2"})
    secret = config["mbops:secretEnv"]
    assert secret.secret is True
    assert json.loads(secret.value) == {"JWT_SECRET": "jwt-2", "STRIPE_KEY": "sk_live_1"}
    assert all(not value.secret for key, value in config.items() if key != "mbops:secretEnv")
    assert "sk_live_1" not in repr(config)


def test_a_missing_app_secret_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    stack = app_with_secrets(tmp_path)
    with pytest.raises(ConfigError, match=r"app\.secret_env\.JWT_SECRET: the environment variable SHOP_JWT"):
        automation.stack_config(stack, env={"SHOP_STRIPE_KEY": "sk"})
    partial = automation.stack_config(stack, env={"SHOP_STRIPE_KEY": "sk"}, require_secrets=False)
    assert json.loads(partial["mbops:secretEnv"].value) == {"STRIPE_KEY": "sk"}


def test_the_local_cloud_has_no_provider_config_and_records_its_state_folder(tmp_path: Path) -> None:
    config = plain_config(automation.stack_config(stack_of("local"), env={"MBOPS_STATE_DIR": str(tmp_path)}))
    assert not [key for key in config if not key.startswith("mbops:")]  # no cloud plugin, no provider keys
    assert config["mbops:cloud"] == ("local", False)
    assert config["mbops:stateDir"] == (str(tmp_path.resolve()), False)
    assert "mbops:stateDir" not in automation.stack_config(stack_of("aws"))


# --- policy pack -------------------------------------------------------------------------------------------


class _Spec:
    def __init__(self, location: Path) -> None:
        self.submodule_search_locations = [str(location)]


def test_policy_pack_attached_only_when_pulumi_policy_yaml_exists(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    pack = tmp_path / "policies"
    pack.mkdir()
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: _Spec(pack) if name == "mbops.policies" else None
    )
    assert automation.policy_pack_paths() == []
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    assert automation.policy_pack_paths() == [str(pack.resolve())]


def test_the_repo_policy_pack_is_found_when_present() -> None:
    present = (REPO / "policies" / "PulumiPolicy.yaml").is_file()
    expected = [str((REPO / "policies").resolve())] if present else []
    assert automation.policy_pack_paths() == expected


def test_policy_pack_config_lowers_advisory_rules(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("cloud: aws\npolicy:\n  advisory:\n    database-ha: dev stack, single AZ is fine here\n")
    stack = resolve(read_stack_file(path), source=str(path))
    config = automation.policy_pack_config(stack)
    assert config["database-ha"] == {
        "environment": "dev", "enforcementLevel": "advisory", "reason": "dev stack, single AZ is fine here"
    }
    assert config["database-backup-retention"] == {"environment": "dev"}
    # a stack file that lowers nothing gives no reasons (rules may still be advisory for dev by the pack's design)
    assert all("reason" not in rule for rule in automation.policy_pack_config(stack_of()).values())


# --- the CLI binary ----------------------------------------------------------------------------------------


def test_missing_cli_is_exit_4_with_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", pulumi_free_path())
    with pytest.raises(MissingToolError) as err:
        automation.pulumi_command("mbops up --cloud aws")
    message = str(err.value)
    assert err.value.exit_code == 4
    assert "`mbops up --cloud aws` needs the Pulumi CLI" in message
    assert f"neither on PATH nor in {tmp_path / 'no-tools' / 'bin'}" in message
    assert "tools/build-pulumi.sh builds it from Pulumi's Go modules" in message
    assert "curl -fsSL https://get.pulumi.com | sh" in message
    assert "brew install" in message and "choco install pulumi" in message
    assert "`mbops preview` works offline" in message


def test_the_cli_comes_from_path_else_from_the_tools_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = tmp_path / "tools" / "bin" / "pulumi"
    built.parent.mkdir(parents=True)
    built.write_text('#!/bin/sh\necho "v3.274.0"\n')
    built.chmod(0o755)
    monkeypatch.setenv("MBOPS_TOOLS_DIR", str(tmp_path / "tools"))
    monkeypatch.setenv("PATH", pulumi_free_path())
    assert automation.find_pulumi() == (built, "tools")
    command = automation.pulumi_command()
    assert command.command == str(built) and str(command.version) == "3.274.0"
    env = automation.runtime_env(command)
    assert env["PATH"].split(os.pathsep)[0] == str(built.parent)  # its plugins and shims sit beside it
    assert env["PULUMI_PYTHON_CMD"] == sys.executable
    on_path = tmp_path / "path-bin" / "pulumi"
    on_path.parent.mkdir()
    on_path.write_text('#!/bin/sh\necho "v3.200.0"\n')
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{on_path.parent}{os.pathsep}{pulumi_free_path()}")
    assert automation.find_pulumi() == (on_path, "PATH")  # the user's own CLI wins
    assert automation.pulumi_command().command == "pulumi"


def test_fake_cli_satisfies_pulumi_command(fake_pulumi: Path) -> None:
    command = automation.pulumi_command()
    assert str(command.version) == "3.190.0"
    assert calls(fake_pulumi)[0]["args"] == ["version"]


def test_too_old_cli_is_a_missing_tool(fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PULUMI_VERSION", "v3.150.0")
    with pytest.raises(MissingToolError, match="minimum CLI version requirement is 3.181.0") as err:
        automation.pulumi_command()
    assert err.value.exit_code == 4


def test_run_without_the_cli_fails_before_touching_anything(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", pulumi_free_path())
    with pytest.raises(MissingToolError, match="`mbops destroy --cloud gcp` needs the Pulumi CLI"):
        automation.run("destroy", stack_of("gcp"), yes=True)
    assert not clean_env.exists()


# --- run() through the fake CLI ----------------------------------------------------------------------------


def test_up_drives_the_workspace_and_stack(
    fake_pulumi: Path, clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    stack = app_with_secrets(tmp_path)
    monkeypatch.setenv("SHOP_STRIPE_KEY", "sk_live_1")
    monkeypatch.setenv("SHOP_JWT", "jwt-2")
    result = automation.run("up", stack, yes=True, echo=lines.append)

    state_dir = clean_env / "pulumi-state"
    assert result["stack"] == "managed-dev.aws"
    assert result["backend"] == f"file://{state_dir}"
    assert result["result"] == "succeeded"
    assert result["changes"] == {"create": 12, "same": 2}
    assert result["duration_s"] == 90.0
    assert result["version"] is None  # a file backend numbers no updates (its history says 0)
    assert result["outputs"] == {
        "endpoint": "https://app.example.com", "bucket": "managed-dev-files", "db_password": "[secret]",
    }  # fmt: skip
    assert any("aws:s3:BucketV2 managed-dev-files creating" in line for line in lines)

    assert subcommands(fake_pulumi) == [
        ["version"], ["stack", "select"], ["stack", "init"], ["config", "set-all"], ["up", "--yes"],
        ["stack", "output"], ["stack", "output"], ["stack", "history"],
    ]  # fmt: skip
    init = [c for c in calls(fake_pulumi) if "init" in c["args"]][0]["args"]
    assert init[-3:] == ["managed-dev.aws", "--secrets-provider", "passphrase"]

    config_args = [c for c in calls(fake_pulumi) if "set-all" in c["args"]][0]["args"]
    assert flag_values(config_args, "--plaintext")[:1] == ["aws:region=us-east-1"]
    assert "mbops:cloud=aws" in flag_values(config_args, "--plaintext")
    secret_values = flag_values(config_args, "--secret")
    assert len(secret_values) == 1 and secret_values[0].startswith("mbops:secretEnv=")
    assert not any("sk_live_1" in value for value in flag_values(config_args, "--plaintext"))

    up = the_call(fake_pulumi, "up")
    args = up["args"]
    assert flag_values(args, "--stack") == ["managed-dev.aws"]
    assert flag_values(args, "--color") == ["never"]
    assert flag_values(args, "--exec-kind") == ["auto.inline"]
    assert up["client_reachable"] is True  # the inline program's language server was listening
    assert flag_values(args, "--policy-pack") == automation.policy_pack_paths()
    assert up["env"]["PULUMI_BACKEND_URL"] == f"file://{state_dir}"
    assert up["env"]["PULUMI_CONFIG_PASSPHRASE"] == "correct horse battery staple"
    assert up["env"]["PULUMI_SKIP_UPDATE_CHECK"] == "true"

    work_dir = Path(up["cwd"])
    assert work_dir.parent == clean_env / "pulumi"
    assert oct(work_dir.stat().st_mode & 0o777) == "0o700"
    assert state_dir.is_dir() and oct(state_dir.stat().st_mode & 0o777) == "0o700"
    import yaml

    project = yaml.safe_load((work_dir / "Pulumi.yaml").read_text())
    assert project["name"] == "mbops"
    assert project["runtime"] == "python"
    assert project["backend"] == {"url": f"file://{state_dir}"}


def test_second_up_selects_the_existing_stack(fake_pulumi: Path) -> None:
    automation.run("up", stack_of(), yes=True, echo=lambda line: None)
    (fake_pulumi / "calls.jsonl").unlink()
    automation.run("up", stack_of(), yes=True, echo=lambda line: None)
    assert ["stack", "init"] not in subcommands(fake_pulumi)
    assert ["stack", "select"] in subcommands(fake_pulumi)


def test_backend_flag_reaches_the_cli_and_no_local_state_dir(fake_pulumi: Path, clean_env: Path) -> None:
    automation.run("up", stack_of(), backend="s3://team-state/mbops", yes=True, echo=lambda line: None)
    up = the_call(fake_pulumi, "up")
    assert up["env"]["PULUMI_BACKEND_URL"] == "s3://team-state/mbops"
    assert not (clean_env / "pulumi-state").exists()


def test_policy_pack_and_advisory_config_are_attached(fake_pulumi: Path, tmp_path: Path, monkeypatch) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    monkeypatch.setattr(automation, "policy_pack_paths", lambda: [str(pack)])
    path = tmp_path / "stack.yaml"
    path.write_text("cloud: aws\npolicy:\n  advisory:\n    database-ha: dev stack, single AZ is fine here\n")
    stack = resolve(read_stack_file(path), source=str(path))
    automation.run("up", stack, yes=True, echo=lambda line: None)
    args = the_call(fake_pulumi, "up")["args"]
    assert flag_values(args, "--policy-pack") == [str(pack)]
    (config_file,) = flag_values(args, "--policy-pack-config")
    config = json.loads(Path(config_file).read_text())
    assert config["database-ha"]["enforcementLevel"] == "advisory"
    assert config["database-ha"]["reason"] == "dev stack, single AZ is fine here"


def test_preview_returns_the_change_summary(fake_pulumi: Path) -> None:
    result = automation.run("preview", stack_of("azure"), echo=lambda line: None)
    assert result["changes"] == {"create": 12}
    assert result["stack"] == "managed-dev.azure"
    preview = the_call(fake_pulumi, "preview")
    assert "--yes" not in preview["args"]
    assert flag_values(preview["args"], "--event-log")


def test_preview_does_not_need_the_app_secrets(fake_pulumi: Path, tmp_path: Path) -> None:
    stack = app_with_secrets(tmp_path)
    assert automation.run("preview", stack, echo=lambda line: None)["changes"] == {"create": 12}
    with pytest.raises(ConfigError, match="SHOP_STRIPE_KEY is not set"):
        automation.run("up", stack, yes=True, echo=lambda line: None)


@pytest.mark.parametrize("action", ["destroy", "refresh"])
def test_destroy_and_refresh_need_an_existing_stack(fake_pulumi: Path, action: str) -> None:
    with pytest.raises(ConfigError, match="no stack 'managed-dev.gcp' in the backend"):
        automation.run(action, stack_of("gcp"), yes=True, echo=lambda line: None)
    assert ["stack", "init"] not in subcommands(fake_pulumi)


@pytest.mark.parametrize("action", ["destroy", "refresh"])
def test_destroy_and_refresh_after_up(fake_pulumi: Path, action: str) -> None:
    automation.run("up", stack_of("gcp"), yes=True, echo=lambda line: None)
    result = automation.run(action, stack_of("gcp"), yes=True, echo=lambda line: None)
    assert result["action"] == action and result["result"] == "succeeded"
    call = the_call(fake_pulumi, action)
    assert "--yes" in call["args"] and "--skip-preview" in call["args"]
    assert "--policy-pack" not in call["args"]
    assert ["config", "set-all"] in subcommands(fake_pulumi)  # by the up only
    assert sum(1 for c in subcommands(fake_pulumi) if c == ["config", "set-all"]) == 1


def test_outputs_masks_secrets_and_prints_nothing(fake_pulumi: Path) -> None:
    automation.run("up", stack_of(), yes=True, echo=lambda line: None)
    lines: list[str] = []
    result = automation.run("outputs", stack_of(), echo=lines.append)
    assert result["outputs"]["db_password"] == "[secret]"
    assert result["outputs"]["endpoint"] == "https://app.example.com"
    assert lines == []
    revealed = automation.stack_outputs(stack_of(), show_secrets=True)
    assert revealed["db_password"] == "s3cret"


@pytest.mark.parametrize("action", ["up", "destroy"])
def test_up_and_destroy_need_yes_when_not_interactive(fake_pulumi: Path, action: str) -> None:
    with pytest.raises(ConfigError, match="^--yes: ") as err:
        automation.run(action, stack_of(), echo=lambda line: None)
    assert err.value.exit_code == 2
    assert subcommands(fake_pulumi) == [["version"]]  # nothing else ran


def test_ci_is_never_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(sys, "stdout", Tty())
    assert automation.is_interactive({}) is True
    assert automation.is_interactive({"CI": "true"}) is False
    assert automation.is_interactive({"CI": "false"}) is True
    with open(os.devnull) as devnull:
        monkeypatch.setattr(sys, "stdin", devnull)
        assert automation.is_interactive({}) is False


def test_interactive_up_previews_then_asks(fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(automation, "is_interactive", lambda env=None: True)
    questions: list[str] = []
    monkeypatch.setattr(automation, "_confirm", lambda q: questions.append(q) or False)
    result = automation.run("up", stack_of(), echo=lambda line: None)
    assert result["result"] == "cancelled"
    assert questions == ["Do you want to perform this up on managed-dev.aws?"]
    assert ["preview"] in [c[:1] for c in subcommands(fake_pulumi)]
    assert ["up"] not in [c[:1] for c in subcommands(fake_pulumi)]


def test_bad_action_and_delete_data_outside_destroy_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="action: 'apply' is not one of up, preview"):
        automation.run("apply", stack_of())
    with pytest.raises(ConfigError, match="only `destroy` deletes data, not `up`"):
        automation.run("up", stack_of(), yes=True, delete_data=True)


def test_the_local_cloud_runs_on_the_pulumi_engine(fake_pulumi: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MBOPS_STATE_DIR", str(tmp_path / "state"))
    result = automation.run("up", stack_of("local"), yes=True, echo=lambda line: None)
    assert result["stack"] == "managed-dev.local"
    config_args = [c for c in calls(fake_pulumi) if "set-all" in c["args"]][0]["args"]
    assert f"mbops:stateDir={(tmp_path / 'state').resolve()}" in flag_values(config_args, "--plaintext")
    assert not [v for v in flag_values(config_args, "--plaintext") if not v.startswith("mbops:")]


def test_destroy_with_delete_data_releases_the_data_first(fake_pulumi: Path) -> None:
    automation.run("up", stack_of("gcp"), yes=True, echo=lambda line: None)
    (fake_pulumi / "calls.jsonl").unlink()
    lines: list[str] = []
    result = automation.run("destroy", stack_of("gcp"), yes=True, echo=lines.append, delete_data=True)
    assert result["deleted_data"] is True and result["result"] == "succeeded"
    ops = [c[:1] for c in subcommands(fake_pulumi) if c[:1] in (["up"], ["destroy"])]
    assert ops == [["up"], ["destroy"]]  # the release up, then the destroy
    release = the_call(fake_pulumi, "up")
    assert "--policy-pack" not in release["args"]  # prod rules would refuse a stack being released
    assert any("Releasing managed-dev.gcp's data resources" in line for line in lines)
    assert ["config", "set-all"] not in subcommands(fake_pulumi)  # the recorded config, unchanged


def test_refresh_reports_drift_from_the_change_summary() -> None:
    assert automation.drift_of({"same": 12}) is False
    assert automation.drift_of({"same": 11, "update": 1}) is True
    assert automation.drift_of({"same": 11, "delete": 1}) is True
    assert automation.drift_of({"same": 3, "read": 2, "update": 0}) is False


def test_list_stacks_reads_the_backend(fake_pulumi: Path, clean_env: Path) -> None:
    assert automation.list_stacks() == []
    automation.run("up", stack_of("gcp", profile="saas"), yes=True, echo=lambda line: None)
    (row,) = automation.list_stacks()
    assert (row["name"], row["cloud"], row["profile"], row["environment"]) == ("saas-dev", "gcp", "saas", "dev")
    assert row["resources"] == 13 and row["last_update"].startswith("2025-01-01T10:01:30")
    assert row["pulumi_stack"] == "saas-dev.gcp" and row["locked_by"] is None
    assert row["backend"] == f"file://{clean_env / 'pulumi-state'}"
    listing = [c for c in calls(fake_pulumi) if "ls" in c["args"]]
    assert listing and "--json" in listing[-1]["args"]


# --- failures ----------------------------------------------------------------------------------------------


def test_a_provider_error_is_a_deploy_error_with_the_useful_tail(fake_pulumi: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_PULUMI_MODE", "fail")
    with pytest.raises(DeployError) as err:
        automation.run("up", stack_of(), yes=True, echo=lambda line: None)
    message = str(err.value)
    assert err.value.exit_code == 1
    assert message.startswith("`pulumi up` failed for stack managed-dev.aws:")
    assert "  aws:s3:BucketV2 (managed-dev-files):\n" in message
    assert (
        "    error: PermissionError: creating S3 Bucket (managed-dev-files): AccessDenied: not authorized"
        in message
    )
    assert "Traceback" not in message and 'File "' not in message and "^^^" not in message
    assert "Duration" not in message and "1 unchanged" not in message
    assert "code: 1" not in message


def test_a_mandatory_policy_violation_is_exit_3(fake_pulumi: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_PULUMI_MODE", "policy")
    with pytest.raises(PolicyViolationError) as err:
        automation.run("preview", stack_of(), echo=lambda line: None)
    assert err.value.exit_code == 3
    message = str(err.value)
    assert "[mandatory] [severity: high]  storage-encrypted  (aws:s3/bucketV2:BucketV2: managed-dev-files)" in message
    assert "    server-side encryption is not configured\n" in message
    assert "policy.advisory" in message
    assert message.count("[mandatory]") == 1  # streamed and repeated in the error: listed once


def test_policy_violations_reads_the_current_and_the_older_report() -> None:
    current = (
        "Policies:\n    \u274c mbops@v0.1.0 (local: /p)\n"
        "        - [mandatory] [severity: high]  database-ha  (aws:rds/instance:Instance: db)\n"
        "          Prod databases are highly available.\n          multi_az is false\n\n"
        "        - [advisory] [severity: low]  required-tags  (aws:s3/bucketV2:BucketV2: b)\n          tags\n"
    )
    assert automation.policy_violations(current) == [
        "[mandatory] [severity: high]  database-ha  (aws:rds/instance:Instance: db)",
        "  Prod databases are highly available.", "  multi_az is false",
    ]  # fmt: skip
    older = "Policy Violations:\n    [mandatory]  mbops v0.1.0  storage-encrypted (aws:s3: b)\n    Encrypt it.\n"
    assert automation.policy_violations(older) == ["[mandatory]  mbops v0.1.0  storage-encrypted (aws:s3: b)",
                                                   "  Encrypt it."]  # fmt: skip


def test_a_locked_stack_is_a_deploy_error_saying_how_to_unlock(fake_pulumi: Path, monkeypatch) -> None:
    automation.run("up", stack_of(), yes=True, echo=lambda line: None)
    monkeypatch.setenv("FAKE_PULUMI_MODE", "locked")
    with pytest.raises(DeployError, match="is locked by another update") as err:
        automation.run("destroy", stack_of(), yes=True, echo=lambda line: None)
    assert "pulumi cancel --stack managed-dev.aws" in str(err.value)


def test_without_tracebacks_keeps_the_exception_line() -> None:
    lines = [
        "  pulumi-python:dynamic/mbops:AppProcess (app):", "    error: Traceback (most recent call last):",
        '      File "x.py", line 1, in create', "        boom()", "        ^^^^^^", "    ValueError: boom",
        "    more about it", "  pulumi:pulumi:Stack (s):", "    error: update failed",
    ]  # fmt: skip
    assert automation.without_tracebacks(lines) == [
        "  pulumi-python:dynamic/mbops:AppProcess (app):", "    error: ValueError: boom", "    more about it",
        "  pulumi:pulumi:Stack (s):", "    error: update failed",
    ]  # fmt: skip


def test_a_wrong_passphrase_is_a_config_error(fake_pulumi: Path, monkeypatch) -> None:
    automation.run("up", stack_of(), yes=True, echo=lambda line: None)
    monkeypatch.setenv("FAKE_PULUMI_MODE", "passphrase")
    with pytest.raises(ConfigError, match="^PULUMI_CONFIG_PASSPHRASE: the CLI could not decrypt"):
        automation.run("refresh", stack_of(), echo=lambda line: None)


def test_an_mbops_error_raised_by_the_inline_program_is_reported_as_itself() -> None:
    from pulumi.automation import errors as auto_errors
    from pulumi.automation._cmd import CommandResult

    raised: list[BaseException] = []
    def failing_program() -> None:
        raise ConfigError("components.database: bad")

    program = automation._guarded(failing_program, raised)
    with pytest.raises(ConfigError):
        program()
    failure = auto_errors.InlineSourceRuntimeError(
        CommandResult(
            stdout="python inline source runtime error: components.database: bad", stderr="", code=255
        )
    )
    error = automation.translate_failure(
        failure, [], action="up", stack_name="s.aws", backend="s3://b", program_errors=raised
    )
    assert isinstance(error, ConfigError) and str(error) == "components.database: bad"


def test_failure_tail_prefers_diagnostics_and_strips_colors() -> None:
    stdout = (
        "Updating:\n\x1b[31m noise\x1b[0m\nDiagnostics:\n  aws:rds:Instance (db):\n    error: quota\n"
        "\nResources:\n"
    )
    assert automation.failure_tail(stdout, "error: update failed\n") == (
        "  aws:rds:Instance (db):\n    error: quota\nerror: update failed"
    )
    assert automation.failure_tail("a\nb\n", "") == "a\nb"
    text = "\n code: 1\n stdout: out\nmore\n stderr: err"
    assert automation.split_command_error(text) == ("out\nmore", "err")


# --- the missing CLI through the mbops command -------------------------------------------------------------


def _has_deploy_command() -> bool:
    import click

    from mbops.cli.main import cli

    return cli.get_command(click.Context(cli), "up") is not None


needs_up = pytest.mark.skipif(not _has_deploy_command(), reason="`mbops up` (cli/deploy.py) is not there yet")


@needs_up
def test_mbops_up_cloud_without_cli_exits_4_via_click(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mbops.cli.main import cli

    monkeypatch.setenv("PATH", pulumi_free_path())
    result = CliRunner().invoke(cli, ["up", "--cloud", "aws", "--yes"])
    assert result.exit_code == 4, result.output
    assert "curl -fsSL https://get.pulumi.com | sh" in result.output
    assert "mbops preview` works offline" in result.output
    assert "Traceback" not in result.output


@needs_up
def test_mbops_up_cloud_without_cli_exits_4_as_a_subprocess(clean_env: Path) -> None:
    mbops = Path(sys.executable).with_name("mbops")
    env = {**os.environ, "PATH": pulumi_free_path()}
    done = subprocess.run([str(mbops), "up", "--cloud", "aws", "--yes"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "curl -fsSL https://get.pulumi.com | sh" in done.stderr
    assert "mbops preview` works offline" in done.stderr
    assert "Traceback" not in done.stderr


# --- the repo as a Pulumi project (__main__.py) ------------------------------------------------------------


def load_main() -> dict[str, Any]:
    return runpy.run_path(str(REPO / "__main__.py"), run_name="mbops_repo_program")


def test_pulumi_yaml_is_the_mbops_python_project() -> None:
    import yaml

    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == automation.PROJECT
    assert project["runtime"]["name"] == "python"
    assert project["backend"]["url"] == "file://~/.mbops/pulumi-state"


def test_main_resolves_the_stack_from_pulumi_config(tmp_path: Path) -> None:
    main = load_main()
    config = {"cloud": "gcp", "profile": "saas", "environment": "prod", "region": "europe-west1"}
    stack = main["stack_from_config"](config.get, "shop")
    assert (stack.name, stack.cloud, stack.profile, stack.environment, stack.region) == (
        "shop", "gcp", "saas", "prod", "europe-west1",
    )  # fmt: skip
    # A stack `mbops up` made: <name>.<cloud> gives the name and the cloud.
    stack = main["stack_from_config"]({}.get, "managed-dev.aws")
    assert (stack.name, stack.cloud, stack.profile) == ("managed-dev", "aws", "managed")
    # A stack file, with config keys winning over its fields.
    path = tmp_path / "stack.yaml"
    path.write_text("name: shop\nprofile: custom\ncloud: azure\nregion: westeurope\n")
    stack = main["stack_from_config"]({"stackFile": str(path), "environment": "prod"}.get, "Prod_Stack")
    assert (stack.name, stack.cloud, stack.profile, stack.environment) == ("shop", "azure", "custom", "prod")


def test_main_reports_bad_config_as_config_error() -> None:
    main = load_main()
    with pytest.raises(ConfigError, match="region"):
        main["stack_from_config"]({"cloud": "aws", "region": "mars-1"}.get, "dev")


def test_main_fills_missing_secret_env_from_the_stored_secret(tmp_path: Path) -> None:
    main = load_main()
    stack = app_with_secrets(tmp_path)
    environ = {"SHOP_JWT": "from-env"}
    filled = main["fill_secret_env"](stack, {"STRIPE_KEY": "stored", "JWT_SECRET": "stored-jwt"}, environ)
    assert filled == ["SHOP_STRIPE_KEY"]
    assert environ == {"SHOP_JWT": "from-env", "SHOP_STRIPE_KEY": "stored"}


def test_main_runs_the_same_program_as_mbops(tmp_path: Path) -> None:
    """__main__.py under the embedded engine with Pulumi config gives the same resources as the mbops plan."""
    from mbops.engine.embedded import run_program
    from mbops.engine.plan import Planner, run_plan

    config = {"mbops:cloud": "aws", "mbops:profile": "managed", "mbops:region": "eu-west-1"}
    record = run_program(
        lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__"),
        Planner("eu-west-1"), project="mbops", stack="managed-dev.aws", dry_run=True, config=config,
    )  # fmt: skip
    reference = run_plan(resolve(profile="managed", cloud="aws", region="eu-west-1"))
    types = sorted(r.type for r in record.resources.values())
    assert types == sorted(r.type for r in reference.resources.values())
    assert set(record.outputs) == set(reference.outputs)
    assert "bucket" in record.outputs
