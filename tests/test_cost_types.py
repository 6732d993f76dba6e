"""Price rules for resource types the plans are about to gain (WAF, certificates, monitoring, registries, edge),
and the guarantee that a type without a rule is listed as unpriced, never counted as zero."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from mbops.cost.estimate import estimate
from mbops.cost.rules import COMMON_FREE
from mbops.stacks.config import resolve

H = 730
REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
SDK = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure": "pulumi_azure_native"}


def res(name: str, type_token: str, deps: tuple[str, ...] = (), component: str = "edge", **inputs: Any) -> dict:
    return {
        "urn": f"urn:{name}",
        "type": type_token,
        "name": name,
        "parent": None,
        "custom": True,
        "component": component,
        "inputs": inputs,
        "dependencies": [f"urn:{d}" for d in deps],
        "op": "create",
    }


def cost_of(cloud: str, *resources: dict[str, Any], **usage: float) -> dict[str, Any]:
    graph = {"stack": "t", "profile": "saas", "cloud": cloud, "environment": "prod", "region": REGION[cloud]}
    graph["resources"] = list(resources)
    stack = resolve(profile="saas", cloud=cloud, environment="prod")
    return estimate(graph, stack.model_copy(update={"usage": usage}))


def monthly(cost: dict[str, Any], resource: str) -> dict[str, float]:
    return {i["sku"]: i["monthly"] for i in cost["items"] if i["resource"] == resource}


# --- AWS ----------------------------------------------------------------------------------------------------


def test_wafv2_web_acl_rules_rule_groups_and_requests():
    rules = [
        {"name": "rate", "statement": {"rateBasedStatement": {"limit": 1000}}},
        {"name": "common", "statement": {"managedRuleGroupStatement": {"name": "AWSManagedRulesCommonRuleSet"}}},
        {"name": "bots", "statement": {"managedRuleGroupStatement": {"name": "AWSManagedRulesBotControlRuleSet"}}},
    ]
    acl = res("waf", "aws:wafv2/webAcl:WebAcl", scope="REGIONAL", rules=rules)
    cost = cost_of("aws", acl, requests_per_month=10_000_000)
    # $5 per web ACL, $1 per rule or rule group, $0.60 per million requests
    assert monthly(cost, "waf") == pytest.approx({"waf.web_acl": 5.0, "waf.rule": 3.0, "waf.requests": 6.0})
    (partial,) = [u for u in cost["unpriced"] if u["resource"] == "waf"]
    assert partial["partial"] and "AWSManagedRulesBotControlRuleSet" in partial["why"]


def test_cloudwatch_alarms_dashboards_and_health_checks():
    standard = res("a1", "aws:cloudwatch/metricAlarm:MetricAlarm", metricName="CPUUtilization", period=300)
    high = res("a2", "aws:cloudwatch/metricAlarm:MetricAlarm", metricName="Errors", period=10)
    math_alarm = res(
        "a3",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        metricQueries=[
            {"id": "errors", "metric": {"metricName": "5xx", "period": 60}},
            {"id": "requests", "metric": {"metricName": "Requests", "period": 60}},
            {"id": "rate", "expression": "errors / requests"},
        ],
    )
    board = res("board", "aws:cloudwatch/dashboard:Dashboard", dashboardName="app")
    own = res("hc1", "aws:route53/healthCheck:HealthCheck", type="HTTPS_STR_MATCH", fqdn="[computed]")
    other = res(
        "hc2", "aws:route53/healthCheck:HealthCheck", type="HTTPS", fqdn="status.example.org", requestInterval=10
    )
    cost = cost_of("aws", standard, high, math_alarm, board, own, other)
    assert monthly(cost, "a1") == {"cloudwatch.alarm": pytest.approx(0.10)}
    assert monthly(cost, "a2") == {"cloudwatch.alarm_high_res": pytest.approx(0.30)}
    assert monthly(cost, "a3") == {"cloudwatch.alarm": pytest.approx(0.20)}  # two metrics in the expression
    assert monthly(cost, "board") == {"cloudwatch.dashboard": 3.0}
    # AWS endpoint: $0.50 + $1 per optional feature (HTTPS, string matching); elsewhere $0.75 + $2 per feature
    assert monthly(cost, "hc1") == {"route53.health_check.aws": 0.5, "route53.health_check.feature_aws": 2.0}
    assert monthly(cost, "hc2") == {"route53.health_check.other": 0.75, "route53.health_check.feature_other": 4.0}


def test_ecr_storage_follows_registry_gb_once_per_stack():
    first = res("repo", "aws:ecr/repository:Repository", component="registry")
    second = res("repo2", "aws:ecr/repository:Repository", component="registry")
    cost = cost_of("aws", first, second, registry_gb=12)
    assert monthly(cost, "repo") == {"ecr.storage": pytest.approx(1.2)}
    assert [u["resource"] for u in cost["unpriced"]] == ["repo2"]  # listed, not zero


# --- GCP ----------------------------------------------------------------------------------------------------


def test_cloud_armor_policy_rules_and_requests():
    policy = res(
        "armor", "gcp:compute/securityPolicy:SecurityPolicy", rules=[{"priority": 1000}, {"priority": 2147483647}]
    )
    extra = res("armor-rule", "gcp:compute/securityPolicyRule:SecurityPolicyRule", deps=("armor",), priority=100)
    cost = cost_of("gcp", policy, extra, requests_per_month=4_000_000)
    # $5 per policy, $1 per rule (2 inline + 1 separate), $0.75 per million requests
    assert monthly(cost, "armor") == pytest.approx({"armor.policy": 5.0, "armor.rule": 3.0, "armor.requests": 3.0})
    assert "counted as a rule on its Cloud Armor policy" in cost["free"][0]["reason"]


def test_uptime_checks_artifact_registry_and_certificates():
    check = res("uptime", "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig", period="60s")
    europe = res(
        "uptime-eu",
        "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig",
        period="300s",
        selectedRegions=["EUROPE", "USA", "ASIA_PACIFIC"],
    )
    repo = res("images", "gcp:artifactregistry/repository:Repository", format="DOCKER")
    cert = res("cert", "gcp:certificatemanager/certificate:Certificate")
    cert_map = res("map", "gcp:certificatemanager/certificateMap:CertificateMap")
    channel = res("mail", "gcp:monitoring/notificationChannel:NotificationChannel", type="email")
    cost = cost_of("gcp", check, europe, repo, cert, cert_map, channel, registry_gb=3)
    runs = 6 * H * 3600 / 60  # every minute from all 6 locations (USA counts 3) = 262,800 runs
    assert monthly(cost, "uptime")["monitoring.uptime_check"] == pytest.approx(runs / 1000 * 0.30, abs=0.01)
    runs_eu = 5 * H * 3600 / 300
    assert monthly(cost, "uptime-eu")["monitoring.uptime_check"] == pytest.approx(runs_eu / 1000 * 0.30, abs=0.01)
    assert monthly(cost, "images") == {"artifactregistry.storage": pytest.approx(0.30)}
    assert monthly(cost, "cert") == {"certificatemanager.certificate": pytest.approx(0.20)}
    free = {f["resource"] for f in cost["free"]}
    assert {"map", "mail"} <= free
    # With free tiers: 1M uptime check runs, 0.5 GB of registry storage and 100 certificates a month are free.
    with_free = estimate(
        {
            "stack": "t",
            "profile": "saas",
            "cloud": "gcp",
            "environment": "prod",
            "region": "us-central1",
            "resources": [check, repo, cert],
        },
        resolve(profile="saas", cloud="gcp", environment="prod").model_copy(update={"usage": {"registry_gb": 3}}),
        free_tiers=True,
    )
    assert monthly(with_free, "uptime")["monitoring.uptime_check"] == 0
    assert monthly(with_free, "images") == {"artifactregistry.storage": pytest.approx(2.5 * 0.10)}


# --- Azure --------------------------------------------------------------------------------------------------


def test_front_door_waf_policies_by_tier():
    standard = res(
        "waf-std",
        "azure-native:frontdoor:Policy",
        sku={"name": "Standard_AzureFrontDoor"},
        customRules={"rules": [{"name": "rate"}, {"name": "geo"}]},
    )
    premium = res(
        "waf-prem",
        "azure-native:frontdoor:Policy",
        sku={"name": "Premium_AzureFrontDoor"},
        managedRules={"managedRuleSets": [{"ruleSetType": "Microsoft_DefaultRuleSet"}]},
    )
    profile = res("afd", "azure-native:cdn:Profile", sku={"name": "Premium_AzureFrontDoor"})
    cost = cost_of("azure", standard, premium, profile, requests_per_month=3e6, cdn_requests_per_month=2e6)
    # Standard: $5 per policy, $1 per custom rule, $0.60 per million requests (app + CDN)
    assert monthly(cost, "waf-std") == pytest.approx(
        {"frontdoor.waf.policy": 5.0, "frontdoor.waf.custom_rule": 2.0, "frontdoor.waf.requests": 3.0}
    )
    assert "included in the Front Door Premium base fee" in next(
        f["reason"] for f in cost["free"] if f["resource"] == "waf-prem"
    )
    assert monthly(cost, "afd")["frontdoor.premium.base"] == 330.0


def test_app_insights_availability_tests_metric_alerts_and_registries():
    insights = res("appi", "azure-native:applicationinsights:Component", kind="web", workspaceResourceId="[computed]")
    test = res(
        "ping",
        "azure-native:applicationinsights:WebTest",
        webTestKind="standard",
        frequency=300,
        locations=[{"id": "us-va-ash-azr"}, {"id": "emea-nl-ams-azr"}],
    )
    alert = res(
        "cpu",
        "azure-native:monitor:MetricAlert",
        scopes=["[computed]"],
        criteria={
            "allOf": [{"criterionType": "StaticThresholdCriterion"}, {"criterionType": "DynamicThresholdCriterion"}]
        },
    )
    basic = res("acr", "azure-native:containerregistry:Registry", sku={"name": "Basic"})
    premium = res("acr2", "azure-native:containerregistry:Registry", sku={"name": "Premium"})
    group = res("oncall", "azure-native:monitor:ActionGroup")
    cost = cost_of("azure", insights, test, alert, basic, premium, group, telemetry_gb=4, registry_gb=25)
    assert monthly(cost, "appi") == {"loganalytics.ingest_gb": pytest.approx(4 * 2.30)}
    runs = 2 * H * 3600 / 300  # 2 locations every 5 minutes = 17,520 runs
    assert monthly(cost, "ping")["appinsights.webtest"] == pytest.approx(runs * 0.000645, abs=0.01)
    assert monthly(cost, "cpu") == {"monitor.metric_alert": pytest.approx(0.30)}  # 2 criteria, dynamic twice
    days = H / 24
    # Basic includes 10 GB: 15 GB more at $0.10; the second registry's storage is counted on the first.
    assert monthly(cost, "acr") == pytest.approx({"acr.basic": days * 0.1666, "acr.storage": 1.5}, abs=0.01)
    assert monthly(cost, "acr2") == pytest.approx({"acr.premium": days * 1.6666}, abs=0.01)
    assert any(u["resource"] == "acr2" and u["partial"] for u in cost["unpriced"])
    assert any(f["resource"] == "oncall" for f in cost["free"])


# --- nothing is ever silently zero -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "type_token"),
    [
        ("aws", "aws:cloudwatch/compositeAlarm:CompositeAlarm"),
        ("gcp", "gcp:monitoring/alertPolicy:AlertPolicy"),
        ("azure", "azure-native:monitor:ScheduledQueryRule"),
        ("azure", "azure-native:network:ApplicationGatewayWebApplicationFirewallPolicy"),
    ],
)
def test_a_type_without_a_price_is_listed_as_unpriced(cloud, type_token):
    cost = cost_of(cloud, res("x", type_token))
    assert cost["items"] == [] and cost["monthly_total"] == 0
    assert cost["unpriced"] == [
        {
            "resource": "x",
            "type": type_token,
            "component": "edge",
            "why": f"no price rule for {type_token} in the {cloud} catalog",
        }
    ]


def _sdk_tokens(cloud: str) -> str:
    """The SDK's resource registry: its top-level module lists every resource class by type token."""
    package = importlib.util.find_spec(SDK[cloud])
    assert package is not None and package.origin
    return Path(package.origin).read_text()


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_every_rule_and_free_type_token_is_one_the_provider_sdk_uses(cloud):
    """A typo in a token would never match a planned resource: check each against the installed SDK."""
    rules = importlib.import_module(f"mbops.cost.rules_{cloud}")
    registry = _sdk_tokens(cloud)
    exact = [t for t in (*rules.RULES, *rules.FREE) if not t.endswith(("/", ":")) and t not in COMMON_FREE]
    assert len(exact) > 10
    assert [token for token in exact if f'"{token}"' not in registry] == []
