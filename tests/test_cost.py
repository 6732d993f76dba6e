"""The cost model: catalog, rules, usage assumptions, unpriced resources, and the price list parsers."""

from __future__ import annotations

import json
import math
import shutil
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.cost.catalog import CATALOG_CLOUDS, load_catalog
from mbops.cost.estimate import estimate
from mbops.cost.pricelists import (
    Ambiguous,
    HttpSource,
    SampleSource,
    azure_unit_count,
    find_aws,
    find_azure,
    find_gcp,
    refresh_catalog,
)
from mbops.cost.usage import USAGE, resolve_usage
from mbops.errors import ConfigError
from mbops.stacks.config import resolve

SAMPLES = Path(__file__).parent / "data" / "pricelists"
PROFILES = ("saas", "managed", "custom")
CLOUDS = ("aws", "gcp", "azure")
EU = {"aws": "eu-west-1", "gcp": "europe-west1", "azure": "westeurope"}


def prices(cloud: str, region: str) -> dict[str, float]:
    catalog = load_catalog(cloud)
    return {sku: catalog.price(sku, region).unit_price for sku in catalog.skus}


def with_usage(stack: Any, **usage: float) -> Any:
    return stack.model_copy(update={"usage": usage})


def one(graph: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = [r for r in graph["resources"] if r["type"] == type_token]
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
    return found[0]


# --- a known stack, computed by hand ------------------------------------------------------------------------


def test_managed_dev_on_aws_matches_the_hand_computed_figure(planned):
    graph = planned("managed", "aws", "dev")
    stack = resolve(profile="managed", cloud="aws", environment="dev")  # preset small, free tiers off
    # The plan facts the arithmetic below relies on (if these change, update the arithmetic, not the model).
    rds = one(graph, "aws:rds/instance:Instance")["inputs"]
    assert (rds["instanceClass"], rds["allocatedStorage"], rds["backupRetentionPeriod"]) == ("db.t4g.micro", 20, 7)
    assert not rds.get("multiAz")
    cache = one(graph, "aws:elasticache/replicationGroup:ReplicationGroup")["inputs"]
    assert (cache["nodeType"], cache["snapshotRetentionLimit"]) == ("cache.t4g.micro", 0)
    task = one(graph, "aws:ecs/taskDefinition:TaskDefinition")["inputs"]
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    insights = one(graph, "aws:ecs/cluster:Cluster")["inputs"]["settings"]
    assert insights == [{"value": "enabled", "name": "containerInsights"}]
    alb = one(graph, "aws:lb/loadBalancer:LoadBalancer")["inputs"]
    assert alb["internal"] is False and len(alb["subnets"]) == 2
    assert len([r for r in graph["resources"] if r["type"] == "aws:ec2/natGateway:NatGateway"]) == 1
    logs = {
        r["name"]: r["inputs"]["retentionInDays"]
        for r in graph["resources"]
        if r["type"] == "aws:cloudwatch/logGroup:LogGroup"
    }
    assert logs == {
        "managed-dev-net-flow-logs": 90,
        "managed-dev-db-postgresql-logs": 30,
        "managed-dev-db-upgrade-logs": 30,
        "managed-dev-app-logs": 30,
        "managed-dev-db-role-fn-logs": 30,
    }

    p = prices("aws", "us-east-1")
    h = 730  # hours_per_month
    nat_gb = 10 + 5  # outbound_gb + app_log_gb (awslogs via the NAT); image layers come through the S3 endpoint
    network = (
        h * p["nat.hour"]
        + nat_gb * p["nat.gb"]  # one NAT gateway
        + h * p["ipv4.hour"]  # its Elastic IP
        + 5 * p["logs.ingest_gb"]
        + 5 * (90 / 30) * p["logs.storage_gb"]  # flow_log_gb = 5, kept 90 days
    )
    lcu_hours = 50 / h * h  # lb_processed_gb 50 / 730 h = 0.068 GB/h: the largest LCU dimension (1 GB/h per LCU)
    containers = (
        h * 0.5 * p["fargate.x86.vcpu_hour"]
        + h * 1.0 * p["fargate.x86.gb_hour"]  # 1 task, 0.5 vCPU, 1 GB
        + h * p["alb.hour"]
        + lcu_hours * p["alb.lcu_hour"]
        + 2 * h * p["ipv4.hour"]  # internet-facing ALB: one public IPv4 per zone, 2 zones
        + (11 + 13 + 8) * p["cloudwatch.metric"]  # Container Insights: cluster + 1 service + 1 task family
        + 1 * p["logs.ingest_gb"]  # container_insights_log_gb = 1
        + 5 * p["logs.ingest_gb"]
        + 5 * (30 / 30) * p["logs.storage_gb"]  # app_log_gb = 5, kept 30 days
        + 50 * p["egress.internet_gb"]  # egress_gb = 50
    )
    database = (
        h * p["rds.postgres.db.t4g.micro"]
        + 20 * p["rds.storage.gp3"]  # single-AZ, 20 GB gp3
        + 0 * p["rds.backup"]  # 10 GB x (1 + 0.05 x 7 days) = 13.5 GB kept, within the 20 GB included
        + 2 * p["secretsmanager.secret"]  # DATABASE_URL (the app role) and DATABASE_ADMIN_URL (the master user)
        + 100_000 / 10_000 * p["secretsmanager.api_calls"]  # counted once per stack
        + 2 * (0.5 * p["logs.ingest_gb"] + 0.5 * (30 / 30) * p["logs.storage_gb"])  # service_log_gb 1 / 2 groups
    )
    cache_cost = h * 1 * p["elasticache.cache.t4g.micro"] + 1 * p["secretsmanager.secret"]  # 1 node; REDIS_URL
    storage = 50 * p["s3.standard.gb_month"] + 100 * p["s3.put_requests"] + 1000 * p["s3.get_requests"]
    registry = 2 * p["ecr.storage"]  # registry_gb = 2: the app's images in the stack's ECR repository
    expected = network + containers + database + cache_cost + storage + registry

    cost = estimate(graph, stack)
    assert cost["preset"] == "small" and cost["free_tiers"] is False
    assert cost["monthly_total"] == pytest.approx(expected, abs=0.01)
    assert cost["by_component"] == pytest.approx(
        {
            "network": network,
            "containers": containers,
            "database": database,
            "cache": cache_cost,
            "storage": storage,
            "registry": registry,
        },
        abs=0.01,
    )
    # 129.66 = the figure with the catalog as of this change; a changed price shows up here first.
    assert expected == pytest.approx(129.66, abs=0.01)

    # Free tiers on: 10 CloudWatch metrics, the first 5 GB of log ingestion and of log storage, and 100 GB of
    # egress (we send 50) are free once per stack.
    with_free = estimate(graph, stack, free_tiers=True)
    free = (
        10 * p["cloudwatch.metric"] + 5 * p["logs.ingest_gb"] + 5 * p["logs.storage_gb"] + 50 * p["egress.internet_gb"]
    )
    assert with_free["monthly_total"] == pytest.approx(expected - free, abs=0.01)
    assert with_free["free_tiers"] is True
    by_stack_file = estimate(graph, with_usage(stack, free_tiers=1))
    assert by_stack_file["monthly_total"] == with_free["monthly_total"]


def test_every_item_cites_its_price_list_and_date(planned):
    cost = planned("managed", "aws", "dev")["cost"]
    assert cost["currency"] == "USD"
    for item in cost["items"]:
        assert item["source"].startswith("https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/"), item
        assert item["as_of"] and item["unit"] and item["description"]
        assert item["monthly"] == pytest.approx(item["unit_price"] * item["quantity"], abs=1e-3)
    assert cost["catalog"]["cloud"] == "aws" and cost["catalog"]["as_of"]
    assert any("AmazonRDS" in s for s in cost["catalog"]["sources"])
    assert cost["assumptions"]["hours_per_month"] == 730


# --- nothing is silently zero ------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_resource_is_priced_free_or_listed_as_unpriced(planned, profile, cloud):
    graph = planned(profile, cloud, "dev")
    cost = graph["cost"]
    accounted = (
        {i["resource"] for i in cost["items"]}
        | {f["resource"] for f in cost["free"]}
        | {u["resource"] for u in cost["unpriced"]}
    )
    custom = {r["name"] for r in graph["resources"] if r["custom"]}
    assert custom - accounted == set()
    assert all(f["reason"] for f in cost["free"]) and all(u["why"] for u in cost["unpriced"])
    missing_skus = [u for u in cost["unpriced"] if u.get("sku")]
    assert missing_skus == [], "a rule asked for a SKU the catalog does not have"
    assert cost["monthly_total"] > 0
    assert cost["monthly_total"] == pytest.approx(sum(i["monthly"] for i in cost["items"]), abs=0.01)


def test_unknown_types_and_missing_skus_are_unpriced_not_zero(planned):
    graph = json.loads(json.dumps(planned("managed", "aws", "dev")))
    rds = one(graph, "aws:rds/instance:Instance")
    rds["inputs"]["instanceClass"] = "db.x2iedn.32xlarge"  # not in the catalog
    graph["resources"].append(
        {
            "urn": "urn:x::mystery",
            "type": "aws:quantum/computer:Computer",
            "name": "mystery",
            "parent": None,
            "custom": True,
            "component": "database",
            "inputs": {},
            "dependencies": [],
            "op": "create",
        }
    )
    stack = resolve(profile="managed", cloud="aws", environment="dev")
    before = estimate(planned("managed", "aws", "dev"), stack)
    after = estimate(graph, stack)
    whys = {u["resource"]: u for u in after["unpriced"]}
    assert "no price rule for aws:quantum/computer:Computer" in whys["mystery"]["why"]
    assert whys[rds["name"]]["sku"] == "rds.postgres.db.x2iedn.32xlarge"
    assert "no price for SKU" in whys[rds["name"]]["why"]
    # The instance's storage is still priced; only the unknown instance hours are left out, visibly.
    instance = next(i for i in before["items"] if i["sku"] == "rds.postgres.db.t4g.micro")
    assert after["monthly_total"] == pytest.approx(before["monthly_total"] - instance["monthly"], abs=0.01)


def test_known_free_resources_say_why():
    cost = estimate(
        _graph(
            "aws",
            [
                ("aws:iam/role:Role", {}),
                ("aws:ec2/routeTable:RouteTable", {}),
                ("aws:ec2/securityGroup:SecurityGroup", {}),
            ],
        ),
        None,
    )
    assert cost["items"] == [] and cost["unpriced"] == []
    reasons = {f["type"]: f["reason"] for f in cost["free"]}
    assert reasons["aws:iam/role:Role"] == "IAM is free"
    assert "free" in reasons["aws:ec2/routeTable:RouteTable"]
    assert cost["monthly_total"] == 0


def _graph(
    cloud: str,
    resources: list[tuple[str, dict[str, Any]]],
    region: str | None = None,
    component: str = "database",
) -> dict[str, Any]:
    return {
        "stack": "t",
        "profile": "managed",
        "cloud": cloud,
        "environment": "dev",
        "region": region or {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}[cloud],
        "resources": [
            {
                "urn": f"urn:{i}",
                "type": t,
                "name": f"r{i}",
                "parent": None,
                "custom": True,
                "component": component,
                "inputs": inputs,
                "dependencies": [],
                "op": "create",
            }
            for i, (t, inputs) in enumerate(resources)
        ],
    }


# --- usage assumptions -------------------------------------------------------------------------------------


def test_usage_override_changes_the_total_by_the_price_of_the_difference(planned):
    graph = planned("managed", "aws", "dev")
    base_stack = with_usage(resolve(profile="managed", cloud="aws", environment="dev"), nat_processed_gb=20)
    base = estimate(graph, base_stack)
    more = estimate(graph, with_usage(base_stack, storage_gb=550, nat_processed_gb=120))
    p = prices("aws", "us-east-1")
    delta = 500 * p["s3.standard.gb_month"] + 100 * p["nat.gb"]
    assert more["monthly_total"] == pytest.approx(base["monthly_total"] + delta, abs=0.01)
    assert more["assumptions"]["storage_gb"] == 550 and more["overridden"] == [
        "nat_processed_gb",
        "storage_gb",
    ]
    three = estimate(graph, with_usage(base_stack, nat_processed_gb=20, replicas=3))
    fargate = sum(i["monthly"] for i in base["items"] if i["sku"].startswith("fargate."))
    assert three["monthly_total"] == pytest.approx(base["monthly_total"] + 2 * fargate, abs=0.02)


def test_request_billed_compute_follows_requests_and_concurrency(planned):
    graph = planned("saas", "gcp", "dev")
    stack = resolve(profile="saas", cloud="gcp", environment="dev")
    run = next(r for r in graph["resources"] if r["type"] == "gcp:cloudrunv2/service:Service")
    template = run["inputs"]["template"]
    limits = template["containers"][0]["resources"]["limits"]
    cpu, gib = float(limits["cpu"]), int(limits["memory"].removesuffix("Mi")) / 1024
    assert template["scaling"]["minInstanceCount"] == 0 and template["maxInstanceRequestConcurrency"] == 80
    p = prices("gcp", "us-central1")
    month = 730 * 3600

    def serverless(requests: float) -> float:
        cost = estimate(graph, with_usage(stack, requests_per_month=requests))
        return cost["by_component"]["serverless"]

    def busy(requests: float) -> float:
        # requests x 0.2 s in flight on average; instances busy 1 - e^-C of the time, or C / (0.6 x 80) per
        # instance once requests overlap, whichever is larger
        c = requests * 0.2 / month
        return max(1 - math.exp(-c), c / (0.6 * 80)) * month

    def compute(requests: float) -> float:
        return busy(requests) * (cpu * p["run.request.vcpu_second"] + gib * p["run.request.gib_second"])

    low, high = 1_000_000, 11_000_000
    delta = compute(high) - compute(low) + 10 * p["run.requests"]  # 10M more requests at $/1M
    assert serverless(high) - serverless(low) == pytest.approx(delta, abs=0.01)
    # At 500M requests 38 are in flight on average: some instance is always busy, and one instance (48 requests
    # each) suffices, so the month is billed as one busy instance, not 38 as summing request durations would.
    big = 500_000_000
    assert busy(big) == pytest.approx(month)
    assert serverless(big) - serverless(low) == pytest.approx(
        compute(big) - compute(low) + 499 * p["run.requests"], abs=0.05
    )


def test_unknown_usage_keys_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError) as err:
        resolve_usage({"storage_gigs": 10}, source="stack.yaml")
    message = str(err.value)
    assert "stack.yaml: usage: unknown key storage_gigs" in message and "storage_gb" in message
    assert all(key in message for key in USAGE)
    with pytest.raises(ConfigError, match="usage.egress_gb: must be a number >= 0"):
        resolve_usage({"egress_gb": -1})
    with pytest.raises(ConfigError, match=r"usage.nat_processed_gb: must be a number >= -1 \(-1 = outbound_gb"):
        resolve_usage({"nat_processed_gb": -2})
    with pytest.raises(ConfigError, match="usage.hours_per_month: must be at most 744"):
        resolve_usage({"hours_per_month": 800})
    with pytest.raises(ConfigError, match="--usage-preset: unknown usage preset 'huge'; allowed: small, medium, large"):
        resolve_usage({}, preset="huge")


def test_cost_cli_rejects_unknown_usage_key_in_stack_file(tmp_path):
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text("profile: managed\ncloud: aws\nusage: {requests_per_month: 1e6, bogus: 1}\n")
    result = CliRunner().invoke(cli, ["cost", "-f", str(stack_file)])
    assert result.exit_code == 2, result.output
    assert "usage: unknown key bogus" in result.output and "allowed: hours_per_month" in result.output


def test_cost_cli_reports_items_free_unpriced_and_assumptions(tmp_path):
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text("profile: managed\ncloud: aws\nusage: {storage_gb: 500}\n")
    result = CliRunner().invoke(cli, ["cost", "-f", str(stack_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cloud"] == "aws" and data["assumptions"]["storage_gb"] == 500 and data["overridden"] == ["storage_gb"]
    text = CliRunner().invoke(cli, ["cost", "-f", str(stack_file)], terminal_width=200)
    assert text.exit_code == 0, text.output
    assert "Total: $" in text.output and "storage_gb=500*" in text.output and "Free (" in text.output
    assert "catalog as of 2025-01" in text.output
    # -1 is the "work it out from the plan" placeholder: JSON says how for each such key, the text says auto.
    assert data["assumptions"]["replicas"] == -1 and "app.min_replicas" in data["derived"]["replicas"]
    assert set(data["derived"]) == {k for k, v in data["assumptions"].items() if v == -1}
    assert "=-1" not in text.output and "replicas=auto" in text.output and "database_backup_gb=auto" in text.output


def test_cost_cli_on_the_local_cloud_says_it_costs_nothing():
    """Issue: an empty table, then `Total: $0.00/month ()` and `Prices: local catalog as of None.`"""
    text = CliRunner().invoke(cli, ["cost", "-p", "managed"], terminal_width=200)
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert "$0.00/month" in flat and "runs on this machine and costs nothing" in flat
    assert "None" not in flat and "()" not in flat and "┏" not in flat and "Usage assumptions" not in flat
    data = json.loads(CliRunner().invoke(cli, ["cost", "-p", "managed", "--json"]).output)
    assert data["cloud"] == "local" and data["monthly_total"] == 0 and not data["items"] and data["free"]


# --- catalog and regions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CATALOG_CLOUDS)
def test_catalog_entries_are_dated_sourced_and_priced_in_a_us_and_an_eu_region(cloud):
    catalog = load_catalog(cloud)
    sources = catalog.data["sources"]
    for key, entry in catalog.skus.items():
        assert entry["description"] and entry["unit"] and entry["as_of"], key
        assert entry["source"] in sources, f"{key}: source {entry['source']} is not in sources"
        assert entry["match"], f"{key}: no match rule for prices refresh"
        regions = set(entry["prices"])
        assert regions == {"global"} or {catalog.default_region, EU[cloud]} <= regions, key
        assert all(v >= 0 for v in entry["prices"].values()), key
    assert catalog.default_region == {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}[cloud]


def test_unpriced_region_falls_back_with_the_documented_multiplier():
    graph = _graph("aws", [("aws:ec2/natGateway:NatGateway", {})], region="eu-central-1", component="network")
    stack = resolve(profile="managed", cloud="aws", environment="dev", region="eu-central-1")
    cost = estimate(graph, stack)
    item = next(i for i in cost["items"] if i["sku"] == "nat.hour")
    assert item["unit_price"] == pytest.approx(0.045 * 1.1)
    assert "eu-central-1 is not in the catalog: priced as us-east-1 x 1.1" in item["note"]
    assert cost["catalog"]["region_fallback"] == {
        "priced_as": "us-east-1",
        "multiplier": 1.1,
        "prefix": "eu-",
    }
    ireland = estimate(_graph("aws", [("aws:ec2/natGateway:NatGateway", {})], region="eu-west-1"), None)
    assert next(i for i in ireland["items"] if i["sku"] == "nat.hour")["unit_price"] == 0.048
    assert "region_fallback" not in ireland["catalog"]


def test_local_stacks_cost_nothing_and_say_so():
    graph = {
        "stack": "l",
        "profile": "managed",
        "cloud": "local",
        "environment": "dev",
        "region": "local",
        "resources": [
            {
                "urn": "u",
                "type": "pulumi-python:dynamic:Resource",
                "name": "db",
                "custom": True,
                "component": "database",
                "inputs": {},
                "dependencies": [],
            }
        ],
    }
    cost = estimate(graph, None)
    assert cost["monthly_total"] == 0 and cost["free"][0]["reason"] == "runs on this machine"


# --- price list parsers on recorded samples ----------------------------------------------------------------


def _sample(*parts: str) -> Any:
    return json.loads(SAMPLES.joinpath(*parts).read_text())


def test_aws_offer_parser_picks_the_right_product_and_tier():
    ecs = _sample("aws", "AmazonECS-us-east-1.json")
    assert find_aws(ecs, {"usagetype": "Fargate-vCPU-Hours:perCPU"}, "us-east-1").price == 0.04048
    assert find_aws(ecs, {"usagetype": "Fargate-ARM-vCPU-Hours:perCPU"}, "us-east-1").price == 0.03238
    assert find_aws(ecs, {"usagetype": "Fargate-vCPU-Hours:perCPU"}, "eu-west-1") is None  # other region
    ec2 = _sample("aws", "AmazonEC2-us-east-1.json")
    linux = {
        "attributes": {
            "productFamily": "Compute Instance",
            "instanceType": "t3.micro",
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
        }
    }
    found = find_aws(ec2, linux, "us-east-1")
    assert found.price == 0.0104 and found.as_of == "2025-01-01" and found.ref.startswith("AmazonEC2:")
    with pytest.raises(Ambiguous):  # Linux and Windows t3.micro differ: never guess
        find_aws(ec2, {"attributes": {"instanceType": "t3.micro", "capacitystatus": "Used"}}, "us-east-1")
    transfer = _sample("aws", "AWSDataTransfer-us-east-1.json")
    out = {"usagetype": "DataTransfer-Out-Bytes", "attributes": {"transferType": "AWS Outbound"}}
    assert find_aws(transfer, out, "us-east-1").price == 0.0  # the free first tier
    assert find_aws(transfer, {**out, "tier": "paid"}, "us-east-1").price == 0.09
    rds = _sample("aws", "AmazonRDS-us-east-1.json")
    match = load_catalog("aws").skus["rds.postgres.db.t4g.micro"]["match"]
    assert find_aws(rds, match, "us-east-1").price == 0.016  # not Multi-AZ, not MySQL
    lambda_requests = {"usagetype": "Request"}
    assert find_aws(ecs, lambda_requests, "us-east-1", scale=1e6) is None


def test_azure_retail_parser_follows_pages_and_skips_reservations():
    pages = _sample("azure", "azure-container-apps-eastus.json")
    urls: list[str] = []

    def fake_get(url: str) -> dict[str, Any]:
        urls.append(url)
        return pages[len(urls) - 1]

    items = HttpSource(get=fake_get).azure_items("Azure Container Apps", "eastus")
    assert len(urls) == 2 and urls[1] == pages[0]["NextPageLink"]
    assert "serviceName%20eq%20%27Azure%20Container%20Apps%27" in urls[0] and "eastus" in urls[0]
    assert len(items) == 5
    catalog = load_catalog("azure")
    for key, expected in {
        "aca.vcpu_active": 0.000024,
        "aca.memory_active": 0.000003,
        "aca.requests": 0.40,
    }.items():
        entry = catalog.skus[key]
        found = find_azure(items, entry["match"], "eastus", entry.get("scale", 1))
        assert found.price == pytest.approx(expected) and found.as_of == "2024-08-01"
    redis = _sample("azure", "redis-cache-eastus.json")["Items"]
    standard_c1 = catalog.skus["redis.standard.c1"]
    assert find_azure(redis, standard_c1["match"], "eastus").price == 0.138  # not the Reservation/DevTest rows
    bandwidth = _sample("azure", "bandwidth-eastus.json")["Items"]
    assert find_azure(bandwidth, catalog.skus["egress.internet_gb"]["match"], "eastus").price == 0.087
    assert azure_unit_count("10K") == 10_000 and azure_unit_count("1M") == 1e6 and azure_unit_count("1 Hour") == 1


def test_gcp_billing_catalog_parser_matches_region_usage_type_and_tier():
    run = _sample("gcp", "152E-C115-5142.json")["skus"]
    cpu = {"description": "CPU Allocation Time", "unit": "s", "tier": "paid"}
    found = find_gcp(run, cpu, "us-central1")
    assert found.price == pytest.approx(0.000024) and found.as_of == "2025-01-03"
    assert find_gcp(run, cpu, "asia-east2").price == pytest.approx(0.0000336)  # tier-2 region SKU
    assert find_gcp(run, {**cpu, "tier": None}, "us-central1").price == 0.0  # the free tier
    requests = load_catalog("gcp").skus["run.requests"]
    assert find_gcp(run, requests["match"], "us-central1", requests["scale"]).price == pytest.approx(0.40)
    sql = _sample("gcp", "9662-B51E-5089.json")["skus"]
    vcpu = load_catalog("gcp").skus["sql.zonal.vcpu"]["match"]
    assert find_gcp(sql, vcpu, "us-central1").price == pytest.approx(0.0413)  # not the 1-year commitment
    assert find_gcp(sql, {**vcpu, "unit": "GiBy.h"}, "us-central1") is None  # unit mismatch is no match


def test_refresh_from_samples_updates_changed_prices_and_keeps_the_rest(tmp_path):
    catalog_dir = tmp_path / "catalog"
    catalog_dir.mkdir()
    data = yaml.safe_load((Path(load_catalog("aws").path)).read_text())
    data["skus"]["fargate.x86.vcpu_hour"]["prices"]["us-east-1"] = 0.05  # stale
    (catalog_dir / "aws.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    report = refresh_catalog("aws", SampleSource(SAMPLES), catalog_dir=catalog_dir, output_dir=out, today="2025-02-01")
    assert report.updated == [
        {
            "sku": "fargate.x86.vcpu_hour",
            "region": "us-east-1",
            "old": 0.05,
            "new": 0.04048,
            "ref": report.updated[0]["ref"],
        }
    ]
    assert report.unchanged >= 9
    refreshed = yaml.safe_load((out / "aws.yaml").read_text())
    entry = refreshed["skus"]["fargate.x86.vcpu_hour"]
    assert entry["prices"]["us-east-1"] == 0.04048 and entry["stale_regions"] == ["eu-west-1"]
    assert entry["as_of"] == data["skus"]["fargate.x86.vcpu_hour"]["as_of"]  # eu-west-1 not refreshed: keep date
    assert refreshed["skus"]["nat.hour"]["prices"] == data["skus"]["nat.hour"]["prices"]
    assert refreshed["refreshed"]["on"] == "2025-02-01" and refreshed["as_of"] == data["as_of"]
    assert load_catalog("aws", out).price("fargate.x86.vcpu_hour", "us-east-1").unit_price == 0.04048
    # A catalog whose every entry is found takes the price lists' dates.
    only = {
        **data,
        "skus": {"fargate.x86.gb_hour": {**data["skus"]["fargate.x86.gb_hour"], "prices": {"us-east-1": 0.004445}}},
    }
    (catalog_dir / "aws.yaml").write_text(yaml.safe_dump(only, sort_keys=False))
    report = refresh_catalog("aws", SampleSource(SAMPLES), catalog_dir=catalog_dir, output_dir=out, today="2025-02-01")
    assert report.not_found == [] and yaml.safe_load((out / "aws.yaml").read_text())["as_of"] == "2025-02-01"
    assert yaml.safe_load((out / "aws.yaml").read_text())["skus"]["fargate.x86.gb_hour"]["as_of"] == "2025-01-01"


def test_prices_refresh_cli_offline_sample(tmp_path):
    result = CliRunner().invoke(
        cli, ["prices", "refresh", "--offline-sample", str(SAMPLES), "--output-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    reports = {r["cloud"]: r for r in json.loads(result.output)}
    assert set(reports) == {"aws", "gcp", "azure"}
    assert all((tmp_path / f"{c}.yaml").exists() for c in reports)
    assert reports["gcp"]["unchanged"] >= 5 and reports["azure"]["unchanged"] >= 5


def test_prices_refresh_without_network_fails_clearly(monkeypatch, tmp_path):
    def offline(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    before = load_catalog("azure").path.read_text()
    result = CliRunner().invoke(cli, ["prices", "refresh", "--cloud", "azure", "--output-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "needs network access" in result.output and "prices.azure.com" in result.output
    assert "The shipped catalog stays in use (azure as of 2025-01" in result.output
    assert load_catalog("azure").path.read_text() == before and not (tmp_path / "azure.yaml").exists()


def test_catalog_override_directory(monkeypatch, tmp_path):
    shutil.copy(load_catalog("aws").path, tmp_path / "aws.yaml")
    data = yaml.safe_load((tmp_path / "aws.yaml").read_text())
    data["skus"]["nat.hour"]["prices"]["us-east-1"] = 1.0
    (tmp_path / "aws.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("MBOPS_PRICE_CATALOG", str(tmp_path))
    cost = estimate(_graph("aws", [("aws:ec2/natGateway:NatGateway", {})], component="network"), None)
    assert next(i for i in cost["items"] if i["sku"] == "nat.hour")["monthly"] == 730


def test_cost_cli_lists_the_usage_keys_with_each_preset():
    result = CliRunner().invoke(cli, ["cost", "--list-usage"], terminal_width=250)
    assert result.exit_code == 0
    for key, spec in USAGE.items():
        assert key in result.output and spec.help in result.output
    line = next(li for li in result.output.splitlines() if li.strip().startswith("requests_per_month"))
    assert line.split()[1:4] == ["2,000,000", "50,000,000", "500,000,000"]


def test_a_rule_that_cannot_read_odd_inputs_leaves_the_resource_unpriced_and_deletes_cost_nothing():
    graph = _graph(
        "azure",
        [("azure-native:app:ContainerApp", {"template": {"containers": ["not-a-mapping"]}})],
        component="containers",
    )
    cost = estimate(graph, None)
    assert [u["why"] for u in cost["unpriced"] if u["resource"] == "r0"] == [
        "the price rule could not read this resource's inputs (AttributeError: 'str' object has no attribute 'get')"
    ]
    gone = _graph("aws", [("aws:ec2/natGateway:NatGateway", {})], component="network")
    gone["resources"][0]["op"] = "delete"
    assert estimate(gone, None)["items"] == []
