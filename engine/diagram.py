"""Architecture diagrams of a planned graph: components, their connections, and the app's users.

Nodes are the stack's component kinds (from each resource's ``component``); an edge A -> B means a resource
of A depends on a resource of B (A uses B: the app reads the database's secret, the CDN fronts the bucket).
Kinds that use the private network are drawn inside it. Users reach the public entry points (the app, the
CDN, the auth service); push notifications reach them. Mermaid text is always available; SVG and PNG come
from Graphviz ``dot`` (Debian package ``graphviz``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from mbops.engine.capabilities import capability
from mbops.errors import MbopsError, MissingToolError

ORDER = (
    "cdn",
    "auth",
    "containers",
    "serverless",
    "servers",
    "push",
    "database",
    "docdb",
    "cache",
    "storage",
    "secrets",
    "network",
)
ENTRY = ("containers", "serverless", "servers", "cdn", "auth")
DATA = ("database", "docdb", "cache", "storage")
FORMATS = ("mermaid", "dot", "svg", "png")


@dataclass
class Model:
    """The diagram of one plan: component nodes, edges between them, what sits in the network."""

    title: str
    nodes: dict[str, str] = field(default_factory=dict)  # kind -> label
    edges: set[tuple[str, str]] = field(default_factory=set)
    in_network: set[str] = field(default_factory=set)
    network_label: str = ""
    entry: list[str] = field(default_factory=list)
    push: bool = False


def model(graph: dict[str, Any]) -> Model:
    """Components and connections of ``graph``."""
    resources = graph["resources"]
    component = {r["urn"]: r.get("component") for r in resources}
    counts: dict[str, int] = {}
    for res in resources:
        if res.get("custom") and res.get("component"):
            counts[res["component"]] = counts.get(res["component"], 0) + 1
    kinds = [k for k in ORDER if k in counts] + sorted(k for k in counts if k not in ORDER)
    out = Model(title=f"{graph['stack']}: {graph['profile']} on {graph['cloud']} ({graph['region']})")
    for kind in kinds:
        service = capability(graph["cloud"], kind)["service"]
        out.nodes[kind] = f"{kind}\n{service}\n{counts[kind]} resource{'s' if counts[kind] != 1 else ''}"
    for res in resources:
        source = res.get("component")
        for dep in res.get("dependencies") or []:
            target = component.get(dep)
            if source and target and source != target and source in out.nodes and target in out.nodes:
                if target == "network":
                    out.in_network.add(source)
                elif source != "network":
                    out.edges.add((source, target))
    if "network" in out.nodes:
        out.network_label = out.nodes.pop("network").replace("\n", " · ")
    out.entry = [k for k in ENTRY if k in out.nodes]
    out.push = "push" in out.nodes
    return out


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def mermaid(graph: dict[str, Any]) -> str:
    """Mermaid flowchart text of the stack."""
    m = model(graph)
    lines = ["flowchart LR", f"  %% {m.title}", '  users(["Mobile app users"])']

    def node(kind: str) -> str:
        label = _mermaid_label(m.nodes[kind])
        return f'{kind}[("{label}")]' if kind in DATA else f'{kind}["{label}"]'

    if m.network_label:
        lines.append(f'  subgraph network["{_mermaid_label(m.network_label)}"]')
        lines += [f"    {node(k)}" for k in m.nodes if k in m.in_network]
        lines.append("  end")
    lines += [f"  {node(k)}" for k in m.nodes if k not in m.in_network]
    lines += [f"  users -->|HTTPS| {k}" for k in m.entry]
    if m.push:
        lines.append("  push -.->|notifications| users")
    lines += [f"  {a} --> {b}" for a, b in sorted(m.edges)]
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dot(graph: dict[str, Any]) -> str:
    """Graphviz DOT text of the stack."""
    m = model(graph)
    lines = [
        "digraph mbops {",
        f'  graph [rankdir=LR, fontname="Helvetica", fontsize=12, label="{_dot_text(m.title)}", labelloc=t, '
        "pad=0.3, nodesep=0.4, ranksep=0.7];",
        '  node [fontname="Helvetica", fontsize=10, style="rounded,filled", fillcolor="#eef3fb", '
        'color="#4a6fa5", '
        "shape=box];",
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        '  users [label="Mobile app users", shape=ellipse, fillcolor="#fff4d6", color="#b08a2e"];',
    ]

    def node(kind: str) -> str:
        shape = ', shape=cylinder, fillcolor="#eaf6ec", color="#3f7d4e"' if kind in DATA else ""
        return f'{kind} [label="{_dot_text(m.nodes[kind])}"{shape}];'

    if m.network_label:
        lines += [
            "  subgraph cluster_network {",
            f'    label="{_dot_text(m.network_label)}";',
            '    style="rounded,dashed"; color="#888888"; fontsize=10;',
        ]
        lines += [f"    {node(k)}" for k in m.nodes if k in m.in_network]
        lines.append("  }")
    lines += [f"  {node(k)}" for k in m.nodes if k not in m.in_network]
    lines += [f'  users -> {k} [label="HTTPS"];' for k in m.entry]
    if m.push:
        lines.append('  push -> users [label="notifications", style=dashed];')
    lines += [f"  {a} -> {b};" for a, b in sorted(m.edges)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render(graph: dict[str, Any], fmt: str) -> bytes:
    """The diagram as ``mermaid``/``dot`` text, or ``svg``/``png`` bytes (those need Graphviz ``dot``)."""
    if fmt == "mermaid":
        return mermaid(graph).encode()
    if fmt == "dot":
        return dot(graph).encode()
    if fmt not in ("svg", "png"):
        raise MbopsError(f"unknown diagram format '{fmt}'; use one of {', '.join(FORMATS)}")
    exe = shutil.which("dot")
    if exe is None:
        raise MissingToolError(
            f"--format {fmt} needs Graphviz's 'dot', which is not installed. Install the Debian package "
            "'graphviz' (apt-get install graphviz), or use --format mermaid."
        )
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}"], input=dot(graph).encode(), capture_output=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        raise MbopsError("graphviz 'dot' did not finish within 60 s") from None
    if done.returncode != 0:
        raise MbopsError(f"graphviz 'dot' failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def inline_svg(graph: dict[str, Any]) -> str | None:
    """SVG markup to embed in HTML (no XML prolog or DOCTYPE), or None when ``dot`` is missing."""
    if not dot_available():
        return None
    svg = render(graph, "svg").decode()
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", svg, flags=re.S).strip()
    return re.sub(r'<svg width="[^"]*" height="[^"]*"', '<svg style="max-width:100%;height:auto"', svg, count=1)
