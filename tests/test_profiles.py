"""``mbops profiles``: the list, and ``profiles show`` with the same stack options and defaults as every command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mbops.cli.main import cli


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_profiles_lists_the_three_profiles():
    code, out = run("profiles", "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert sorted(r["name"] for r in rows) == ["custom", "managed", "saas"]
    assert all(r["components"] and r["app_runs_on"] for r in rows)


def test_show_defaults_to_the_local_cloud_and_dev_like_every_stack_command():
    code, out = run("profiles", "show", "managed", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["profile"], data["cloud"], data["environment"]) == ("managed", "local", "dev")
    kinds = {c["kind"] for c in data["components"]}
    assert {"containers", "database", "storage"} <= kinds
    assert any(c["resources"] for c in data["components"])


def test_show_takes_the_stack_options_and_their_variables():
    code, out = run("profiles", "show", "-p", "custom", "-e", "dev", "--json", env={"MBOPS_CLOUD": "aws"})
    assert code == 0, out
    data = json.loads(out)
    assert (data["profile"], data["cloud"], data["environment"]) == ("custom", "aws", "dev")
    servers = next(c for c in data["components"] if c["kind"] == "servers")
    assert servers["resources"].get("aws:autoscaling/group:Group") == 1
    # NAME wins over a variable, but not over a flag that says otherwise
    code, out = run("profiles", "show", "saas", "-c", "aws", "--json", env={"MBOPS_PROFILE": "custom"})
    assert code == 0 and json.loads(out)["profile"] == "saas", out
    code, out = run("profiles", "show", "saas", "-p", "custom")
    assert code == 2 and "NAME 'saas' and --profile 'custom' disagree" in out


def test_show_names_the_variable_a_bad_value_came_from():
    code, out = run("profiles", "show", "-c", "aws", env={"MBOPS_PROFILE": "sass"})
    assert code == 2 and "MBOPS_PROFILE" in out
    code, out = run("profiles", "show", "managed", env={"MBOPS_CLOUD": "oracle"})
    assert code == 2 and "MBOPS_CLOUD" in out


def test_show_reads_a_stack_file_and_writes_numbers_as_a_person_would(tmp_path: Path):
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        "profile: managed\ncloud: aws\napp: {max_replicas: 1000}\ncomponents: {database: {storage_gb: 2000}}\n"
    )
    code, out = run("profiles", "show", "-f", str(stack))
    assert code == 0, out
    assert "storage_gb=2,000" in out and "profile managed on aws (dev, us-east-1)" in out
    assert "e+0" not in out and "=-1" not in out


def test_show_says_each_gap_once(planned):
    graph = planned("saas", "gcp", "dev")
    gaps = [*graph["unavailable"], *graph["limitations"]]
    code, out = run("profiles", "show", "saas", "-c", "gcp")
    assert code == 0, out
    text = " ".join(out.split())
    for gap in gaps:
        assert text.count(f"on gcp: {gap['kind']} —") == 1, gap
