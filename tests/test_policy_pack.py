"""The CrossGuard pack judges like the offline checks: the same prod gating, the same findings, and unknown
security settings deferred to the update (issue 12). The pack's policy functions are called with pulumi-policy's
own args objects (proxied props with unknown sentinels), as the analyzer calls them."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from mbops.policies.check import evaluate
from mbops.policies.pack import policies
from mbops.policies.registry import RULES
from mbops.policies.values import UNKNOWN
from tests.test_policy_semantics import CASES, res

SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi-policy's unknown string
PROD_ONLY = sorted(r.id for r in RULES if r.prod_only)
POLICIES = {p.name: p for p in policies()}


def sentinels(value: Any) -> Any:
    """Planned-graph inputs as the analyzer receives them: "[computed]" is Pulumi's unknown sentinel."""
    if value == UNKNOWN:
        return SENTINEL
    if isinstance(value, dict):
        return {k: sentinels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sentinels(v) for v in value]
    return value


def props(inputs: dict[str, Any]) -> Any:
    return unknown_checking_proxy(deserialize_properties(sentinels(inputs)))


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def run_pack(resources: list[dict[str, Any]], config: dict[str, Any] | None = None,
             rules: list[str] | None = None) -> tuple[set[tuple[str, str]], set[str]]:  # fmt: skip
    """Every pack policy on ``resources``: the (rule, resource name) violations, and the rules that deferred an
    unknown setting (pulumi-policy turns that into an advisory "can't run during preview")."""
    found: set[tuple[str, str]] = set()
    deferred: set[str] = set()
    by_urn: dict[str, PolicyResource] = {}
    for r in resources:
        by_urn[r["urn"]] = PolicyResource(r["type"], props(r["inputs"]), r["urn"], r["name"], options(), None,
                                          None, [], {})  # fmt: skip
    for r in resources:
        by_urn[r["urn"]].dependencies.extend(by_urn[d] for d in r["dependencies"] if d in by_urn)
    names = {r["urn"]: r["name"] for r in resources}
    for rule_id in rules or [r.id for r in RULES]:
        policy = POLICIES[rule_id]
        if isinstance(policy, ResourceValidationPolicy):
            calls = [(ResourceValidationArgs(r["type"], props(r["inputs"]), r["urn"], r["name"], options(), None,
                                             config), r["name"]) for r in resources]  # fmt: skip
        else:
            calls = [(StackValidationArgs(list(by_urn.values()), config), None)]
        for args, name in calls:
            def report(message: str, urn: str | None = None, rule: str = rule_id, name: str | None = name) -> None:
                found.add((rule, name or names.get(urn or "", "stack")))

            try:
                policy.validate(args, report)
            except UnknownValueError:
                deferred.add(rule_id)
    return found, deferred


def offline(resources: list[dict[str, Any]], env: str | None) -> tuple[set[tuple[str, str]], set[str]]:
    graph = {"stack": "test", "environment": env, "resources": resources, "outputs": {}}
    findings = evaluate(graph)
    for f in findings:  # the pack reports findings about the whole stack without a resource
        f["name"] = "stack" if f["resource"].startswith("stack:") else f["name"]
    definite = {(f["rule"], f["name"]) for f in findings if not f["message"].endswith("set a literal value")}
    unverified = {f["rule"] for f in findings if f["message"].endswith("set a literal value")}
    return definite, unverified


# --- prod-only rules stay quiet unless the stack is prod, in both paths -------------------------------------
RDS = "aws:rds/instance:Instance"
WEAK_PROD_DB = {"storageEncrypted": True, "publiclyAccessible": False, "multiAz": False,
                "deletionProtection": False, "backupRetentionPeriod": 1}  # fmt: skip


@pytest.mark.parametrize("config,tags,prod", [
    (None, None, False),                       # no config, no env tag: not known to be prod
    ({}, {"app": "a", "owner": "o"}, False),   # tags without env
    (None, {"env": "dev"}, False),
    ({"environment": "dev"}, {"env": "prod"}, False),  # the stack's environment wins over a tag
    (None, {"env": "PROD"}, True),
    ({"environment": "prod"}, None, True),
], ids=["nothing", "no-env-tag", "dev-tag", "dev-config-beats-tag", "prod-tag", "prod-config"])  # fmt: skip
def test_prod_only_rules_follow_the_stack_environment(
    monkeypatch: pytest.MonkeyPatch, config: dict | None, tags: dict | None, prod: bool
) -> None:
    monkeypatch.setenv("MBOPS_ENV", "prod")  # the CLI's default environment never decides for the pack
    inputs = WEAK_PROD_DB | ({"tags": tags} if tags is not None else {})
    db = res(RDS, inputs, "db")
    found, _ = run_pack([db], config, PROD_ONLY)
    expected = {("database-ha", "db"), ("database-deletion-protection", "db")} if prod else set()
    assert {f for f in found if f[1] == "db"} == expected
    # the stack as a whole: a prod stack with no alarm at all (monitoring-on is stack-level)
    assert {f for f in found if f[1] != "db"} == ({("monitoring-on", "stack")} if prod else set())
    env = (config or {}).get("environment")
    offline_found, _ = offline([db], env)
    assert {f for f in offline_found if f[0] in PROD_ONLY and f[1] == "db"} == expected
    assert {f[0] for f in offline_found if f[0] in PROD_ONLY and f[1] != "db"} == ({"monitoring-on"} if prod else set())


def test_azure_lock_rule_is_quiet_in_dev_and_fires_in_prod() -> None:
    server = res("azure-native:dbforpostgresql:Server", {"highAvailability": {"mode": "Disabled"},
                                                         "tags": {"env": "dev"}}, "pg")  # fmt: skip
    assert run_pack([server], None, PROD_ONLY)[0] == set()
    assert {f for f in run_pack([server], {"environment": "prod"}, PROD_ONLY)[0] if f[1] == "pg"} == {
        ("database-ha", "pg"), ("database-deletion-protection", "pg")
    }


# --- unknown security settings: a finding offline, deferred to the update by the pack -----------------------
def test_unknown_setting_is_deferred_and_definite_findings_still_reported() -> None:
    db = res(RDS, {"storageEncrypted": UNKNOWN, "publiclyAccessible": True, "tags": {"env": "dev"}}, "db")
    found, deferred = run_pack([db], {"environment": "dev"}, ["database-encrypted-at-rest", "database-not-public"])
    assert found == {("database-not-public", "db")}
    assert deferred == {"database-encrypted-at-rest"}
    offline_found, unverified = offline([db], "dev")
    assert ("database-not-public", "db") in offline_found and unverified == {"database-encrypted-at-rest"}


def test_analyzer_turns_a_deferred_setting_into_an_advisory_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the analyzer servicer: the unknown becomes pulumi-policy's advisory "can't run during preview",
    naming the setting; nothing blocks until the value is known."""
    from pulumi.runtime import proto

    from tests.test_policies import build_pack, struct

    servicer = build_pack(monkeypatch)
    request = proto.AnalyzeRequest(type=RDS, urn=f"urn:pulumi:dev::mbops::{RDS}::db", name="db", properties=struct({
        "storageEncrypted": SENTINEL, "publiclyAccessible": False, "tags": {"app": "a", "env": "dev", "owner": "o"},
    }))  # fmt: skip
    diagnostics = [d for d in servicer.Analyze(request, None).diagnostics if d.policyName != "required-tags"]
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("database-encrypted-at-rest", proto.ADVISORY)
    ]
    assert "db.storageEncrypted" in diagnostics[0].message and "during preview" in diagnostics[0].message


# --- one implementation: the pack finds what the offline checks find ---------------------------------------
CRAFTED = [c for c in CASES if not c.where]


@pytest.mark.parametrize("case", CRAFTED, ids=[f"{c.cloud}:{c.id}" for c in CRAFTED])
def test_pack_and_offline_agree(case: Any) -> None:
    config = {"environment": case.env}
    resources = list(case.resources)
    found, deferred = run_pack(resources, config)
    offline_found, unverified = offline(resources, case.env)
    assert found == offline_found
    assert deferred == unverified
    if case.expect == "fires" and case.rule in unverified:
        assert case.rule in deferred
    elif case.expect == "fires":
        assert any(rule == case.rule for rule, _ in found)

