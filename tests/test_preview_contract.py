"""The planned graph: the JSON contract of `mbops preview --json`, and the CLI around it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources as pkg_resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from tests.conftest import ENVIRONMENTS, PROFILES

SCHEMA = json.loads(pkg_resources.files("mbops.engine").joinpath("planned-graph.schema.json").read_text())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_preview_json_matches_the_schema(profile: str, environment: str) -> None:
    args = ["preview", "--cloud", "aws", "--profile", profile, "--env", environment, "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    graph = json.loads(result.output)
    jsonschema.validate(graph, SCHEMA)
    assert (graph["profile"], graph["cloud"], graph["environment"]) == (profile, "aws", environment)
    assert graph["summary"]["create"] == sum(1 for r in graph["resources"] if r["custom"])


def test_every_resource_has_a_parent_component_and_a_known_urn(planned) -> None:
    graph = planned("managed", "aws", "dev")
    urns = {r["urn"] for r in graph["resources"]}
    for res in graph["resources"]:
        if res["custom"]:
            assert res["parent"] in urns, f"{res['name']} is not parented to a component"
            assert res["component"], f"{res['name']} belongs to no component"
        assert "pulumi:pulumi:Stack" not in res["urn"], "URNs must not carry the root stack type"


def test_secrets_never_appear_in_the_plan(planned, monkeypatch) -> None:
    text = json.dumps(planned("managed", "aws", "prod"))
    assert "1b47061264138c4ac30d75fd1eb44270" not in text, "a secret was serialized in wire form"
    assert "04da6b54-80e4-46f7-96ec-b56ff0331ba9" not in text, "unknowns must read as [computed]"


def test_secret_env_values_are_redacted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MY_API_TOKEN", "s3cr3t-value-123")
    path = tmp_path / "stack.yaml"
    path.write_text("profile: managed\ncloud: aws\napp:\n  secret_env: {API_TOKEN: 'env:MY_API_TOKEN'}\n")
    result = CliRunner().invoke(cli, ["preview", "-f", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value-123" not in result.output
    assert "[secret]" in result.output


def test_preview_table_has_a_summary_line() -> None:
    result = CliRunner().invoke(cli, ["preview", "--cloud", "aws", "--profile", "custom"])
    assert result.exit_code == 0, result.output
    assert "Plan for custom-dev (custom on aws, dev):" in result.output
    assert "to create" in result.output


def test_profiles_lists_the_three_profiles() -> None:
    result = CliRunner().invoke(cli, ["profiles", "--json"])
    assert result.exit_code == 0
    assert [p["name"] for p in json.loads(result.output)] == ["custom", "managed", "saas"]


def test_profiles_show_lists_cloud_resources_per_component() -> None:
    result = CliRunner().invoke(cli, ["profiles", "show", "managed", "--cloud", "aws", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    kinds = {c["kind"]: c for c in data["components"]}
    assert set(kinds) == {"network", "containers", "database", "storage", "cache", "secrets", "registry"}
    assert "aws:ec2/vpc:Vpc" in kinds["network"]["resources"]
    assert "aws:s3/bucket:Bucket" in kinds["storage"]["resources"]


def test_help_imports_no_provider_sdk() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom mbops.cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi', 'pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native', 'pydantic', 'rich')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_mbops_console_script_runs_as_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mbops.cli", "preview", "--cloud", "aws", "--profile", "saas", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    graph = json.loads(proc.stdout)
    assert graph["profile"] == "saas" and graph["resources"]


def test_resources_come_in_a_stable_order(planned) -> None:
    from mbops.engine.plan import stable_order

    resources = planned("managed", "aws", "prod")["resources"]
    assert resources == sorted(resources, key=stable_order), "plans are diffed: their order must not vary"
    assert resources[0]["component"] in (None, "network")
