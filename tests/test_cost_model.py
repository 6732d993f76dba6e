"""The cost model's arithmetic, computed by hand: HA doubling, managed databases and their backups, idle rates,
load balancer capacity units, public IPv4 addresses, NAT data, monitoring, presets and free tiers.

Plan-based tests first assert the plan facts their arithmetic relies on; rule tests use small graphs.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.cost.catalog import load_catalog
from mbops.cost.estimate import estimate
from mbops.cost.usage import PRESETS, USAGE, resolve_usage
from mbops.stacks.config import resolve

H = 730  # hours_per_month
MONTH_S = H * 3600
REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}


def p(cloud: str, sku: str, region: str | None = None) -> float:
    return load_catalog(cloud).price(sku, region or REGION[cloud]).unit_price


def graph_of(cloud: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "stack": "t",
        "profile": "managed",
        "cloud": cloud,
        "environment": "dev",
        "region": REGION[cloud],
        "resources": list(resources),
    }


def res(name: str, type_token: str, component: str = "database", deps: tuple[str, ...] = (), **inputs: Any) -> dict:
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


def items_of(cost: dict[str, Any], resource: str) -> dict[str, dict[str, Any]]:
    return {i["sku"]: i for i in cost["items"] if i["resource"] == resource}


def total_of(cost: dict[str, Any], resource: str) -> float:
    return sum(i["monthly"] for i in cost["items"] if i["resource"] == resource)


def stack(cloud: str, env: str = "dev", profile: str = "managed", **usage: float) -> Any:
    base = resolve(profile=profile, cloud=cloud, environment=env)
    return base.model_copy(update={"usage": usage}) if usage else base


def one(graph: dict[str, Any], type_token: str) -> dict[str, Any]:
    found = [r for r in graph["resources"] if r["type"] == type_token]
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
    return found[0]


# --- HA doubling and managed PostgreSQL on each cloud, from the built-in prod plans -------------------------


def test_rds_multi_az_doubles_instance_hours_and_storage(planned):
    graph = planned("managed", "aws", "prod")
    db = one(graph, "aws:rds/instance:Instance")
    i = db["inputs"]
    assert (i["instanceClass"], i["multiAz"], i["allocatedStorage"], i["storageType"]) == (
        "db.t4g.medium",
        True,
        100,
        "gp3",
    )
    assert i["backupRetentionPeriod"] == 14
    cost = estimate(graph, stack("aws", "prod"))
    got = items_of(cost, db["name"])
    # Multi-AZ: primary + standby, each billed 730 h and 100 GB gp3.
    assert got["rds.postgres.db.t4g.medium"]["quantity"] == 2 * H
    assert got["rds.storage.gp3"]["quantity"] == 2 * 100
    # Backups: 50 GB of data (half of 100 GB) x (1 + 0.05 changed a day x 14 days) = 85 GB, within the 100 GB
    # RDS includes (100% of the provisioned storage): nothing billed, and the line says so.
    assert (
        got["rds.backup"]["quantity"] == 0 and "85 GB; 100 GB included, nothing billed" in got["rds.backup"]["detail"]
    )
    expected = 2 * H * 0.065 + 2 * 100 * 0.115  # = 94.90 + 23.00
    assert total_of(cost, db["name"]) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(117.90)
    # With 80 GB of data: 80 x 1.7 = 136 GB kept, 36 GB beyond the included 100 GB at $0.095.
    more = estimate(graph, stack("aws", "prod", database_data_gb=80))
    assert items_of(more, db["name"])["rds.backup"]["monthly"] == pytest.approx(36 * 0.095, abs=1e-4)


def test_cloud_sql_regional_ha_prices_and_backups(planned):
    graph = planned("managed", "gcp", "prod")
    db = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")
    settings = db["inputs"]["settings"]
    assert (settings["tier"], settings["availabilityType"], settings["diskSize"]) == (
        "db-custom-2-7680",
        "REGIONAL",
        100,
    )
    backups = settings["backupConfiguration"]
    assert backups["backupRetentionSettings"]["retainedBackups"] == 14 and backups["pointInTimeRecoveryEnabled"]
    # Regional (HA) Cloud SQL SKUs are the zonal ones doubled in Google's price list.
    for part in ("vcpu", "ram", "ssd"):
        assert p("gcp", f"sql.regional.{part}") == pytest.approx(2 * p("gcp", f"sql.zonal.{part}"))
    cost = estimate(graph, stack("gcp", "prod"))
    expected = (
        2 * H * 0.0826  # db-custom-2-7680: 2 vCPU, regional = 120.596
        + 7680 / 1024 * H * 0.014  # 7.5 GiB, regional = 76.65
        + 100 * 0.34  # 100 GiB SSD, regional = 34.00
        + 50 * (1 + 0.05 * 14) * 0.08  # backups: 50 GB x 1.7 = 85 GB kept, none included = 6.80
    )
    assert total_of(cost, db["name"]) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(238.05, abs=0.01)


def test_cloud_sql_zonal_dev_arithmetic(planned):
    graph = planned("managed", "gcp", "dev")
    db = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")
    settings = db["inputs"]["settings"]
    assert (settings["tier"], settings["availabilityType"], settings["diskSize"]) == ("db-custom-1-3840", "ZONAL", 20)
    cost = estimate(graph, stack("gcp"))
    expected = (
        1 * H * 0.0413  # 1 vCPU zonal = 30.149
        + 3840 / 1024 * H * 0.007  # 3.75 GiB = 19.1625
        + 20 * 0.17  # 20 GiB SSD = 3.40
        + 10 * (1 + 0.05 * 7) * 0.08  # 10 GB x 1.35 = 13.5 GB of backups = 1.08
    )
    assert total_of(cost, db["name"]) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(53.79, abs=0.01)


def test_azure_postgres_zone_redundant_ha_and_geo_redundant_backups(planned):
    graph = planned("managed", "azure", "prod")
    db = one(graph, "azure-native:dbforpostgresql:Server")
    i = db["inputs"]
    assert (i["sku"]["name"], i["highAvailability"]["mode"], i["storage"]["storageSizeGB"]) == (
        "Standard_D2ds_v5",
        "ZoneRedundant",
        128,
    )
    assert i["backup"] == {"backupRetentionDays": 14, "geoRedundantBackup": "Enabled"}
    cost = estimate(graph, stack("azure", "prod"))
    got = items_of(cost, db["name"])
    expected = 2 * H * 0.178 + 2 * 128 * 0.115  # primary + standby: 259.88 + 29.44
    assert total_of(cost, db["name"]) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(289.32)
    # 64 GB x (1 + 0.05 x 14) = 108.8 GB of geo-redundant backups, within the 128 GB included.
    assert got["postgres.backup_grs"]["quantity"] == 0
    assert "estimated price" in got["postgres.backup_grs"]["note"]  # the GRS rate was not read: it says so
    more = estimate(graph, stack("azure", "prod", database_data_gb=120))  # 120 x 1.7 = 204 GB, 76 GB billed
    assert items_of(more, db["name"])["postgres.backup_grs"]["monthly"] == pytest.approx(76 * 0.19, abs=1e-4)


def test_azure_postgres_burstable_dev_arithmetic(planned):
    graph = planned("managed", "azure", "dev")
    db = one(graph, "azure-native:dbforpostgresql:Server")
    i = db["inputs"]
    assert (i["sku"]["name"], i["highAvailability"]["mode"], i["storage"]["storageSizeGB"]) == (
        "Standard_B1ms",
        "Disabled",
        32,
    )
    assert i["backup"]["geoRedundantBackup"] == "Disabled"
    cost = estimate(graph, stack("azure"))
    expected = H * 0.017 + 32 * 0.115  # one server: 12.41 + 3.68; LRS backups 16 x 1.35 = 21.6 GB < 32 included
    assert total_of(cost, db["name"]) == pytest.approx(expected, abs=0.01)
    assert items_of(cost, db["name"])["postgres.backup"]["quantity"] == 0


def test_memorystore_standard_m2_is_priced_at_the_published_rate():
    cost = estimate(
        graph_of("gcp", res("r", "gcp:redis/instance:Instance", "cache", tier="STANDARD_HA", memorySizeGb=5)), None
    )
    (item,) = cost["items"]
    # 5 GB Standard (M2: 5-10 GB) at $0.054 per GB-hour = $197.10 a month (Infracost's golden file agrees).
    assert (item["sku"], item["unit_price"], item["monthly"]) == ("redis.standard.m2", 0.054, pytest.approx(197.10))
    big = estimate(
        graph_of("gcp", res("r", "gcp:redis/instance:Instance", "cache", tier="BASIC", memorySizeGb=150)), None
    )
    assert big["items"][0]["sku"] == "redis.basic.m5" and big["items"][0]["monthly"] == pytest.approx(150 * H * 0.016)


# --- serverless containers: active vs idle ---------------------------------------------------------------


def test_container_apps_always_on_replicas_bill_idle_time_at_the_idle_rate():
    app = res(
        "app",
        "azure-native:app:ContainerApp",
        "containers",
        template={
            "containers": [{"resources": {"cpu": 1, "memory": "2Gi"}}],
            "scale": {"minReplicas": 2, "rules": [{"http": {"metadata": {"concurrentRequests": "50"}}}]},
        },
    )
    cost = estimate(graph_of("azure", app), None)
    got = items_of(cost, "app")
    c = 2_000_000 * 0.2 / MONTH_S  # 0.152 requests in flight on average
    active = max(1 - math.exp(-c), c / 50) * MONTH_S  # instance-seconds busy = 376,989 s
    idle = 2 * MONTH_S - active  # the rest of both replicas' month
    assert got["aca.vcpu_active"]["quantity"] == pytest.approx(active * 1)
    assert got["aca.memory_active"]["quantity"] == pytest.approx(active * 2)
    assert got["aca.vcpu_idle"]["quantity"] == pytest.approx(idle * 1)
    assert got["aca.memory_idle"]["quantity"] == pytest.approx(idle * 2)
    expected = active * (0.000024 + 2 * 0.000003) + idle * (0.000003 + 2 * 0.000003) + 2 * 0.40
    assert total_of(cost, "app") == pytest.approx(expected, abs=0.01)
    # The old model billed both replicas all month at the active rate: 2 x 2,628,000 s x ($0.000024 + 2 x $0.000003).
    assert total_of(cost, "app") < 0.5 * (2 * MONTH_S * (0.000024 + 2 * 0.000003))
    zero = estimate(
        graph_of(
            "azure",
            {
                **app,
                "inputs": {
                    **app["inputs"],
                    "template": {"containers": app["inputs"]["template"]["containers"], "scale": {"minReplicas": 0}},
                },
            },
        ),
        None,
    )
    assert not [i for i in zero["items"] if "idle" in i["sku"]]  # scale to zero: no idle time


def test_cloud_run_min_instances_idle_excludes_their_active_time():
    service = res(
        "run",
        "gcp:cloudrunv2/service:Service",
        "serverless",
        template={
            "containers": [{"resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}],
            "scaling": {"minInstanceCount": 1},
            "maxInstanceRequestConcurrency": 80,
        },
    )
    cost = estimate(graph_of("gcp", service), None)
    got = items_of(cost, "run")
    c = 2_000_000 * 0.2 / MONTH_S
    active = (1 - math.exp(-c)) * MONTH_S
    assert got["run.request.vcpu_second"]["quantity"] == pytest.approx(active)
    assert got["run.idle.vcpu_second"]["quantity"] == pytest.approx(MONTH_S - active)
    assert got["run.idle.gib_second"]["quantity"] == pytest.approx((MONTH_S - active) * 0.5)


# --- load balancers, public IPv4, NAT -------------------------------------------------------------------


def alb(**inputs: Any) -> dict[str, Any]:
    return res(
        "alb",
        "aws:lb/loadBalancer:LoadBalancer",
        "containers",
        **{"loadBalancerType": "application", "internal": False, "subnets": ["a", "b", "c"], **inputs},
    )


def test_alb_capacity_units_come_from_the_largest_traffic_dimension():
    # small preset: 2M requests, 10 per connection, 60 s connections, 50 GB processed
    cost = estimate(graph_of("aws", alb()), stack("aws"))
    lcu = items_of(cost, "alb")["alb.lcu_hour"]
    rps = 2_000_000 / MONTH_S
    dims = {"new": rps / 10 / 25, "active": rps / 10 * 60 / 3000, "bytes": 50 / H / 1}
    assert max(dims, key=dims.get) == "bytes"
    assert lcu["quantity"] == pytest.approx(dims["bytes"] * H)  # = 50 LCU-hours
    assert lcu["monthly"] == pytest.approx(50 * 0.008)
    # Short connections at 50M requests: new connections dominate (19 req/s, 1 per connection = 0.76 LCU).
    busy = estimate(graph_of("aws", alb()), stack("aws", requests_per_month=50e6, requests_per_connection=1))
    new = 50e6 / MONTH_S / 1 / 25
    assert items_of(busy, "alb")["alb.lcu_hour"]["quantity"] == pytest.approx(new * H)
    assert "new connections/s" in items_of(busy, "alb")["alb.lcu_hour"]["detail"]
    # An explicit lb_capacity_units wins.
    fixed = estimate(graph_of("aws", alb()), stack("aws", lb_capacity_units=2))
    assert items_of(fixed, "alb")["alb.lcu_hour"]["quantity"] == 2 * H


def test_alb_rule_evaluations_beyond_ten_count():
    listener = res("http", "aws:lb/listener:Listener", "containers", deps=("alb",))
    rules = [res(f"rule{n}", "aws:lb/listenerRule:ListenerRule", "containers", deps=("http",)) for n in range(14)]
    usage = {"requests_per_month": 500e6, "requests_per_connection": 1000, "lb_processed_gb": 1}
    cost = estimate(graph_of("aws", alb(), listener, *rules), stack("aws", **usage))
    evals = 500e6 / MONTH_S * (15 - 10)  # 1 default action + 14 rules, the first 10 free
    assert items_of(cost, "alb")["alb.lcu_hour"]["quantity"] == pytest.approx(evals / 1000 * H)


def test_public_ipv4_addresses_are_charged():
    eip = res("eip", "aws:ec2/eip:Eip", "network", domain="vpc")
    nat = res("nat", "aws:ec2/natGateway:NatGateway", "network", deps=("eip",))
    lonely_nat = res("nat2", "aws:ec2/natGateway:NatGateway", "network")
    internal = res(
        "ilb",
        "aws:lb/loadBalancer:LoadBalancer",
        "containers",
        loadBalancerType="application",
        internal=True,
        subnets=["a", "b"],
    )
    cost = estimate(graph_of("aws", eip, nat, lonely_nat, alb(), internal), stack("aws"))
    ipv4 = {i["resource"]: i["quantity"] for i in cost["items"] if i["sku"] == "ipv4.hour"}
    # The EIP of a NAT gateway is charged once (on the EIP), a NAT without one in the plan on itself, an
    # internet-facing ALB once per zone, an internal one not at all: $0.005 an hour each.
    assert ipv4 == {"eip": H, "nat2": H, "alb": 3 * H}
    assert p("aws", "ipv4.hour") == 0.005


def test_gcp_cloud_nat_auto_allocated_ips_and_vm_external_ips():
    nat = res("nat", "gcp:compute/routerNat:RouterNat", "network", natIpAllocateOption="AUTO_ONLY")
    manual = res("nat-m", "gcp:compute/routerNat:RouterNat", "network", natIpAllocateOption="MANUAL_ONLY")
    vm = res(
        "vm",
        "gcp:compute/instance:Instance",
        "servers",
        machineType="e2-small",
        networkInterfaces=[{"accessConfigs": [{}]}],
    )
    cost = estimate(graph_of("gcp", nat, manual, vm), stack("gcp"))
    ips = {i["resource"]: i["quantity"] for i in cost["items"] if i["sku"] == "ip.external.hour"}
    assert ips == {"nat": H, "vm": H}  # MANUAL_ONLY: its addresses are compute.Address resources, priced there


def test_nat_data_is_derived_from_the_app_unless_set():
    nat = res("nat", "aws:ec2/natGateway:NatGateway", "network")
    service = res("svc", "aws:ecs/service:Service", "containers", launchType="FARGATE", desiredCount=2)
    cost = estimate(graph_of("aws", nat, service), stack("aws"))
    gb = items_of(cost, "nat")["nat.gb"]
    # outbound_gb 10 + image pulls 0.3 GB x 2 replicas (the planned minimum is the stack's: 1) x 20 deploys...
    replicas = resolve(profile="managed", cloud="aws", environment="dev").app.min_replicas
    assert gb["quantity"] == pytest.approx(10 + 0.3 * replicas * 20 + 5)  # ... + app logs 5 through the NAT
    api = res("ecr", "aws:ec2/vpcEndpoint:VpcEndpoint", "network", vpcEndpointType="Interface",
              serviceName="com.amazonaws.us-east-1.ecr.dkr", subnetIds=["a"])  # fmt: skip
    with_api = estimate(graph_of("aws", nat, service, api), stack("aws"))
    assert items_of(with_api, "nat")["nat.gb"]["quantity"] == pytest.approx(10 + 0.3 * replicas * 20 + 5)  # layers: S3
    s3 = res("s3", "aws:ec2/vpcEndpoint:VpcEndpoint", "network", vpcEndpointType="Gateway",
             serviceName="com.amazonaws.us-east-1.s3", routeTableIds=["rt"])  # fmt: skip
    private = estimate(graph_of("aws", nat, service, s3), stack("aws"))
    assert items_of(private, "nat")["nat.gb"]["quantity"] == pytest.approx(10 + 5)  # image layers via the S3 endpoint
    fixed = estimate(graph_of("aws", nat, service), stack("aws", nat_processed_gb=123))
    assert items_of(fixed, "nat")["nat.gb"]["quantity"] == 123


# --- monitoring the plan turns on --------------------------------------------------------------------------


def test_container_insights_and_detailed_monitoring_are_priced_when_on():
    cluster = res(
        "cluster", "aws:ecs/cluster:Cluster", "containers", settings=[{"name": "containerInsights", "value": "enabled"}]
    )
    task = res("task", "aws:ecs/taskDefinition:TaskDefinition", "containers", cpu="256", memory="512")
    svc = res("svc", "aws:ecs/service:Service", "containers", deps=("cluster", "task"), launchType="FARGATE")
    template = res(
        "lt", "aws:ec2/launchTemplate:LaunchTemplate", "servers", instanceType="t3.small", monitoring={"enabled": True}
    )
    asg = res("asg", "aws:autoscaling/group:Group", "servers", deps=("lt",), desiredCapacity=3)
    cost = estimate(graph_of("aws", cluster, task, svc, template, asg), stack("aws"))
    insights = items_of(cost, "cluster")
    assert insights["cloudwatch.metric"]["quantity"] == 11 + 13 + 8  # cluster, 1 service, 1 task family
    assert insights["logs.ingest_gb"]["quantity"] == 1  # container_insights_log_gb
    assert items_of(cost, "asg")["cloudwatch.metric"]["quantity"] == 7 * 3  # 7 metrics per instance
    assert items_of(cost, "asg")["cloudwatch.metric"]["monthly"] == pytest.approx(21 * 0.30)
    off = estimate(graph_of("aws", {**cluster, "inputs": {}}), stack("aws"))
    assert items_of(off, "cluster") == {} and "Container Insights is off" in off["free"][0]["reason"]


def test_elasticache_snapshots_beyond_the_free_one():
    group = res(
        "redis",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "cache",
        nodeType="cache.t4g.micro",
        numCacheClusters=2,
        snapshotRetentionLimit=7,
    )
    cost = estimate(graph_of("aws", group), stack("aws", cache_gb=4))
    backup = items_of(cost, "redis")["elasticache.backup"]
    assert backup["quantity"] == 6 * 4 and backup["monthly"] == pytest.approx(24 * 0.085)


# --- presets, free tiers, usage with no value --------------------------------------------------------------


def test_presets_scale_traffic_and_the_stack_file_overrides_single_values():
    small, medium, large = (resolve_usage({}, preset=name) for name in PRESETS)
    assert small == resolve_usage({})  # small is the default
    assert (small["requests_per_month"], medium["requests_per_month"], large["requests_per_month"]) == (
        2e6,
        50e6,
        500e6,
    )
    for key in ("egress_gb", "storage_gb", "monthly_active_users", "cdn_egress_gb"):
        assert small[key] < medium[key] < large[key], key
    assert small["free_tiers"] == medium["free_tiers"] == large["free_tiers"] == 0
    mixed = resolve_usage({"storage_gb": 7}, preset="large")
    assert mixed["storage_gb"] == 7 and mixed["requests_per_month"] == 500e6
    assert all(spec.help for spec in USAGE.values())
    from mbops.cli.cost import USAGE_PRESETS

    assert USAGE_PRESETS == PRESETS  # the CLI's copy (kept to keep `--help` fast) matches


def test_preset_and_free_tiers_reach_the_estimate(planned):
    graph = planned("saas", "aws", "dev")
    small = estimate(graph, stack("aws", profile="saas"))
    medium = estimate(graph, stack("aws", profile="saas"), preset="medium")
    assert medium["preset"] == "medium" and medium["monthly_total"] > 5 * small["monthly_total"]
    assert medium["assumptions"]["requests_per_month"] == 50e6
    # Free tiers are off by default; on, Lambda's 1M requests and 400k GB-s, Cognito's 10k MAU, ... are deducted.
    free = estimate(graph, stack("aws", profile="saas"), free_tiers=True)
    assert free["monthly_total"] < small["monthly_total"]
    cognito = next(i for i in free["items"] if i["sku"].startswith("cognito."))
    assert cognito["quantity"] == 0 and "less free tier allowance of 5,000 (MAU)" in cognito["detail"]
    # A $0 first tier every account gets (Identity Platform's first 49,999 MAU) applies with free tiers off.
    gcp = estimate(planned("saas", "gcp", "dev"), stack("gcp", profile="saas"))
    mau = next(i for i in gcp["items"] if i["sku"] == "identityplatform.mau")
    assert mau["monthly"] == 0 and "less included allowance of 5,000" in mau["detail"]


def test_a_usage_driven_charge_with_no_usage_says_its_price_per_unit(planned):
    graph = planned("managed", "aws", "dev")
    cost = estimate(graph, stack("aws", egress_gb=0, nat_processed_gb=0, storage_gb=0))
    per_unit = {i["sku"]: i["per_unit"] for i in cost["items"] if i.get("per_unit")}
    assert per_unit["egress.internet_gb"] == "$0.0900 per GB"
    assert per_unit["nat.gb"] == "$0.0450 per GB"
    assert per_unit["s3.standard.gb_month"] == "$0.0230 per GB-month"
    assert all(i["monthly"] == 0 for i in cost["items"] if i.get("per_unit"))
    # A line that is $0 for another reason (backups within the included storage) shows $0.00, not a unit price.
    assert "rds.backup" not in per_unit


def test_cost_cli_takes_the_preset_and_free_tier_flags(tmp_path):
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text("profile: saas\ncloud: aws\nusage: {egress_gb: 0}\n")
    run = CliRunner().invoke(cli, ["cost", "-f", str(stack_file), "--usage-preset", "large", "--free-tiers", "--json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.output)
    assert (data["preset"], data["free_tiers"]) == ("large", True)
    assert data["assumptions"]["requests_per_month"] == 500e6 and data["assumptions"]["egress_gb"] == 0
    egress = next(i for i in data["items"] if i["sku"] == "egress.internet_gb")
    assert egress["per_unit"] == "$0.0900 per GB"
    text = CliRunner().invoke(cli, ["cost", "-f", str(stack_file)], terminal_width=200)
    assert text.exit_code == 0, text.output
    assert "$0.0900 per GB" in text.output and "Usage preset small; free tiers not deducted" in text.output
    bad = CliRunner().invoke(cli, ["cost", "-f", str(stack_file), "--usage-preset", "huge"])
    assert bad.exit_code == 2 and "'huge' is not one of 'small', 'medium', 'large'" in bad.output
