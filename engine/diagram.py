"""Architecture diagrams of a planned graph: components, their connections with the protocol each speaks, and
the app's users.

Nodes are the stack's component kinds (from each resource's ``component``); an edge A -> B means a resource
of A depends on a resource of B (A uses B: the app reads the database's secret, the CDN fronts the bucket).
Kinds that use the private network are drawn inside it. Users reach the public entry points over the protocol
the plan's listeners, proxies and ingress settings serve (HTTPS, HTTP, TCP); a WAF/edge planned in front of an
entry is drawn in front of it; data edges say how the app talks to each store (PostgreSQL, Redis, HTTPS, with
TLS where the plan requires it). Monitoring watches the entry and alerts its notification targets. On the local
cloud the app reads the secrets file and talks to each store itself (PostgreSQL, Redis, the storage folder).

Mermaid and DOT text always; SVG and PNG from Graphviz ``dot`` (Debian package ``graphviz``), and SVG also from
mbops's own layout (``mbops.engine.diagram_svg``) when ``dot`` is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from typing import Any

from mbops.engine.capabilities import capability
from mbops.engine.facts import Door, View, door, origin, tls, watch
from mbops.errors import MbopsError, MissingToolError

ORDER = (
    "edge",
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
    "registry",
    "monitoring",
    "network",
)
APPS = ("containers", "serverless", "servers")
ENTRY = ("edge", "cdn", *APPS, "auth")
DATA = ("database", "docdb", "cache", "storage")
FRONTS = ("edge", "cdn")  # kinds that stand in front of others (their edges are origin fetches)
LINKS = {
    "database": "PostgreSQL",
    "cache": "Redis",
    "storage": "HTTPS",
    "docdb": "HTTPS",
    "secrets": "HTTPS",
    "auth": "HTTPS",
    "push": "HTTPS",
    "registry": "image pull",
}
# On this machine the stores are processes and files: the app opens the database and cache itself, reads
# its settings from the secrets file and writes the storage folder.
LOCAL_LINKS = {
    "database": "PostgreSQL",
    "cache": "Redis",
    "storage": "files",
    "docdb": "SQLite file",
    "secrets": "reads file",
}
SQLITE = "pulumi-python:dynamic/mbops:SqliteFile"  # the local database when PostgreSQL is not installed
FORMATS = ("mermaid", "dot", "svg", "png")


@dataclass
class Model:
    """The diagram of one plan: component nodes, labelled edges between them, what sits in the network."""

    title: str
    nodes: dict[str, str] = field(default_factory=dict)  # kind -> label
    edges: dict[tuple[str, str], str] = field(default_factory=dict)  # (from, to) -> protocol label
    dashed: set[tuple[str, str]] = field(default_factory=set)  # edges that are not traffic (a secret kept in)
    in_network: set[str] = field(default_factory=set)
    network_label: str = ""
    entry: dict[str, str] = field(default_factory=dict)  # kind users reach -> protocol label
    push: bool = False
    watches: str = ""  # the kind the monitoring's uptime check probes
    alerts: str = ""  # who the monitoring alerts ("" when nobody)

    @property
    def links(self) -> list[tuple[str, str, str, bool]]:
        """Every edge to draw as (from, to, label, dashed), users and ops included, in a stable order."""
        out = [("users", k, label, False) for k, label in self.entry.items()]
        out += [(a, b, label, (a, b) in self.dashed) for (a, b), label in sorted(self.edges.items())]
        if self.push:
            out.append(("push", "users", "notifications", True))
        if self.watches:
            out.append(("monitoring", self.watches, "uptime check", True))
        if self.alerts:
            out.append(("monitoring", "ops", "alerts", True))
        return out


def model(graph: dict[str, Any]) -> Model:
    """Components and connections of ``graph``, with the protocol of each edge."""
    view = View(graph)
    component = {r["urn"]: r.get("component") for r in graph["resources"]}
    counts: dict[str, int] = {}
    for res in view.resources:
        if res.get("component"):
            counts[res["component"]] = counts.get(res["component"], 0) + 1
    kinds = [k for k in ORDER if k in counts] + sorted(k for k in counts if k not in ORDER)
    out = Model(title=f"{graph['stack']}: {graph['profile']} on {graph['cloud']} ({graph['region']})")
    for kind in kinds:
        service = "\n".join(textwrap.wrap(capability(graph, kind, view)["service"], 36))
        out.nodes[kind] = f"{kind}\n{service}\n{counts[kind]} resource{'s' if counts[kind] != 1 else ''}"
    pairs: set[tuple[str, str]] = set()
    for res in graph["resources"]:
        source = res.get("component")
        for dep in res.get("dependencies") or []:
            target = component.get(dep)
            if not (source and target and source != target and source in out.nodes and target in out.nodes):
                continue
            if target == "network":
                out.in_network.add(source)
            elif "monitoring" in (source, target) or source == "network":
                continue  # monitoring watches everything: drawn as its uptime check and alerts instead
            elif target in FRONTS and source not in FRONTS:
                continue  # the app knowing the CDN's URL, a listener using the edge's certificate: not traffic
            else:
                pairs.add((source, target))
    if graph["cloud"] == "local":
        pairs = _local_pairs(pairs)
    if "network" in out.nodes:
        out.network_label = out.nodes.pop("network").replace("\n", " · ")
    fronted = _entries(graph, view, out, pairs)
    for a, b in sorted(pairs):
        if b == "secrets" and a not in APPS:  # the component's credentials are kept in the store: not traffic
            out.edges[(a, b)] = "secret kept in"
            out.dashed.add((a, b))
        else:
            out.edges[(a, b)] = _link(graph, view, a, b, fronted)
    out.push = "push" in out.nodes
    if "monitoring" in out.nodes:
        summary = watch(graph, view)
        if summary["uptime_checks"] and out.entry:
            out.watches = next(iter(out.entry))
        out.alerts = ", ".join(summary["notify"])
    return out


def _entries(graph: dict[str, Any], view: View, out: Model, pairs: set[tuple[str, str]]) -> set[str]:
    """Fill ``out.entry``: the kinds users reach and how; returns the kinds an edge/WAF with no listener of its
    own is attached to (reached through it)."""
    doors = {k: door(graph, k, view) for k in ENTRY if k in out.nodes}
    attached: set[str] = set()
    if "edge" in out.nodes and doors.get("edge") is None:  # a WAF/certificate on the app's own entry
        attached = {b for a, b in pairs if a == "edge" and b in ENTRY}
        merged = [e for k in sorted(attached) if doors.get(k) for e in doors[k].entries]  # type: ignore[union-attr]
        doors["edge"] = Door(merged) if merged else None
    for kind in ENTRY:
        if kind not in out.nodes or kind in attached:
            continue
        if graph["cloud"] == "local":
            if kind in APPS:
                out.entry[kind] = "HTTP (this machine)"
        elif kind == "auth":
            out.entry[kind] = "HTTPS"  # the user pool / Identity Platform endpoints serve HTTPS only
        elif doors.get(kind) is not None:
            out.entry[kind] = doors[kind].label
        elif kind == "edge":
            out.entry[kind] = ""
    return attached


def _local_pairs(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Local edges: the secrets file depends on the stores whose URLs it keeps, but it is the app (which reads
    the file) that talks to them."""
    apps = {a for a, b in pairs if a in APPS and b == "secrets"}
    kept = {b for a, b in pairs if a == "secrets"}
    return {(a, b) for a, b in pairs if a != "secrets"} | {(app, b) for app in apps for b in kept}


def _link(graph: dict[str, Any], view: View, a: str, b: str, attached: set[str]) -> str:
    if graph["cloud"] == "local":
        if b == "database" and view.has(b, SQLITE):
            return "SQLite file"
        return LOCAL_LINKS.get(b, "")
    if a in FRONTS:
        if b in attached:
            return "filtered"
        return origin(graph, a, view)
    label = LINKS.get(b, "")
    if b in ("database", "cache") and tls(graph, b, view):
        label += " + TLS"
    return label


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def _mermaid_edge(a: str, b: str, label: str, dashed: bool) -> str:
    arrow = "-.->" if dashed else "-->"
    return f"  {a} {arrow}|{_mermaid_label(label)}| {b}" if label else f"  {a} {arrow} {b}"


def mermaid(graph: dict[str, Any]) -> str:
    """Mermaid flowchart text of the stack."""
    m = model(graph)
    lines = ["flowchart LR", f"  %% {m.title}", '  users(["Mobile app users"])']
    if m.alerts:
        lines.append(f'  ops(["On call: {_mermaid_label(m.alerts)}"])')

    def node(kind: str) -> str:
        label = _mermaid_label(m.nodes[kind])
        return f'{kind}[("{label}")]' if kind in DATA else f'{kind}["{label}"]'

    if m.network_label:
        lines.append(f'  subgraph network["{_mermaid_label(m.network_label)}"]')
        lines += [f"    {node(k)}" for k in m.nodes if k in m.in_network]
        lines.append("  end")
    lines += [f"  {node(k)}" for k in m.nodes if k not in m.in_network]
    lines += [_mermaid_edge(*link) for link in m.links]
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
        '  "users" [label="Mobile app users", shape=ellipse, fillcolor="#fff4d6", color="#b08a2e"];',
    ]
    if m.alerts:
        lines.append(f'  "ops" [label="On call\\n{_dot_text(m.alerts)}", shape=ellipse, fillcolor="#fde8e6", '
                     'color="#b3261e"];')  # fmt: skip

    def node(kind: str) -> str:
        shape = ', shape=cylinder, fillcolor="#eaf6ec", color="#3f7d4e"' if kind in DATA else ""
        return f'"{kind}" [label="{_dot_text(m.nodes[kind])}"{shape}];'

    if m.network_label:
        lines += [
            "  subgraph cluster_network {",
            f'    label="{_dot_text(m.network_label)}";',
            '    style="rounded,dashed"; color="#888888"; fontsize=10;',
        ]
        lines += [f"    {node(k)}" for k in m.nodes if k in m.in_network]
        lines.append("  }")
    lines += [f"  {node(k)}" for k in m.nodes if k not in m.in_network]
    for a, b, label, dashed in m.links:
        attrs = [f'label="{_dot_text(label)}"'] if label else []
        if dashed:
            attrs.append("style=dashed")
        lines.append(f'  "{a}" -> "{b}"' + (f" [{', '.join(attrs)}]" if attrs else "") + ";")  # "edge" is a keyword
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def _graphviz(graph: dict[str, Any], fmt: str) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise MissingToolError(
            f"--format {fmt} needs Graphviz's 'dot', which is not installed. Install the Debian package "
            "'graphviz' (apt-get install graphviz), or use --format mermaid or svg."
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


def render(graph: dict[str, Any], fmt: str) -> bytes:
    """The diagram as ``mermaid``/``dot`` text, or ``svg``/``png`` bytes.

    PNG needs Graphviz ``dot``; SVG comes from ``dot`` when installed, else from mbops's own layout.
    """
    if fmt == "mermaid":
        return mermaid(graph).encode()
    if fmt == "dot":
        return dot(graph).encode()
    if fmt == "svg" and not dot_available():
        from mbops.engine.diagram_svg import svg

        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg(model(graph), ident=graph["cloud"])).encode()
    if fmt not in ("svg", "png"):
        raise MbopsError(f"unknown diagram format '{fmt}'; use one of {', '.join(FORMATS)}")
    return _graphviz(graph, fmt)


def inline_svg(graph: dict[str, Any]) -> dict[str, str]:
    """SVG markup to embed in HTML (no XML prolog or DOCTYPE) and who laid it out: ``{"svg", "drawn_by"}``,
    ``drawn_by`` being ``graphviz`` or ``mbops`` (when ``dot`` is missing)."""
    from mbops.engine.diagram_svg import svg

    if not dot_available():
        return {"svg": svg(model(graph), ident=graph["cloud"]), "drawn_by": "mbops"}
    try:
        text = _graphviz(graph, "svg").decode()
    except MbopsError as exc:  # the report stays complete; the caption says why Graphviz did not draw it
        return {"svg": svg(model(graph), ident=graph["cloud"]), "drawn_by": "mbops", "why": str(exc)}
    text = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", text, flags=re.S).strip()
    text = re.sub(r'<svg width="[^"]*" height="[^"]*"', '<svg style="max-width:100%;height:auto"', text, count=1)
    text = re.sub(r'\bid="', f'id="{graph["cloud"]}-', text)  # several diagrams share one page; dot's ids repeat
    return {"svg": text, "drawn_by": "graphviz"}
