"""Price rules for GCP resource types (pulumi-gcp type tokens) on the SKUs of ``cost/gcp.yaml``."""

from __future__ import annotations

import re
from typing import Any

from mbops.cost.rules import (
    Charge,
    Context,
    Free,
    Outcome,
    Rule,
    Unpriced,
    cpu_cores,
    dig,
    fmt,
    log_charges,
    memory_gib,
    num,
    unmodelled_storage,
)

SECONDS_PER_HOUR = 3600
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
SHARED_CORE = {"e2-micro": (0.25, 1.0), "e2-small": (0.5, 2.0), "e2-medium": (1.0, 4.0)}
MEMORY_PER_VCPU = {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
MACHINE = re.compile(r"^(e2|n2|n2d|t2d)-(standard|highmem|highcpu)-(\d+)$")


def machine_shape(machine_type: str) -> tuple[str, float, float] | None:
    """(family, billed vCPUs, GiB) of a predefined machine type, or None when the catalog cannot price it."""
    if machine_type in SHARED_CORE:
        return ("e2", *SHARED_CORE[machine_type])
    m = MACHINE.match(machine_type)
    if not m:
        return None
    vcpus = float(m.group(3))
    return m.group(1), vcpus, vcpus * MEMORY_PER_VCPU[m.group(2)]


def _vm_charges(machine_type: str, instances: float, ctx: Context, what: str) -> list[Charge] | Unpriced:
    shape = machine_shape(machine_type)
    if shape is None:
        return Unpriced(f"machine type '{machine_type}' is not in the catalog (E2, N2, N2D, T2D predefined types)")
    family, vcpus, gib = shape
    hours = instances * ctx.hours
    base = f"{fmt(instances)} {what} x {fmt(ctx.hours)} h, {machine_type}"
    return [
        Charge(sku=f"compute.{family}.core", quantity=hours * vcpus, detail=f"{base}: {vcpus:g} vCPU"),
        Charge(sku=f"compute.{family}.ram", quantity=hours * gib, detail=f"{base}: {gib:g} GiB"),
    ]


def _app_logs(res: dict[str, Any], ctx: Context) -> list[Charge]:
    """App logs go to Cloud Logging's default bucket unless the component routes them to its own bucket."""
    component = res.get("component")
    if ctx.of_type(LOG_BUCKET, component) or ctx.claim(f"app_log_gb:{component}", res):
        return []
    gb = ctx.usage["app_log_gb"]
    return [
        Charge(
            sku="logging.ingest_gb",
            quantity=gb,
            detail=f"app_log_gb {fmt(gb)} (Cloud Logging _Default bucket)",
        )
    ]


def cloud_run(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    template = inputs.get("template") or {}
    container = (template.get("containers") or [{}])[0]
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    cpu, gib = cpu_cores(limits.get("cpu"), 1.0), memory_gib(limits.get("memory"), 0.5)
    planned = num(
        dig(
            template,
            "scaling",
            "minInstanceCount",
            default=dig(inputs, "scaling", "minInstanceCount", default=0),
        ),
        0,
    )
    replicas = ctx.replicas(planned)
    requests = ctx.usage["requests_per_month"]
    month_s = ctx.hours * SECONDS_PER_HOUR
    if resources.get("cpuIdle") is False:  # instance-based billing: CPU always allocated, no request fee
        instances = max(replicas, 1.0)
        how = f"{fmt(instances)} instance(s) x {fmt(ctx.hours)} h (instance-based billing)"
        charges = [
            Charge(
                sku="run.instance.vcpu_second",
                quantity=instances * month_s * cpu,
                detail=f"{how} x {cpu:g} vCPU",
            ),
            Charge(
                sku="run.instance.gib_second",
                quantity=instances * month_s * gib,
                detail=f"{how} x {gib:g} GiB",
            ),
        ]
    else:
        active = requests * ctx.usage["avg_request_ms"] / 1000
        how = f"{fmt(requests)} requests x {fmt(ctx.usage['avg_request_ms'])} ms active"
        charges = [
            Charge(sku="run.request.vcpu_second", quantity=active * cpu, detail=f"{how} x {cpu:g} vCPU"),
            Charge(sku="run.request.gib_second", quantity=active * gib, detail=f"{how} x {gib:g} GiB"),
            Charge(sku="run.requests", quantity=requests / 1e6, detail=f"requests_per_month {fmt(requests)}"),
        ]
        if replicas > 0:
            idle = f"{fmt(replicas)} idle min instance(s) x {fmt(ctx.hours)} h"
            charges += [
                Charge(
                    sku="run.idle.vcpu_second",
                    quantity=replicas * month_s * cpu,
                    detail=f"{idle} x {cpu:g} vCPU",
                ),
                Charge(
                    sku="run.idle.gib_second",
                    quantity=replicas * month_s * gib,
                    detail=f"{idle} x {gib:g} GiB",
                ),
            ]
    return charges + _app_logs(res, ctx)


def _sql_tier(tier: str) -> tuple[float, float] | str | None:
    """(vCPUs, GiB) of a custom tier, the shared-core tier name, or None."""
    if tier in ("db-f1-micro", "db-g1-small"):
        return tier
    m = re.match(r"^db-custom-(\d+)-(\d+)$", tier)
    return (float(m.group(1)), int(m.group(2)) / 1024) if m else None


def sql_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    settings = res["inputs"].get("settings") or {}
    if settings.get("edition", "ENTERPRISE") != "ENTERPRISE":
        return Unpriced(f"Cloud SQL edition {settings.get('edition')} is not in the catalog (Enterprise only)")
    tier = str(settings.get("tier", ""))
    shape = _sql_tier(tier)
    if shape is None:
        return Unpriced(f"Cloud SQL tier '{tier}' is not in the catalog (db-custom-N-M, db-f1-micro, db-g1-small)")
    ha = "regional" if settings.get("availabilityType") == "REGIONAL" else "zonal"
    label = "REGIONAL (HA: primary + standby)" if ha == "regional" else "ZONAL"
    if isinstance(shape, str):
        charges = [Charge(sku=f"sql.{ha}.{shape}", quantity=ctx.hours, detail=f"{label}, {fmt(ctx.hours)} h")]
    else:
        vcpus, gib = shape
        charges = [
            Charge(
                sku=f"sql.{ha}.vcpu",
                quantity=vcpus * ctx.hours,
                detail=f"{label}, {vcpus:g} vCPU x {fmt(ctx.hours)} h",
            ),
            Charge(
                sku=f"sql.{ha}.ram",
                quantity=gib * ctx.hours,
                detail=f"{label}, {gib:g} GiB x {fmt(ctx.hours)} h",
            ),
        ]
    disk = "ssd" if settings.get("diskType", "PD_SSD") == "PD_SSD" else "hdd"
    gb = num(settings.get("diskSize"), 10)
    charges.append(Charge(sku=f"sql.{ha}.{disk}", quantity=gb, detail=f"{fmt(gb)} GiB {disk.upper()} ({label})"))
    backup = ctx.usage["database_backup_gb"]
    if backup:
        charges.append(Charge(sku="sql.backup", quantity=backup, detail=f"database_backup_gb {fmt(backup)}"))
    return charges


def redis_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    tier = "standard" if inputs.get("tier") == "STANDARD_HA" else "basic"
    gb = num(inputs.get("memorySizeGb"), 1)
    band = "m1" if gb <= 4 else "m2" if gb <= 10 else None
    if band is None:
        return Unpriced(f"Memorystore capacity {fmt(gb)} GB (tier M3 and above) is not in the catalog")
    label = "STANDARD_HA (replicated)" if tier == "standard" else "BASIC (no replica)"
    return [
        Charge(
            sku=f"redis.{tier}.{band}",
            quantity=gb * ctx.hours,
            detail=f"{label}, {fmt(gb)} GB x {fmt(ctx.hours)} h",
        )
    ]


def bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    unpriced = unmodelled_storage(res, ctx, "bucket")
    if unpriced:
        return unpriced
    storage_class = res["inputs"].get("storageClass", "STANDARD")
    if storage_class != "STANDARD":
        return Unpriced(f"storage class {storage_class} is not in the catalog (STANDARD only)")
    u = ctx.usage
    return [
        Charge(sku="gcs.standard.gb_month", quantity=u["storage_gb"], detail=f"storage_gb {fmt(u['storage_gb'])}"),
        Charge(
            sku="gcs.class_a",
            quantity=u["object_writes_per_month"] / 1000,
            detail=f"object_writes_per_month {fmt(u['object_writes_per_month'])}",
        ),
        Charge(
            sku="gcs.class_b",
            quantity=u["object_reads_per_month"] / 1000,
            detail=f"object_reads_per_month {fmt(u['object_reads_per_month'])}",
        ),
    ]


def firestore(res: dict[str, Any], ctx: Context) -> Outcome:
    location = str(res["inputs"].get("locationId", ""))
    kind = "multi" if location in ("nam5", "eur3") else "regional"
    u = ctx.usage
    return [
        Charge(
            sku=f"firestore.{kind}.reads",
            quantity=u["docdb_reads_per_month"] / 100_000,
            detail=f"docdb_reads_per_month {fmt(u['docdb_reads_per_month'])} ({location})",
        ),
        Charge(
            sku=f"firestore.{kind}.writes",
            quantity=u["docdb_writes_per_month"] / 100_000,
            detail=f"docdb_writes_per_month {fmt(u['docdb_writes_per_month'])}",
        ),
        Charge(
            sku=f"firestore.{kind}.storage",
            quantity=u["docdb_storage_gb"],
            detail=f"docdb_storage_gb {fmt(u['docdb_storage_gb'])} (PITR versions not modelled)",
        ),
    ]


def identity_platform(res: dict[str, Any], ctx: Context) -> Outcome:
    mau = ctx.usage["monthly_active_users"]
    return [
        Charge(
            sku="identityplatform.mau",
            quantity=mau,
            detail=f"monthly_active_users {fmt(mau)} (tier 1 providers)",
        )
    ]


def forwarding_rule(res: dict[str, Any], ctx: Context) -> Outcome:
    owner = ctx.claim("lb.rule", res)
    if owner:
        return Free(f"covered by the first-5-forwarding-rules charge on {owner}")
    gb = ctx.usage["lb_processed_gb"]
    return [
        Charge(sku="lb.rule_hour", quantity=ctx.hours, detail=f"first 5 forwarding rules x {fmt(ctx.hours)} h"),
        Charge(sku="lb.gb", quantity=gb, detail=f"lb_processed_gb {fmt(gb)}"),
    ]


def backend_bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    if not res["inputs"].get("enableCdn"):
        return Free("backend buckets without Cloud CDN have no charge of their own")
    gb, requests = ctx.usage["cdn_egress_gb"], ctx.usage["cdn_requests_per_month"]
    return [
        Charge(sku="cdn.egress_gb", quantity=gb, detail=f"cdn_egress_gb {fmt(gb)}"),
        Charge(sku="cdn.lookups", quantity=requests / 10_000, detail=f"cdn_requests_per_month {fmt(requests)}"),
    ]


def router_nat(res: dict[str, Any], ctx: Context) -> Outcome:
    vms = min(max(ctx.app_replicas(), 1.0) if ctx.usage["replicas"] < 0 else max(ctx.usage["replicas"], 1.0), 32.0)
    gb = ctx.usage["nat_processed_gb"]
    return [
        Charge(
            sku="nat.vm_hour",
            quantity=vms * ctx.hours,
            detail=f"{fmt(vms)} instance(s) using NAT x {fmt(ctx.hours)} h",
        ),
        Charge(sku="nat.gb", quantity=gb, detail=f"nat_processed_gb {fmt(gb)}"),
    ]


def subnetwork(res: dict[str, Any], ctx: Context) -> Outcome:
    if not res["inputs"].get("logConfig"):
        return Free("subnets are free")
    owner = ctx.claim("flow_log_gb", res)
    if owner:
        return Free(f"flow logs are counted on subnet {owner}")
    gb = ctx.usage["flow_log_gb"]
    return [Charge(sku="logging.ingest_gb", quantity=gb, detail=f"VPC flow logs: flow_log_gb {fmt(gb)}")]


def log_bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    component = res.get("component")
    owner = ctx.claim(f"app_log_gb:{component}", res)
    if owner:
        return Unpriced(f"app_log_gb is counted on log bucket {owner}; this bucket's volume is not modelled")
    gb = ctx.usage["app_log_gb"]
    retention = num(res["inputs"].get("retentionDays"), 30)
    detail = f"app_log_gb {fmt(gb)} routed to this bucket"
    return log_charges("logging.ingest_gb", "logging.retention_gb", gb, detail, retention, 30, unit="GiB")


def secret(res: dict[str, Any], ctx: Context) -> Outcome:
    replicas = dig(res["inputs"], "replication", "userManaged", "replicas", default=None)
    locations = len(replicas) if isinstance(replicas, list) and replicas else 1
    charges = [
        Charge(
            sku="secretmanager.version",
            quantity=locations,
            detail=f"1 active version x {locations} location(s)",
        )
    ]
    if ctx.claim("secret_api_calls_per_month", res) is None:
        calls = ctx.usage["secret_api_calls_per_month"]
        charges.append(
            Charge(
                sku="secretmanager.access",
                quantity=calls / 10_000,
                detail=f"secret_api_calls_per_month {fmt(calls)} (counted once per stack)",
            )
        )
    return charges


def crypto_key(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="kms.key_version", quantity=1, detail="1 active key version")]


def _dependents(res: dict[str, Any], ctx: Context, type_token: str) -> list[dict[str, Any]]:
    return [r for r in ctx.of_type(type_token) if res["urn"] in (r.get("dependencies") or [])]


def instance_group(res: dict[str, Any], ctx: Context) -> Outcome:
    templates = ctx.deps(
        res,
        (
            "gcp:compute/instanceTemplate:InstanceTemplate",
            "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
        ),
    )
    if not templates:
        return Unpriced("no instance template among the group's dependencies (machine type unknown)")
    template = templates[0]["inputs"]
    autoscalers = _dependents(res, ctx, "gcp:compute/regionAutoscaler:RegionAutoscaler")
    planned = num(
        res["inputs"].get("targetSize"),
        num(
            dig(autoscalers[0]["inputs"], "autoscalingPolicy", "minReplicas", default=None) if autoscalers else None,
            ctx.app_replicas(),
        ),
    )
    instances = ctx.replicas(planned)
    charges = _vm_charges(str(template.get("machineType", "")), instances, ctx, "instance(s)")
    if isinstance(charges, Unpriced):
        return charges
    for disk in template.get("disks") or []:
        kind, gb = disk.get("diskType", "pd-standard"), num(disk.get("diskSizeGb"), 10)
        charges.append(
            Charge(
                sku=f"disk.{kind}",
                quantity=gb * instances,
                detail=f"{fmt(instances)} instance(s) x {fmt(gb)} GiB {kind}",
            )
        )
    return charges + _app_logs(res, ctx)


def vm_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    charges = _vm_charges(str(inputs.get("machineType", "")), 1, ctx, "VM")
    if isinstance(charges, Unpriced):
        return charges
    params = dig(inputs, "bootDisk", "initializeParams", default={})
    kind, gb = params.get("type", "pd-standard"), num(params.get("size"), 10)
    return [*charges, Charge(sku=f"disk.{kind}", quantity=gb, detail=f"boot disk {fmt(gb)} GiB {kind}")]


def persistent_disk(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    kind, gb = inputs.get("type", "pd-standard"), num(inputs.get("size"), 10)
    return [Charge(sku=f"disk.{kind}", quantity=gb, detail=f"{fmt(gb)} GiB {kind}")]


def vpc_connector(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    instances = num(inputs.get("minInstances"), 2)
    return _vm_charges(str(inputs.get("machineType", "e2-micro")), instances, ctx, "connector instance(s)")


def static_address(res: dict[str, Any], ctx: Context) -> Outcome:
    if res["inputs"].get("addressType", "EXTERNAL") != "EXTERNAL":
        return Free("internal addresses are free")
    return [Charge(sku="ip.external.hour", quantity=ctx.hours, detail=f"1 external IPv4 address x {fmt(ctx.hours)} h")]


def global_address(res: dict[str, Any], ctx: Context) -> Outcome:
    if res["inputs"].get("addressType", "EXTERNAL") != "EXTERNAL":
        return Free("internal ranges (private services access) are free")
    return Free("a static external IP in use by a forwarding rule has no charge of its own")


def security_policy(res: dict[str, Any], ctx: Context) -> Outcome:
    rules = len(res["inputs"].get("rules") or []) or 1
    return [
        Charge(sku="armor.policy", quantity=1, detail="1 Cloud Armor policy"),
        Charge(sku="armor.rule", quantity=rules, detail=f"{rules} rule(s)"),
    ]


def artifact_repository(res: dict[str, Any], ctx: Context) -> Outcome:
    return Unpriced("image storage ($/GB-month beyond 0.5 GB) depends on image sizes, which a plan does not know")


RULES: dict[str, Rule] = {
    "gcp:cloudrunv2/service:Service": cloud_run,
    "gcp:sql/databaseInstance:DatabaseInstance": sql_instance,
    "gcp:redis/instance:Instance": redis_instance,
    "gcp:storage/bucket:Bucket": bucket,
    "gcp:firestore/database:Database": firestore,
    "gcp:identityplatform/config:Config": identity_platform,
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": forwarding_rule,
    "gcp:compute/forwardingRule:ForwardingRule": forwarding_rule,
    "gcp:compute/backendBucket:BackendBucket": backend_bucket,
    "gcp:compute/routerNat:RouterNat": router_nat,
    "gcp:compute/subnetwork:Subnetwork": subnetwork,
    LOG_BUCKET: log_bucket,
    "gcp:secretmanager/secret:Secret": secret,
    "gcp:kms/cryptoKey:CryptoKey": crypto_key,
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": instance_group,
    "gcp:compute/instanceGroupManager:InstanceGroupManager": instance_group,
    "gcp:compute/instance:Instance": vm_instance,
    "gcp:compute/disk:Disk": persistent_disk,
    "gcp:compute/regionDisk:RegionDisk": persistent_disk,
    "gcp:vpcaccess/connector:Connector": vpc_connector,
    "gcp:compute/address:Address": static_address,
    "gcp:compute/globalAddress:GlobalAddress": global_address,
    "gcp:compute/securityPolicy:SecurityPolicy": security_policy,
    "gcp:artifactregistry/repository:Repository": artifact_repository,
}

_LB = "included in the load balancer's forwarding rule and data processing charges"
FREE: dict[str, str] = {
    "gcp:projects/service:Service": "enabling an API is free",
    "gcp:projects/iAMMember:IAMMember": "IAM is free",
    "gcp:projects/iAMBinding:IAMBinding": "IAM is free",
    "gcp:projects/iAMCustomRole:IAMCustomRole": "IAM is free",
    "gcp:projects/apiKey:ApiKey": "API keys are free",
    "gcp:serviceaccount/": "service accounts and their IAM are free",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "IAM is free",
    "gcp:secretmanager/secretVersion:SecretVersion": "counted on its secret as one active version",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "IAM is free",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": "IAM is free",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": "IAM is free",
    "gcp:compute/network:Network": "VPC networks are free",
    "gcp:compute/firewall:Firewall": "firewall rules are free",
    "gcp:compute/router:Router": "Cloud Routers are free (NAT is charged on the NAT)",
    "gcp:compute/route:Route": "routes are free",
    "gcp:servicenetworking/connection:Connection": "private services access peering is free",
    "gcp:sql/database:Database": "databases are included in the instance's price",
    "gcp:sql/user:User": "users are included in the instance's price",
    "gcp:compute/uRLMap:URLMap": _LB,
    "gcp:compute/targetHttpProxy:TargetHttpProxy": _LB,
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": _LB,
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": "Google-managed certificates are free",
    "gcp:compute/backendService:BackendService": _LB,
    "gcp:compute/healthCheck:HealthCheck": "health checks are free",
    "gcp:compute/regionHealthCheck:RegionHealthCheck": "health checks are free",
    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup": _LB,
    "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey": "CDN configuration is free",
    "gcp:compute/instanceTemplate:InstanceTemplate": "billed through the instance group's instances",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": "billed through the group's instances",
    "gcp:compute/regionAutoscaler:RegionAutoscaler": "autoscalers are free",
    "gcp:compute/autoscaler:Autoscaler": "autoscalers are free",
    "gcp:logging/projectSink:ProjectSink": "routing logs is free; ingestion is charged on the destination",
    "gcp:kms/keyRing:KeyRing": "key rings are free",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "IAM is free",
    "gcp:firebase/": "Firebase Cloud Messaging and project setup are free",
    "gcp:identityplatform/": "billed through Identity Platform monthly active users",
}
