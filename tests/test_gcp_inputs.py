"""GCP plans beyond the built-in profiles (a domain with its Cloud DNS zone, notification targets and a budget,
self-hosted PostgreSQL, settings turned off) send only inputs pulumi-gcp declares: the resources those settings
add (Certificate Manager, DNS records, budgets, channels, the database VM) are checked as the 24 profile plans are
(``engine/schema_check.py``, tests/test_input_types.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mbops.engine.plan import plan
from mbops.engine.schema_check import check_graph, skip_reason
from mbops.stacks.config import StackFile, resolve
from tests.conftest import PROFILES

MONITORING = {"notify": ["email:ops@example.com", "webhook:https://hooks.example.com/a"], "budget_usd": 100,
              "billing_account": "0123AB-CDEF01-234567"}  # fmt: skip
VARIANTS: dict[str, dict[str, Any]] = {
    "domain+zone": {"domain": "api.example.com", "dns_zone": {"name": "example.com", "managed_zone": "example-com"},
                    "components": {"monitoring": MONITORING}},
    "domain-only": {"domain": "api.example.com", "components": {"edge": {"min_tls": "1.3", "managed_rules": False}}},
    "waf-off": {"components": {"edge": {"waf": False}, "monitoring": {"notify": ["email:a@example.com"]}}},
}  # fmt: skip
# The types each variant exists to check: they must be planned (and so checked).
ADDED = {
    "domain+zone": {"gcp:certificatemanager/certificate:Certificate", "gcp:dns/recordSet:RecordSet",
                    "gcp:billing/budget:Budget", "gcp:monitoring/notificationChannel:NotificationChannel"},
    "domain-only": {"gcp:certificatemanager/dnsAuthorization:DnsAuthorization",
                    "gcp:compute/targetHttpsProxy:TargetHttpsProxy"},
    "waf-off": {"gcp:monitoring/notificationChannel:NotificationChannel"},
}  # fmt: skip


def _checked(graph: dict[str, Any], types: set[str]) -> None:
    planned = {r["type"] for r in graph["resources"] if skip_reason(r) is None}
    assert types <= planned, sorted(types - planned)
    findings = check_graph(graph)
    assert not findings, "\n".join(str(f) for f in findings)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("profile", PROFILES)
def test_prod_variants_send_only_declared_inputs(profile: str, variant: str) -> None:
    stack = resolve(StackFile.model_validate(VARIANTS[variant]), profile=profile, cloud="gcp", environment="prod")
    _checked(plan(stack, with_policy=False, with_cost=False), ADDED[variant])


def test_self_hosted_postgres_sends_only_declared_inputs() -> None:
    settings = {"components": {"database": {"self_hosted": True}}}
    stack = resolve(StackFile.model_validate(settings), profile="custom", cloud="gcp", environment="prod")
    _checked(plan(stack, with_policy=False, with_cost=False),
             {"gcp:compute/instance:Instance", "gcp:compute/disk:Disk", "gcp:compute/resourcePolicy:ResourcePolicy"})
