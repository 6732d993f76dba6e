"""Diagrams: components and connections from the planned graph, Mermaid always, SVG/PNG through Graphviz."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine.diagram import dot, mermaid, model, render

HAS_DOT = shutil.which("dot") is not None


def res(urn: str, type_token: str, component: str | None, deps: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": type_token,
        "name": urn,
        "parent": None,
        "custom": True,
        "component": component,
        "inputs": {},
        "dependencies": list(deps),
        "op": "create",
    }


def synthetic() -> dict[str, Any]:
    return {
        "stack": "demo",
        "profile": "managed",
        "cloud": "aws",
        "environment": "dev",
        "region": "us-east-1",
        "resources": [
            res("vpc", "aws:ec2/vpc:Vpc", "network"),
            res("sg", "aws:ec2/securityGroup:SecurityGroup", "network", ("vpc",)),
            res("bucket", "aws:s3/bucket:Bucket", "storage"),
            res("db", "aws:rds/instance:Instance", "database", ("sg",)),
            res("secret", "aws:secretsmanager/secret:Secret", "database", ("db",)),
            res("svc", "aws:ecs/service:Service", "containers", ("sg", "secret", "bucket")),
            res("role", "aws:iam/role:Role", None),
        ],
    }


def test_connections_come_from_dependencies_across_components():
    m = model(synthetic())
    assert m.edges == {("containers", "database"), ("containers", "storage")}
    assert m.in_network == {"containers", "database"}
    assert m.entry == ["containers"] and not m.push
    assert set(m.nodes) == {"containers", "database", "storage"}  # network is the frame, not a node
    assert "network" in m.network_label
    assert m.nodes["database"].endswith("2 resources") and m.nodes["storage"].endswith("1 resource")


def test_mermaid_text_of_a_synthetic_stack():
    text = mermaid(synthetic())
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    start, end = (
        lines.index(next(x for x in lines if x.strip().startswith("subgraph network"))),
        lines.index("  end"),
    )
    inside = "\n".join(lines[start:end])
    assert "containers[" in inside and "database[(" in inside and "storage" not in inside
    assert "  users -->|HTTPS| containers" in lines
    assert "  containers --> database" in lines and "  containers --> storage" in lines
    assert "database --> containers" not in text


@pytest.mark.parametrize("profile", ("saas", "managed", "custom"))
@pytest.mark.parametrize("cloud", ("aws", "gcp", "azure"))
def test_every_component_of_every_plan_is_drawn(planned, profile, cloud):
    graph = planned(profile, cloud, "dev")
    text = mermaid(graph)
    kinds = {r["component"] for r in graph["resources"] if r["custom"] and r["component"]}
    for kind in kinds - {"network"}:
        assert f"  {kind}[" in text or f"    {kind}[" in text, f"{kind} missing from the {cloud} diagram"
    if "network" in kinds:
        assert "subgraph network[" in text
    app = {"saas": "serverless", "managed": "containers", "custom": "servers"}[profile]
    assert f"users -->|HTTPS| {app}" in text
    assert f"{app} --> storage" in text, "the app uses the storage bucket"
    if profile != "saas":
        assert f"{app} --> database" in text


def test_saas_push_reaches_users_and_cdn_fronts_storage(planned):
    text = mermaid(planned("saas", "aws", "dev"))
    assert "push -.->|notifications| users" in text
    assert "users -->|HTTPS| cdn" in text and "cdn --> storage" in text


@pytest.mark.skipif(not HAS_DOT, reason="graphviz 'dot' is not installed (Debian package graphviz)")
def test_svg_and_png_through_graphviz(planned):
    graph = planned("managed", "gcp", "dev")
    svg = render(graph, "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"containers", "database", "cache", "storage", "users", "containers->database"} <= titles
    assert render(graph, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cluster_network" in dot(graph)


def test_cli_diagram_mermaid_to_stdout_and_png_to_file(tmp_path):
    result = CliRunner().invoke(cli, ["diagram", "--cloud", "aws", "--profile", "custom"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flowchart LR") and "users -->|HTTPS| servers" in result.output
    if HAS_DOT:
        out = tmp_path / "d.png"
        result = CliRunner().invoke(
            cli, ["diagram", "--cloud", "aws", "--profile", "custom", "--format", "png", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_diagram_svg_without_graphviz_names_the_package(monkeypatch):
    monkeypatch.setattr("mbops.engine.diagram.shutil.which", lambda name: None)
    result = CliRunner().invoke(cli, ["diagram", "--cloud", "aws", "--profile", "managed", "--format", "svg"])
    assert result.exit_code == 4
    assert "graphviz" in result.output and "apt-get install graphviz" in result.output
    assert "--format mermaid" in result.output
