"""``mbops diff``: two real plans of one stack (managed on AWS: a resized database, a new cache, an owner tag)
diffed into the Markdown of a PR comment, JSON and a table; --fail-on exit codes; bad input; replacements."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine.plan import plan
from mbops.engine.plan_diff import diff_plans, failures, input_changes, parse_fail_on
from mbops.engine.plan_diff_md import MAX_CHARS, markdown, utf16_len
from mbops.errors import ConfigError
from mbops.stacks.config import read_stack_file, resolve

DATA = Path(__file__).parent / "data" / "plan_diff"


def _plan(name: str) -> dict[str, Any]:
    path = DATA / f"{name}.yaml"
    return plan(resolve(read_stack_file(path), source=str(path)))


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three fixture plans, as graphs and as files written the way `mbops preview --json` writes them."""
    folder = tmp_path_factory.mktemp("plans")
    out: dict[str, Any] = {}
    for name in ("base", "head", "head-public-db"):
        graph = _plan(name)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(graph, indent=2))
        out[name], out[f"{name}-file"] = graph, path
    return out


def _custom(graph: dict[str, Any], component: str | None = None) -> list[dict[str, Any]]:
    return [r for r in graph["resources"] if r["custom"] and (component is None or r["component"] == component)]


def _instance(graph: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in graph["resources"] if r["type"] == "aws:rds/instance:Instance")


def _section(text: str, title: str) -> str:
    match = re.search(rf"<details><summary><b>{title}</b>.*?</details>", text, re.DOTALL)
    assert match, f"no '{title}' section in:\n{text[:3000]}"
    return match.group(0)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --- the Markdown comment of the fixture pair -----------------------------------------------------------------


def test_markdown_comment_of_resized_database_and_new_cache(plans: dict[str, Any]) -> None:
    base, head = plans["base"], plans["head"]
    result = run("diff", str(plans["base-file"]), str(plans["head-file"]), "--format", "markdown",
                 "--base-label", "main", "--head-label", "feature")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.output
    lines = text.splitlines()

    # A hidden marker first (CI updates the same comment), then the one-line summary.
    assert lines[0] == "<!-- mbops-diff: managed-dev.aws -->"
    cache = _custom(head, "cache")
    assert len(cache) >= 4 and not _custom(base, "cache")
    delta = head["cost"]["monthly_total"] - base["cost"]["monthly_total"]
    assert delta > 100  # db.r6g-class instance and a Redis replication group: well over $100 a month
    pct = delta / base["cost"]["monthly_total"] * 100
    assert lines[1].startswith(f"**mbops** `managed-dev` (managed on aws, dev): {len(cache)} to add, ")
    # The cache's REDIS_URL enters the container definitions: ECS task definitions are immutable (a new revision).
    assert "1 to replace, 0 to remove" in lines[1]
    assert f"cost **+${delta:,.2f}/month** (+{pct:.1f}%, ${base['cost']['monthly_total']:,.2f} → " in lines[1]
    assert "policy: 0 new, 1 resolved" in lines[1]

    # The changed instance class, with both values, in the in-place section (a resize is not a replacement).
    old_class, new_class = _instance(base)["inputs"]["instanceClass"], _instance(head)["inputs"]["instanceClass"]
    assert old_class != new_class and new_class.endswith(".large")
    changed = _section(text, "Changed in place")
    row = next(line for line in changed.splitlines() if "`instanceClass`" in line)
    assert "`managed-dev-db-postgres`" in row and f"`{old_class}` | `{new_class}`" in row
    # The owner tag changed on every tagged resource changed in place (the task definition is replaced): one row
    # with the count, not one row each.
    tagged = [r for r in _custom(base) if "tags" in r["inputs"] and r["name"] != "managed-dev-app-task"]
    assert f"| *{len(tagged)} resources* | `tags.owner` | `unassigned` | `team-mobile` |" in changed
    replaced = _section(text, "Replaced")
    assert "`managed-dev-app-task`" in replaced and "containerDefinitions" in replaced

    # Every cache resource is listed as added, under its component.
    added = _section(text, "Added")
    assert f"<b>Added</b> ({len(cache)})" in added
    for res in cache:
        assert f"| cache | `{res['name']}`" in added

    # Cost: the per-component delta with its sign, and the total.
    cost = _section(text, "Cost")
    db_delta = head["cost"]["by_component"]["database"] - base["cost"]["by_component"]["database"]
    assert f"| database | ${base['cost']['by_component']['database']:,.2f} | " in cost
    assert f"**+${db_delta:,.2f}** |" in cost
    assert f"| **total** | ${base['cost']['monthly_total']:,.2f} | ${head['cost']['monthly_total']:,.2f} | " in cost

    # Findings: the owner-assigned advisory is resolved; nothing new.
    policy = _section(text, "Policy")
    assert "**Resolved**" in policy and "`owner-assigned`" in policy and "**New findings**" not in policy
    assert "`main` → `feature`" in text
    assert utf16_len(text) <= MAX_CHARS


def test_mandatory_finding_is_new_and_warned(plans: dict[str, Any]) -> None:
    diff = diff_plans(plans["base"], plans["head-public-db"])
    assert [f["rule"] for f in diff["policy"]["new"]] == ["database-not-public"]
    assert diff["policy"]["head"]["mandatory"] == 1
    changes = diff["resources"]["changed"]
    assert [(r["name"], [c["path"] for c in r["changes"]]) for r in changes] == [
        ("managed-dev-db-postgres", ["publiclyAccessible"])
    ]
    text = markdown(diff)
    assert "> **1 mandatory policy violation(s)**: `mbops up` refuses to deploy this head." in text
    assert "| mandatory | `database-not-public` (high) | `managed-dev-db-postgres` |" in _section(text, "Policy")


# --- --fail-on ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "conditions", "code"),
    [
        ("head", [], 0),
        ("head", ["mandatory"], 0),
        ("head", ["advisory"], 0),  # one finding resolved, none new
        ("head", ["cost-increase=20%"], 3),  # more than doubles
        ("head", ["cost-increase=500%"], 0),
        ("head", ["cost-increase=50"], 3),  # +$100 and more a month
        ("head", ["cost-increase=$100000"], 0),
        ("head-public-db", ["mandatory"], 3),
        ("head-public-db", ["advisory"], 3),
        ("head-public-db", ["cost-increase=1%"], 0),  # same cost
        ("head-public-db", ["cost-increase=1%", "mandatory"], 3),
    ],
)
def test_fail_on_exit_codes(plans: dict[str, Any], head: str, conditions: list[str], code: int) -> None:
    args = ["diff", str(plans["base-file"]), str(plans[f"{head}-file"]), "--format", "json"]
    for condition in conditions:
        args += ["--fail-on", condition]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)  # the diff is written before the exit code is set
    assert len(document["failed"]) == (1 if code == 3 else 0) or "mandatory" in conditions
    if code == 3:
        assert "mbops diff --fail-on:" in result.stderr


def test_fail_on_reasons_name_the_condition(plans: dict[str, Any]) -> None:
    diff = diff_plans(plans["base"], plans["head"])
    reasons = failures(diff, [parse_fail_on("cost-increase=20%")])
    assert len(reasons) == 1 and reasons[0].startswith("cost-increase=20%: cost rises ")
    assert failures(diff_plans(None, plans["base"]), [parse_fail_on("cost-increase=20%")])[0].startswith(
        "cost-increase=20%: cost rises from nothing"
    )


@pytest.mark.parametrize("value", ["costs", "cost-increase", "cost-increase=lots", "cost-increase=-5%", "fatal"])
def test_bad_fail_on_is_exit_2(plans: dict[str, Any], value: str) -> None:
    result = CliRunner().invoke(cli, ["diff", str(plans["base-file"]), str(plans["head-file"]), "--fail-on", value])
    assert result.exit_code == 2
    assert f"--fail-on '{value}': not a condition; allowed: mandatory, advisory, cost-increase=" in result.output


# --- bad input ------------------------------------------------------------------------------------------------


def _bad(tmp_path: Path, plans: dict[str, Any], content: Any, as_base: bool = False) -> str:
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    args = [str(path), str(plans["head-file"])] if as_base else [str(plans["base-file"]), str(path)]
    result = CliRunner().invoke(cli, ["diff", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def test_bad_input_names_the_file_and_field(plans: dict[str, Any], tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["diff", str(tmp_path / "nope.json"), str(plans["head-file"])])
    assert missing.exit_code == 2 and f"{tmp_path / 'nope.json'}: no such file" in missing.output
    assert "bad.json: not JSON (line 1, column 2" in _bad(tmp_path, plans, "{oops")
    assert "bad.json: version: missing; expected a planned graph" in _bad(tmp_path, plans, {"changes": []})
    assert "bad.json: (top level): a JSON list, not an object" in _bad(tmp_path, plans, [1, 2])
    assert "bad.json: version: 2 is not supported" in _bad(tmp_path, plans, {**plans["head"], "version": 2})
    graph = copy.deepcopy(plans["head"])
    del graph["resources"][3]["urn"]
    assert "bad.json: resources[3].urn: expected a string, missing" in _bad(tmp_path, plans, graph)
    graph = {k: v for k, v in plans["head"].items() if k != "policy"}
    assert "bad.json: policy: missing" in _bad(tmp_path, plans, graph)
    assert "HEAD must be a planned graph" in _bad(tmp_path, plans, "")


def test_plans_of_different_stacks_or_clouds_are_refused(plans: dict[str, Any], tmp_path: Path) -> None:
    other = {**plans["head"], "stack": "billing"}
    out = _bad(tmp_path, plans, other)
    assert "stack: " in out and "plans stack 'managed-dev'" in out and "plans 'billing'" in out
    out = _bad(tmp_path, plans, {**plans["head"], "cloud": "gcp"})
    assert "cloud: " in out and "plans cloud 'aws'" in out


def test_empty_base_is_a_new_stack(plans: dict[str, Any], tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    result = run("diff", str(empty), str(plans["head-file"]), "--format", "json")
    diff = json.loads(result.output)
    assert diff["summary"]["add"] == len(_custom(plans["head"])) and diff["base"]["exists"] is False
    assert diff["cost"]["delta"] == plans["head"]["cost"]["monthly_total"] and diff["cost"]["delta_percent"] is None
    assert "(new stack)" in markdown(diff_plans(None, plans["head"])).splitlines()[1]


# --- what counts as a change, a replacement -------------------------------------------------------------------


def _edited(graph: dict[str, Any], type_token: str, **inputs: Any) -> dict[str, Any]:
    out = copy.deepcopy(graph)
    res = next(r for r in out["resources"] if r["type"] == type_token)
    res["inputs"].update(inputs)
    return out


def test_replace_triggering_inputs(plans: dict[str, Any]) -> None:
    base = plans["base"]
    engine = diff_plans(base, _edited(base, "aws:rds/instance:Instance", engine="mysql"))
    (replaced,) = engine["resources"]["replaced"]
    assert replaced["name"] == "managed-dev-db-postgres" and replaced["certain"] and replaced["stateful"]
    assert replaced["reason"] == "engine forces replacement"
    text = markdown(engine)
    assert "> **Replaces 1 resource(s) that hold data**: `managed-dev-db-postgres`." in text
    assert "**replace**: engine forces replacement (holds data)" in _section(text, "Replaced")

    version = diff_plans(base, _edited(base, "aws:rds/instance:Instance", engineVersion="17"))
    (maybe,) = version["resources"]["replaced"]
    assert maybe["certain"] is False and maybe["reason"] == "engineVersion may force replacement"
    assert "> **May replace 1 resource(s) that hold data**" in markdown(version)

    resized = diff_plans(base, _edited(base, "aws:rds/instance:Instance", allocatedStorage=500))
    assert [r["name"] for r in resized["resources"]["changed"]] == ["managed-dev-db-postgres"]
    assert not resized["resources"]["replaced"]


def test_renamed_or_retyped_resources_are_replacements(plans: dict[str, Any]) -> None:
    head = copy.deepcopy(plans["base"])
    bucket = next(r for r in head["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    bucket["urn"] = bucket["urn"].replace(bucket["name"], "managed-dev-assets")
    bucket["name"] = "managed-dev-assets"
    diff = diff_plans(plans["base"], head)
    (replaced,) = diff["resources"]["replaced"]
    assert replaced["reason"] == "renamed from managed-dev-files-bucket" and replaced["stateful"]
    assert diff["summary"] == {**diff["summary"], "add": 0, "remove": 0, "replace": 1}

    head = copy.deepcopy(plans["base"])
    log = next(r for r in head["resources"] if r["name"] == "managed-dev-app-logs")
    log["type"] = "aws:cloudwatch/logGroup:Group"
    log["urn"] = log["urn"].replace("logGroup:LogGroup", "logGroup:Group")
    (retyped,) = diff_plans(plans["base"], head)["resources"]["replaced"]
    assert retyped["reason"] == "its type changed from aws:cloudwatch/logGroup:LogGroup"


def test_removed_data_is_warned(plans: dict[str, Any]) -> None:
    diff = diff_plans(plans["head"], _plan("base"))  # the other way round: the cache goes away
    assert {r["component"] for r in diff["resources"]["removed"]} == {"cache"}
    assert "> **Removes " in markdown(diff) and "`managed-dev-cache-redis`" in markdown(diff)
    assert diff["cost"]["delta"] < 0 and "cost **-$" in markdown(diff).splitlines()[1]


def test_input_changes_paths_documents_and_secrets() -> None:
    base = {
        "tags": {"app": "a", "kubernetes.io/role": "x"},
        "password": "[secret]",
        "policy": json.dumps({"Statement": [{"Action": ["s3:GetObject"], "Resource": "a"}]}),
        "ingress": [{"port": 443, "cidr": ["10.0.0.0/8"]}, {"port": 80, "cidr": ["10.0.0.0/8"]}],
        "zones": ["a", "b"],
    }
    head = copy.deepcopy(base)
    head["tags"]["kubernetes.io/role"] = "y"
    head["policy"] = json.dumps({"Statement": [{"Action": ["s3:GetObject", "s3:PutObject"], "Resource": "a"}]})
    head["ingress"].insert(0, {"port": 22, "cidr": ["10.1.0.0/16"]})
    head["zones"].append("c")
    assert input_changes(base, head) == [
        ("ingress[0]", input_changes.__globals__["_ABSENT"], {"port": 22, "cidr": ["10.1.0.0/16"]}),
        ("policy.Statement[0].Action", ["s3:GetObject"], ["s3:GetObject", "s3:PutObject"]),
        ('tags["kubernetes.io/role"]', "x", "y"),
        ("zones", ["a", "b"], ["a", "b", "c"]),
    ]
    assert input_changes({"password": "[secret]"}, {"password": "[secret]"}) == []


def test_comment_stays_under_githubs_limit(plans: dict[str, Any]) -> None:
    head = copy.deepcopy(plans["head"])
    for res in head["resources"]:
        if res["custom"]:
            res["inputs"]["userData"] = "x" * 3000 + res["name"]
    many = []
    for i in range(600):  # 600 copies of every resource: a monorepo-sized plan
        for res in head["resources"][:10]:
            clone = copy.deepcopy(res)
            clone["urn"] += f"-{i}"
            clone["name"] += f"-{i}"
            many.append(clone)
    head["resources"] += many
    diff = diff_plans(plans["base"], head)
    text = markdown(diff)
    assert utf16_len(text) <= MAX_CHARS
    assert text.splitlines()[0] == "<!-- mbops-diff: managed-dev.aws -->"
    assert text.count("<details>") == text.count("</details>")
    assert "more resources not shown: the full diff is `mbops diff --format json`" in text
    with pytest.raises(ConfigError):
        failures(diff_plans(None, {**head, "cost": {}}), [parse_fail_on("cost-increase=1%")])


def test_table_and_subprocess(plans: dict[str, Any]) -> None:
    result = run("diff", str(plans["base-file"]), str(plans["head-file"]))
    assert result.exit_code == 0
    assert "instanceClass" in result.output and "managed-dev-cache-redis" in result.output
    assert "Diff: " in result.output and "to add" in result.output
    proc = subprocess.run(
        [sys.executable, "-m", "mbops.cli", "diff", str(plans["base-file"]), str(plans["head-public-db-file"]),
         "--format", "markdown", "--fail-on", "mandatory"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("<!-- mbops-diff: managed-dev.aws -->\n**mbops** `managed-dev`")
    assert "Error: mbops diff --fail-on: mandatory: head has 1 mandatory policy finding(s)" in proc.stderr
