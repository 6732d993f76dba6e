"""``mbops compare``: every profile on the three clouds side by side; the HTML report in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.cost.estimate import estimate
from mbops.engine.capabilities import capability
from mbops.engine.compare import SHARED, Comparison, compare, summarize
from mbops.engine.compare_html import html
from mbops.engine.compare_md import markdown
from mbops.engine.diagram import model
from mbops.errors import ConfigError
from mbops.stacks.config import resolve

CLOUDS = ["aws", "gcp", "azure"]
PROFILES = ("saas", "managed", "custom")
# Kinds that cost money on every cloud once free tiers are ignored (usage free_tiers: 0).
PRICED = {"network", "containers", "serverless", "servers", "database", "docdb", "storage", "cache", "cdn"}


def from_plans(
    planned: Any, profile: str, env: str = "dev", with_svg: bool = False, preset: str | None = None, **usage: float
) -> Comparison:
    """The comparison assembled from the session's cached plans (what each worker computes)."""
    columns = {}
    for cloud in CLOUDS:
        graph = planned(profile, cloud, env)
        if usage or preset:
            stack = resolve(profile=profile, cloud=cloud, environment=env).model_copy(update={"usage": usage})
            graph = {**graph, "cost": estimate(graph, stack, preset=preset)}
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


@pytest.mark.parametrize("env", ("dev", "prod"))
def test_each_cell_carries_the_plans_own_capability_notes(planned, env):
    report = from_plans(planned, "managed", env)
    for cloud in CLOUDS:
        graph = planned("managed", cloud, env)
        for kind in report.kinds:
            cell = report.cell(cloud, kind)
            if kind != SHARED and cell["resource_count"]:
                assert cell["capability"] == capability(graph, kind)
    dev, prod = from_plans(planned, "managed", "dev"), from_plans(planned, "managed", "prod")
    assert prod.columns["aws"]["monthly_total"] > dev.columns["aws"]["monthly_total"]


def test_gaps_show_as_not_available_or_partly(planned):
    saas = from_plans(planned, "saas")
    for cloud in CLOUDS:
        for gap in saas.columns[cloud]["unavailable"]:
            assert saas.cell(cloud, gap["kind"])["unavailable"] == gap
        for gap in saas.columns[cloud]["limitations"]:
            cell = saas.cell(cloud, gap["kind"])
            assert cell["limitation"] == gap and not cell["unavailable"] and cell["resource_count"]
    text = markdown(saas)
    if any(saas.columns[c]["unavailable"] for c in CLOUDS):
        assert "**not available**" in text
    if any(saas.columns[c]["limitations"] for c in CLOUDS):
        assert "**partly: " in text
    assert "## Assumptions" in text and "- `requests_per_month`: 2,000,000 requests" in text and "## Prices" in text


# 2e+06 (Python's exponent form), a derived -1 shown as a value, $12.5 or $1500 (money without 2 decimals / commas)
NUMBER_SMELLS = re.compile(r"(?<![\w-])\d+(?:\.\d+)?e[+-]\d\d\b|=-1\b|: -1\b|\$\d+\.\d(?!\d)|\$\d{4,}")


def test_numbers_read_like_a_person_wrote_them(planned):
    """2,000,000 (never 2e+06), no derived -1 shown as a value, money with two decimals and thousands separators."""
    report = from_plans(planned, "managed", "prod", preset="large")
    md, page = markdown(report), html(report)
    for text in (md, page):
        assert not NUMBER_SMELLS.search(text), NUMBER_SMELLS.search(text)
        assert "500,000,000" in text  # the large preset's requests_per_month
        assert "from the plan: the planned minimum (app.min_replicas)" in text  # replicas is derived, not -1
    totals = [report.columns[c]["monthly_total"] for c in CLOUDS]
    assert all(f"${t:,.2f}" in page and f"${t:,.2f}" in md for t in totals)
    assert any(t >= 1000 for t in totals) and re.search(r"\$\d{1,3},\d{3}\.\d{2}", md)


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
    bad = runner.invoke(cli, ["compare", "--profile", "custom", "-c", "aws,oracle"])
    assert bad.exit_code == 2 and "unknown cloud oracle" in bad.output
    bad = runner.invoke(cli, ["compare", "--profile", "custom", "-r", "eu-west-1"])
    assert bad.exit_code == 2 and "use CLOUD=REGION" in bad.output
    bad = runner.invoke(cli, ["compare", "-c", "aws"], env={"MBOPS_PROFILE": "sass"})
    assert bad.exit_code == 2 and "MBOPS_PROFILE" in bad.output
    bad = runner.invoke(cli, ["compare", "-c", "aws"], env={"MBOPS_USAGE_PRESET": "huge"})
    assert bad.exit_code == 2 and "MBOPS_USAGE_PRESET" in bad.output and "small" in bad.output
    stack_file = tmp_path / "s.yaml"
    stack_file.write_text("profile: saas\nregion: eu-west-1\nusage: {cdn_egress: 5}\n")
    bad = runner.invoke(cli, ["compare", "-f", str(stack_file)])
    assert bad.exit_code == 2 and "usage: unknown key cdn_egress" in bad.output


def test_stack_file_region_applies_to_its_cloud_only(tmp_path):
    stack_file = tmp_path / "s.yaml"
    stack_file.write_text("profile: custom\nregion: eu-west-1\nusage: {storage_gb: 1000}\n")
    result = CliRunner().invoke(
        cli, ["compare", "-f", str(stack_file), "-c", "aws,gcp", "--format", "json", "-r", "gcp=europe-west1",
              "--workers", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    columns = json.loads(result.output)["columns"]
    assert columns["aws"]["region"] == "eu-west-1" and columns["gcp"]["region"] == "europe-west1"
    assert columns["aws"]["assumptions"]["storage_gb"] == 1000 and columns["aws"]["overridden"] == ["storage_gb"]
    assert "region_fallback" not in columns["gcp"]["catalog"]


# --- the HTML report ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html(planned: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "managed.html"
    path.write_text(html(from_plans(planned, "managed", "prod", with_svg=True)))
    return path


@pytest.fixture(scope="module")
def fallback_html(planned: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report as it is made on a machine without Graphviz."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mbops.engine.diagram.shutil.which", lambda name: None)
        report = from_plans(planned, "managed", "prod", with_svg=True)
    path = tmp_path_factory.mktemp("report") / "managed-no-graphviz.html"
    path.write_text(html(report))
    return path


def assert_self_contained(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", text), "nothing may be fetched"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert not re.search(r"url\((?!#)|@import", text), "only in-page references (url(#id))"
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "the three diagrams' ids must not clash in one page"


def test_html_is_one_self_contained_file(report_html):
    text = report_html.read_text()
    assert_self_contained(text)
    for cloud in CLOUDS:
        assert f'class="card" data-cloud="{cloud}"' in text and f'class="diagram" data-cloud="{cloud}"' in text
    assert text.count("<svg") == 3 and '<pre class="mermaid">' not in text  # a drawn diagram, whatever is installed
    assert "<h2>Monitoring</h2>" in text and "alerts go to" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' is not installed (Debian package graphviz)")
def test_html_diagrams_come_from_graphviz_when_installed(report_html):
    text = report_html.read_text()
    assert text.count('class="graph"') == 3 and text.count("Laid out by Graphviz.") == 3  # dot's own markup


def test_html_without_graphviz_draws_its_own_svg(fallback_html, planned):
    text = fallback_html.read_text()
    assert_self_contained(text)
    assert 'class="graph"' not in text and text.count("Graphviz&#x27;s dot is not installed") == 3
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    assert len(svgs) == 3
    for cloud, markup in zip(CLOUDS, svgs, strict=True):
        root = ET.fromstring(markup)
        groups = list(root.iter("{http://www.w3.org/2000/svg}g"))
        nodes = {g.get("data-node") for g in groups if g.get("data-node")}
        edges = {g.get("data-edge") for g in groups if g.get("data-edge")}
        graph = planned("managed", cloud, "prod")
        kinds = {r["component"] for r in graph["resources"] if r["custom"]} - {None}
        assert nodes - {"ops"} == {"users"} | kinds - {"network"}, cloud
        entries = {f"users->{k}" for k in model(graph).entry}
        assert entries and entries | {"containers->database", "containers->storage"} <= edges, cloud
        labels = "".join(root.itertext())
        assert "PostgreSQL" in labels and re.search(r"\bHTTPS?\b", labels)


def test_cli_compare_html_to_file(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["compare", "-p", "saas", "-c", "gcp", "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert 'data-cloud="gcp"' in text and "Assumptions" in text and "catalog as of" in text
    assert text.count("<svg") == 1


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
@pytest.mark.parametrize("page", ("report_html", "fallback_html"))
def test_html_renders_in_headless_chromium_with_the_three_clouds(page, request, tmp_path):
    report_html = request.getfixturevalue(page)
    done = run_chromium(["--dump-dom", report_html.as_uri()], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<h1>managed profile, prod: aws, gcp, azure</h1>" in dom
    for cloud in CLOUDS:
        card = re.search(
            rf'<div class="card" data-cloud="{cloud}"><h2>{cloud}</h2><div><span class="total">\$[\d,.]+', dom
        )
        assert card, f"no {cloud} card with a total in the rendered page"
    assert dom.count("<svg") == 3
    shot = tmp_path / "report.png"
    done = run_chromium(["--window-size=1280,2000", f"--screenshot={shot}", report_html.as_uri()], tmp_path)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000) and len(data) > 50_000, "the page rendered (almost) empty"


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


# --- cost options, monitoring, gaps said once ---------------------------------------------------------------


def test_usage_preset_and_free_tiers_show_in_every_format(planned, tmp_path):
    from mbops.cli.compare import print_table

    report = from_plans(planned, "saas", preset="medium")
    assert all(report.columns[c]["preset"] == "medium" for c in CLOUDS)
    line = "usage preset medium; free tiers not deducted"
    table = tmp_path / "table.txt"
    print_table(report, table)
    for text in (markdown(report), html(report), table.read_text()):
        assert line in text.replace("\n", " ")
    assert "50,000,000 requests" in markdown(report)
    small = from_plans(planned, "saas", preset="small")
    assert all(report.columns[c]["monthly_total"] > small.columns[c]["monthly_total"] for c in CLOUDS)


def test_cli_compare_cost_options_reach_the_estimate(tmp_path):
    out = tmp_path / "r.json"
    args = ["compare", "-p", "custom", "-c", "aws", "--usage-preset", "large", "--free-tiers", "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    column = json.loads(out.read_text())["columns"]["aws"]
    assert column["preset"] == "large" and column["free_tiers"] is True
    assert column["assumptions"]["requests_per_month"] == 500_000_000


def test_a_bad_usage_preset_fails_before_any_plan():
    started = time.perf_counter()
    with pytest.raises(
        ConfigError, match=r"--usage-preset: unknown usage preset 'huge'; allowed: small, medium, large"
    ):
        compare(profile="managed", clouds=CLOUDS, usage_preset="huge")
    assert time.perf_counter() - started < 1.0


def test_compare_shows_the_monitoring_each_cloud_gets(planned):
    report = from_plans(planned, "managed", "prod")
    md, page = markdown(report), html(report)
    for cloud in CLOUDS:
        monitoring = report.columns[cloud]["monitoring"]
        assert set(monitoring) >= {"alarms", "uptime_checks", "dashboards", "budgets", "notify", "lines"}
        graph = planned("managed", cloud, "prod")
        if any(u["kind"] == "monitoring" for u in graph["unavailable"]):
            assert f"- {cloud}: not available: " in md
        elif monitoring["lines"]:
            assert f"- {cloud}: {'; '.join(monitoring['lines'])}" in md
        assert f"<th>{cloud}</th>" in page


def test_each_gap_is_said_once(planned, tmp_path, capsys):
    from mbops.cli.compare import print_table
    from mbops.cli.render import gap_lines, print_plan

    report = from_plans(planned, "saas")
    out = tmp_path / "table.txt"
    print_table(report, out)
    table = " ".join(out.read_text().split())
    for cloud in CLOUDS:
        graph = planned("saas", cloud, "dev")
        for line in gap_lines(graph):
            assert table.count(" ".join(line.split())) == 1, line
    gap = {"kind": "auth", "reason": "no password policy.", "alternative": "set it in the console"}
    graph = {"stack": "s", "profile": "saas", "cloud": "gcp", "environment": "dev", "region": "r", "resources": [],
             "unavailable": [],
             "limitations": [gap], "warnings": ["partly available on gcp: auth — no password policy.", "other"],
             "policy": [], "summary": {}}  # fmt: skip
    print_plan(graph)
    text = " ".join(capsys.readouterr().out.split())
    assert text.count("no password policy") == 1 and "Use: set it in the console" in text and "other" in text


def test_a_gap_reads_as_sentences_in_every_form(planned, tmp_path, capsys):
    """Issue: `storage_gb sets the starting size Use: the db-storage alert`: the reason ran into what to use
    instead; the table printed `partly available ...` and the HTML run `warning: partly available ...`."""
    from mbops.cli.compare import _warn_gaps, print_table
    from mbops.cli.render import gap_line

    gap = {"kind": "database", "reason": "storage_gb sets the starting size", "alternative": "the db-storage alert"}
    line = "partly available on azure: database — storage_gb sets the starting size. Use: the db-storage alert"
    assert gap_line("partly available", "azure", gap) == line
    assert gap_line("partly available", "azure", {**gap, "reason": gap["reason"] + "."}) == line  # no ".."
    report = from_plans(planned, "managed", "prod")
    gaps = [g for x in CLOUDS for g in report.columns[x]["limitations"] + report.columns[x]["unavailable"]]
    assert gaps, "a prod managed stack lacks something somewhere (Azure: max_storage_gb)"
    out = tmp_path / "table.txt"
    print_table(report, out)
    table = " ".join(out.read_text().split())
    _warn_gaps(report)
    stderr = capsys.readouterr().err.splitlines()
    assert stderr and all(" ".join(s.split()) in table for s in stderr)  # the same words in both forms
    assert "warning:" not in table and not any(s.startswith("warning:") for s in stderr)
    flat = " ".join((html(report) + markdown(report)).split())
    for g in gaps:
        reason = g["reason"].rstrip(".")
        assert f"{reason} Use:" not in table + flat and f"{reason}.." not in table + flat
        if g.get("alternative"):
            assert f"{reason}. Use: {g['alternative']}" in table


def test_only_a_non_zero_policy_count_is_red():
    from mbops.engine.compare_html import _policy

    assert _policy({"mandatory": 0, "advisory": 2}) == (
        '<span class="pill n">0 mandatory</span><span class="pill a">2 advisory</span>'
    )
    assert 'class="pill m">1 mandatory' in _policy({"mandatory": 1, "advisory": 0})
    assert 'class="pill n">0 advisory' in _policy({"mandatory": 1, "advisory": 0})
    from mbops.cli.compare import _cell

    cell = {"capability": {}, "policy": {"mandatory": 0, "advisory": 1}, "monthly": 1.0, "resource_count": 1,
            "unpriced": 0}  # fmt: skip
    assert "policy: 0 mandatory, 1 advisory" in _cell(cell)
    assert "policy: [red]2[/] mandatory" in _cell({**cell, "policy": {"mandatory": 2, "advisory": 0}})
