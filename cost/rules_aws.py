"""Price rules for AWS resource types (pulumi-aws 7 type tokens) on the SKUs of ``cost/aws.yaml``."""

from __future__ import annotations

from typing import Any

from mbops.cost.rules import (
    COMPUTED,
    CapacityUnit,
    Charge,
    Context,
    Free,
    Outcome,
    Rule,
    Unpriced,
    backup_storage,
    capacity_units,
    dig,
    fmt,
    known,
    nat_processed,
    num,
    unmodelled_storage,
)

APP_KINDS = ("containers", "serverless", "servers")
DETAILED_MONITORING_METRICS = 7  # EC2 detailed monitoring: 7 metrics per instance (CloudWatch pricing example)
# Container Insights (standard) metrics, from the ECS/ContainerInsights metrics table: per cluster, per service,
# per task definition family. They are billed as custom metrics.
INSIGHTS_METRICS = {"cluster": 11, "service": 13, "task family": 8}
# What one LCU covers (Elastic Load Balancing pricing): ALB and NLB (TCP).
ALB_LCU = CapacityUnit(new_per_second=25, active=3000, gb_per_hour=1, rule_evals_per_second=1000, free_rules=10)
NLB_LCU = CapacityUnit(new_per_second=800, active=100_000, gb_per_hour=1)


def _ipv4(count: float, ctx: Context, what: str) -> Charge:
    return Charge(
        sku="ipv4.hour",
        quantity=count * ctx.hours,
        detail=f"{fmt(count)} public IPv4 address(es) ({what}) x {fmt(ctx.hours)} h",
    )


def _endpoint(ctx: Context, service: str) -> bool:
    """Whether the plan has a VPC endpoint (interface or gateway) for an AWS service (its traffic skips the NAT)."""
    endpoints = ctx.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    return any(service in str(r["inputs"].get("serviceName", "")) for r in endpoints)


def nat_gateway(res: dict[str, Any], ctx: Context) -> Outcome:
    count = len(ctx.of_type(res["type"])) or 1
    app = any(ctx.of_type(t) for t in ("aws:ecs/service:Service", "aws:autoscaling/group:Group"))
    total, how = nat_processed(
        ctx,
        pulls_via_nat=app and not _endpoint(ctx, ".s3"),  # image layers come from S3, not the ECR API
        logs_via_nat=app and not _endpoint(ctx, ".logs"),
    )
    explicit = ctx.usage["nat_processed_gb"] >= 0
    charges: list[Charge | Unpriced] = [
        Charge(sku="nat.hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku="nat.gb",
            quantity=total / count,
            detail=f"{how}, / {count} gateway(s)",
            usage=("nat_processed_gb",) if explicit else ("outbound_gb", "image_gb", "app_log_gb"),
        ),
    ]
    if res["inputs"].get("connectivityType", "public") == "public" and not ctx.deps(res, "aws:ec2/eip:Eip"):
        charges.append(_ipv4(1, ctx, "the gateway's address"))  # an EIP in the plan is charged on the EIP
    return charges


def public_ip(res: dict[str, Any], ctx: Context) -> Outcome:
    return [_ipv4(1, ctx, "Elastic IP, in use or not")]


def load_balancer(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    kind = inputs.get("loadBalancerType", "application")
    prefix, unit = {"application": ("alb", ALB_LCU), "network": ("nlb", NLB_LCU)}.get(kind, (None, None))
    if prefix is None or unit is None:
        return Unpriced(f"load balancer type '{kind}' is not in the catalog")
    listeners = ctx.dependents(res, "aws:lb/listener:Listener")
    rules = len(listeners) + sum(len(ctx.dependents(li, "aws:lb/listenerRule:ListenerRule")) for li in listeners)
    lcu, how = capacity_units(ctx, unit, rules=rules)
    explicit = ctx.usage["lb_capacity_units"] >= 0
    charges = [
        Charge(sku=f"{prefix}.hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku=f"{prefix}.lcu_hour",
            quantity=lcu * ctx.hours,
            detail=f"{how} x {fmt(ctx.hours)} h",
            usage=("lb_capacity_units",) if explicit else ("requests_per_month", "lb_processed_gb"),
        ),
    ]
    if not inputs.get("internal"):
        zones = len(inputs.get("subnetMappings") or inputs.get("subnets") or []) or 2
        charges.append(_ipv4(zones, ctx, f"internet-facing: one per zone, {zones} zone(s)"))
    return charges


def ecs_service(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    strategies = inputs.get("capacityProviderStrategies") or []
    fargate = inputs.get("launchType") == "FARGATE" or any(
        str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategies if isinstance(s, dict)
    )
    if not fargate:
        return Free("EC2 launch type: the tasks run on container instances priced separately")
    tasks = ctx.deps(res, "aws:ecs/taskDefinition:TaskDefinition")
    if not tasks:
        return Unpriced("no task definition found among the service's dependencies (CPU and memory unknown)")
    task = tasks[0]["inputs"]
    vcpu = num(task.get("cpu"), 256) / 1024
    gb = num(task.get("memory"), 512) / 1024
    arch = "arm" if dig(task, "runtimePlatform", "cpuArchitecture", default="X86_64") == "ARM64" else "x86"
    replicas = ctx.replicas(num(inputs.get("desiredCount"), ctx.app_replicas()))
    hours = replicas * ctx.hours
    base = f"{fmt(replicas)} task(s) x {fmt(ctx.hours)} h"
    charges = [
        Charge(sku=f"fargate.{arch}.vcpu_hour", quantity=vcpu * hours, detail=f"{base} x {vcpu:g} vCPU"),
        Charge(sku=f"fargate.{arch}.gb_hour", quantity=gb * hours, detail=f"{base} x {gb:g} GB"),
    ]
    if dig(inputs, "networkConfiguration", "assignPublicIp", default=False) is True:
        charges.append(_ipv4(replicas, ctx, "assignPublicIp: one per task"))
    return charges


def ecs_cluster(res: dict[str, Any], ctx: Context) -> Outcome:
    """Container Insights metrics and performance logs, when the cluster turns them on."""
    settings = {s.get("name"): s.get("value") for s in res["inputs"].get("settings") or [] if isinstance(s, dict)}
    mode = settings.get("containerInsights", "disabled")
    if mode not in ("enabled", "enhanced"):
        return Free("ECS clusters are free; tasks are charged on the service (Container Insights is off)")
    services = ctx.dependents(res, "aws:ecs/service:Service")
    families = {t["urn"] for svc in services for t in ctx.deps(svc, "aws:ecs/taskDefinition:TaskDefinition")}
    n = INSIGHTS_METRICS
    metrics = n["cluster"] + n["service"] * len(services) + n["task family"] * len(families)
    gb = ctx.usage["container_insights_log_gb"]
    charges: list[Charge | Unpriced] = [
        Charge(
            sku="cloudwatch.metric",
            quantity=metrics,
            detail=f"Container Insights: {n['cluster']} cluster + {n['service']} x {len(services)} service(s) + "
            f"{n['task family']} x {len(families)} task family(ies) metrics",
        ),
        Charge(
            sku="logs.ingest_gb",
            quantity=gb,
            detail=f"Container Insights performance log events: container_insights_log_gb {fmt(gb)}",
            usage=("container_insights_log_gb",),
        ),
    ]
    if mode == "enhanced":
        charges.append(Unpriced("Container Insights enhanced observability (per observation) is not in the catalog"))
    return charges


# Functions that serve the app's requests; the others (the database-role setup, alarm webhooks) run a few times
# a month: once per deploy.
TRAFFIC_COMPONENTS = ("serverless", "containers", "servers", "edge")


def lambda_function(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    gb = num(inputs.get("memorySize"), 128) / 1024
    arch = "arm" if "arm64" in (inputs.get("architectures") or []) else "x86"
    if res.get("component") not in TRAFFIC_COMPONENTS:
        runs = ctx.usage["deploys_per_month"]
        return [
            Charge(sku="lambda.requests", quantity=runs / 1e6, detail=f"deploys_per_month {fmt(runs)} (runs once "
                   "per deploy)", usage=("deploys_per_month",)),
            Charge(sku=f"lambda.{arch}.gb_second", quantity=runs * 10 * gb,
                   detail=f"{fmt(runs)} runs x 10 s x {gb:g} GB", usage=("deploys_per_month",)),
        ]  # fmt: skip
    requests = ctx.usage["requests_per_month"]
    seconds = requests * ctx.usage["avg_request_ms"] / 1000
    return [
        Charge(
            sku="lambda.requests",
            quantity=requests / 1e6,
            detail=f"requests_per_month {fmt(requests)}",
            usage=("requests_per_month",),
        ),
        Charge(
            sku=f"lambda.{arch}.gb_second",
            quantity=seconds * gb,
            detail=f"{fmt(requests)} requests x {fmt(ctx.usage['avg_request_ms'])} ms x {gb:g} GB",
            usage=("requests_per_month", "avg_request_ms"),
        ),
    ]


def http_api(res: dict[str, Any], ctx: Context) -> Outcome:
    protocol = res["inputs"].get("protocolType", "HTTP")
    if protocol != "HTTP":
        return Unpriced(f"API Gateway {protocol} APIs are priced per message and connection minute; not modelled")
    requests = ctx.usage["requests_per_month"]
    return [
        Charge(
            sku="apigw.http.requests",
            quantity=requests / 1e6,
            detail=f"requests_per_month {fmt(requests)}",
            usage=("requests_per_month",),
        )
    ]


def rds_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    engine = inputs.get("engine", "postgres")
    if engine != "postgres":
        return Unpriced(f"RDS engine '{engine}' is not in the catalog (PostgreSQL only)")
    cls = inputs.get("instanceClass")
    if not known(cls):
        return Unpriced("the instance class is not known at plan time")
    copies = 2 if inputs.get("multiAz") else 1
    label = "Multi-AZ: primary + standby" if copies == 2 else "single-AZ"
    storage_type = inputs.get("storageType", "gp3" if num(inputs.get("allocatedStorage"), 20) >= 20 else "gp2")
    gb = num(inputs.get("allocatedStorage"), 20)
    charges = [
        Charge(
            sku=f"rds.postgres.{cls}",
            quantity=copies * ctx.hours,
            detail=f"{label}, {copies} x {fmt(ctx.hours)} h",
        ),
        Charge(
            sku=f"rds.storage.{storage_type}",
            quantity=copies * gb,
            detail=f"{fmt(gb)} GB x {copies} ({label})",
        ),
    ]
    retention = num(inputs.get("backupRetentionPeriod"), 1)
    if retention > 0:
        billed, how = backup_storage(ctx, gb, retention, included_gb=gb)
        charges.append(Charge(sku="rds.backup", quantity=billed, detail=f"automated backups: {how}"))
    if num(inputs.get("monitoringInterval"), 0) > 0:
        charges.append(Unpriced("Enhanced Monitoring (OS metrics ingested as CloudWatch Logs) is not modelled"))
    if num(inputs.get("performanceInsightsRetentionPeriod"), 7) > 7:
        charges.append(Unpriced("Performance Insights retention beyond the free 7 days is not in the catalog"))
    return charges


def cache_nodes(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    node_type = inputs.get("nodeType")
    if not known(node_type):
        return Unpriced("the cache node type is not known at plan time")
    if res["type"] == "aws:elasticache/cluster:Cluster":
        nodes = num(inputs.get("numCacheNodes"), 1)
    elif "numNodeGroups" in inputs or "replicasPerNodeGroup" in inputs:
        nodes = num(inputs.get("numNodeGroups"), 1) * (num(inputs.get("replicasPerNodeGroup"), 0) + 1)
    else:
        nodes = num(inputs.get("numCacheClusters"), 1)
    charges = [
        Charge(
            sku=f"elasticache.{node_type}",
            quantity=nodes * ctx.hours,
            detail=f"{fmt(nodes)} node(s) x {fmt(ctx.hours)} h",
        )
    ]
    snapshots = num(inputs.get("snapshotRetentionLimit"), 0)
    if snapshots > 1:  # one snapshot per cluster is free
        gb = ctx.usage["cache_gb"]
        charges.append(
            Charge(
                sku="elasticache.backup",
                quantity=(snapshots - 1) * gb,
                detail=f"{fmt(snapshots)} daily snapshots kept, 1 free: {fmt(snapshots - 1)} x cache_gb {fmt(gb)}",
                usage=("cache_gb",),
            )
        )
    return charges


def serverless_cache(res: dict[str, Any], ctx: Context) -> Outcome:
    gb = max(ctx.usage["cache_gb"], 1.0)  # billed for at least 1 GB
    ecpu = ctx.usage["requests_per_month"] * 2
    return [
        Charge(
            sku="elasticache.serverless.gb_hour",
            quantity=gb * ctx.hours,
            detail=f"cache_gb {fmt(gb)} (min 1) x {fmt(ctx.hours)} h",
        ),
        Charge(
            sku="elasticache.serverless.ecpu",
            quantity=ecpu / 1e6,
            detail=f"2 ECPU per request x requests_per_month {fmt(ctx.usage['requests_per_month'])}",
            usage=("requests_per_month",),
        ),
    ]


def dynamodb_table(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    gb = ctx.usage["docdb_storage_gb"]
    charges: list[Charge | Unpriced] = []
    if inputs.get("billingMode", "PROVISIONED") == "PAY_PER_REQUEST":
        writes, reads = ctx.usage["docdb_writes_per_month"], ctx.usage["docdb_reads_per_month"]
        charges += [
            Charge(
                sku="dynamodb.write_request",
                quantity=writes / 1e6,
                detail=f"docdb_writes_per_month {fmt(writes)}",
                usage=("docdb_writes_per_month",),
            ),
            Charge(
                sku="dynamodb.read_request",
                quantity=reads / 1e6,
                detail=f"docdb_reads_per_month {fmt(reads)}",
                usage=("docdb_reads_per_month",),
            ),
        ]
    else:
        rcu, wcu = num(inputs.get("readCapacity"), 1), num(inputs.get("writeCapacity"), 1)
        charges += [
            Charge(sku="dynamodb.rcu_hour", quantity=rcu * ctx.hours, detail=f"{fmt(rcu)} RCU x {fmt(ctx.hours)} h"),
            Charge(sku="dynamodb.wcu_hour", quantity=wcu * ctx.hours, detail=f"{fmt(wcu)} WCU x {fmt(ctx.hours)} h"),
        ]
    charges.append(
        Charge(sku="dynamodb.storage", quantity=gb, detail=f"docdb_storage_gb {fmt(gb)}", usage=("docdb_storage_gb",))
    )
    if dig(inputs, "pointInTimeRecovery", "enabled", default=False):
        charges.append(
            Charge(
                sku="dynamodb.pitr",
                quantity=gb,
                detail=f"continuous backups of {fmt(gb)} GB",
                usage=("docdb_storage_gb",),
            )
        )
    return charges


def s3_bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    unpriced = unmodelled_storage(res, ctx, "bucket")
    if unpriced:
        return unpriced
    u = ctx.usage
    return [
        Charge(
            sku="s3.standard.gb_month",
            quantity=u["storage_gb"],
            detail=f"storage_gb {fmt(u['storage_gb'])}",
            usage=("storage_gb",),
        ),
        Charge(
            sku="s3.put_requests",
            quantity=u["object_writes_per_month"] / 1000,
            detail=f"object_writes_per_month {fmt(u['object_writes_per_month'])}",
            usage=("object_writes_per_month",),
        ),
        Charge(
            sku="s3.get_requests",
            quantity=u["object_reads_per_month"] / 1000,
            detail=f"object_reads_per_month {fmt(u['object_reads_per_month'])}",
            usage=("object_reads_per_month",),
        ),
    ]


def log_group(res: dict[str, Any], ctx: Context) -> Outcome:
    component = res.get("component")
    key = "flow_log_gb" if component == "network" else "app_log_gb" if component in APP_KINDS else "service_log_gb"
    groups = len([r for r in ctx.of_type(res["type"]) if r.get("component") == component]) or 1
    gb = ctx.usage[key] / groups
    retention = num(res["inputs"].get("retentionInDays"), 3653) or 3653
    stored = gb * min(retention / 30, 12)
    share = f" / {groups} log groups of the {component} component" if groups > 1 else ""
    return [
        Charge(sku="logs.ingest_gb", quantity=gb, detail=f"{key} {fmt(ctx.usage[key])}{share}", usage=(key,)),
        Charge(
            sku="logs.storage_gb",
            quantity=stored,
            detail=f"{fmt(gb)} GB/month kept {fmt(retention)} days (uncompressed, at most 12 months)",
            usage=(key,),
        ),
    ]


def secret(res: dict[str, Any], ctx: Context) -> Outcome:
    charges = [Charge(sku="secretsmanager.secret", quantity=1, detail="1 secret")]
    if ctx.claim("secret_api_calls_per_month", res) is None:
        calls = ctx.usage["secret_api_calls_per_month"]
        charges.append(
            Charge(
                sku="secretsmanager.api_calls",
                quantity=calls / 10_000,
                detail=f"secret_api_calls_per_month {fmt(calls)} (counted once per stack)",
                usage=("secret_api_calls_per_month",),
            )
        )
    return charges


def kms_key(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="kms.key", quantity=1, detail="1 customer managed key (requests within the free 20k/month)")]


def cloudfront(res: dict[str, Any], ctx: Context) -> Outcome:
    gb, requests = ctx.usage["cdn_egress_gb"], ctx.usage["cdn_requests_per_month"]
    return [
        Charge(sku="cloudfront.egress_gb", quantity=gb, detail=f"cdn_egress_gb {fmt(gb)}", usage=("cdn_egress_gb",)),
        Charge(
            sku="cloudfront.https_requests",
            quantity=requests / 10_000,
            detail=f"cdn_requests_per_month {fmt(requests)}",
            usage=("cdn_requests_per_month",),
        ),
    ]


def user_pool(res: dict[str, Any], ctx: Context) -> Outcome:
    tier = str(res["inputs"].get("userPoolTier", "ESSENTIALS")).lower()
    mau = ctx.usage["monthly_active_users"]
    return [
        Charge(
            sku=f"cognito.{tier}.mau",
            quantity=mau,
            detail=f"monthly_active_users {fmt(mau)}",
            usage=("monthly_active_users",),
        )
    ]


def platform_application(res: dict[str, Any], ctx: Context) -> Outcome:
    sent = ctx.usage["push_notifications_per_month"]
    return [
        Charge(
            sku="sns.mobile_push",
            quantity=sent / 1e6,
            detail=f"push_notifications_per_month {fmt(sent)}",
            usage=("push_notifications_per_month",),
        )
    ]


def _volume_charges(mappings: Any, instances: float, ctx: Context, default_gb: float = 8) -> list[Charge]:
    charges = []
    for mapping in mappings if isinstance(mappings, list) else []:
        ebs = mapping.get("ebs") if isinstance(mapping, dict) else None
        if not isinstance(ebs, dict):
            continue
        gb, kind = num(ebs.get("volumeSize"), default_gb), ebs.get("volumeType", "gp3")
        charges.append(
            Charge(
                sku=f"ebs.{kind}",
                quantity=gb * instances,
                detail=f"{fmt(instances)} instance(s) x {fmt(gb)} GB {kind}",
            )
        )
    return charges


def _instance_extras(monitoring: Any, public_ip: bool, instances: float, ctx: Context) -> list[Charge]:
    """EC2 detailed monitoring (7 metrics per instance) and public IPv4 addresses, when the plan turns them on."""
    charges = []
    if isinstance(monitoring, dict) and monitoring.get("enabled") or monitoring is True:
        charges.append(
            Charge(
                sku="cloudwatch.metric",
                quantity=DETAILED_MONITORING_METRICS * instances,
                detail=f"detailed monitoring: {DETAILED_MONITORING_METRICS} metrics x {fmt(instances)} instance(s)",
            )
        )
    if public_ip:
        charges.append(_ipv4(instances, ctx, "one per instance"))
    return charges


def autoscaling_group(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    templates = ctx.deps(res, "aws:ec2/launchTemplate:LaunchTemplate")
    if not templates:
        return Unpriced("no launch template among the group's dependencies (instance type unknown)")
    template = templates[0]["inputs"]
    instance_type = template.get("instanceType")
    if not known(instance_type):
        return Unpriced("the launch template's instance type is not known at plan time")
    planned = num(inputs.get("desiredCapacity"), num(inputs.get("minSize"), ctx.app_replicas()))
    instances = ctx.replicas(planned)
    charges = [
        Charge(
            sku=f"ec2.{instance_type}",
            quantity=instances * ctx.hours,
            detail=f"{fmt(instances)} instance(s) x {fmt(ctx.hours)} h",
        )
    ]
    volumes = _volume_charges(template.get("blockDeviceMappings"), instances, ctx)
    charges += volumes or [Charge(sku="ebs.gp3", quantity=8 * instances, detail="8 GB root volume (AMI default)")]
    public = any(
        isinstance(n, dict) and str(n.get("associatePublicIpAddress")).lower() == "true"
        for n in template.get("networkInterfaces") or []
    )
    return charges + _instance_extras(template.get("monitoring"), public, instances, ctx)


def ec2_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    instance_type = inputs.get("instanceType")
    if not known(instance_type):
        return Unpriced("the instance type is not known at plan time")
    root = inputs.get("rootBlockDevice") or {}
    gb, kind = num(root.get("volumeSize"), 8), root.get("volumeType", "gp3")
    charges = [
        Charge(sku=f"ec2.{instance_type}", quantity=ctx.hours, detail=f"1 instance x {fmt(ctx.hours)} h"),
        Charge(sku=f"ebs.{kind}", quantity=gb, detail=f"{fmt(gb)} GB root volume"),
    ]
    return charges + _instance_extras(inputs.get("monitoring"), inputs.get("associatePublicIpAddress") is True, 1, ctx)


def ebs_volume(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    gb, kind = num(inputs.get("size"), 8), inputs.get("type", "gp3")
    return [Charge(sku=f"ebs.{kind}", quantity=gb, detail=f"{fmt(gb)} GB")]


def vpc_endpoint(res: dict[str, Any], ctx: Context) -> Outcome:
    if res["inputs"].get("vpcEndpointType", "Gateway") == "Gateway":
        return Free("gateway endpoints (S3, DynamoDB) are free")
    zones = len(res["inputs"].get("subnetIds") or []) or 2
    return [
        Charge(
            sku="vpce.interface.hour",
            quantity=zones * ctx.hours,
            detail=f"{zones} zone(s) x {fmt(ctx.hours)} h",
        )
    ]


def alarm(res: dict[str, Any], ctx: Context) -> Outcome:
    """An alarm is billed per metric it watches: one, or each metric of a metric-math expression."""
    inputs = res["inputs"]
    queries = [q for q in inputs.get("metricQueries") or [] if isinstance(q, dict)]
    metrics = len([q for q in queries if q.get("metric")]) or 1
    if any("ANOMALY_DETECTION_BAND" in str(q.get("expression", "")) for q in queries):
        metrics *= 3  # an anomaly detection alarm is billed as 3 alarm metrics (the metric and the band)
    periods = [num(inputs.get("period"), 60)] + [num(dig(q, "metric", "period", default=60), 60) for q in queries]
    high = min(periods) < 60
    sku, label = ("cloudwatch.alarm_high_res", "high-resolution") if high else ("cloudwatch.alarm", "standard")
    return [Charge(sku=sku, quantity=metrics, detail=f"{metrics} {label} alarm metric(s)")]


def dashboard(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="cloudwatch.dashboard", quantity=1, detail="1 dashboard")]


def hosted_zone(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="route53.zone", quantity=1, detail="1 hosted zone (queries not modelled)")]


def _aws_endpoint(inputs: dict[str, Any], ctx: Context) -> bool:
    """Whether a health check watches an AWS endpoint: the stack's own (computed, its domain) or an AWS host."""
    target = inputs.get("fqdn") or inputs.get("ipAddress")
    domain = getattr(ctx.stack, "domain", None) if ctx.stack is not None else None
    if target is None or target == COMPUTED or (domain and str(target).endswith(str(domain))):
        return True
    return str(target).endswith((".amazonaws.com", ".cloudfront.net", ".awsglobalaccelerator.com"))


def health_check(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    kind = str(inputs.get("type", "HTTP"))
    where = "aws" if _aws_endpoint(inputs, ctx) else "other"
    features = [
        name
        for name, on in (
            ("HTTPS", kind.startswith("HTTPS")),
            ("string matching", kind.endswith("STR_MATCH")),
            ("fast interval", num(inputs.get("requestInterval"), 30) == 10),
            ("latency measurement", inputs.get("measureLatency") is True),
        )
        if on
    ]
    label = "an AWS endpoint" if where == "aws" else "a non-AWS endpoint"
    charges = [Charge(sku=f"route53.health_check.{where}", quantity=1, detail=f"1 {kind} health check of {label}")]
    if features and kind not in ("CALCULATED", "CLOUDWATCH_METRIC"):
        charges.append(
            Charge(
                sku=f"route53.health_check.feature_{where}",
                quantity=len(features),
                detail=f"optional features: {', '.join(features)}",
            )
        )
    return charges


BOT_CONTROL = ("AWSManagedRulesBotControlRuleSet", "AWSManagedRulesATPRuleSet", "AWSManagedRulesACFPRuleSet")


def web_acl(res: dict[str, Any], ctx: Context) -> Outcome:
    """A web ACL, $1 per rule (a rule group or managed rule group reference counts as one), and requests."""
    inputs = res["inputs"]
    rules = inputs.get("rules") or []
    attached = ctx.dependents(res, "aws:wafv2/webAclRule:WebAclRule") + ctx.dependents(
        res, "aws:wafv2/webAclRuleGroupAssociation:WebAclRuleGroupAssociation"
    )
    count = len(rules) + len(attached)
    requests = ctx.usage["requests_per_month"]
    charges: list[Charge | Unpriced] = [
        Charge(sku="waf.web_acl", quantity=1, detail="1 web ACL"),
        Charge(sku="waf.rule", quantity=count, detail=f"{count} rule(s) and rule group(s)"),
        Charge(
            sku="waf.requests",
            quantity=requests / 1e6,
            detail=f"requests_per_month {fmt(requests)}",
            usage=("requests_per_month",),
        ),
    ]
    paid = sorted({name for name in BOT_CONTROL if name in str(rules)})
    if paid:
        charges.append(Unpriced(f"the subscription and request fees of {', '.join(paid)} are not in the catalog"))
    return charges


def ecr_repository(res: dict[str, Any], ctx: Context) -> Outcome:
    owner = ctx.claim("registry_gb", res)
    if owner:
        return Unpriced(f"image storage (registry_gb) is counted on repository {owner}; this one's is not modelled")
    gb = ctx.usage["registry_gb"]
    return [Charge(sku="ecr.storage", quantity=gb, detail=f"registry_gb {fmt(gb)}", usage=("registry_gb",))]


RULES: dict[str, Rule] = {
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/eip:Eip": public_ip,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": load_balancer,
    "aws:ecs/service:Service": ecs_service,
    "aws:ecs/cluster:Cluster": ecs_cluster,
    "aws:lambda/function:Function": lambda_function,
    "aws:apigatewayv2/api:Api": http_api,
    "aws:rds/instance:Instance": rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": cache_nodes,
    "aws:elasticache/cluster:Cluster": cache_nodes,
    "aws:elasticache/serverlessCache:ServerlessCache": serverless_cache,
    "aws:dynamodb/table:Table": dynamodb_table,
    "aws:s3/bucket:Bucket": s3_bucket,
    "aws:s3/bucketV2:BucketV2": s3_bucket,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:kms/key:Key": kms_key,
    "aws:cloudfront/distribution:Distribution": cloudfront,
    "aws:cognito/userPool:UserPool": user_pool,
    "aws:sns/platformApplication:PlatformApplication": platform_application,
    "aws:autoscaling/group:Group": autoscaling_group,
    "aws:ec2/instance:Instance": ec2_instance,
    "aws:ebs/volume:Volume": ebs_volume,
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint,
    "aws:cloudwatch/metricAlarm:MetricAlarm": alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
    "aws:route53/zone:Zone": hosted_zone,
    "aws:route53/healthCheck:HealthCheck": health_check,
    "aws:wafv2/webAcl:WebAcl": web_acl,
    "aws:ecr/repository:Repository": ecr_repository,
}

_VPC = "VPC networking constructs are free"
FREE: dict[str, str] = {
    "aws:iam/": "IAM is free",
    "aws:resourcegroups/": "resource groups are free",
    "aws:ec2/vpc:Vpc": _VPC,
    "aws:ec2/subnet:Subnet": _VPC,
    "aws:ec2/routeTable:RouteTable": _VPC,
    "aws:ec2/route:Route": _VPC,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _VPC,
    "aws:ec2/internetGateway:InternetGateway": "internet gateways are free (data transfer is egress)",
    "aws:ec2/securityGroup:SecurityGroup": "security groups are free",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups are free",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security group rules are free",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security group rules are free",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "security group rules are free",
    "aws:ec2/networkAcl:NetworkAcl": _VPC,
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": _VPC,
    "aws:ec2/flowLog:FlowLog": "flow logs are charged as log ingestion on their destination log group",
    "aws:ec2/launchTemplate:LaunchTemplate": "billed through the auto scaling group's instances",
    "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation": _VPC,
    "aws:s3/": "bucket configuration; the bucket itself carries storage and request charges",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": "ECS configuration is free",
    "aws:ecs/taskDefinition:TaskDefinition": "billed through the service's running tasks",
    "aws:lb/targetGroup:TargetGroup": "included in the load balancer's hours and capacity units",
    "aws:lb/listener:Listener": "included in the load balancer's hours and capacity units",
    "aws:lb/listenerRule:ListenerRule": "included in the load balancer's hours and capacity units",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": "included in the load balancer's hours",
    "aws:appautoscaling/": "Application Auto Scaling is free (its alarms are created by AWS)",
    "aws:autoscaling/policy:Policy": "auto scaling policies are free",
    "aws:autoscaling/attachment:Attachment": "auto scaling attachments are free",
    "aws:lambda/functionUrl:FunctionUrl": "function URLs add no charge beyond the function's requests",
    "aws:lambda/permission:Permission": "Lambda permissions are free",
    "aws:apigatewayv2/stage:Stage": "billed through the API's requests",
    "aws:apigatewayv2/route:Route": "billed through the API's requests",
    "aws:apigatewayv2/integration:Integration": "billed through the API's requests",
    "aws:rds/subnetGroup:SubnetGroup": "DB subnet groups are free",
    "aws:rds/parameterGroup:ParameterGroup": "DB parameter groups are free",
    "aws:elasticache/subnetGroup:SubnetGroup": "cache subnet groups are free",
    "aws:elasticache/parameterGroup:ParameterGroup": "cache parameter groups are free",
    "aws:secretsmanager/secretVersion:SecretVersion": "included in the secret's monthly price",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "included in the secret's monthly price",
    "aws:secretsmanager/secretRotation:SecretRotation": "rotation is free (its Lambda runs are negligible)",
    "aws:kms/alias:Alias": "KMS aliases are free",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "CloudFront configuration is free",
    "aws:cloudfront/cachePolicy:CachePolicy": "CloudFront configuration is free",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "CloudFront configuration is free",
    "aws:cognito/userPoolClient:UserPoolClient": "billed through the user pool's monthly active users",
    "aws:cognito/userPoolDomain:UserPoolDomain": "billed through the user pool's monthly active users",
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": "public ACM certificates are free",
    "aws:ssm/parameter:Parameter": "standard SSM parameters are free",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "CloudWatch configuration is free",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "ECR configuration is free",
    "aws:sns/topic:Topic": "no standing charge; deliveries are counted as mobile push notifications on the "
    "platform application",
    "aws:sns/topicPolicy:TopicPolicy": "SNS configuration is free",
    "aws:dynamodb/": "table configuration; the table carries request and storage charges",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "ECR configuration is free",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "associating a web ACL is free",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "logs are charged on their destination",
    "aws:wafv2/ruleGroup:RuleGroup": "billed as one rule on each web ACL that references it",
    "aws:wafv2/ipSet:IpSet": "WAF IP sets are free",
    "aws:wafv2/regexPatternSet:RegexPatternSet": "WAF regex pattern sets are free",
    "aws:sns/topicSubscription:TopicSubscription": "no standing charge (email/HTTP deliveries within the free "
    "allowance are not modelled)",
    "aws:budgets/budget:Budget": "budgets without actions are free",
    "aws:route53/record:Record": "records are included in the hosted zone (queries not modelled)",
}
