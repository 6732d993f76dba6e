"""Every built-in rule, looked up by id, and the lowering of rules to advisory a stack file may ask for."""

from __future__ import annotations

from collections.abc import Mapping

from mbops.errors import ConfigError
from mbops.policies import (
    rules_auth,
    rules_edge,
    rules_encryption,
    rules_exposure,
    rules_https,
    rules_hygiene,
    rules_iam,
    rules_local,
    rules_network,
    rules_ops,
    rules_resilience,
    rules_secrets,
    rules_supply,
)
from mbops.policies.model import Rule

RULES: tuple[Rule, ...] = (
    *rules_encryption.RULES,
    *rules_exposure.RULES,
    *rules_network.RULES,
    *rules_https.RULES,
    *rules_edge.RULES,
    *rules_iam.RULES,
    *rules_auth.RULES,
    *rules_supply.RULES,
    *rules_resilience.RULES,
    *rules_ops.RULES,
    *rules_hygiene.RULES,
    *rules_secrets.RULES,
    *rules_local.RULES,
)
BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
assert len(BY_ID) == len(RULES), "duplicate rule ids"


def rule(rule_id: str) -> Rule:
    """The rule with ``rule_id``; a ConfigError listing the rule ids when there is none."""
    try:
        return BY_ID[rule_id]
    except KeyError:
        raise ConfigError(f"unknown policy rule '{rule_id}'; rules: {', '.join(sorted(BY_ID))}") from None


def lowered(advisory: Mapping[str, str], source: str = "stack") -> dict[str, str]:
    """Validate ``policy.advisory`` (rule id -> written reason) and return it; unknown ids are a
    ConfigError."""
    unknown = sorted(set(advisory) - set(BY_ID))
    if unknown:
        raise ConfigError(
            f"{source}: policy.advisory: unknown rule {', '.join(repr(u) for u in unknown)}; "
            f"rules: {', '.join(sorted(BY_ID))}"
        )
    return dict(advisory)


def rules_table() -> str:
    """The Markdown table of the rules in policies/README.md (a test keeps the README in step)."""
    lines = [
        "| rule | severity | enforcement | clouds | control | what it demands | fix |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in RULES:
        scope = " (prod)" if r.prod_only else ""
        fix = r.remediation if isinstance(r.remediation, str) else "<br>".join(
            f"{cloud}: {hint}" for cloud, hint in r.remediation.items()
        )
        enforcement = r.enforcement if r.enforcement_outside_prod is None else (
            f"{r.enforcement} in prod, {r.enforcement_outside_prod} elsewhere"
        )
        lines.append(
            f"| `{r.id}`{scope} | {r.severity} | {enforcement} | {', '.join(r.clouds)} | "
            f"{r.control_summary() or '—'} | {r.description} | {fix} |"
        )
    return "\n".join(lines)
