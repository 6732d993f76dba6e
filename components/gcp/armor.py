"""Cloud Armor for the edge: the OWASP preconfigured WAF rules and a per-IP rate limit on the app's backend."""

from __future__ import annotations

import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpComponent, gcp_name
from mbops.components.spec import EdgeSpec

# Cloud Armor preconfigured WAF rules (OWASP CRS 3.3), evaluated at sensitivity 1 (fewest false positives).
WAF_RULES = (
    "sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rfi-v33-stable", "rce-v33-stable",
    "methodenforcement-v33-stable", "scannerdetection-v33-stable", "protocolattack-v33-stable",
    "sessionfixation-v33-stable", "cve-canary",
)  # fmt: skip
WAF_PRIORITY, RATE_LIMIT_PRIORITY, DEFAULT_PRIORITY = 1000, 2000, 2147483647
RATE_LIMIT_WINDOW_S = 300  # EdgeSpec.rate_limit counts requests per IP per 5 minutes


def security_policy(c: GcpComponent, purpose: str, spec: EdgeSpec) -> gcp.compute.SecurityPolicy:
    """A Cloud Armor policy: the preconfigured OWASP rules (``managed_rules``) deny with 403, then each client IP
    over ``rate_limit`` requests per 5 minutes gets 429 until it slows down; Adaptive Protection watches for
    layer-7 DDoS; JSON bodies are parsed so the rules see API payloads. Everything else is allowed. Named
    ``<stack>-edge-waf`` (known when planned: the Adaptive Protection alert names it).

    Child: ``security_policy``.
    """
    waf = [
        {"priority": WAF_PRIORITY + 10 * i, "action": "deny(403)", "description": f"OWASP CRS: {rule}",
         "match": {"expr": {"expression": f"evaluatePreconfiguredWaf('{rule}', {{'sensitivity': 1}})"}}}
        for i, rule in enumerate(WAF_RULES if spec.managed_rules else ())
    ]  # fmt: skip
    every_ip = {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}}
    rate_limit = {
        "priority": RATE_LIMIT_PRIORITY, "action": "throttle", "match": every_ip,
        "description": f"At most {spec.rate_limit} requests per client IP per 5 minutes",
        "rate_limit_options": {
            "enforce_on_key": "IP", "conform_action": "allow", "exceed_action": "deny(429)",
            "rate_limit_threshold": {"count": spec.rate_limit, "interval_sec": RATE_LIMIT_WINDOW_S},
        },
    }  # fmt: skip
    default = {"priority": DEFAULT_PRIORITY, "action": "allow", "match": every_ip, "description": "Default: allow"}
    return gcp.compute.SecurityPolicy(
        f"{c.resource_name}-armor",
        **c.args(
            "security_policy", project=c.project, name=gcp_name(c.physical, "waf"), type="CLOUD_ARMOR",
            labels=c.labels,
            description=f"{purpose}: WAF and rate limit",
            rules=[*waf, rate_limit, default],
            adaptive_protection_config={"layer7_ddos_defense_config": {"enable": True, "rule_visibility": "STANDARD"}},
            advanced_options_config={"json_parsing": "STANDARD", "log_level": "NORMAL"},
        ),
        opts=c.opts(),
    )  # fmt: skip


def edge_policy(c: GcpComponent, purpose: str) -> gcp.compute.SecurityPolicy:
    """A Cloud Armor edge security policy for a CDN backend bucket: it filters requests before the cache, by client
    IP or region only (edge policies take no WAF rules or rate limits), and allows everything until rules are
    added (``overrides.edge_security_policy.rules``, or in an incident on the live policy: no change to the load
    balancer needed).

    Child: ``edge_security_policy``.
    """
    every_ip = {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}}
    return gcp.compute.SecurityPolicy(
        f"{c.resource_name}-edge-armor",
        **c.args(
            "edge_security_policy", project=c.project, type="CLOUD_ARMOR_EDGE", labels=c.labels,
            description=f"{purpose}: IP and region filtering before the cache",
            rules=[{"priority": DEFAULT_PRIORITY, "action": "allow", "match": every_ip,
                    "description": "Default: allow"}],
        ),
        opts=c.opts(),
    )  # fmt: skip
