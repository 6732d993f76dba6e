"""Run the policy rules on a planned graph, and refuse to deploy on a mandatory violation.

``evaluate(graph, stack)`` is what ``mbops preview`` / ``policy check`` / ``up`` call; each finding is
``{"rule", "severity", "enforcement", "resource" (URN), "name", "type", "message", "remediation", "control",
"reason"}`` where ``enforcement`` already reflects the stack's ``policy.advisory`` lowering and ``reason`` is
the written reason for it (None when not lowered). ``enforce(findings)`` raises ``PolicyViolationError``
(exit 3) with a report naming each resource, rule and fix.
"""

from __future__ import annotations

from typing import Any

from mbops.errors import PolicyViolationError
from mbops.policies.model import SEVERITY_ORDER, Context, Graph, Rule, StackFacts
from mbops.policies.registry import RULES, lowered

Finding = dict[str, Any]


def advisory_of(stack: Any) -> dict[str, str]:
    """The stack's validated ``policy.advisory`` (rule id -> reason); ConfigError on an unknown rule id."""
    policy = getattr(stack, "policy", None)
    return lowered(getattr(policy, "advisory", None) or {}, getattr(stack, "source", "stack"))


def stack_facts(stack: Any) -> StackFacts | None:
    """What the rules read from a resolved stack besides its plan (None without a stack)."""
    if stack is None:
        return None
    components = getattr(stack, "components", None) or {}
    monitoring = components.get("monitoring")
    app = getattr(stack, "app", None)
    return StackFacts(
        cloud=stack.cloud, domain=getattr(stack, "domain", None), kinds=frozenset(components),
        notify=tuple(getattr(monitoring, "notify", None) or ()),
        app_image=getattr(app, "image", None) if getattr(app, "build", None) is None else None,
    )  # fmt: skip


def evaluate(graph: dict[str, Any], stack: Any = None) -> list[Finding]:
    """Every rule on every planned resource of ``graph`` (and on the stack file, when ``stack`` is given): the
    findings, mandatory first."""
    reasons = advisory_of(stack)
    environment = graph.get("environment") or getattr(stack, "environment", None)
    app = getattr(stack, "app", None)
    ctx = Context(environment=environment, secrets_visible=True, app_env=dict(getattr(app, "env", None) or {}),
                  stack=stack_facts(stack))  # fmt: skip
    view = Graph(resources=list(graph.get("resources", [])), outputs=graph.get("outputs") or {})
    cloud = graph.get("cloud") or getattr(stack, "cloud", None)
    findings: list[Finding] = []
    for rule in RULES:
        for resource, message in rule.violations(view, ctx):
            prod = ctx.prod(resource) if resource is not None else ctx.stack_prod(view)
            findings.append(finding(rule, resource, message, reasons.get(rule.id), graph.get("stack"), cloud,
                                    prod=prod))  # fmt: skip
    findings.sort(key=lambda f: (f["enforcement"] != "mandatory", SEVERITY_ORDER[f["severity"]], f["rule"],
                                 f["resource"]))  # fmt: skip
    return findings


def finding(rule: Rule, resource: dict[str, Any] | None, message: str, reason: str | None,
            stack_name: str | None = None, cloud: str | None = None, *, prod: bool = True) -> Finding:  # fmt: skip
    """One finding in the planned-graph contract's shape (a stack-level finding takes ``cloud``'s fix; ``prod``
    says whether it is about a prod resource or stack, for rules that are mandatory in prod only)."""
    type_token = resource.get("type") if resource else "pulumi:pulumi:Stack"
    return {
        "rule": rule.id,
        "severity": rule.severity,
        "enforcement": "advisory" if reason else rule.enforcement_for(prod),
        "resource": (resource.get("urn") or resource.get("name", ""))
        if resource
        else f"stack:{stack_name or ''}",
        "name": resource.get("name", "") if resource else (stack_name or "stack"),
        "type": type_token,
        "message": str(message),
        "remediation": rule.remediation_for(type_token if resource else None, cloud),
        "control": rule.control_for(type_token if resource else None),
        "reason": reason,
    }


def mandatory(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f["enforcement"] == "mandatory"]


def report(findings: list[Finding]) -> str:
    """A readable report of the mandatory violations (resource, rule, message, fix) and the lowered rules."""
    blocking = mandatory(findings)
    lines = [f"{len(blocking)} mandatory policy violation{'s' if len(blocking) != 1 else ''}:"]
    for f in blocking:
        control = f" [{f['control']}]" if f.get("control") else ""
        lines += [
            f"  ✗ {f['rule']} ({f['severity']}){control} on {f['name']} ({f['type']})",
            f"      {f['message']}",
            f"      fix: {f['remediation']}",
        ]
    lowered_rules = sorted({(f["rule"], f["reason"]) for f in findings if f.get("reason")})
    if lowered_rules:
        lines.append("Lowered to advisory by the stack file:")
        lines += [f"  {rule}: {reason}" for rule, reason in lowered_rules]
    lines.append(
        "Fix the resources, or lower a rule with a written reason under `policy.advisory` in the stack file."
    )
    return "\n".join(lines)


def enforce(findings: list[Finding]) -> None:
    """Raise PolicyViolationError (exit 3) when any finding is mandatory."""
    if mandatory(findings):
        raise PolicyViolationError(report(findings))
