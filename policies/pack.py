"""The CrossGuard pack: every mbops rule as a pulumi-policy policy, over the same rule functions.

Rules that look at one resource become ``ResourceValidationPolicy`` (checked before the resource is created);
rules with a graph check (a bucket and its policy, Azure locks, stack outputs, the owner summary) become
``StackValidationPolicy`` and also run their per-resource checks there. CrossGuard hands policies camelCase
inputs with unknowns as sentinels and secrets already revealed; ``plain`` turns them into the planned-graph
shape the rules read (unknowns become ``[computed]``).

Every policy accepts two config properties (``--policy-pack-config``): ``environment`` (dev/prod, for the
prod-only rules; without it a resource's ``env`` tag decides, and a resource with neither is not prod) and
``reason`` (shown with each finding when the stack lowered the rule to advisory). ``pack_config(stack)`` writes
that config for an mbops stack. A rule that is mandatory in prod only (``Rule.enforcement_outside_prod``) is
registered at its prod level: CrossGuard sets one level per policy, so ``pack_config`` lowers it for a stack that
is not prod (without a config it blocks everywhere: fail closed).

A security setting that is unknown during a preview is not a violation yet: the policy reports it as pulumi-policy
reports any unknown it reads (an advisory "can't run during preview" note) and judges the value at update time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as _proxy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError
from pulumi_policy.secret import Secret

from mbops.policies.check import advisory_of
from mbops.policies.model import Context, Graph, Resource, Rule, Unverified, component_of_urn
from mbops.policies.registry import RULES
from mbops.policies.values import SECRET, UNKNOWN

PACK_NAME = "mbops"
PACK_DESCRIPTION = (
    "mbops guardrails for AWS, GCP and Azure: encryption at rest and in transit, private data stores, no internet "
    "admin ports, IMDSv2, least-privilege IAM, HTTPS on a custom domain with a WAF in front of every public entry in "
    "prod, a CDN that serves public files only, images pinned by digest, private registries, prod backups/HA/"
    "deletion protection and monitoring, log retention, required tags, no plaintext secrets."
)
SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}
ENFORCEMENT = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
FRAMEWORKS = {"CIS": "CIS Benchmarks", "AWS FSBP": "AWS Foundational Security Best Practices",
              "MCSB": "Microsoft cloud security benchmark"}  # fmt: skip
UNKNOWNS = frozenset(
    getattr(_proxy, name) for name in dir(_proxy) if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
)
STACK_TYPE = "pulumi:pulumi:Stack"


def config_schema() -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={
        "environment": {"type": "string", "enum": ["dev", "prod"],
                        "description": "The stack's environment (prod turns on the prod-only rules)."},
        "reason": {"type": "string", "description": "Why the stack lowered this rule to advisory."},
    })  # fmt: skip


# --- CrossGuard values -> planned-graph values --------------------------------------------------------------
def _raw(value: Any) -> Any:
    """The container behind a pulumi-policy unknown-checking proxy (reading it directly never raises)."""
    try:
        return value["__target"]
    except (KeyError, TypeError, IndexError):
        return value


def plain(value: Any) -> Any:
    """Policy-SDK values as planned-graph values: unknowns become ``[computed]``, secrets ``[secret]``."""
    if isinstance(value, Secret):
        return SECRET
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWNS else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in _raw(value).items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [plain(v) for v in _raw(value)]
    if hasattr(value, "path") or hasattr(value, "assets") or hasattr(value, "uri"):
        return "[asset]"
    return value


def _custom(type_token: str) -> bool:
    return not (type_token.startswith("mbops:") or type_token.startswith("pulumi:pulumi:"))


def resource_from_args(args: ResourceValidationArgs) -> Resource:
    """A planned-graph resource dict from a ResourceValidationArgs (resource policies see no dependencies)."""
    parent = getattr(args.opts, "parent", None) if args.opts is not None else None
    return {
        "urn": args.urn, "type": args.resource_type, "name": args.name, "parent": parent,
        "custom": _custom(args.resource_type), "component": component_of_urn(args.urn),
        "inputs": plain(args.props), "dependencies": [],
        "protect": bool(getattr(args.opts, "protect", False)), "op": "create",
    }  # fmt: skip


def resource_from_stack(res: Any) -> Resource:
    """A planned-graph resource dict from a StackValidationArgs ``PolicyResource``."""
    return {
        "urn": res.urn, "type": res.resource_type, "name": res.name,
        "parent": res.parent.urn if res.parent is not None else None,
        "custom": _custom(res.resource_type), "component": component_of_urn(res.urn),
        "inputs": plain(res.props), "dependencies": [d.urn for d in res.dependencies],
        "protect": bool(getattr(res.opts, "protect", False)), "op": "create",
    }  # fmt: skip


def context_of(config: Mapping[str, Any] | None) -> Context:
    return Context(environment=(config or {}).get("environment"), secrets_visible=False)


def message_for(rule: Rule, type_token: str | None, message: str, config: Mapping[str, Any] | None) -> str:
    control = rule.control_for(type_token)
    text = f"{message}\nfix: {rule.remediation_for(type_token)}" + (f" [{control}]" if control else "")
    reason = (config or {}).get("reason")
    return text + (f"\nlowered to advisory by the stack: {reason}" if reason else "")


# --- adapters -----------------------------------------------------------------------------------------------
def report(rule: Rule, found: Iterable[tuple[Resource | None, str]], config: Mapping[str, Any] | None,
           report_violation: ReportViolation, *, with_urn: bool) -> None:  # fmt: skip
    """Report ``rule``'s findings; settings that are still unknown (a preview) are deferred, the way
    pulumi-policy defers a policy that reads an unknown: an advisory note now, the real check at update time."""
    deferred: list[str] = []
    for res, message in found:
        if isinstance(message, Unverified):
            deferred.append(f"{res.get('name', '?')}.{message.label}" if res else message.label)
            continue
        type_token = res.get("type") if res else None
        urn = res.get("urn") if res and with_urn else None
        report_violation(message_for(rule, type_token, message, config), urn)
    if deferred:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["; ".join(deferred)])


def resource_validation(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """The validate function of a ResourceValidationPolicy running ``rule``'s checks on one resource (through
    ``Rule.violations``: the same gating, prod-only rules included, as offline)."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if rule.check_for(args.resource_type) is None:
            return
        config = args.get_config()
        graph = Graph(resources=[resource_from_args(args)])
        report(rule, rule.violations(graph, context_of(config)), config, report_violation, with_urn=False)

    return validate


def stack_validation(rule: Rule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """The validate function of a StackValidationPolicy running ``rule`` on every resource of the stack."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = args.get_config()
        resources = [resource_from_stack(r) for r in args.resources]
        outputs = next((r["inputs"] for r in resources if r["type"] == STACK_TYPE), {})
        graph = Graph(resources=resources, outputs=outputs)
        report(rule, rule.violations(graph, context_of(config)), config, report_violation, with_urn=True)

    return validate


def framework(rule: Rule) -> PolicyComplianceFramework | None:
    summary = rule.control_summary()
    if not summary:
        return None
    names = [full for prefix, full in FRAMEWORKS.items() if prefix in summary]
    return PolicyComplianceFramework(name=", ".join(names) or None, reference=summary)


def remediation_text(rule: Rule) -> str:
    if isinstance(rule.remediation, str):
        return rule.remediation
    return "\n".join(f"{cloud}: {hint}" for cloud, hint in rule.remediation.items())


def policies() -> list[Policy]:
    """One pulumi-policy Policy per mbops rule."""
    made: list[Policy] = []
    for rule in RULES:
        common = dict(
            name=rule.id, description=rule.description, enforcement_level=ENFORCEMENT[rule.enforcement],
            config_schema=config_schema(), display_name=rule.title, severity=SEVERITY[rule.severity],
            framework=framework(rule), tags=list(rule.clouds), remediation_steps=remediation_text(rule),
        )  # fmt: skip
        if rule.graph_check is None:
            made.append(ResourceValidationPolicy(validate=resource_validation(rule), **common))
        else:
            made.append(StackValidationPolicy(validate=stack_validation(rule), **common))
    return made


def pack_args() -> dict[str, Any]:
    """Keyword arguments of ``PolicyPack`` for the mbops pack (``__main__.py`` passes them)."""
    readme = Path(__file__).with_name("README.md")
    return {
        "name": PACK_NAME,
        "policies": policies(),
        "enforcement_level": EnforcementLevel.MANDATORY,
        "description": PACK_DESCRIPTION,
        "display_name": "mbops guardrails",
        "readme": readme.read_text() if readme.is_file() else None,
        "tags": ["aws", "gcp", "azure", "security", "mbops"],
    }


def pack_config(stack: Any) -> dict[str, dict[str, Any]]:
    """The ``--policy-pack-config`` object for ``stack``: its environment for every rule, lowered rules with
    their reason and enforcement level advisory, and the level of rules that are mandatory in prod only
    (``Rule.enforcement_outside_prod``) for a stack that is not prod (ConfigError on an unknown rule id)."""
    reasons = advisory_of(stack)
    prod = stack.environment == "prod"
    config: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        entry: dict[str, Any] = {"environment": stack.environment}
        if rule.enforcement_for(prod) != rule.enforcement:
            entry["enforcementLevel"] = rule.enforcement_for(prod)
        if rule.id in reasons:
            entry.update(enforcementLevel="advisory", reason=reasons[rule.id])
        config[rule.id] = entry
    return config
