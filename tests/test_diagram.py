"""Diagrams: components and connections from the planned graph, Mermaid always, SVG/PNG through Graphviz."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine.diagram import dot, mermaid, model, render
from mbops.engine.facts import door

HAS_DOT = shutil.which("dot") is not None


def res(
    urn: str, type_token: str, component: str | None, deps: tuple[str, ...] = (), inputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": type_token,
        "name": urn,
        "parent": None,
        "custom": True,
        "component": component,
        "inputs": inputs or {},
        "dependencies": list(deps),
        "op": "create",
    }


def listener(urn: str, protocol: str, port: int, redirect: bool = False) -> dict[str, Any]:
    action = {"type": "redirect", "redirect": {"protocol": "HTTPS"}} if redirect else {"type": "forward"}
    inputs = {"protocol": protocol, "port": port, "defaultActions": [action]}
    return res(urn, "aws:lb/listener:Listener", "containers", ("alb",), inputs)


def synthetic(*extra: dict[str, Any], https: bool = False) -> dict[str, Any]:
    listeners = (
        [listener("l443", "HTTPS", 443), listener("l80", "HTTP", 80, redirect=True)]
        if https
        else [listener("l80", "HTTP", 80)]
    )
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
            res("alb", "aws:lb/loadBalancer:LoadBalancer", "containers", ("sg",)),
            *listeners,
            res("role", "aws:iam/role:Role", None),
            *extra,
        ],
    }


def test_connections_come_from_dependencies_across_components_with_their_protocol():
    m = model(synthetic())
    assert m.edges == {("containers", "database"): "PostgreSQL", ("containers", "storage"): "HTTPS"}
    assert m.in_network == {"containers", "database"}
    assert m.entry == {"containers": "HTTP"} and not m.push and not m.alerts
    assert set(m.nodes) == {"containers", "database", "storage"}  # network is the frame, not a node
    assert "network" in m.network_label
    assert m.nodes["database"].endswith("2 resources") and m.nodes["storage"].endswith("1 resource")
    assert " ".join(m.nodes["containers"].splitlines()[1:-1]) == "ECS on Fargate + Application Load Balancer"


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
    assert "  users -->|HTTP| containers" in lines
    assert "  containers -->|PostgreSQL| database" in lines and "  containers -->|HTTPS| storage" in lines
    assert "database --> containers" not in text


def test_the_entry_protocol_and_tls_come_from_the_plan():
    forced = res("pg", "aws:rds/parameterGroup:ParameterGroup", "database",
                 inputs={"parameters": [{"name": "rds.force_ssl", "value": "1"}]})  # fmt: skip
    text = mermaid(synthetic(forced, https=True))
    assert "  users -->|HTTPS| containers" in text and "  containers -->|PostgreSQL + TLS| database" in text


def test_a_waf_on_the_entry_is_drawn_in_front_of_it():
    acl = res("acl", "aws:wafv2/webAcl:WebAcl", "edge", inputs={"rules": []})
    link = res("assoc", "aws:wafv2/webAclAssociation:WebAclAssociation", "edge", ("acl", "alb"))
    cert = res("cert", "aws:acm/certificate:Certificate", "edge", inputs={"domainName": "api.example.com"})
    graph = synthetic(acl, link, cert, https=True)
    https = next(r for r in graph["resources"] if r["urn"] == "l443")
    https["dependencies"].append("cert")  # the HTTPS listener uses the edge's certificate: not traffic
    m = model(graph)
    assert m.entry == {"edge": "HTTPS"}, "users reach the app through the WAF only"
    assert m.edges[("edge", "containers")] == "filtered" and ("containers", "edge") not in m.edges
    assert "  users -->|HTTPS| edge" in mermaid(graph)


def cloud_run(ingress: str) -> dict[str, Any]:
    return {
        "stack": "demo", "profile": "saas", "cloud": "gcp", "environment": "prod", "region": "us-central1",
        "resources": [
            res("run", "gcp:cloudrunv2/service:Service", "serverless", inputs={"ingress": ingress}),
            res("neg", "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup", "edge", ("run",)),
            res("backend", "gcp:compute/backendService:BackendService", "edge", ("neg",),
                {"loadBalancingScheme": "EXTERNAL_MANAGED", "protocol": "HTTPS"}),
            res("proxy", "gcp:compute/targetHttpsProxy:TargetHttpsProxy", "edge", ("backend",)),
            res("rule", "gcp:compute/globalForwardingRule:GlobalForwardingRule", "edge", ("proxy",),
                {"portRange": "443", "loadBalancingScheme": "EXTERNAL_MANAGED", "target": "x"}),
        ],
    }  # fmt: skip


def test_an_edge_with_its_own_listener_and_a_bypass_left_open():
    closed = model(cloud_run("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"))
    assert closed.entry == {"edge": "HTTPS"} and closed.edges == {("edge", "serverless"): "HTTPS"}
    open_ = model(cloud_run("INGRESS_TRAFFIC_ALL"))
    assert open_.entry == {"edge": "HTTPS", "serverless": "HTTPS"}, "the run.app URL bypasses the load balancer"


def test_monitoring_probes_the_entry_and_alerts_its_targets():
    alarm = res("alarm", "aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring", ("db", "alb"))
    check = res("check", "aws:route53/healthCheck:HealthCheck", "monitoring", ("alb",))
    sub = res("sub", "aws:sns/topicSubscription:TopicSubscription", "monitoring",
              inputs={"protocol": "email", "endpoint": "ops@example.com"})  # fmt: skip
    text = mermaid(synthetic(alarm, check, sub, https=True))
    assert "  monitoring -.->|uptime check| containers" in text
    assert "  monitoring -.->|alerts| ops" in text and "email ops@example.com" in text
    assert "monitoring --> database" not in text and "monitoring -->|" not in text


@pytest.mark.parametrize("profile", ("saas", "managed", "custom"))
@pytest.mark.parametrize("cloud", ("aws", "gcp", "azure"))
@pytest.mark.parametrize("env", ("dev", "prod"))
def test_every_component_of_every_plan_is_drawn_with_its_entry_protocol(planned, profile, cloud, env):
    graph = planned(profile, cloud, env)
    text = mermaid(graph)
    kinds = {r["component"] for r in graph["resources"] if r["custom"] and r["component"]}
    for kind in kinds - {"network"}:
        assert f"  {kind}[" in text or f"    {kind}[" in text, f"{kind} missing from the {cloud} diagram"
    if "network" in kinds:
        assert "subgraph network[" in text
    app = {"saas": "serverless", "managed": "containers", "custom": "servers"}[profile]
    m = model(graph)
    front = "edge" if "edge" in m.entry and app not in m.entry else app
    entry = door(graph, front) or door(graph, app)
    assert entry is not None, f"{profile} {env} on {cloud}: no public entry found for the app"
    assert f"users -->|{entry.label}| {front}" in text
    assert re.search(rf"{app} -->\|HTTPS\| storage", text), "the app uses the storage bucket over HTTPS"
    if profile != "saas":
        assert re.search(rf"{app} -->\|PostgreSQL( \+ TLS)?\| database", text)


def test_saas_push_reaches_users_and_cdn_fronts_storage(planned):
    graph = planned("saas", "aws", "dev")
    text = mermaid(graph)
    assert "push -.->|notifications| users" in text
    assert f"users -->|{door(graph, 'cdn').label}| cdn" in text
    assert "cdn -->|HTTPS (origin access control)| storage" in text


@pytest.mark.skipif(not HAS_DOT, reason="graphviz 'dot' is not installed (Debian package graphviz)")
def test_svg_and_png_through_graphviz(planned):
    graph = planned("managed", "gcp", "dev")
    svg = render(graph, "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"containers", "database", "cache", "storage", "users", "containers->database"} <= titles
    assert render(graph, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cluster_network" in dot(graph) and 'label="PostgreSQL' in dot(graph)


@pytest.mark.skipif(not HAS_DOT, reason="graphviz 'dot' is not installed (Debian package graphviz)")
@pytest.mark.parametrize("profile", ("saas", "managed", "custom"))
@pytest.mark.parametrize("env", ("dev", "prod"))
def test_graphviz_lays_out_every_plan(planned, profile, env):
    """Node names such as ``edge`` are DOT keywords: every plan must still lay out."""
    for cloud in ("aws", "gcp", "azure"):
        graph = planned(profile, cloud, env)
        root = ET.fromstring(render(graph, "svg"))
        titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
        assert {"users"} | set(model(graph).nodes) <= titles, f"{profile} {env} on {cloud}"


def test_svg_without_graphviz_is_drawn_by_mbops(planned, monkeypatch):
    monkeypatch.setattr("mbops.engine.diagram.shutil.which", lambda name: None)
    graph = planned("saas", "aws", "dev")
    root = ET.fromstring(render(graph, "svg"))
    groups = list(root.iter("{http://www.w3.org/2000/svg}g"))
    nodes = {g.get("data-node") for g in groups if g.get("data-node")}
    edges = {g.get("data-edge") for g in groups if g.get("data-edge")}
    assert nodes == {"users"} | set(model(graph).nodes)
    assert {f"users->{k}" for k in model(graph).entry} | {"push->users", "cdn->storage"} <= edges
    text = "".join(root.itertext())
    assert "notifications" in text and "Mobile app users" in text
    boxes = [(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
             for g in groups if g.get("data-node") for r in g.iter("{http://www.w3.org/2000/svg}rect")]  # fmt: skip
    for i, a in enumerate(boxes):  # no two nodes overlap
        for b in boxes[i + 1 :]:
            apart = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
            assert apart, (a, b)


def test_cli_diagram_mermaid_to_stdout_and_png_to_file(tmp_path):
    result = CliRunner().invoke(cli, ["diagram", "--cloud", "aws", "--profile", "custom"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flowchart LR") and re.search(r"users -->\|HTTPS?\| (servers|edge)", result.output)
    if HAS_DOT:
        out = tmp_path / "d.png"
        result = CliRunner().invoke(
            cli, ["diagram", "--cloud", "aws", "--profile", "custom", "--format", "png", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_diagram_without_graphviz_draws_svg_and_names_the_package_for_png(monkeypatch, tmp_path):
    monkeypatch.setattr("mbops.engine.diagram.shutil.which", lambda name: None)
    out = tmp_path / "d.svg"
    result = CliRunner().invoke(cli, ["diagram", "-c", "aws", "-p", "managed", "--format", "svg", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "laid out by mbops" in result.output and "apt-get install graphviz" in result.output
    assert ET.fromstring(out.read_bytes()).tag.endswith("svg")
    result = CliRunner().invoke(cli, ["diagram", "-c", "aws", "-p", "managed", "--format", "png", "-o", str(out)])
    assert result.exit_code == 4
    assert "graphviz" in result.output and "apt-get install graphviz" in result.output
    assert "--format mermaid" in result.output


def test_cli_diagram_of_the_default_local_stack():
    result = CliRunner().invoke(cli, ["diagram", "-p", "managed"])
    assert result.exit_code == 0, result.output
    assert "local (" in result.output and "users -->|HTTP (this machine)| containers" in result.output


@pytest.mark.parametrize("profile", ["managed", "saas"])
def test_local_edges_go_from_the_app_to_each_store_it_uses(planned, profile):
    """Issue: the local diagram drew containers -->|HTTPS| secrets and secrets -->|PostgreSQL| database: the
    secrets file keeps the URLs, but the app talks to the stores, and a folder is no HTTPS endpoint."""
    graph = planned(profile, "local", "dev")
    m = model(graph)
    app = "containers" if profile == "managed" else "serverless"
    types = {r["type"].rsplit(":", 1)[-1] for r in graph["resources"]}
    database = "PostgreSQL" if "PostgresCluster" in types else "SQLite file"  # SQLite without PostgreSQL here
    stores = {"database": database, "cache": "Redis", "docdb": "SQLite file", "storage": "files"}
    expected = {(app, "secrets"): "reads file"} | {(app, k): v for k, v in stores.items() if k in m.nodes}
    assert m.edges == expected and not m.dashed
    assert {"storage", "database" if profile == "managed" else "docdb"} <= set(m.nodes)
    assert not any(a == "secrets" for a, _ in m.edges)
