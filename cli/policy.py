"""``mbops policy``: run the policy rules on a stack's plan, offline, or list the rules."""

from __future__ import annotations

import os
from typing import Any

import click

from mbops.cli.options import CLOUDS, StackRef, stack_options
from mbops.cli.render import console, echo_json

ENFORCEMENT_STYLE = {"mandatory": "bold red", "advisory": "yellow"}
SEVERITY_STYLE = {"high": "red", "medium": "yellow", "low": "dim"}


@click.group()
def policy() -> None:
    """Check a stack against the policy rules (offline), or list the rules.

    The same rules run in `mbops preview`, before every `mbops up` (a mandatory violation stops the deploy
    with exit code 3), and in Pulumi CrossGuard (`pulumi up --policy-pack policies`).
    """


@policy.command("check")
@stack_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def check(ref: StackRef, as_json: bool) -> None:
    """Plan a stack on the embedded engine and check it against every rule.

    Exit code 3 when a mandatory rule is violated, 0 otherwise. A stack file may lower a rule to advisory
    with a written reason (`policy: {advisory: {RULE: REASON}}`); the reason is shown with its findings.

    \b
    Examples:
      mbops policy check --cloud aws --profile managed --env prod
      mbops policy check -f stack.yaml --json
    """
    from mbops.engine.plan import plan
    from mbops.errors import PolicyViolationError
    from mbops.policies.check import advisory_of, mandatory
    stack = ref.stack
    reasons = advisory_of(stack)  # an unknown rule id fails before planning
    graph = plan(stack, with_cost=False)
    findings = graph["policy"]
    result = check_result(graph, findings, reasons)
    if as_json:
        echo_json(result)
    else:
        print_findings(result)
    blocking = mandatory(findings)
    if blocking:
        raise PolicyViolationError(
            f"{len(blocking)} mandatory policy violation{'s' if len(blocking) != 1 else ''} in stack "
            f"'{stack.name}' ({stack.profile} on {stack.cloud}, {stack.environment}); fix them, or lower a "
            f"rule "
            "with a written reason under policy.advisory in the stack file"
        )


def check_result(
    graph: dict[str, Any], findings: list[dict[str, Any]], reasons: dict[str, str]
) -> dict[str, Any]:
    """The JSON document of ``policy check``."""
    from mbops.policies.registry import RULES

    blocking = sum(1 for f in findings if f["enforcement"] == "mandatory")
    return {
        "stack": graph["stack"],
        "profile": graph["profile"],
        "cloud": graph["cloud"],
        "environment": graph["environment"],
        "passed": blocking == 0,
        "summary": {
            "mandatory": blocking,
            "advisory": len(findings) - blocking,
            "rules": len(RULES),
            "resources": sum(1 for r in graph["resources"] if r["custom"]),
        },
        "lowered": [
            {"rule": rule, "reason": reason, "findings": sum(1 for f in findings if f["rule"] == rule)}
            for rule, reason in sorted(reasons.items())
        ],
        "findings": findings,
    }


def wide_console() -> Any:
    """The CLI console, at least 160 columns wide when writing to a pipe or file (tables stay readable)."""
    out = console()
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = max(out.width, 160)
    return out


def print_findings(result: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = wide_console()
    title = f"Policy: {result['stack']} ({result['profile']} on {result['cloud']}, {result['environment']})"
    if result["findings"]:
        table = Table(title=title, expand=False, show_lines=True)
        for column in ("rule", "severity", "enforcement", "resource", "message", "fix"):
            table.add_column(column, overflow="fold")
        for f in result["findings"]:
            enforcement = f"[{ENFORCEMENT_STYLE[f['enforcement']]}]{f['enforcement']}[/]"
            if f.get("reason"):
                enforcement += "\n(lowered)"
            control = f"\n[dim]{f['control']}[/]" if f.get("control") else ""
            table.add_row(
                f["rule"] + control,
                f"[{SEVERITY_STYLE[f['severity']]}]{f['severity']}[/]",
                enforcement,
                f"{escape(f['name'])}\n[dim]{escape(f['type'])}[/]",
                escape(f["message"]),
                escape(f["remediation"]),
            )
        out.print(table)
    for lowered in result["lowered"]:
        out.print(
            f"[yellow]lowered to advisory[/] {lowered['rule']} ({lowered['findings']} finding"
            f"{'s' if lowered['findings'] != 1 else ''}): {escape(lowered['reason'])}"
        )
    s = result["summary"]
    if not result["findings"]:  # one line says it all
        out.print(f"{title}: [green]passed[/], no findings ({s['rules']} rules on {s['resources']} resources).")
        return
    verdict = "[green]passed[/]" if result["passed"] else "[bold red]failed[/]"
    out.print(
        f"Policy {verdict}: {s['mandatory']} mandatory, {s['advisory']} advisory "
        f"({s['rules']} rules on {s['resources']} resources)."
    )


@policy.command("list")
@click.option("--cloud", "-c", type=click.Choice(CLOUDS), help="Only the rules that apply to this target.")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def list_rules(cloud: str | None, as_json: bool) -> None:
    """List the policy rules: id, severity, enforcement, compliance control, what each demands."""
    from rich.markup import escape
    from rich.table import Table

    from mbops.policies.registry import RULES

    rules = [r for r in RULES if cloud is None or cloud in r.clouds]
    if as_json:
        echo_json([
            {"id": r.id, "title": r.title, "severity": r.severity, "enforcement": r.enforcement,
             "enforcement_outside_prod": r.enforcement_outside_prod, "clouds": list(r.clouds),
             "control": r.control_summary() or None, "description": r.description,
             "remediation": r.remediation, "resource_types": r.resource_types, "prod_only": r.prod_only,
             "stack_level": r.graph_check is not None}
            for r in rules
        ])  # fmt: skip
        return
    table = Table(title=f"mbops policy rules{f' ({cloud})' if cloud else ''}", expand=False, show_lines=True)
    for column in ("id", "severity", "enforcement", "clouds", "control", "description"):
        table.add_column(column, overflow="fold")
    for r in rules:
        table.add_row(
            r.id + (" [dim](prod)[/]" if r.prod_only else ""),
            f"[{SEVERITY_STYLE[r.severity]}]{r.severity}[/]",
            f"[{ENFORCEMENT_STYLE[r.enforcement]}]{r.enforcement}[/]"
            + (f"\n[dim]{r.enforcement_outside_prod} outside prod[/]" if r.enforcement_outside_prod else ""),
            ", ".join(r.clouds),
            escape(r.control_summary() or "—"),
            escape(r.description),
        )
    wide_console().print(table)
