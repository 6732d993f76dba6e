"""mbops on the real Pulumi engine: the CLI that ``tools/build-pulumi.sh`` builds (or a ``pulumi`` on PATH).

Marked ``pulumi_cli`` and skipped, with the reason, when no CLI is found; ``.ci/run`` builds it first. The local
cloud is deployed for real (its components are Python dynamic providers, so the engine needs no cloud plugin);
clouds cannot be: their provider plugins are not buildable here. Every test keeps its state in temp folders
(``MBOPS_HOME``, ``PULUMI_HOME``, the local state folder, a ``file://`` backend or a moto S3 bucket) and stops
what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mbops.components.local import process
from mbops.engine import automation
from mbops.errors import ConfigError, DeployError, PolicyViolationError
from mbops.stacks.config import Stack, read_stack_file, resolve
from tests.test_local_helpers import REPO, http, local_env, mbops, mbops_process, port_listening

__all__ = ["local_env"]
FOUND = automation.find_pulumi()
NO_CLI = "no Pulumi CLI on PATH or in .tools/bin (build it: tools/build-pulumi.sh)"
pytestmark = [pytest.mark.pulumi_cli, pytest.mark.skipif(FOUND is None, reason=NO_CLI)]
PASSPHRASE = "correct horse battery staple"


# --- fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture
def seeded_secrets(tmp_path: Path) -> Iterator[str]:
    """A secrets-file path under world-writable /tmp (a mandatory violation of local-secrets-file-private)."""
    folder = Path("/tmp") / f"mbops-seeded-{tmp_path.name}-{os.getpid()}"
    yield str(folder / "secrets.json")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def real(local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A private mbops home, Pulumi home, passphrase, local state folder and file backend; on exit, every
    Pulumi-engine stack in the backend is destroyed with its data (then ``local_env`` stops any leftover)."""
    for var in ("MBOPS_BACKEND", "PULUMI_BACKEND_URL", "MBOPS_SECRETS_PROVIDER", "PULUMI_CONFIG_PASSPHRASE_FILE",
                "PULUMI_ACCESS_TOKEN", "MBOPS_ENGINE", "CI"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MBOPS_HOME", str(tmp_path / "mbops-home"))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    backend = f"file://{tmp_path / 'backend'}"
    deployed: list[tuple[Stack, str]] = []
    yield {"backend": backend, "state": local_env, "deployed": deployed, "tmp": tmp_path}
    for stack, url in deployed:
        with contextlib.suppress(Exception):
            automation.run("destroy", stack, backend=url, yes=True, echo=lambda line: None, delete_data=True)


def run(env: dict[str, Any], action: str, stack: Stack, backend: str | None = None, **kw: Any) -> dict[str, Any]:
    """``automation.run`` with the test's backend; the CLI's lines are kept in ``env["lines"]``."""
    lines: list[str] = env.setdefault("lines", [])
    lines.clear()
    url = backend or env["backend"]
    if action == "up" and (stack, url) not in env["deployed"]:
        env["deployed"].append((stack, url))
    return automation.run(action, stack, backend=url, yes=True, echo=lines.append, **kw)


def local_stack(name: str, tmp: Path, **fields: Any) -> Stack:
    """A local stack from a stack file (its app imports ``examples`` from the repo)."""
    fields = {"name": name, "cloud": "local", "profile": "managed", **fields}
    fields.setdefault("app", {}).setdefault("env", {})["PYTHONPATH"] = str(REPO)
    fields["app"].setdefault("port", free_port())  # a busy port is an error: never the shared default 8080
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return resolve(read_stack_file(path), source=str(path))


def pid_files(state: Path, name: str) -> list[tuple[int, int | None]]:
    """(pid, start time) of every process the stack's local providers started (their pid files)."""
    found = []
    for path in (state / name).glob("*/*.pid"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            info = json.loads(path.read_text())
            found.append((int(info["pid"]), int(info["start_time"])))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env(env: dict[str, Any]) -> dict[str, str]:
    """The environment for the ``pulumi`` binary itself: mbops's runtime settings (CLI folder on PATH,
    PULUMI_PYTHON_CMD) and the test's backend."""
    command = automation.pulumi_command()
    return {**os.environ, **automation.runtime_env(command), "PULUMI_BACKEND_URL": env["backend"],
            "PULUMI_SKIP_UPDATE_CHECK": "true"}  # fmt: skip


def pulumi(env: dict[str, Any], *args: str, cwd: Path, check: bool = True, timeout: float = 300,
           extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    """Run the real ``pulumi`` binary mbops uses."""
    assert FOUND is not None
    done = subprocess.run(
        [str(FOUND[0]), "--non-interactive", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**cli_env(env), **(extra or {})}, check=False,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"pulumi {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


# --- the CLI build -----------------------------------------------------------------------------------------


def test_the_cli_reports_a_version_the_automation_api_accepts() -> None:
    command = automation.pulumi_command()
    assert command.version is not None and command.version.major == 3
    assert command.version.compare(automation.MIN_CLI_VERSION) >= 0
    assert FOUND is not None
    folder = FOUND[0].parent
    # Dynamic providers and policy packs need these beside the CLI (the engine looks there and on PATH).
    for tool in ("pulumi-resource-pulumi-python", "pulumi-language-python"):
        assert os.access(folder / tool, os.X_OK), f"{tool} is missing beside {FOUND[0]}"
    env = automation.runtime_env(command)
    assert env["PULUMI_PYTHON_CMD"] == sys.executable
    assert env["PATH"].split(os.pathsep)[0] == str(folder)


def test_a_second_build_run_reuses_the_cached_cli() -> None:
    if FOUND is None or FOUND[1] != "tools":
        pytest.skip("the CLI in use is not the one tools/build-pulumi.sh installed")
    started = time.monotonic()
    done = subprocess.run(["bash", str(REPO / "tools" / "build-pulumi.sh")], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "MBOPS_TOOLS_DIR": str(FOUND[0].parents[1])})
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "cached in" in done.stdout and elapsed < 5, (done.stdout, done.stderr, elapsed)


# --- a local stack end to end through the Automation API ---------------------------------------------------


def test_local_stack_end_to_end_on_the_real_engine(real: dict[str, Any]) -> None:
    stack = local_stack("pcli-e2e", real["tmp"], app={"env": {"APP_GREETING": "first"}})
    first = run(real, "up", stack)
    assert first["result"] == "succeeded" and first["stack"] == "pcli-e2e.local", first
    created = first["changes"]["create"]
    assert created >= 10 and set(first["changes"]) == {"create"}, first  # the Stack, components, resources
    outputs = first["outputs"]
    assert outputs["database_url"] == "[secret]" and outputs["database_engine"] == "sqlite"
    endpoint = outputs["endpoint"]

    # the app answers, wired to its database and storage; a note and a file round-trip
    status, health = http("GET", f"{endpoint}/healthz")
    assert status == 200 and health["status"] == "ok" and health["database"] == "sqlite", health
    status, note = http("POST", f"{endpoint}/notes", {"title": "groceries", "body": "milk, eggs"})
    assert status == 201, note
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "groceries"
    assert http("PUT", f"{endpoint}/files/photo.bin", b"\x00\x01binary\xff")[0] == 201
    assert http("GET", f"{endpoint}/files/photo.bin") == (200, b"\x00\x01binary\xff")
    running = pid_files(real["state"], stack.name)
    assert running and all(process.alive(pid, started) for pid, started in running)

    # the policy pack ran on the real engine and found nothing mandatory on a dev stack
    assert any("mbops@v" in line for line in real["lines"]), "the CrossGuard pack did not run"

    # up again: nothing changes, nothing restarts
    again = run(real, "up", stack)
    assert again["changes"] == {"same": created}, again
    assert pid_files(real["state"], stack.name) == running

    # refresh: no drift; then the app dies, refresh reports it, the next up repairs it
    assert run(real, "refresh", stack)["drift"] is False
    app_pid = next(pid for pid, _ in running if Path(f"/proc/{pid}/cmdline").read_bytes().find(b"notes_app") > 0)
    os.kill(app_pid, 15)
    for _ in range(100):
        if not process.alive(app_pid):
            break
        time.sleep(0.05)
    drifted = run(real, "refresh", stack)
    assert drifted["drift"] is True and drifted["changes"].get("update") == 1, drifted
    repaired = run(real, "up", stack)
    assert repaired["changes"].get("update") == 1, repaired
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "groceries"

    # outputs: masked by default, revealed on request; the stack is listed with its resources
    masked = automation.stack_outputs(stack, backend=real["backend"])
    assert masked["database_url"] == "[secret]" and masked["endpoint"] == endpoint
    shown = automation.stack_outputs(stack, backend=real["backend"], show_secrets=True)
    assert shown["database_url"].startswith("sqlite://")
    (listed,) = automation.list_stacks(real["backend"])
    assert (listed["name"], listed["cloud"], listed["profile"], listed["environment"]) == (
        "pcli-e2e", "local", "managed", "dev",
    )  # fmt: skip
    # the state also holds the default provider of the dynamic resources
    assert listed["resources"] == created + 1 and listed["last_update"] and listed["locked_by"] is None

    # destroy: every process stopped, the port free, the data kept
    running = pid_files(real["state"], stack.name)
    gone = run(real, "destroy", stack)
    assert gone["changes"] == {"delete": created} and gone["deleted_data"] is False, gone
    assert all(not process.alive(pid, started) for pid, started in running)
    assert not port_listening(int(endpoint.rsplit(":", 1)[1]))
    data, bucket = Path(outputs["database_data_dir"]), Path(outputs["bucket"])
    assert data.exists() and (bucket / "photo.bin").is_file()

    # up over the kept data: the note and the file are back
    endpoint = run(real, "up", stack)["outputs"]["endpoint"]
    assert http("GET", f"{endpoint}/notes/{note['id']}")[1]["title"] == "groceries"
    assert http("GET", f"{endpoint}/files/photo.bin") == (200, b"\x00\x01binary\xff")

    # destroy with delete_data: the data resources are released first, then deleted with everything else
    final = run(real, "destroy", stack, delete_data=True)
    assert final["deleted_data"] is True and final["changes"] == {"delete": created}, final
    assert any("Releasing pcli-e2e.local's data resources" in line for line in real["lines"])
    assert not data.exists() and not bucket.exists(), "destroy --delete-data kept the data"
    assert automation.list_stacks(real["backend"])[0]["resources"] == 0


def test_mbops_cli_drives_a_local_stack_on_the_pulumi_engine(real: dict[str, Any]) -> None:
    """The same through ``mbops --engine pulumi`` (Click's runner), as a user runs it."""
    backend = real["backend"]
    flags = ["--engine", "pulumi", "--cloud", "local", "--backend", backend, "-n", "pcli-cli"]
    stack = resolve(profile="managed", cloud="local", name="pcli-cli")
    real["deployed"].append((stack, backend))
    up = mbops("up", *flags, "--yes", "--json", "--port", "auto")  # 8080 may be taken on this machine
    assert up.exit_code == 0, up.output
    endpoint = json.loads(mbops("outputs", *flags, "--json").output)["endpoint"]
    assert http("GET", f"{endpoint}/healthz")[1]["status"] == "ok"
    listed = json.loads(mbops("stacks", "--engine", "pulumi", "--backend", backend, "--json").output)
    assert [(row["name"], row["cloud"]) for row in listed] == [("pcli-cli", "local")]
    refresh = mbops("refresh", *flags, "--exit-code")
    assert refresh.exit_code == 0, refresh.output
    down = mbops("destroy", *flags, "--yes")
    assert down.exit_code == 0, down.output
    assert not port_listening(int(endpoint.rsplit(":", 1)[1]))


# --- CrossGuard on the real engine -------------------------------------------------------------------------


def test_a_mandatory_violation_is_blocked_by_the_real_analyzer(real: dict[str, Any], seeded_secrets: str) -> None:
    """Preview and up stop with exit 3. CrossGuard checks each resource before the engine creates it: the
    violating one is never created; resources that do not depend on it may be (mbops's own `up` runs the same
    rules offline first, so it stops before the engine starts)."""
    stack = local_stack("pcli-seeded", real["tmp"], components={"secrets": {"overrides": {"file": {
        "path": seeded_secrets}}}})  # fmt: skip
    for action in ("preview", "up"):
        with pytest.raises(PolicyViolationError) as err:
            run(real, action, stack)
        message = str(err.value)
        assert err.value.exit_code == 3
        assert "local-secrets-file-private" in message and "(pulumi-python:dynamic/mbops:SecretsFile:" in message
        assert "would live under /tmp, which every user can write to" in message
        assert message.count("[mandatory]") == 1, message  # reported once, not once per copy of the output
    assert not Path(seeded_secrets).parent.exists()


def test_a_lowered_rule_carries_its_reason_through_crossguard(real: dict[str, Any], seeded_secrets: str) -> None:
    reason = "throwaway demo machine, nobody else logs in"
    stack = local_stack("pcli-lowered", real["tmp"], policy={"advisory": {"local-secrets-file-private": reason}},
                        components={"secrets": {"overrides": {"file": {"path": seeded_secrets}}}})  # fmt: skip
    previewed = run(real, "preview", stack)
    assert previewed["result"] == "previewed" and previewed["changes"].get("create"), previewed
    text = "\n".join(real["lines"])
    assert "[advisory]" in text and "local-secrets-file-private" in text and reason in text, text[-3000:]


def test_a_prod_local_stack_is_not_blocked_by_rules_for_other_clouds(real: dict[str, Any]) -> None:
    """The pack's prod-only rules (database-ha, cache-ha, backups) are for aws/gcp/azure resources: a prod
    stack on the local cloud passes the real analyzer. (Cloud stacks cannot be previewed by the real engine
    here: the aws/gcp/azure provider plugins are not buildable, so their CrossGuard run is not testable.)"""
    stack = local_stack("pcli-prod", real["tmp"], environment="prod")
    previewed = run(real, "preview", stack)
    assert previewed["result"] == "previewed" and previewed["changes"].get("create"), previewed
    assert not [line for line in real["lines"] if "[mandatory]" in line]


# --- the repo as a Pulumi project --------------------------------------------------------------------------


def test_pulumi_up_and_destroy_on_the_repo_itself(real: dict[str, Any]) -> None:
    """``pulumi up`` of this repo's Pulumi.yaml + __main__.py with ``mbops:*`` config, as its header describes.
    The project file is copied next to the stack's config (``main:`` points back at the repo) so the test
    writes nothing into the checkout."""
    project = real["tmp"] / "project"
    project.mkdir()
    Path(real["backend"].removeprefix("file://")).mkdir()
    settings = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    settings["main"] = os.path.relpath(REPO, project)
    settings.pop("backend", None)
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    name = "pcli-repo.local"
    pulumi(real, "stack", "init", name, "--secrets-provider", "passphrase", cwd=project)
    config = {"mbops:profile": "managed", "mbops:stateDir": str(real["state"]),
              "mbops:portAuto": "true"}  # 8080 may be taken on this machine  # fmt: skip
    for key, value in config.items():
        pulumi(real, "config", "set", key, value, "--stack", name, cwd=project)
    extra = {"PYTHONPATH": str(REPO)}  # the app imports examples.notes_app
    up = pulumi(real, "up", "--yes", "--skip-preview", "--stack", name, "--policy-pack", str(REPO / "policies"),
                cwd=project, extra=extra)  # fmt: skip
    assert "mbops@v" in up.stdout, up.stdout  # the policy pack ran through the language host
    outputs = json.loads(pulumi(real, "stack", "output", "--json", "--stack", name, cwd=project).stdout)
    assert outputs["database_url"] == "[secret]"
    assert http("GET", f"{outputs['endpoint']}/healthz")[1]["status"] == "ok"
    # the same stack seen from mbops: `pulumi up -s <name>.<cloud>` resolved name and cloud from the stack name
    assert "pcli-repo" in outputs["secrets_store"]
    down = pulumi(real, "destroy", "--yes", "--skip-preview", "--stack", name, cwd=project, extra=extra)
    assert "deleted" in down.stdout
    assert not port_listening(int(outputs["endpoint"].rsplit(":", 1)[1]))


# --- a shared S3-compatible backend ------------------------------------------------------------------------


@pytest.fixture
def s3_backend(real: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on a free loopback port with one bucket; yields the ``s3://`` backend URL."""
    server = shutil.which("moto_server", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if server is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]', in the test extras)")
    import boto3

    port = free_port()
    log = (real["tmp"] / "moto.log").open("w")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if port_listening(port):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"moto_server did not listen on {port}: {(real['tmp'] / 'moto.log').read_text()[-2000:]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        client.create_bucket(Bucket="mbops-state")
        real["s3"] = client
        yield f"s3://mbops-state?endpoint=127.0.0.1:{port}&disableSSL=true&s3ForcePathStyle=true&region=us-east-1"
    finally:
        for stack, url in real["deployed"]:  # destroy before the server goes
            with contextlib.suppress(Exception):
                automation.run("destroy", stack, backend=url, yes=True, echo=lambda line: None, delete_data=True)
        real["deployed"].clear()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def lock_keys(env: dict[str, Any]) -> list[str]:
    listing = env["s3"].list_objects_v2(Bucket="mbops-state", Prefix=".pulumi/locks/")
    return [item["Key"] for item in listing.get("Contents", [])]


def test_two_processes_contend_for_one_stack_in_an_s3_backend(real: dict[str, Any], s3_backend: str) -> None:
    stack = resolve(profile="managed", cloud="local", name="pcli-shared")
    real["deployed"].append((stack, s3_backend))
    flags = ["up", "--engine", "pulumi", "--cloud", "local", "-n", "pcli-shared", "--backend", s3_backend, "--yes",
             "--port", "auto"]  # 8080 may be taken on this machine
    env = {"PYTHONPATH": str(REPO)}
    code = "from mbops.cli.main import main; main()"
    first = subprocess.Popen([sys.executable, "-c", code, *flags], cwd=REPO, env={**os.environ, **env},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not lock_keys(real) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock_keys(real), f"the first up never took the lock: {first.communicate()}"
        second = mbops_process(*flags, env=env, timeout=180)
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert second.returncode == 1, second.stdout + second.stderr
    message = second.stderr
    assert "stack pcli-shared.local is locked by another update in s3://mbops-state" in message, message
    assert "pulumi cancel --stack pcli-shared.local" in message
    assert "the stack is currently locked by 1 lock(s)" in message  # Pulumi's own words, in the tail
    assert "Traceback" not in message
    assert not lock_keys(real)  # the winner released its lock
    listed = automation.list_stacks(s3_backend)
    assert [(row["name"], row["cloud"]) for row in listed] == [("pcli-shared", "local")]
    assert listed[0]["resources"] > 0


# --- what the fake CLI in test_automation.py assumes, checked against the real one ---------------------------


def test_the_fake_cli_assumptions_hold_for_the_real_cli(
    real: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seeded_secrets: str
) -> None:
    """Record the real CLI's invocations (a pass-through shim first on PATH) for the calls test_automation's fake
    answers, and check the invocation order, flags, output formats and exit codes the fake plays back."""
    assert FOUND is not None
    shim_dir, log = tmp_path / "shim", tmp_path / "calls.jsonl"
    shim_dir.mkdir()
    shim = shim_dir / "pulumi"
    shim.write_text(
        f"#!{sys.executable}\nimport json, os, subprocess, sys\n"
        f"done = subprocess.run([{str(FOUND[0])!r}, *sys.argv[1:]], capture_output=True, text=True)\n"
        "sys.stdout.write(done.stdout); sys.stderr.write(done.stderr)\n"
        f"open({str(log)!r}, 'a').write(json.dumps({{'args': sys.argv[1:], 'code': done.returncode, "
        "'stdout': done.stdout, 'stderr': done.stderr}) + '\\n')\n"
        "sys.exit(done.returncode)\n"
    )
    shim.chmod(0o755)
    # the shim is `pulumi` on PATH; the real CLI's folder stays on PATH for its plugins
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{FOUND[0].parent}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log.read_text().splitlines()]

    def sub(call: dict[str, Any]) -> list[str]:
        return [a for a in call["args"] if a != "--non-interactive"][:2]

    stack = local_stack("pcli-fake", real["tmp"])
    # a stack that does not exist: select fails with the words the Automation API matches (exit 6, not 255)
    with pytest.raises(ConfigError, match="no stack 'pcli-fake.local' in the backend"):
        run(real, "refresh", stack)
    missing = [c for c in calls() if sub(c) == ["stack", "select"]][-1]
    assert missing["code"] == 6 and "error: no stack named 'pcli-fake.local' found" in missing["stderr"]

    log.unlink()
    result = run(real, "up", stack)
    assert [sub(c) for c in calls()] == [
        ["version"], ["stack", "select"], ["stack", "init"], ["config", "set-all"], ["up", "--yes"],
        ["stack", "output"], ["stack", "output"], ["stack", "history"],
    ]  # fmt: skip
    version = calls()[0]
    assert version["code"] == 0 and version["stdout"].strip().startswith("v3.")
    up = next(c for c in calls() if sub(c)[:1] == ["up"])
    assert {"--yes", "--skip-preview", "--exec-kind", "--client"} <= {a.split("=", 1)[0] for a in up["args"]}, up
    assert up["args"][up["args"].index("--policy-pack") + 1] == automation.policy_pack_paths()[0]
    outputs_call = next(c for c in calls() if sub(c) == ["stack", "output"] and "--show-secrets" not in c["args"])
    assert json.loads(outputs_call["stdout"])["database_url"] == "[secret]"  # masked without --show-secrets
    history = json.loads(next(c for c in calls() if sub(c) == ["stack", "history"])["stdout"])
    entry = history[0]
    assert {"kind", "startTime", "endTime", "result", "resourceChanges", "version", "config"} <= set(entry)
    assert entry["kind"] == "update" and entry["result"] == "succeeded"
    assert entry["version"] == 0 and result["version"] is None  # file backends number no updates
    assert all(set(value) == {"value", "secret"} for value in entry["config"].values())
    assert result["changes"] == entry["resourceChanges"]

    # a second up selects the stack it made (no init), and destroy/refresh pass --yes --skip-preview, no pack
    log.unlink()
    run(real, "refresh", stack)
    refresh = next(c for c in calls() if sub(c)[:1] == ["refresh"])
    assert "--yes" in refresh["args"] and "--skip-preview" in refresh["args"]
    assert "--policy-pack" not in refresh["args"]

    # a wrong passphrase: the words translate_failure matches, exit code 1
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "not the passphrase")
    log.unlink()
    with pytest.raises(ConfigError, match="^PULUMI_CONFIG_PASSPHRASE: the CLI could not decrypt"):
        run(real, "refresh", stack)
    refused = calls()[-1]
    assert refused["code"] == 1, refused
    assert "error: getting stack configuration: get stack secrets manager: incorrect passphrase" in refused["stderr"]
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)

    # a policy violation: exit 1, nothing on stderr, the report in stdout's "Policies:" section
    seeded = local_stack("pcli-fake", real["tmp"], components={"secrets": {"overrides": {"file": {
        "path": seeded_secrets}}}})  # fmt: skip
    log.unlink()
    with pytest.raises(PolicyViolationError):
        run(real, "preview", seeded)
    blocked = calls()[-1]
    assert blocked["code"] == 1 and blocked["stderr"].strip() == "", blocked["stderr"]
    assert "\nPolicies:\n" in blocked["stdout"] and "- [mandatory] [severity: high]  local-secrets-file-private" \
        in blocked["stdout"]


def test_a_provider_error_is_a_deploy_error_with_the_diagnostics(
    real: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dynamic provider that fails: the real CLI's Diagnostics section reaches the user, exit code 1."""
    monkeypatch.setenv("MBOPS_HEALTH_TIMEOUT", "5")
    stack = local_stack("pcli-broken", real["tmp"], app={"command": "python -c 'raise SystemExit(3)'"})
    with pytest.raises(DeployError) as err:
        run(real, "up", stack)
    message = str(err.value)
    assert err.value.exit_code == 1 and message.startswith("`pulumi up` failed for stack pcli-broken.local:")
    assert "pulumi-python:dynamic/mbops:AppProcess (pcli-broken-app-process):" in message, message
    assert "Duration" not in message and "code: " not in message


# --- the two engines plan alike ----------------------------------------------------------------------------


def parent_key(urn: str) -> str:
    """``<type>::<name>`` of a parent URN (the same on both engines, whatever the stack is called)."""
    return "::".join(urn.rsplit("::", 2)[-2:])


def real_preview(env: dict[str, Any], stack: Stack) -> set[tuple[str, str, str | None, str]]:
    """(type, name, parent type::name, op) of every resource in the real engine's preview of ``stack``."""
    from pulumi import automation as auto

    from mbops.stacks.program import make_program

    url = env["backend"]
    opts = automation.workspace_options(stack, url, command=automation.pulumi_command())
    Path(opts.work_dir).mkdir(parents=True, exist_ok=True)
    Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    ws = auto.create_or_select_stack(automation.pulumi_stack_name(stack), project_name=automation.PROJECT,
                                     program=make_program(stack), opts=opts)  # fmt: skip
    ws.set_all_config(automation.stack_config(stack))
    seen: set[tuple[str, str, str | None, str]] = set()

    def on_event(event: Any) -> None:
        pre = event.resource_pre_event
        # the Stack and the dynamic resources' default provider exist only in the real engine's graph
        if pre is None or pre.metadata.type.startswith(("pulumi:pulumi:Stack", "pulumi:providers:")):
            return
        state = pre.metadata.new or pre.metadata.old
        parent = state.parent if state is not None else ""
        top = not parent or "::pulumi:pulumi:Stack::" in parent
        seen.add((pre.metadata.type, pre.metadata.urn.rsplit("::", 1)[-1], None if top else parent_key(parent),
                  pre.metadata.op.value))  # fmt: skip

    ws.preview(on_event=on_event, color="never")
    return seen


def embedded_plan(stack: Stack, state_dir: Path) -> set[tuple[str, str, str | None, str]]:
    from mbops.engine.plan import plan

    graph = plan(stack, with_policy=False, with_cost=False, state_dir=str(state_dir))
    return {
        (r["type"], r["name"], parent_key(r["parent"]) if r["parent"] else None, r["op"])
        for r in graph["resources"]
    }


def test_the_embedded_plan_and_the_real_preview_agree(real: dict[str, Any], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Same resources (type, name, parent) and the same operations: for a new stack (all create), and after
    each engine deployed it and the app's environment changed (the app process updates, the rest stays)."""
    from mbops.engine import apply
    from mbops.engine.state import StateStore

    stack = local_stack("pcli-agree", real["tmp"], app={"env": {"APP_GREETING": "one"}})
    embedded_state = tmp_path / "embedded-state"
    fresh_real, fresh_embedded = real_preview(real, stack), embedded_plan(stack, embedded_state)
    assert fresh_real == fresh_embedded, "\n".join(map(str, sorted(fresh_real ^ fresh_embedded)))
    assert {op for *_, op in fresh_real} == {"create"}

    run(real, "up", stack)  # the real engine's copy, in the test's state folder
    monkeypatch.setenv("MBOPS_STATE_DIR", str(embedded_state))  # the embedded engine's copy, in its own
    try:
        apply.up(stack, StateStore(embedded_state), port_auto=True)  # both engines run a copy side by side
        changed = local_stack("pcli-agree", real["tmp"], app={"env": {"APP_GREETING": "two"}})
        planned = embedded_plan(changed, embedded_state)
    finally:
        with contextlib.suppress(Exception):
            apply.destroy(stack.name, StateStore(embedded_state), delete_data=True)
    monkeypatch.setenv("MBOPS_STATE_DIR", str(real["state"]))
    previewed = real_preview(real, changed)
    assert previewed == planned, "\n".join(map(str, sorted(previewed ^ planned)))
    assert {(name, op) for _, name, _, op in previewed if op != "same"} == {("pcli-agree-app-process", "update")}
