"""The comparison as Markdown: a summary table, capabilities, monitoring, resources, gaps, assumptions, prices and
a Mermaid diagram per cloud."""

from __future__ import annotations

from typing import Any

from mbops.engine.compare import (
    SHARED,
    Comparison,
    assumption_rows,
    gap_text,
    monitoring_text,
    pricing_line,
    sentence,
    use_text,
)
from mbops.engine.fmt import count, money


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _policy_text(policy: dict[str, int]) -> str:
    return f"{policy['mandatory']} mandatory, {policy['advisory']} advisory"


def _resources_text(resources: dict[str, int]) -> str:
    return ", ".join(f"{n}x {t.split(':')[-1]}" for t, n in resources.items()) or "none"


def _summary_cell(cell: dict[str, Any]) -> str:
    if cell.get("unavailable"):
        return f"**not available**: {_cell(sentence(cell['unavailable']['reason']))}"
    service = (cell.get("capability") or {}).get("service", "")
    unpriced = f" (+{cell['unpriced']} unpriced)" if cell["unpriced"] else ""
    text = f"{_cell(service)}<br>{count(cell['resource_count'])} · {money(cell['monthly'])}/mo{unpriced}"
    if cell.get("limitation"):
        text += f"<br>**{_cell(gap_text(cell))}**"
    return text


def _capability_cell(cell: dict[str, Any]) -> str:
    if cell.get("unavailable"):
        return f"not available. {_cell(use_text(cell['unavailable']))}"
    cap = cell.get("capability") or {}
    if not cap:
        return "-"
    parts = [f"HA: {cap['ha']}", f"scale to zero: {cap['scale_to_zero']}"]
    if cap.get("entry"):
        parts.append(f"entry: {cap['entry']}")
    parts += cap.get("facts") or []
    parts += [f"_{a}_" for a in cap.get("about") or []]
    if cell.get("limitation"):
        parts.append(f"**{gap_text(cell)}** {use_text(cell['limitation'])}")
    return _cell("<br>".join(parts))


def markdown(comparison: Comparison) -> str:
    """The whole report as Markdown."""
    c = comparison
    ok = [cloud for cloud in c.clouds if c.columns[cloud].get("ok")]
    lines = [
        f"# `{c.profile}` ({c.environment}) on {', '.join(c.clouds)}",
        "",
        f"Generated {c.generated_at} by `mbops compare`; plans ran in {c.workers} parallel worker(s), "
        f"{c.seconds:.1f} s in all.",
        "",
    ]
    for column in c.failed:
        lines += [f"> **{column['cloud']}: plan failed** — {column['error']}", ""]
    header = "| component | " + " | ".join(f"{x} ({c.columns[x]['region']})" for x in ok) + " |"
    lines += ["## Summary", "", header, "|---|" + "---|" * len(ok)]
    for kind in c.kinds:
        lines.append(f"| **{kind}** | " + " | ".join(_summary_cell(c.cell(x, kind)) for x in ok) + " |")
    totals = [
        f"**{money(c.columns[x]['monthly_total'])}/mo** · {count(c.columns[x]['resource_count'])} · "
        f"policy: {_policy_text(c.columns[x]['policy'])}"
        for x in ok
    ]
    lines.append("| **total** | " + " | ".join(totals) + " |")
    lines += ["", "## Capabilities (as planned)", "", "| component | " + " | ".join(ok) + " |"]
    lines.append("|---|" + "---|" * len(ok))
    for kind in [k for k in c.kinds if k != SHARED]:
        lines.append(f"| **{kind}** | " + " | ".join(_capability_cell(c.cell(x, kind)) for x in ok) + " |")
    lines += ["", "## Monitoring", ""]
    lines += [f"- {cloud}: {_cell(monitoring_text(c.columns[cloud]))}" for cloud in ok]
    lines += ["", "## Resources per component", ""]
    for kind in c.kinds:
        lines.append(f"- **{kind}**")
        for cloud in ok:
            cell = c.cell(cloud, kind)
            lines.append(f"  - {cloud}: {_resources_text(cell['resources'])}; policy: {_policy_text(cell['policy'])}")
    lines += ["", "## Not priced", ""]
    for cloud in ok:
        for entry in c.columns[cloud]["unpriced"]:
            lines.append(f"- {cloud}: `{entry['resource']}` ({entry['type']}): {entry['why']}")
    if not any(c.columns[x]["unpriced"] for x in ok):
        lines.append("- everything planned was priced or is free")
    if ok:
        column = c.columns[ok[0]]
        lines += ["", "## Assumptions", "", f"Costs for the {pricing_line(column)} (* = from the stack file):", ""]
        lines += [f"- `{key}`{'*' if mine else ''}: {text}" for key, text, mine in assumption_rows(column)]
        lines += ["", "## Prices", ""]
        for cloud in ok:
            catalog = c.columns[cloud]["catalog"]
            lines.append(
                f"- {cloud}: catalog as of {catalog.get('as_of')} ({catalog.get('region')}); "
                f"{count(len(catalog.get('sources') or []), 'price list source')}. {catalog.get('method', '')}"
            )
    for cloud in ok:
        if c.columns[cloud].get("note"):
            lines.append(f"- note ({cloud}): {c.columns[cloud]['note']}")
    lines += ["", "## Diagrams", ""]
    for cloud in ok:
        lines += [f"### {cloud}", "", "```mermaid", c.columns[cloud]["diagram"]["mermaid"].rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"
