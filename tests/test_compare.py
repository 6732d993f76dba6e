"""``mbops compare``: every profile on the three clouds side by side; the HTML report in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.cost.estimate import estimate
from mbops.engine.compare import SHARED, Comparison, compare, markdown, summarize
from mbops.engine.compare_html import html
from mbops.stacks.config import resolve

CLOUDS = ["aws", "gcp", "azure"]
PROFILES = ("saas", "managed", "custom")
# Kinds that cost money on every cloud once free tiers are ignored (usage free_tiers: 0).
PRICED = {"network", "containers", "serverless", "servers", "database", "docdb", "storage", "cache", "cdn"}


def from_plans(planned: Any, profile: str, env: str = "dev", with_svg: bool = False, **usage: float) -> Comparison:
    """The comparison assembled from the session's cached plans (what each worker computes)."""
    columns = {}
    for cloud in CLOUDS:
        graph = planned(profile, cloud, env)
        if usage:
            stack = resolve(profile=profile, cloud=cloud, environment=env).model_copy(update={"usage": usage})
            graph = {**graph, "cost": estimate(graph, stack)}
        columns[cloud] = {**summarize(graph, with_svg=with_svg), "seconds": 0.0}
    return Comparison(profile=profile, environment=env, clouds=CLOUDS, columns=columns, seconds=0.0, workers=0)


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_has_all_clouds_the_same_kinds_and_costs(planned, profile):
    report = from_plans(planned, profile, free_tiers=0).as_dict()
    assert report["clouds"] == CLOUDS and set(report["columns"]) == set(CLOUDS)
    profile_kinds = set(resolve(profile=profile, cloud="aws").components)
    assert profile_kinds <= set(report["kinds"]) <= profile_kinds | {SHARED}
    for cloud, column in report["columns"].items():
        assert column["ok"], column.get("error")
        assert list(column["kinds"]) == report["kinds"], f"{cloud} has different component rows"
        assert column["monthly_total"] > 0 and column["resource_count"] > 0
        assert column["monthly_total"] == pytest.approx(sum(k["monthly"] for k in column["kinds"].values()), abs=0.05)
        for kind, cell in column["kinds"].items():
            if cell["unavailable"]:
                assert kind in {u["kind"] for u in column["unavailable"]} and cell["unavailable"]["reason"]
                continue
            if kind in profile_kinds:
                assert cell["resource_count"] > 0, f"{cloud} plans nothing for {kind}"
                assert cell["capability"]["service"], f"no capability notes for {cloud} {kind}"
            if kind in PRICED:
                assert cell["monthly"] > 0, f"{cloud} {kind} should cost something"
            assert set(cell["policy"]) == {"mandatory", "advisory"}
        assert column["diagram"]["mermaid"].startswith("flowchart LR")
        assert column["catalog"]["as_of"] and column["catalog"]["sources"]


def test_capability_facts_follow_the_plan(planned):
    dev = from_plans(planned, "managed", "dev")
    prod = from_plans(planned, "managed", "prod")
    assert dev.cell("aws", "database")["facts"] == ["Multi-AZ: off"]
    assert prod.cell("aws", "database")["facts"] == ["Multi-AZ: on"]
    assert prod.cell("gcp", "database")["facts"] == ["availability: REGIONAL"]
    assert prod.cell("azure", "database")["facts"] == ["HA: ZoneRedundant"]
    assert dev.cell("gcp", "cache")["facts"] == ["tier: BASIC"] and prod.cell("gcp", "cache")["facts"] == [
        "tier: STANDARD_HA"
    ]
    assert prod.columns["aws"]["monthly_total"] > dev.columns["aws"]["monthly_total"]


def test_gaps_show_as_not_available(planned):
    saas = from_plans(planned, "saas")
    unavailable = {c: {u["kind"] for u in saas.columns[c]["unavailable"]} for c in CLOUDS}
    for cloud, kinds in unavailable.items():
        for kind in kinds:
            assert saas.cell(cloud, kind)["unavailable"]["alternative"]
    text = markdown(saas)
    if any(unavailable.values()):
        assert "**not available**" in text
    assert "## Assumptions" in text and "`requests_per_month=2,000,000`" in text and "## Prices" in text


def test_parallel_compare_matches_single_plans(planned):
    result = compare(profile="managed", environment="dev", clouds=CLOUDS, workers=3)
    assert result.workers == 3 and result.failed == []
    cached = from_plans(planned, "managed")
    for cloud in CLOUDS:
        column = result.columns[cloud]
        assert column["seconds"] > 0
        assert column["monthly_total"] == cached.columns[cloud]["monthly_total"]
        assert column["kinds"].keys() == cached.columns[cloud]["kinds"].keys()
        for kind in column["kinds"]:
            assert column["kinds"][kind]["resources"] == cached.columns[cloud]["kinds"][kind]["resources"]
    timing = result.timing()
    assert timing["wall_s"] >= max(timing["per_cloud_s"].values())


def test_cli_compare_json_one_cloud_and_bad_input(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["compare", "--profile", "custom", "--clouds", "aws", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["clouds"] == ["aws"] and data["columns"]["aws"]["kinds"]["servers"]["monthly"] > 0
    bad = runner.invoke(cli, ["compare", "--profile", "custom", "--clouds", "aws,oracle"])
    assert bad.exit_code == 2 and "unknown cloud oracle" in bad.output
    bad = runner.invoke(cli, ["compare", "--profile", "custom", "--region", "eu-west-1"])
    assert bad.exit_code == 2 and "use CLOUD=REGION" in bad.output
    stack_file = tmp_path / "s.yaml"
    stack_file.write_text("profile: saas\nregion: eu-west-1\nusage: {cdn_egress: 5}\n")
    bad = runner.invoke(cli, ["compare", "-f", str(stack_file)])
    assert bad.exit_code == 2 and "usage: unknown key cdn_egress" in bad.output


def test_stack_file_region_applies_to_its_cloud_only(tmp_path):
    stack_file = tmp_path / "s.yaml"
    stack_file.write_text("profile: custom\nregion: eu-west-1\nusage: {storage_gb: 1000}\n")
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            "-f",
            str(stack_file),
            "--clouds",
            "aws,gcp",
            "--format",
            "json",
            "--region",
            "gcp=europe-west1",
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    columns = json.loads(result.output)["columns"]
    assert columns["aws"]["region"] == "eu-west-1" and columns["gcp"]["region"] == "europe-west1"
    assert columns["aws"]["assumptions"]["storage_gb"] == 1000 and columns["aws"]["overridden"] == ["storage_gb"]
    assert "region_fallback" not in columns["gcp"]["catalog"]


# --- the HTML report ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html(planned: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "managed.html"
    path.write_text(html(from_plans(planned, "managed", with_svg=True)))
    return path


def test_html_is_one_self_contained_file(report_html):
    text = report_html.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    assert not re.search(r"<(script|link|img|iframe)\b", text), "nothing may be fetched"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    for cloud in CLOUDS:
        assert f'class="card" data-cloud="{cloud}"' in text and f'class="diagram" data-cloud="{cloud}"' in text
    if shutil.which("dot"):
        assert text.count("<svg") == 3
    else:
        assert text.count('<pre class="mermaid">') == 3


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def run_chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    assert exe is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed (Debian package chromium)")
def test_html_renders_in_headless_chromium_with_the_three_clouds(report_html, tmp_path):
    done = run_chromium(["--dump-dom", report_html.as_uri()], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<h1>managed profile, dev: aws, gcp, azure</h1>" in dom
    for cloud in CLOUDS:
        card = re.search(
            rf'<div class="card" data-cloud="{cloud}"><h2>{cloud}</h2><div><span class="total">\$[\d,.]+', dom
        )
        assert card, f"no {cloud} card with a total in the rendered page"
    assert dom.count("<svg") == (3 if shutil.which("dot") else 0)
    shot = tmp_path / "report.png"
    done = run_chromium(["--window-size=1280,2000", f"--screenshot={shot}", report_html.as_uri()], tmp_path)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000) and len(data) > 50_000, "the page rendered (almost) empty"


def test_cli_compare_html_to_file(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli, ["compare", "--profile", "saas", "--clouds", "gcp", "--format", "html", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert 'data-cloud="gcp"' in text and "Assumptions" in text and "catalog as of" in text


def test_a_failed_cloud_is_reported_and_the_others_still_shown(monkeypatch, tmp_path):
    import mbops.engine.plan

    real = mbops.engine.plan.plan

    def flaky(stack: Any, **kwargs: Any) -> Any:
        if stack.cloud == "gcp":
            raise KeyError("boom")
        return real(stack, **kwargs)

    monkeypatch.setattr(mbops.engine.plan, "plan", flaky)
    out = tmp_path / "r.md"
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            "--profile",
            "custom",
            "--clouds",
            "aws,gcp",
            "--workers",
            "1",
            "--format",
            "markdown",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 1
    assert "the plan failed on gcp (internal error: KeyError: 'boom')" in result.output
    text = out.read_text()
    assert "> **gcp: plan failed** — internal error: KeyError: 'boom'" in text and "| aws (us-east-1) |" in text
