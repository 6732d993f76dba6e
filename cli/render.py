"""Human-readable renderings of a planned graph (rich tables) and machine-readable JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import click

OP_STYLE = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "same": "dim"}
TYPE_PARTS = re.compile(r"[^:/]+[:/]?")  # aws: s3/ bucketServerSideEncryptionConfiguration: BucketServer...


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def console(stderr: bool = False) -> Any:
    import shutil

    from rich.console import Console

    # Wide enough for Pulumi type tokens when output goes to a pipe or a CI log.
    return Console(highlight=False, stderr=stderr, width=max(shutil.get_terminal_size((160, 24)).columns, 120))


def summary_line(graph: dict[str, Any]) -> str:
    counts = graph.get("summary", {})
    parts = [f"{counts[op]} to {op}" for op in ("create", "update", "replace", "delete") if counts.get(op)]
    same = counts.get("same", 0)
    changes = ", ".join(parts) if parts else "no changes"
    text = f"Plan for {graph['stack']} ({graph['profile']} on {graph['cloud']}, {graph['environment']}): {changes}"
    if same:
        text += f", {same} unchanged"
    policy = graph.get("policy") or []
    mandatory = sum(1 for p in policy if p.get("enforcement", p.get("severity")) == "mandatory")
    text += f". Policy: {mandatory} mandatory, {len(policy) - mandatory} advisory."
    monthly = (graph.get("cost") or {}).get("monthly_total")
    if monthly is not None:
        text += f" Cost: ~${monthly:,.2f}/month."
    return text


def finding_line(finding: dict[str, Any]) -> str:
    """One policy finding as a rich-markup line (its texts escaped); a lowered rule shows its written reason."""
    from rich.markup import escape

    enforcement = finding.get("enforcement", "mandatory")
    colour = "red" if enforcement == "mandatory" else "yellow"
    where = escape(str(finding.get("name") or finding.get("resource")))
    message = escape(finding["message"])
    line = f"[{colour}]{enforcement}[/] {finding['rule']} ({finding['severity']}): {where}: {message}"
    if finding.get("reason"):
        line += f" [dim](lowered to advisory: {escape(finding['reason'])})[/]"
    return line


def tree_order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources with each component followed by its descendants, in registration order."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for res in resources:
        children.setdefault(res["parent"], []).append(res)
    ordered: list[dict[str, Any]] = []

    def visit(parent: str | None) -> None:
        for res in children.get(parent, []):
            ordered.append(res)
            visit(res["urn"])

    visit(None)
    return ordered


def _gaps(graph: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("not available", g) for g in graph.get("unavailable") or []] + [
        ("partly available", g) for g in graph.get("limitations") or []
    ]


def gap_line(how: str, cloud: str, gap: dict[str, Any]) -> str:
    """``partly available on azure: database — <reason>. Use: <alternative>``: the reason as a sentence (one
    full stop), then what to use instead. Every command prints a gap this way."""
    reason = str(gap["reason"]).strip().rstrip(".")
    use = f" Use: {str(gap['alternative']).strip()}" if gap.get("alternative") else ""
    return f"{how} on {cloud}: {gap['kind']} — {reason}.{use}"


def gap_lines(graph: dict[str, Any]) -> list[str]:
    """One line per kind the cloud cannot provide (wholly or in part), with what to use instead."""
    return [gap_line(how, graph["cloud"], gap) for how, gap in _gaps(graph)]


def other_warnings(graph: dict[str, Any]) -> list[str]:
    """The program's warnings, less those that repeat a gap (``gap_lines`` says each gap once)."""
    said = {f"{how} on {graph['cloud']}: {gap['kind']} — {gap['reason']}" for how, gap in _gaps(graph)}
    return [w for w in graph.get("warnings") or [] if w not in said]


def break_type(token: str, width: int) -> str:
    """A type token in lines of at most ``width`` characters, broken only after its ``:`` and ``/`` (never
    inside a name; a part longer than ``width`` keeps its own line)."""
    lines, line = [], ""
    for part in TYPE_PARTS.findall(token):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    return "\n".join([*lines, line])


def _type_width(resources: list[dict[str, Any]], names: dict[str, str], width: int) -> int:
    """How wide the preview's type column may be: what the console leaves after the op column, the borders and
    a readable name and parent column; never less than the longest part of a type token."""
    longest = max((len(p) for r in resources for p in TYPE_PARTS.findall(r["type"])), default=1)
    name = min(max((len(r["name"]) for r in resources), default=0), 30)
    parent = min(max((len(names.get(r["parent"] or "", "")) for r in resources), default=0), 24)
    return max(longest, width - 20 - name - parent)  # 20: the op column (7) and the table's borders (13)


def print_plan(graph: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    names = {r["urn"]: r["name"] for r in graph["resources"]}
    fits = _type_width(graph["resources"], names, out.width)
    table = Table(title=f"{graph['stack']}: {graph['profile']} on {graph['cloud']} ({graph['region']})", expand=False)
    table.add_column("op", no_wrap=True)
    table.add_column("type", no_wrap=True)  # broken only between its parts (break_type), never mid-word
    for column in ("name", "parent"):
        table.add_column(column, overflow="fold")
    for res in tree_order(graph["resources"]):
        style = OP_STYLE.get(res["op"], "")
        table.add_row(
            f"[{style}]{res['op']}[/]" if res["custom"] else "",
            escape(break_type(res["type"], fits)),
            res["name"],
            names.get(res["parent"] or "", ""),
        )
    out.print(table)
    for warning in other_warnings(graph):
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    for line in gap_lines(graph):
        out.print(f"[yellow]{escape(line)}[/]")
    for finding in graph.get("policy", []):
        out.print(finding_line(finding))
    out.print(summary_line(graph))
