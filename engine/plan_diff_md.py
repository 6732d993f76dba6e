"""A plan diff as Markdown for a sticky pull-request comment (GitHub, GitLab).

The comment opens with a hidden marker (``<!-- mbops-diff: STACK.CLOUD -->``) that CI searches for to update
the same comment on every push, then a one-line summary, warnings that need a reviewer's eye (replaced or
removed data, mandatory findings, stack settings changed), and one collapsed ``<details>`` section each for
changed, replaced, added and removed resources, cost and policy. It stays under GitHub's comment limit
(65,536 characters): long tables are cut, with a note saying how many rows are not shown.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any

from mbops import __version__

MAX_CHARS = 65_536  # GitHub's limit on an issue or pull-request comment
_ROW_LIMITS = (None, 400, 200, 100, 50, 25, 10, 5)
_VALUE_LIMITS = (160, 80, 40)


def marker(diff: dict[str, Any]) -> str:
    """The hidden line CI finds its own comment by (one comment per stack and cloud)."""
    return f"<!-- mbops-diff: {diff['stack']}.{diff['cloud']} -->"


def money(value: float, signed: bool = False) -> str:
    text = f"${abs(value):,.2f}"
    if signed:
        return f"+{text}" if value > 0 else (f"-{text}" if value < 0 else "±$0.00")
    return f"-{text}" if value < 0 else text


def utf16_len(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _text(value: str) -> str:
    """Free text in a table cell: one line, no pipes, no HTML outside `code spans` (inside them it is inert)."""
    parts = str(value).replace("\n", " ").split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        parts = [str(value).replace("\n", " ").replace("`", "'")]
    text = "`".join(part if i % 2 else html.escape(part, quote=False) for i, part in enumerate(parts))
    return text.replace("|", "\\|")


def _code(value: Any, limit: int) -> str:
    """A value as an inline code span in a table cell (``[secret]`` stays as is)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(", ", ": "))
    text = text.replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _value(change: dict[str, Any], side: str, limit: int) -> str:
    return _code(change[side], limit) if side in change else "*(none)*"


def summary_line(diff: dict[str, Any]) -> str:
    """``**mbops** `stack` (profile on cloud, env): 7 to add, ... · cost ... · policy ...`` (one line)."""
    s, head = diff["summary"], diff["head"]
    counts = ", ".join(f"{s[k]} to {k}" for k in ("add", "change", "replace", "remove"))
    if not any(s[k] for k in ("add", "change", "replace", "remove")):
        counts = "no resource changes"
    text = f"**mbops** `{diff['stack']}` ({head['profile']} on {diff['cloud']}, {head['environment']}): {counts}"
    if not diff["base"]["exists"]:
        text += " (new stack)"
    cost = diff["cost"]
    if cost is not None:
        pct = f"{cost['delta_percent']:+.1f}%, " if cost["delta_percent"] is not None else ""
        text += (
            f" · cost **{money(cost['delta'], signed=True)}/month** "
            f"({pct}{money(cost['base_total'])} → {money(cost['head_total'])})"
        )
    policy = diff["policy"]
    text += (
        f" · policy: {len(policy['new'])} new, {len(policy['resolved'])} resolved"
        f" ({policy['head']['mandatory']} mandatory, {policy['head']['advisory']} advisory in head)"
    )
    return text


def _warnings(diff: dict[str, Any]) -> list[str]:
    lines = []
    res = diff["resources"]
    lost = [r for r in res["replaced"] if r["stateful"] and r.get("certain", True)]
    maybe = [r for r in res["replaced"] if r["stateful"] and not r.get("certain", True)]
    gone = [r for r in res["removed"] if r["stateful"]]
    if lost:
        lines.append(f"**Replaces {len(lost)} resource(s) that hold data**: {_names(lost)}. Their data is lost "
                     "unless it is backed up and restored.")  # fmt: skip
    if maybe:
        lines.append(f"**May replace {len(maybe)} resource(s) that hold data**: {_names(maybe)}.")
    if gone:
        lines.append(f"**Removes {len(gone)} resource(s) that hold data**: {_names(gone)}.")
    if diff["policy"]["head"]["mandatory"]:
        lines.append(f"**{diff['policy']['head']['mandatory']} mandatory policy violation(s)**: `mbops up` "
                     "refuses to deploy this head.")  # fmt: skip
    for setting in diff["settings"]:
        lines.append(f"The stack's **{setting['field']}** changes: `{_text(setting['base'])}` → "
                     f"`{_text(setting['head'])}`.")  # fmt: skip
    for warning in diff["warnings"]:
        lines.append(f"Plan warning: {_text(warning)}")
    return [f"> {line}" for line in lines]


def _names(resources: list[dict[str, Any]]) -> str:
    return ", ".join(f"`{r['name']}`" for r in resources[:10]) + (" …" if len(resources) > 10 else "")


def _details(title: str, body: list[str]) -> list[str]:
    return ["<details><summary>" + title + "</summary>", "", *body, "", "</details>", ""]


def _cut(rows: list[str], limit: int | None, what: str) -> list[str]:
    if limit is None or len(rows) <= limit:
        return rows
    return [*rows[:limit], "", f"*… {len(rows) - limit} more {what} not shown: the full diff is "
                               "`mbops diff --format json`.*"]  # fmt: skip


def _resource_cell(r: dict[str, Any]) -> str:
    return f"`{_text(r['name'])}`<br><sub>{_text(r['type'])}</sub>"


def _change_rows(resources: list[dict[str, Any]], width: int, with_reason: bool) -> list[str]:
    rows = []
    for r in resources:
        note = ""
        if with_reason:
            verb = "replace" if r.get("certain", True) else "may replace"
            note = f"<br>**{verb}**: {_text(r['reason'])}" + (" (holds data)" if r["stateful"] else "")
        changes = r["changes"] or [{"path": "(no input changes)", "replace": None}]
        for i, c in enumerate(changes):
            flag = f" *({c['replace']})*" if c.get("replace") else ""
            cell = _resource_cell(r) + note if i == 0 else ""
            rows.append(f"| {cell} | `{_text(c['path'])}`{flag} | {_value(c, 'base', width)} | "
                        f"{_value(c, 'head', width)} |")  # fmt: skip
    return rows


def common_changes(
    resources: list[dict[str, Any]], min_count: int = 3
) -> tuple[list[tuple[dict[str, Any], int]], list[dict[str, Any]]]:
    """The same change made on ``min_count`` or more resources (a new tag everywhere) as one row each with its
    count, and the resources with their remaining changes (those left with none are counted in the rows)."""

    def key(c: dict[str, Any]) -> str:
        return json.dumps([c["path"], c.get("base", "(none)"), c.get("head", "(none)")], sort_keys=True)

    counts: dict[str, int] = defaultdict(int)
    first: dict[str, dict[str, Any]] = {}
    for r in resources:
        for k in {key(c) for c in r["changes"]}:
            counts[k] += 1
        for c in r["changes"]:
            first.setdefault(key(c), c)
    common = {k for k, n in counts.items() if n >= min_count}
    rest = [{**r, "changes": [c for c in r["changes"] if key(c) not in common]} for r in resources]
    return [(first[k], counts[k]) for k in first if k in common], [r for r in rest if r["changes"]]


def _by_component(resources: list[dict[str, Any]], data_note: bool) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in resources:
        groups[r.get("component") or "(stack)"].append(r)
    return [f"| {_text(kind)} | {_resource_cell(r)}{' (holds data)' if data_note and r['stateful'] else ''} |"
            for kind, items in sorted(groups.items()) for r in items]  # fmt: skip


def _cost_section(cost: dict[str, Any], rows: int | None) -> list[str]:
    body = ["| component | base | head | change |", "|---|---:|---:|---:|"]
    changed = [c for c in cost["by_component"] if c["delta"]]
    body += [f"| {_text(c['component'])} | {money(c['base'])} | {money(c['head'])} | "
             f"**{money(c['delta'], signed=True)}** |" for c in changed]  # fmt: skip
    body.append(f"| **total** | {money(cost['base_total'])} | {money(cost['head_total'])} | "
                f"**{money(cost['delta'], signed=True)}** |")  # fmt: skip
    unchanged = len(cost["by_component"]) - len(changed)
    if unchanged:
        body += ["", f"{unchanged} component(s) cost the same."]
    if cost["resources"]:
        lines = [f"| {_text(r['resource'])} | {_text(r['component'] or '')} | {money(r['base'])} | "
                 f"{money(r['head'])} | {money(r['delta'], signed=True)} |" for r in cost["resources"]]  # fmt: skip
        body += ["", "Per resource:", "", "| resource | component | base | head | change |",
                 "|---|---|---:|---:|---:|", *_cut(lines, rows or 15, "resources")]  # fmt: skip
    if cost["unpriced"]:
        names = ", ".join(f"`{_text(u.get('resource', '?'))}`" for u in cost["unpriced"][:10])
        body += ["", f"Not priced, not in the totals: {names}" + (" …" if len(cost["unpriced"]) > 10 else "")]
    body += ["", f"Monthly list prices ({cost['currency']}) from mbops's price catalog and the stack's usage "
                 "assumptions (`mbops cost --list-usage`)."]  # fmt: skip
    return body


def _finding_rows(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"| {f.get('enforcement', 'mandatory')} | `{_text(f['rule'])}` ({_text(f.get('severity', ''))}) | "
        f"`{_text(f.get('name') or f['resource'])}` | {_text(f.get('message', ''))}"
        + (f"<br><sub>fix: {_text(f['remediation'])}</sub>" if f.get("remediation") else "") + " |"
        for f in findings
    ]


def _policy_section(policy: dict[str, Any], rows: int | None) -> list[str]:
    body: list[str] = []
    header = ["| enforcement | rule | resource | finding |", "|---|---|---|---|"]
    if policy["new"]:
        body += ["**New findings**", "", *header, *_cut(_finding_rows(policy["new"]), rows, "findings"), ""]
    if policy["resolved"]:
        body += ["**Resolved**", "", *header, *_cut(_finding_rows(policy["resolved"]), rows, "findings"), ""]
    body.append(f"{policy['unchanged']} finding(s) unchanged. Mandatory findings stop `mbops up`; a stack file "
                "may lower a rule to advisory with a written reason (`policy.advisory`).")  # fmt: skip
    return body


def _render(diff: dict[str, Any], rows: int | None, width: int) -> str:
    res = diff["resources"]
    out = [marker(diff), summary_line(diff), ""]
    warnings = _warnings(diff)
    if warnings:
        out += [*warnings, ""]
    head = ["| resource | input | base | head |", "|---|---|---|---|"]
    if res["replaced"]:
        body = [*head, *_cut(_change_rows(res["replaced"], width, True), rows, "rows")]
        out += _details(f"<b>Replaced</b> ({len(res['replaced'])})", body)
    if res["changed"]:
        common, rest = common_changes(res["changed"])
        lines = [f"| *{n} resources* | `{_text(c['path'])}` | {_value(c, 'base', width)} | "
                 f"{_value(c, 'head', width)} |" for c, n in common]  # fmt: skip
        body = [*head, *_cut(lines + _change_rows(rest, width, False), rows, "rows")]
        out += _details(f"<b>Changed in place</b> ({len(res['changed'])})", body)
    for key, title in (("added", "Added"), ("removed", "Removed")):
        if res[key]:
            found = _by_component(res[key], key == "removed")
            body = ["| component | resource |", "|---|---|", *_cut(found, rows, "resources")]
            out += _details(f"<b>{title}</b> ({len(res[key])})", body)
    cost = diff["cost"]
    if cost is not None:
        out += _details(f"<b>Cost</b>: {money(cost['delta'], signed=True)}/month", _cost_section(cost, rows))
    policy = diff["policy"]
    out += _details(f"<b>Policy</b>: {len(policy['new'])} new, {len(policy['resolved'])} resolved",
                    _policy_section(policy, rows))  # fmt: skip
    base, head_side = diff["base"], diff["head"]
    base_text = f"`{_text(base['label'])}`" if base["exists"] else "nothing (new stack)"
    out.append(
        f"<sub>mbops {__version__}: offline plans (embedded engine, no credentials) of {base_text} → "
        f"`{_text(head_side['label'])}`; {diff['summary']['unchanged']} resource(s) unchanged. "
        "The deploy on merge plans against the stack's real state.</sub>"
    )
    return "\n".join(out) + "\n"


def markdown(diff: dict[str, Any], max_chars: int = MAX_CHARS) -> str:
    """The diff as a PR comment of at most ``max_chars`` (UTF-16 units): tables are cut until it fits."""
    for width in _VALUE_LIMITS:
        for rows in _ROW_LIMITS:
            text = _render(diff, rows, width)
            if utf16_len(text) <= max_chars:
                return text
    note = "\n\n*The diff is too large for a comment: see `mbops diff --format json` in the job's log.*\n"
    head = "\n".join([marker(diff), summary_line(diff), "", *_warnings(diff)])
    budget = max_chars - utf16_len(note)
    while utf16_len(head) > budget:
        head = head[: max(0, len(head) - (utf16_len(head) - budget) - 1)]
    return head + note
