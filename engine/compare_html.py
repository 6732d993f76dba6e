"""The comparison as one self-contained HTML page (inline CSS and SVG; nothing fetched from the network)."""

from __future__ import annotations

from html import escape
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
from mbops.engine.fmt import count, money, number

CSS = """
:root { --ink:#1d2733; --muted:#5b6778; --line:#d9dee6; --bg:#f6f8fb; --ok:#2f7d4a; --warn:#a35b00;
        --bad:#b3261e;
        --best:#e7f5ec; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color:var(--ink);
       background:var(--bg); }
main { max-width:1280px; margin:0 auto; padding:24px; }
h1 { font-size:24px; margin:0 0 4px; } h2 { font-size:18px; margin:32px 0 10px; }
h3 { font-size:15px; margin:16px 0 6px; }
.sub { color:var(--muted); margin:0 0 20px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(240px, 1fr)); gap:14px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card h2 { margin:0 0 6px; font-size:17px; text-transform:uppercase; letter-spacing:.04em; }
.card .total { font-size:26px; font-weight:650; }
.card .best { color:var(--ok); font-size:12px; font-weight:600; margin-left:6px; }
.card ul { margin:8px 0 0; padding-left:18px; color:var(--muted); }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line);
        table-layout:fixed; }
table.kv { table-layout:auto; width:auto; } th.kind { width:110px; }
th, td { text-align:left; vertical-align:top; padding:8px 10px; border-bottom:1px solid var(--line); }
th { background:#eef2f7; font-weight:600; } td.kind { font-weight:600; white-space:nowrap; }
td.cheapest { background:var(--best); }
.money { font-weight:600; } .muted { color:var(--muted); font-size:12px; }
.gap { color:var(--warn); font-weight:600; } .fail { color:var(--bad); font-weight:600; }
.pill { display:inline-block; border-radius:9px; padding:0 7px; font-size:12px; margin-right:4px; }
.pill.m { background:#fde8e6; color:var(--bad); } .pill.a { background:#fff3e0; color:var(--warn); }
.pill.z { background:#e8f3ec; color:var(--ok); } .pill.n { background:#eef2f7; color:var(--muted); }
.diagrams { display:grid; grid-template-columns:1fr; gap:14px; }
.diagram { background:#fff; border:1px solid var(--line); border-radius:10px; padding:10px; overflow:auto; }
pre { white-space:pre-wrap; background:#f0f3f7; padding:10px; border-radius:6px; font-size:12px; }
details { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 12px; margin:8px 0; }
summary { cursor:pointer; font-weight:600; }
code { font-size:12px; }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _table(head: str, rows: list[str], first: str = "component") -> str:
    return f"<table><thead><tr><th class='kind'>{first}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _policy(policy: dict[str, int]) -> str:
    if not policy["mandatory"] and not policy["advisory"]:
        return '<span class="pill z">no findings</span>'
    m, a = policy["mandatory"], policy["advisory"]  # a zero count is no alarm: only a non-zero one is coloured
    return (
        f'<span class="pill {"m" if m else "n"}">{m} mandatory</span>'
        f'<span class="pill {"a" if a else "n"}">{a} advisory</span>'
    )


def _cards(c: Comparison, ok: list[str]) -> str:
    totals = {x: c.columns[x]["monthly_total"] for x in ok if c.columns[x]["monthly_total"] is not None}
    cheapest = min(totals, key=totals.get) if len(totals) > 1 else None  # type: ignore[arg-type]
    out = ['<section class="cards">']
    for cloud in c.clouds:
        column = c.columns[cloud]
        if not column.get("ok"):
            out.append(
                f'<div class="card" data-cloud="{_e(cloud)}"><h2>{_e(cloud)}</h2>'
                f'<p class="fail">plan failed</p><p>{_e(column["error"])}</p></div>'
            )
            continue
        best = '<span class="best">lowest estimate</span>' if cloud == cheapest else ""
        gaps = "".join(f'<li class="gap">not available: {_e(u["kind"])}</li>' for u in column["unavailable"])
        gaps += "".join(f'<li class="gap">partly: {_e(u["kind"])}</li>' for u in column.get("limitations") or [])
        unpriced = len(column["unpriced"])
        costs = {k: v["monthly"] for k, v in column["kinds"].items() if v["monthly"] > 0}
        top = sorted(costs, key=costs.__getitem__, reverse=True)[:2]
        drivers = ", ".join(f"{_e(k)} {money(costs[k])}" for k in top)
        out.append(
            f'<div class="card" data-cloud="{_e(cloud)}"><h2>{_e(cloud)}</h2>'
            f'<div><span class="total">{money(column["monthly_total"])}</span> / month{best}</div>'
            f"<ul><li>region {_e(column['region'])}</li><li>{count(column['resource_count'])}</li>"
            f"<li>largest: {drivers or 'none'}</li>"
            f"<li>policy: {_policy(column['policy'])}</li>"
            f"<li>monitoring: {_e(monitoring_text(column))}</li>"
            f"<li>{count(unpriced, 'resource')} not priced</li>{gaps}</ul></div>"
        )
    out.append("</section>")
    return "".join(out)


def _summary_table(c: Comparison, ok: list[str]) -> str:
    head = "".join(
        f'<th data-cloud="{_e(x)}">{_e(x)} <span class="muted">{_e(c.columns[x]["region"])}</span></th>' for x in ok
    )
    rows = []
    for kind in c.kinds:
        cells = {x: c.cell(x, kind) for x in ok}
        priced = {
            x: cell["monthly"] for x, cell in cells.items() if cell["resource_count"] and not cell.get("unavailable")
        }
        low = min(priced.values()) if len(priced) > 1 and len(set(priced.values())) > 1 else None
        tds = []
        for cloud, cell in cells.items():
            if cell.get("unavailable"):
                u = cell["unavailable"]
                tds.append(
                    f'<td><span class="gap">not available</span><br>{_e(sentence(u["reason"]))}'
                    f'<br><span class="muted">{_e(use_text(u))}</span></td>'
                )
                continue
            cap = cell.get("capability") or {}
            unpriced = f' <span class="muted">+{cell["unpriced"]} unpriced</span>' if cell["unpriced"] else ""
            partly = f'<br><span class="gap">{_e(gap_text(cell))}</span>' if cell.get("limitation") else ""
            cls = ' class="cheapest"' if low is not None and priced.get(cloud) == low else ""
            tds.append(
                f"<td{cls}>{_e(cap.get('service', '-'))}<br>"
                f"<span class='money'>{money(cell['monthly'])}</span>/mo · "
                f"{count(cell['resource_count'])}{unpriced}<br>{_policy(cell['policy'])}{partly}</td>"
            )
        rows.append(f'<tr><td class="kind">{_e(kind)}</td>{"".join(tds)}</tr>')
    total = "".join(
        f"<td><span class='money'>{money(c.columns[x]['monthly_total'])}</span>/mo · "
        f"{count(c.columns[x]['resource_count'])}<br>{_policy(c.columns[x]['policy'])}</td>"
        for x in ok
    )
    rows.append(f'<tr><td class="kind">total</td>{total}</tr>')
    return _table(head, rows)


def _capabilities(c: Comparison, ok: list[str]) -> str:
    rows = []
    for kind in [k for k in c.kinds if k != SHARED]:
        tds = []
        for cloud in ok:
            cell = c.cell(cloud, kind)
            cap = cell.get("capability") or {}
            if cell.get("unavailable"):
                tds.append(
                    '<td><span class="gap">not available</span><br>'
                    f'<span class="muted">{_e(use_text(cell["unavailable"]))}</span></td>'
                )
                continue
            if not cap:
                tds.append("<td>-</td>")
                continue
            parts = [f"<b>HA</b>: {_e(cap['ha'])}", f"<b>scale to zero</b>: {_e(cap['scale_to_zero'])}"]
            if cap.get("entry"):
                parts.append(f"<b>entry</b>: {_e(cap['entry'])}")
            parts += [_e(f) for f in cap.get("facts") or []]
            parts += [f"<span class='muted'>{_e(a)}</span>" for a in cap.get("about") or []]
            if cell.get("limitation"):
                use = use_text(cell["limitation"])
                parts.append(f"<span class='gap'>{_e(gap_text(cell))}</span> <span class='muted'>{_e(use)}</span>")
            tds.append(f"<td>{'<br>'.join(parts)}</td>")
        rows.append(f'<tr><td class="kind">{_e(kind)}</td>{"".join(tds)}</tr>')
    head = "".join(f"<th>{_e(x)}</th>" for x in ok)
    return _table(head, rows)


DRAWN_BY = {
    "graphviz": "Laid out by Graphviz.",
    "mbops": "Laid out by mbops (Graphviz's dot is not installed; apt-get install graphviz for its layout).",
}


def _diagrams(c: Comparison, ok: list[str]) -> str:
    out = ['<section class="diagrams">']
    for cloud in ok:
        diagram = c.columns[cloud]["diagram"]
        source = f"<details><summary>Mermaid source</summary><pre>{_e(diagram['mermaid'])}</pre></details>"
        if diagram.get("svg"):
            caption = DRAWN_BY.get(diagram.get("drawn_by") or "", "")
            if diagram.get("why"):
                caption = f"Laid out by mbops: {diagram['why']}"
            body = f"{diagram['svg']}<p class='muted'>{_e(caption)}</p>"
        else:
            body = "<p class='gap'>This report was assembled without diagrams: the Mermaid source follows.</p>"
        out.append(f'<div class="diagram" data-cloud="{_e(cloud)}"><h3>{_e(cloud)}</h3>{body}{source}</div>')
    out.append("</section>")
    return "".join(out)


def _monitoring(c: Comparison, ok: list[str]) -> str:
    keys = (("alarms", "alarms / alerts"), ("uptime_checks", "uptime checks"), ("dashboards", "dashboards"))
    rows = []
    for key, title in keys:
        cells = "".join(f"<td>{number(c.columns[x]['monitoring'][key])}</td>" for x in ok)
        rows.append(f"<tr><td class='kind'>{title}</td>{cells}</tr>")
    budgets = "".join(f"<td>{_budgets(c.columns[x]['monitoring']['budgets'])}</td>" for x in ok)
    rows.append(f"<tr><td class='kind'>budget</td>{budgets}</tr>")
    targets = [", ".join(c.columns[x]["monitoring"]["notify"]) for x in ok]
    cells = "".join(f"<td>{_e(t)}</td>" if t else "<td><span class='gap'>nobody</span></td>" for t in targets)
    rows.append(f"<tr><td class='kind'>alerts go to</td>{cells}</tr>")
    gaps = "".join(
        f"<p class='gap'>{_e(x)}: {_e(monitoring_text(c.columns[x]))}</p>"
        for x in ok
        if any(u["kind"] == "monitoring" for u in c.columns[x]["unavailable"])
    )
    head = "".join(f"<th>{_e(x)}</th>" for x in ok)
    return gaps + _table(head, rows, first="watches")


def _budgets(amounts: list[float | None]) -> str:
    return ", ".join(f"${number(b)}/month" if b is not None else "yes" for b in amounts) or "none"


def _details(c: Comparison, ok: list[str]) -> str:
    out = []
    for cloud in ok:
        column = c.columns[cloud]
        items = []
        for kind in c.kinds:
            cell = c.cell(cloud, kind)
            types = ", ".join(f"{n}&times; <code>{_e(t)}</code>" for t, n in cell["resources"].items()) or "none"
            items.append(f"<li><b>{_e(kind)}</b>: {types}</li>")
        findings = (
            "".join(
                f"<li><b>{_e(f['enforcement'])}</b> {_e(f['rule'])} on <code>{_e(f['name'])}</code>: "
                f"{_e(f['message'])}</li>"
                for f in column["findings"]
            )
            or "<li>none</li>"
        )
        unpriced = (
            "".join(
                f"<li><code>{_e(u['resource'])}</code> ({_e(u['type'])}): {_e(u['why'])}</li>"
                for u in column["unpriced"]
            )
            or "<li>none: everything planned is priced or free</li>"
        )
        note = f"<p class='muted'>{_e(column['note'])}</p>" if column.get("note") else ""
        out.append(
            f'<details data-cloud="{_e(cloud)}">'
            f"<summary>{_e(cloud)}: resources, policy findings, unpriced</summary>"
            f"{note}<h3>Resources by component</h3><ul>{''.join(items)}</ul>"
            f"<h3>Policy findings</h3><ul>{findings}</ul>"
            f"<h3>Not priced (not in the totals)</h3><ul>{unpriced}</ul>"
            "</details>"
        )
    return "".join(out)


def _sources(c: Comparison, ok: list[str]) -> str:
    if not ok:
        return ""
    column = c.columns[ok[0]]
    usage = "".join(
        f"<tr><td><code>{_e(key)}</code>{' *' if mine else ''}</td><td>{_e(text)}</td></tr>"
        for key, text, mine in assumption_rows(column)
    )
    catalogs = []
    for cloud in ok:
        catalog = c.columns[cloud]["catalog"]
        sources = "".join(f"<li><code>{_e(s)}</code></li>" for s in catalog.get("sources") or [])
        fallback = catalog.get("region_fallback")
        fb = (
            (
                f"<p class='gap'>{_e(catalog['region'])} has no own prices: "
                f"priced as {_e(fallback['priced_as'])} "
                f"&times; {number(fallback['multiplier'])}</p>"
            )
            if fallback
            else ""
        )
        catalogs.append(
            f"<details><summary>{_e(cloud)}: catalog as of {_e(catalog.get('as_of'))}</summary>{fb}"
            f"<p>{_e(catalog.get('method', ''))}</p><ul>{sources}</ul></details>"
        )
    return (
        f"<h2>Assumptions</h2><p>Costs for the <b>{_e(pricing_line(column))}</b>.</p>"
        "<p class='muted'>Monthly usage the estimate assumes (* = set by the stack file's "
        f"<code>usage:</code>).</p><table class='kv'><tbody>{usage}</tbody></table>"
        f"<h2>Prices</h2>{''.join(catalogs)}"
    )


def html(comparison: Comparison) -> str:
    """The whole report page."""
    c = comparison
    ok = [x for x in c.clouds if c.columns[x].get("ok")]
    failed = "".join(f'<p class="fail">{_e(x["cloud"])}: plan failed — {_e(x["error"])}</p>' for x in c.failed)
    if any(c.columns[x]["unavailable"] or c.columns[x].get("limitations") for x in ok):
        failed += (
            "<p class='gap'>A component marked “not available” is not in that cloud's total, and one marked "
            "“partly” lacks part of its spec: compare the totals with those gaps in mind.</p>"
        )
    timing = ", ".join(f"{x} {c.columns[x].get('seconds', 0):.1f} s" for x in c.clouds)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>mbops compare: {_e(c.profile)} ({_e(c.environment)})</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>{_e(c.profile)} profile, {_e(c.environment)}: {_e(', '.join(c.clouds))}</h1>"
        f"<p class='sub'>Generated {_e(c.generated_at)} by <code>mbops compare</code> from offline plans. "
        f"Estimated list prices per month in USD; see the assumptions and price sources below.</p>{failed}"
        f"{_cards(c, ok)}<h2>By component</h2>{_summary_table(c, ok)}"
        f"<h2>Capabilities (as planned)</h2>{_capabilities(c, ok)}<h2>Monitoring</h2>{_monitoring(c, ok)}"
        f"<h2>Architecture</h2>{_diagrams(c, ok)}"
        f"<h2>Details</h2>{_details(c, ok)}{_sources(c, ok)}"
        f"<p class='muted'>Plans ran in {c.workers} parallel worker(s): {_e(timing)}; "
        f"{c.seconds:.1f} s in all.</p>"
        "</main></body></html>\n"
    )
