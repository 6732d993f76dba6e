"""``mbops diff``: what changes between two planned graphs — resources, monthly cost, policy findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mbops.cli.render import console

FORMATS = ("table", "markdown", "json")


@click.command()
@click.argument("base", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("head", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table for a terminal, markdown for a pull-request comment, json for machines.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="CONDITION",
              help="Exit 3 when a condition holds (repeatable): mandatory, advisory, cost-increase=PERCENT% "
                   "or cost-increase=AMOUNT (per month).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the diff to FILE (the exit code still reflects --fail-on).")
@click.option("--base-label", metavar="TEXT", help="Name of the base in the report (e.g. a commit). [default: BASE]")
@click.option("--head-label", metavar="TEXT", help="Name of the head in the report. [default: HEAD]")
def diff(
    base: Path, head: Path, fmt: str, fail_on: tuple[str, ...], output: Path | None,
    base_label: str | None, head_label: str | None,
) -> None:  # fmt: skip
    """Compare two planned graphs (`mbops preview --json`) of one stack.

    \b
    Shows resources added, changed in place (each changed input by path; secrets stay [secret]), replaced
    (an input the provider cannot change in place, a new type or name; "may replace" where it depends) and
    removed; the monthly cost delta per component and in total; policy findings new and resolved.
    An empty BASE file means the stack is new (everything is added): `mbops diff /dev/null head.json`.

    \b
    --fail-on (repeatable; exit 3 when one holds, after the diff is written):
      mandatory               head has a mandatory policy finding (`mbops up` would refuse it)
      advisory                head has a mandatory finding, or a finding base does not have
      cost-increase=20%       the monthly total rises by more than 20% (any rise from $0)
      cost-increase=50        the monthly total rises by more than 50 (USD)

    \b
    Exit codes: 0 ok, 2 bad input (unreadable file, not a planned graph, plans of different stacks),
    3 a --fail-on condition holds.

    \b
    Examples:
      mbops preview -f stack.yaml --json > head.json
      mbops diff base.json head.json
      mbops diff base.json head.json --format markdown -o comment.md --fail-on mandatory
    """
    from mbops.engine.plan_diff import diff_plans, failures, load_plan, parse_fail_on
    from mbops.errors import PolicyViolationError

    conditions = [parse_fail_on(c) for c in fail_on]  # bad conditions fail before any file is read
    base_graph, head_graph = load_plan(base), load_plan(head)
    if head_graph is None:
        from mbops.errors import ConfigError

        raise ConfigError(f"{head}: empty; HEAD must be a planned graph (`mbops preview --json`)")
    result = diff_plans(base_graph, head_graph, base_label=base_label or str(base),
                        head_label=head_label or str(head))  # fmt: skip
    reasons = failures(result, conditions)
    if fmt == "json":
        import json

        text: str | None = json.dumps({**result, "failed": reasons}, indent=2, default=str) + "\n"
    elif fmt == "markdown":
        from mbops.engine.plan_diff_md import markdown

        text = markdown(result)
    else:
        text = None
    if text is None:
        print_diff(result, output)
    elif output is not None:
        output.write_text(text)
    else:
        click.echo(text, nl=False)
    if reasons:
        raise PolicyViolationError("mbops diff --fail-on: " + "; ".join(reasons))


# --- the terminal table ---------------------------------------------------------------------------------------

STYLE = {"add": "green", "change": "yellow", "replace": "magenta", "remove": "red"}


def _short(change: dict[str, Any], side: str, limit: int = 70) -> str:
    import json

    from rich.markup import escape

    if side not in change:
        return "[dim](none)[/]"
    text = change[side] if isinstance(change[side], str) else json.dumps(change[side], sort_keys=True)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def print_diff(result: dict[str, Any], output: Path | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from mbops.engine.plan_diff_md import money

    out = Console(file=output.open("w"), width=160) if output else console()
    res = result["resources"]
    table = Table(title=f"{result['stack']} on {result['cloud']}: {result['base']['label']} → "
                        f"{result['head']['label']}", expand=False, show_lines=False)  # fmt: skip
    for column in ("", "resource", "input", "base", "head"):
        table.add_column(column, overflow="fold")
    from mbops.engine.plan_diff_md import common_changes

    common, changed = common_changes(res["changed"])
    for c, n in common:
        table.add_row(f"[{STYLE['change']}]change[/]", f"[italic]{n} resources[/]", escape(c["path"]),
                      _short(c, "base"), _short(c, "head"))  # fmt: skip
    rows = [("replace", r) for r in res["replaced"]] + [("change", r) for r in changed]
    for op, r in rows:
        label = op if r.get("certain", True) else "may replace"
        for i, c in enumerate(r["changes"] or [{"path": "(no input changes)"}]):
            flag = f" [magenta]({c['replace']})[/]" if c.get("replace") else ""
            name = f"{escape(r['name'])}\n[dim]{escape(r['type'])}[/]" if i == 0 else ""
            table.add_row(f"[{STYLE[op]}]{label}[/]" if i == 0 else "", name, escape(c["path"]) + flag,
                          _short(c, "base"), _short(c, "head"))  # fmt: skip
        if r.get("reason") and op == "replace":
            table.add_row("", "", f"[magenta]{escape(r['reason'])}[/]", "", "")
    for op, key in (("add", "added"), ("remove", "removed")):
        for r in res[key]:
            data = " [bold red](holds data)[/]" if r["stateful"] and op == "remove" else ""
            table.add_row(f"[{STYLE[op]}]{op}[/]", f"{escape(r['name'])}\n[dim]{escape(r['type'])}[/]",
                          escape(r.get("component") or "") + data, "", "")  # fmt: skip
    if table.row_count:
        out.print(table)
    for setting in result["settings"]:
        out.print(f"[yellow]setting changed:[/] {setting['field']}: {setting['base']} → {setting['head']}")
    cost = result["cost"]
    if cost is not None:
        parts = ", ".join(f"{c['component']} {money(c['delta'], signed=True)}" for c in cost["by_component"]
                          if c["delta"])  # fmt: skip
        pct = f" ({cost['delta_percent']:+.1f}%)" if cost["delta_percent"] is not None else ""
        out.print(f"Cost: {money(cost['base_total'])} → {money(cost['head_total'])}/month: "
                  f"[bold]{money(cost['delta'], signed=True)}[/]{pct}" + (f" — {parts}" if parts else ""))  # fmt: skip
        for unpriced in cost["unpriced"]:
            out.print(f"  [yellow]not priced:[/] {escape(str(unpriced.get('resource')))}: "
                      f"{escape(str(unpriced.get('why', '')))}")  # fmt: skip
    policy = result["policy"]
    for label, findings, colour in (("new", policy["new"], "red"), ("resolved", policy["resolved"], "green")):
        for f in findings:
            out.print(f"[{colour}]{label}[/] {f.get('enforcement', 'mandatory')} {f['rule']}: "
                      f"{escape(f.get('name') or f['resource'])}: {escape(f.get('message', ''))}")  # fmt: skip
    s = result["summary"]
    changes = ", ".join(f"[{STYLE[k]}]{s[k]} to {k}[/]" for k in ("add", "change", "replace", "remove"))
    out.print(f"Diff: {changes}, {s['unchanged']} unchanged. Policy: {len(policy['new'])} new, "
              f"{len(policy['resolved'])} resolved; head has {policy['head']['mandatory']} mandatory, "
              f"{policy['head']['advisory']} advisory.")  # fmt: skip
