"""``mbops ci init``: the generated GitHub workflow and GitLab pipeline validate against the published schemas
(check-jsonschema's vendored copies, offline), pass actionlint / zizmor / shellcheck when installed, and their
plan step really runs: the fixture repository's base and head are planned offline and diffed into comments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from click.testing import CliRunner

from mbops.cli.ci import TEMPLATES
from mbops.cli.main import cli
from mbops.components.aws.bootstrap import BootstrapArgs

REPO = Path(__file__).parent / "data" / "ci_repo"
CLOUDS = ("aws", "gcp", "azure")
FILES = {"github": ".github/workflows/mbops.yml", "gitlab": ".gitlab-ci.yml"}
SCHEMAS = {"github": ["vendor.github-workflows", "custom.github-workflows-require-timeout"],
           "gitlab": ["vendor.gitlab-ci"]}  # fmt: skip
REGIONS = {"aws": "eu-west-1", "gcp": "europe-west1", "azure": "westeurope"}


def _repo(tmp_path: Path, cloud: str = "aws") -> Path:
    """The fixture repository's head, its stack files switched to ``cloud``."""
    root = tmp_path / f"repo-{cloud}"
    shutil.copytree(REPO / "head", root)
    for path in (root / "stacks").glob("*.yaml"):
        text = path.read_text().replace("cloud: aws", f"cloud: {cloud}").replace("eu-west-1", REGIONS[cloud])
        path.write_text(text)
    return root


def _init(root: Path, provider: str, cloud: str, *extra: str) -> Any:
    args = ["ci", "init", "--provider", provider, "--cloud", cloud, "-f", str(root / "stacks/dev.yaml"),
            "-f", str(root / "stacks/prod.yaml"), "--output", str(root), *extra]  # fmt: skip
    return CliRunner().invoke(cli, args)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Every provider x cloud pipeline, written by the real command."""
    out = {}
    for cloud in CLOUDS:
        root = _repo(tmp_path_factory.mktemp("ci"), cloud)
        for provider in FILES:
            result = _init(root, provider, cloud)
            assert result.exit_code == 0, result.output
            out[(provider, cloud)] = root / FILES[provider]
    return out


# --- schemas and linters --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", list(FILES))
def test_pipelines_validate_against_published_schemas(generated: dict[tuple[str, str], Path], provider: str) -> None:
    files = [str(generated[(provider, cloud)]) for cloud in CLOUDS]
    for schema in SCHEMAS[provider]:
        proc = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *files],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, f"{schema}:\n{proc.stdout}\n{proc.stderr}"
        assert "ok -- validation done" in proc.stdout


def test_schema_check_catches_a_broken_workflow(generated: dict[tuple[str, str], Path], tmp_path: Path) -> None:
    """The validation above can fail: a job without runs-on is rejected."""
    workflow = yaml.safe_load(generated[("github", "aws")].read_text())
    del workflow["jobs"]["plan"]["runs-on"]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(workflow))
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(broken)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1


@pytest.mark.skipif(not shutil.which("actionlint"), reason="actionlint is not installed (go install "
                    "github.com/rhysd/actionlint/cmd/actionlint@latest)")  # fmt: skip
def test_actionlint(generated: dict[tuple[str, str], Path]) -> None:
    files = [str(generated[("github", cloud)]) for cloud in CLOUDS]
    proc = subprocess.run(["actionlint", *files], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not shutil.which("zizmor", path=str(Path(sys.executable).parent) + os.pathsep
                                     + os.environ.get("PATH", "")), reason="zizmor is not installed")  # fmt: skip
def test_zizmor_security_audits(generated: dict[tuple[str, str], Path], tmp_path: Path) -> None:
    """No template injection, no excessive permissions, no persisted credentials. Actions are pinned to major
    versions, not SHAs (offline we cannot resolve SHAs; the header says how to pin): that one audit is off."""
    config = tmp_path / "zizmor.yml"
    config.write_text("rules:\n  unpinned-uses:\n    disable: true\n")
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    files = [str(generated[("github", cloud)]) for cloud in CLOUDS]
    proc = subprocess.run([zizmor, "--offline", "--config", str(config), *files], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
def test_shell_scripts_pass_shellcheck(generated: dict[tuple[str, str], Path], tmp_path: Path) -> None:
    scripts = [TEMPLATES / "plan.sh", *sorted((TEMPLATES / "gitlab").glob("auth-*.sh"))]
    for cloud in CLOUDS:
        pipeline = yaml.safe_load(generated[("gitlab", cloud)].read_text())
        script = tmp_path / f"gitlab-{cloud}.sh"
        script.write_text("\n".join(pipeline[".mbops-deploy"]["before_script"]) + "\n")
        scripts.append(script)
    proc = subprocess.run(["shellcheck", "--shell=bash", "--severity=warning", *map(str, scripts)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def test_embedded_scripts_parse() -> None:
    compile((TEMPLATES / "gitlab" / "comment.py").read_text(), "comment.py", "exec")
    if shutil.which("node"):  # github-script runs the script as the body of an async function
        body = (TEMPLATES / "github" / "comment.js").read_text()
        proc = subprocess.run(["node", "--check", "-"], input=f"(async function () {{\n{body}\n}});\n",
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr


# --- what the pipelines do ------------------------------------------------------------------------------------


def test_github_workflow_shape(generated: dict[tuple[str, str], Path]) -> None:
    for cloud in CLOUDS:
        workflow = yaml.safe_load(generated[("github", cloud)].read_text())
        assert workflow["permissions"] == {"contents": "read"}
        plan = workflow["jobs"]["plan"]
        assert plan["if"] == "github.event_name == 'pull_request'"
        assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}
        assert "id-token" not in plan["permissions"]  # the plan needs no cloud credentials
        uses = [s.get("uses", "") for s in plan["steps"]]
        assert "actions/github-script@v7" in uses
        dev, prod = workflow["jobs"]["deploy-notes-dev"], workflow["jobs"]["deploy-notes-prod"]
        for job, env in ((dev, "dev"), (prod, "prod")):
            assert job["permissions"]["id-token"] == "write"
            assert job["environment"] == env
            assert job["concurrency"] == {"group": f"mbops-deploy-notes-{env}.{cloud}", "cancel-in-progress": False}
            assert job["env"]["MBOPS_BACKEND"] == "${{ vars.MBOPS_BACKEND }}"
            assert job["steps"][-1]["run"] == f"mbops up --yes --cloud {cloud} -f stacks/{env}.yaml"
            assert all("@v" in s["uses"] for s in job["steps"] if "uses" in s)  # pinned to a major at least
        assert prod["needs"] == ["deploy-notes-dev"]
        assert prod["env"]["STRIPE_API_KEY"] == "${{ secrets.STRIPE_API_KEY }}"
        assert "STRIPE_API_KEY" not in dev["env"]
        auth = {s["uses"].split("@")[0]: s.get("with", {}) for s in prod["steps"] if "uses" in s}
        if cloud == "aws":
            assert auth["aws-actions/configure-aws-credentials"] == {
                "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "role-session-name": "mbops-${{ github.run_id }}",
                "role-duration-seconds": 3600 * BootstrapArgs.max_session_hours,  # what the deploy role allows
                "aws-region": "eu-west-1"}  # fmt: skip
        elif cloud == "gcp":
            assert set(auth["google-github-actions/auth"]) == {"workload_identity_provider", "service_account"}
        else:
            assert set(auth["azure/login"]) == {"client-id", "tenant-id", "subscription-id"}
        text = generated[("github", cloud)].read_text()
        assert "aws_access_key_id" not in text.lower() and "credentials_json" not in text  # no long-lived keys


def test_gitlab_pipeline_shape(generated: dict[tuple[str, str], Path]) -> None:
    audiences = {"aws": "sts.amazonaws.com", "gcp": "https://iam.googleapis.com/$GCP_WORKLOAD_IDENTITY_PROVIDER",
                 "azure": "api://AzureADTokenExchange"}  # fmt: skip
    for cloud in CLOUDS:
        pipeline = yaml.safe_load(generated[("gitlab", cloud)].read_text())
        assert pipeline["plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
        dev, prod = pipeline["deploy:notes-dev"], pipeline["deploy:notes-prod"]
        for job, env in ((dev, "dev"), (prod, "prod")):
            assert job["resource_group"] == f"mbops-notes-{env}.{cloud}"
            assert job["id_tokens"] == {"MBOPS_ID_TOKEN": {"aud": audiences[cloud]}}
            assert job["environment"]["name"] == env
            assert job["script"] == [f"mbops up --yes --cloud {cloud} -f stacks/{env}.yaml"]
        assert prod["rules"][0]["when"] == "manual" and "when" not in dev["rules"][0]
        assert prod["environment"]["deployment_tier"] == "production"
        assert prod["needs"] == ["deploy:notes-dev"]


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert _init(root, "github", "aws").exit_code == 0
    target = root / FILES["github"]
    target.write_text("# hand edits\n")
    again = _init(root, "github", "aws")
    assert again.exit_code == 2
    assert f"{target}: already exists; use --force to overwrite it" in again.output
    assert target.read_text() == "# hand edits\n"
    assert _init(root, "github", "aws", "--force").exit_code == 0
    assert target.read_text().startswith("# mbops CI, generated by `mbops ci init --provider github --cloud aws")


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    mismatch = CliRunner().invoke(cli, ["ci", "init", "--provider", "gitlab", "--cloud", "gcp",
                                        "-f", str(root / "stacks/dev.yaml"), "-o", str(root)])  # fmt: skip
    assert mismatch.exit_code == 2 and "cloud: the stack file says 'aws', --cloud says 'gcp'" in mismatch.output
    (root / "stacks" / "bad.yaml").write_text("profile: managed\ncomponents: {database: {sise: 3}}\n")
    bad = CliRunner().invoke(cli, ["ci", "init", "--provider", "github", "--cloud", "aws",
                                   "-f", str(root / "stacks/bad.yaml"), "-o", str(root)])  # fmt: skip
    assert bad.exit_code == 2 and "components.database.sise: unknown field" in bad.output
    outside = CliRunner().invoke(cli, ["ci", "init", "--provider", "github", "--cloud", "aws",
                                       "-f", str(root / "stacks/dev.yaml"), "-o", str(tmp_path / "other")])  # fmt: skip
    assert outside.exit_code == 2 and "must be inside the repository" in outside.output
    assert not (root / FILES["github"]).exists()


def _plan_step_env(tmp_path: Path, head: Path) -> dict[str, str]:
    base = tmp_path / "base"
    shutil.copytree(REPO / "base", base)
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": venv_bin + os.pathsep + os.environ["PATH"], "MBOPS_BASE_DIR": str(base),
            "MBOPS_HEAD_DIR": str(head), "MBOPS_OUT": str(tmp_path / "out"), "MBOPS_BASE_LABEL": "main@abc1234",
            "MBOPS_HEAD_LABEL": "def5678", "GITHUB_OUTPUT": str(tmp_path / "github_output")}  # fmt: skip


def test_github_plan_step_runs_offline(tmp_path: Path) -> None:
    """The plan step itself, run as the runner would: base has the dev stack without a cache; head resizes the
    database, brings the cache back, opens the database to the internet and adds a prod stack."""
    head = _repo(tmp_path)
    assert _init(head, "github", "aws").exit_code == 0
    steps = yaml.safe_load((head / FILES["github"]).read_text())["jobs"]["plan"]["steps"]
    script = next(s for s in steps if s.get("id") == "plan")["run"]
    env = _plan_step_env(tmp_path, head)
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(env["GITHUB_OUTPUT"]).read_text() == "failed=notes-dev\n"
    dev = (tmp_path / "out" / "notes-dev.md").read_text()
    lines = dev.splitlines()
    assert lines[0] == "<!-- mbops-diff: notes-dev.aws -->"
    assert "to add" in lines[1] and "cost **+$" in lines[1] and "policy: 1 new" in lines[1]
    assert "`instanceClass`" in dev and "`publiclyAccessible`" in dev and "database-not-public" in dev
    assert "`main@abc1234` → `def5678`" in dev
    prod = (tmp_path / "out" / "notes-prod.md").read_text()
    assert "(new stack)" in prod.splitlines()[1] and "nothing (new stack)" in prod


class _FakeGitLab(BaseHTTPRequestHandler):
    """Just enough of the GitLab notes API: the token's user, list, create and update notes."""

    notes: list[dict[str, Any]] = []
    calls: list[tuple[str, str]] = []

    def _reply(self, data: Any, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _form(self) -> dict[str, str]:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def do_GET(self) -> None:  # noqa: N802
        assert self.headers["PRIVATE-TOKEN"] == "glpat-test"
        path = urlparse(self.path).path
        self.calls.append(("GET", path))
        if path.endswith("/user"):
            self._reply({"id": 7})
        else:
            self._reply(self.notes)

    def do_POST(self) -> None:  # noqa: N802
        self.calls.append(("POST", urlparse(self.path).path))
        note = {"id": len(self.notes) + 100, "author": {"id": 7}, "body": self._form()["body"]}
        self.notes.append(note)
        self._reply(note, 201)

    def do_PUT(self) -> None:  # noqa: N802
        self.calls.append(("PUT", urlparse(self.path).path))
        note_id = int(self.path.rsplit("/", 1)[1])
        note = next(n for n in self.notes if n["id"] == note_id)
        note["body"] = self._form()["body"]
        self._reply(note)

    def log_message(self, *args: Any) -> None:
        pass


def test_gitlab_note_is_posted_then_updated(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes-dev.md").write_text("<!-- mbops-diff: notes-dev.aws -->\nfirst\n")
    _FakeGitLab.notes = [{"id": 1, "author": {"id": 99}, "body": "<!-- mbops-diff: notes-dev.aws -->\nsomeone"}]
    _FakeGitLab.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGitLab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "MBOPS_GITLAB_TOKEN": "glpat-test", "MBOPS_OUT": str(out), "CI_PROJECT_ID": "42",
               "CI_MERGE_REQUEST_IID": "5", "CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4"}
        script = str(TEMPLATES / "gitlab" / "comment.py")
        first = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        (out / "notes-dev.md").write_text("<!-- mbops-diff: notes-dev.aws -->\nsecond\n")
        second = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
    finally:
        server.shutdown()
        server.server_close()
    mine = [n for n in _FakeGitLab.notes if n["author"]["id"] == 7]
    assert len(mine) == 1 and mine[0]["body"].endswith("second\n")  # created once, then updated in place
    assert _FakeGitLab.notes[0]["body"].endswith("someone")  # another user's note is left alone
    writes = [c for c in _FakeGitLab.calls if c[0] != "GET"]
    assert writes == [("POST", "/api/v4/projects/42/merge_requests/5/notes"),
                      ("PUT", "/api/v4/projects/42/merge_requests/5/notes/101")]  # fmt: skip
