"""Human-readable renderings of a planned graph (rich tables) and machine-readable JSON."""

from __future__ import annotations

import json
from typing import Any

import click

OP_STYLE = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "same": "dim"}


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
    """One policy finding as a rich-markup line; a lowered rule shows its written reason."""
    enforcement = finding.get("enforcement", "mandatory")
    colour = "red" if enforcement == "mandatory" else "yellow"
    where = finding.get("name") or finding.get("resource")
    line = f"[{colour}]{enforcement}[/] {finding['rule']} ({finding['severity']}): {where}: {finding['message']}"
    if finding.get("reason"):
        line += f" [dim](lowered to advisory: {finding['reason']})[/]"
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


def print_plan(graph: dict[str, Any]) -> None:
    from rich.table import Table

    names = {r["urn"]: r["name"] for r in graph["resources"]}
    table = Table(title=f"{graph['stack']}: {graph['profile']} on {graph['cloud']} ({graph['region']})", expand=False)
    for column in ("op", "type", "name", "parent"):
        table.add_column(column, overflow="fold")
    for res in tree_order(graph["resources"]):
        style = OP_STYLE.get(res["op"], "")
        table.add_row(
            f"[{style}]{res['op']}[/]" if res["custom"] else "",
            res["type"],
            res["name"],
            names.get(res["parent"] or "", ""),
        )
    out = console()
    out.print(table)
    for warning in graph.get("warnings", []):
        out.print(f"[yellow]warning:[/] {warning}", markup=True)
    for gap in graph.get("unavailable", []):
        cloud, kind = graph["cloud"], gap["kind"]
        out.print(f"[yellow]not available on {cloud}: {kind}[/] — {gap['reason']} Use: {gap['alternative']}")
    for finding in graph.get("policy", []):
        out.print(finding_line(finding))
    out.print(summary_line(graph))
