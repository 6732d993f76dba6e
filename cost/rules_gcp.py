"""Price rules for GCP resource types (pulumi-gcp type tokens) on the SKUs of ``cost/gcp.yaml``."""

from __future__ import annotations

import math
import re
from typing import Any

from mbops.cost.rules import (
    Charge,
    Context,
    Free,
    Outcome,
    Rule,
    Unpriced,
    backup_storage,
    busy_seconds,
    cpu_cores,
    dig,
    fmt,
    log_charges,
    memory_gib,
    nat_processed,
    num,
    unmodelled_storage,
)

SECONDS_PER_HOUR = 3600
NAT_PORTS_PER_IP = 64_512  # each Cloud NAT IP address offers 64,512 source ports
# Uptime check locations: USA is three (Oregon, Iowa, Virginia); an empty selection runs from all of them.
UPTIME_LOCATIONS = {"USA": 3, "EUROPE": 1, "SOUTH_AMERICA": 1, "ASIA_PACIFIC": 1}
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
            usage=("app_log_gb",),
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
        # the autoscaler keeps instances at ~60% of their maximum concurrency
        per_instance = 0.6 * num(template.get("maxInstanceRequestConcurrency"), 80)
        active, how = busy_seconds(ctx, per_instance)
        driven = ("requests_per_month", "avg_request_ms")
        charges = [
            Charge(sku="run.request.vcpu_second", quantity=active * cpu, detail=f"{how} x {cpu:g} vCPU", usage=driven),
            Charge(sku="run.request.gib_second", quantity=active * gib, detail=f"{how} x {gib:g} GiB", usage=driven),
            Charge(
                sku="run.requests",
                quantity=requests / 1e6,
                detail=f"requests_per_month {fmt(requests)}",
                usage=("requests_per_month",),
            ),
        ]
        if replicas > 0:  # min instances are billed at the idle rate while they serve no request
            idle_s = max(replicas * month_s - active, 0.0)
            idle = (
                f"{fmt(replicas)} min instance(s) x {fmt(ctx.hours)} h, less {fmt(active / SECONDS_PER_HOUR)} h active"
            )
            charges += [
                Charge(sku="run.idle.vcpu_second", quantity=idle_s * cpu, detail=f"{idle} x {cpu:g} vCPU"),
                Charge(sku="run.idle.gib_second", quantity=idle_s * gib, detail=f"{idle} x {gib:g} GiB"),
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
    backups = settings.get("backupConfiguration") or {}
    if backups.get("enabled", True):
        kept = num(dig(backups, "backupRetentionSettings", "retainedBackups", default=7), 7)
        logs = num(backups.get("transactionLogRetentionDays"), 7) if backups.get("pointInTimeRecoveryEnabled") else 0
        billed, how = backup_storage(ctx, gb, max(kept, logs), included_gb=0)
        charges.append(
            Charge(
                sku="sql.backup",
                quantity=billed,
                detail=f"{fmt(kept)} daily backups" + (f" + {fmt(logs)} days of logs (PITR)" if logs else "")
                + f": {how} (no backup storage is included)",
            )
        )
    return charges


def redis_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    tier = "standard" if inputs.get("tier") == "STANDARD_HA" else "basic"
    gb = num(inputs.get("memorySizeGb"), 1)
    bands = ((4, "m1"), (10, "m2"), (35, "m3"), (100, "m4"), (math.inf, "m5"))
    band = next(name for limit, name in bands if gb <= limit)
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
        Charge(
            sku="gcs.standard.gb_month",
            quantity=u["storage_gb"],
            detail=f"storage_gb {fmt(u['storage_gb'])}",
            usage=("storage_gb",),
        ),
        Charge(
            sku="gcs.class_a",
            quantity=u["object_writes_per_month"] / 1000,
            detail=f"object_writes_per_month {fmt(u['object_writes_per_month'])}",
            usage=("object_writes_per_month",),
        ),
        Charge(
            sku="gcs.class_b",
            quantity=u["object_reads_per_month"] / 1000,
            detail=f"object_reads_per_month {fmt(u['object_reads_per_month'])}",
            usage=("object_reads_per_month",),
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
            usage=("docdb_reads_per_month",),
        ),
        Charge(
            sku=f"firestore.{kind}.writes",
            quantity=u["docdb_writes_per_month"] / 100_000,
            detail=f"docdb_writes_per_month {fmt(u['docdb_writes_per_month'])}",
            usage=("docdb_writes_per_month",),
        ),
        Charge(
            sku=f"firestore.{kind}.storage",
            quantity=u["docdb_storage_gb"],
            detail=f"docdb_storage_gb {fmt(u['docdb_storage_gb'])} (PITR versions not modelled)",
            usage=("docdb_storage_gb",),
        ),
    ]


def identity_platform(res: dict[str, Any], ctx: Context) -> Outcome:
    mau = ctx.usage["monthly_active_users"]
    return [
        Charge(
            sku="identityplatform.mau",
            quantity=mau,
            detail=f"monthly_active_users {fmt(mau)} (tier 1 providers)",
            usage=("monthly_active_users",),
        )
    ]


def forwarding_rule(res: dict[str, Any], ctx: Context) -> Outcome:
    owner = ctx.claim("lb.rule", res)
    if owner:
        return Free(f"covered by the first-5-forwarding-rules charge on {owner}")
    gb = ctx.usage["lb_processed_gb"]
    return [
        Charge(sku="lb.rule_hour", quantity=ctx.hours, detail=f"first 5 forwarding rules x {fmt(ctx.hours)} h"),
        Charge(sku="lb.gb", quantity=gb, detail=f"lb_processed_gb {fmt(gb)}", usage=("lb_processed_gb",)),
    ]


def backend_bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    if not res["inputs"].get("enableCdn"):
        return Free("backend buckets without Cloud CDN have no charge of their own")
    gb, requests = ctx.usage["cdn_egress_gb"], ctx.usage["cdn_requests_per_month"]
    return [
        Charge(sku="cdn.egress_gb", quantity=gb, detail=f"cdn_egress_gb {fmt(gb)}", usage=("cdn_egress_gb",)),
        Charge(
            sku="cdn.lookups",
            quantity=requests / 10_000,
            detail=f"cdn_requests_per_month {fmt(requests)}",
            usage=("cdn_requests_per_month",),
        ),
    ]


def router_nat(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    vms = min(ctx.running_replicas(), 32.0)
    # VMs pull their image through the NAT unless their subnet reaches Google APIs privately.
    subnets = ctx.of_type("gcp:compute/subnetwork:Subnetwork")
    private_access = bool(subnets) and all(r["inputs"].get("privateIpGoogleAccess") for r in subnets)
    vm_groups = ctx.of_type(
        ("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "gcp:compute/instance:Instance")
    )
    gb, how = nat_processed(ctx, pulls_via_nat=bool(vm_groups) and not private_access, logs_via_nat=False)
    explicit = ctx.usage["nat_processed_gb"] >= 0
    charges = [
        Charge(
            sku="nat.vm_hour",
            quantity=vms * ctx.hours,
            detail=f"{fmt(vms)} instance(s) using NAT x {fmt(ctx.hours)} h",
        ),
        Charge(
            sku="nat.gb",
            quantity=gb,
            detail=how,
            usage=("nat_processed_gb",) if explicit else ("outbound_gb", "image_gb"),
        ),
    ]
    if inputs.get("natIpAllocateOption", "AUTO_ONLY") == "AUTO_ONLY":
        ports = num(inputs.get("minPortsPerVm"), 64)
        ips = max(math.ceil(vms * ports / NAT_PORTS_PER_IP), 1)
        charges.append(
            Charge(
                sku="ip.external.hour",
                quantity=ips * ctx.hours,
                detail=f"{ips} automatically allocated NAT IP address(es) ({fmt(ports)} ports x {fmt(vms)} VM(s)) "
                f"x {fmt(ctx.hours)} h",
            )
        )
    return charges  # MANUAL_ONLY: the addresses are compute.Address resources, charged there


def subnetwork(res: dict[str, Any], ctx: Context) -> Outcome:
    if not res["inputs"].get("logConfig"):
        return Free("subnets are free")
    owner = ctx.claim("flow_log_gb", res)
    if owner:
        return Free(f"flow logs are counted on subnet {owner}")
    gb = ctx.usage["flow_log_gb"]
    return [
        Charge(
            sku="logging.ingest_gb",
            quantity=gb,
            detail=f"VPC flow logs: flow_log_gb {fmt(gb)}",
            usage=("flow_log_gb",),
        )
    ]


def log_bucket(res: dict[str, Any], ctx: Context) -> Outcome:
    component = res.get("component")
    owner = ctx.claim(f"app_log_gb:{component}", res)
    if owner:
        return Unpriced(f"app_log_gb is counted on log bucket {owner}; this bucket's volume is not modelled")
    gb = ctx.usage["app_log_gb"]
    retention = num(res["inputs"].get("retentionDays"), 30)
    detail = f"app_log_gb {fmt(gb)} routed to this bucket"
    return log_charges(
        "logging.ingest_gb", "logging.retention_gb", gb, detail, retention, 30, unit="GiB", usage=("app_log_gb",)
    )


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
                usage=("secret_api_calls_per_month",),
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
    charges += _external_ips(template.get("networkInterfaces"), instances, ctx)
    return charges + _app_logs(res, ctx)


def _external_ips(interfaces: Any, instances: float, ctx: Context) -> list[Charge]:
    """An external IPv4 per instance for each interface with an access config."""
    count = sum(1 for n in interfaces or [] if isinstance(n, dict) and n.get("accessConfigs"))
    if not count:
        return []
    return [
        Charge(
            sku="ip.external.hour",
            quantity=count * instances * ctx.hours,
            detail=f"{count} external IPv4 address(es) x {fmt(instances)} instance(s) x {fmt(ctx.hours)} h",
        )
    ]


def vm_instance(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    charges = _vm_charges(str(inputs.get("machineType", "")), 1, ctx, "VM")
    if isinstance(charges, Unpriced):
        return charges
    params = dig(inputs, "bootDisk", "initializeParams", default={})
    kind, gb = params.get("type", "pd-standard"), num(params.get("size"), 10)
    charges.append(Charge(sku=f"disk.{kind}", quantity=gb, detail=f"boot disk {fmt(gb)} GiB {kind}"))
    return charges + _external_ips(inputs.get("networkInterfaces"), 1, ctx)


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
    rules = len(res["inputs"].get("rules") or []) or 1  # a policy always has its default rule
    rules += len(ctx.dependents(res, "gcp:compute/securityPolicyRule:SecurityPolicyRule"))
    requests = ctx.usage["requests_per_month"]
    return [
        Charge(sku="armor.policy", quantity=1, detail="1 Cloud Armor policy"),
        Charge(sku="armor.rule", quantity=rules, detail=f"{rules} rule(s)"),
        Charge(
            sku="armor.requests",
            quantity=requests / 1e6,
            detail=f"requests_per_month {fmt(requests)} evaluated",
            usage=("requests_per_month",),
        ),
    ]


def security_policy_rule(res: dict[str, Any], ctx: Context) -> Outcome:
    policies = ctx.of_type("gcp:compute/securityPolicy:SecurityPolicy")
    if any(p["urn"] in (res.get("dependencies") or []) for p in policies):
        return Free("counted as a rule on its Cloud Armor policy")
    return [Charge(sku="armor.rule", quantity=1, detail="1 rule")]


def artifact_repository(res: dict[str, Any], ctx: Context) -> Outcome:
    owner = ctx.claim("registry_gb", res)
    if owner:
        return Unpriced(f"image storage (registry_gb) is counted on repository {owner}; this one's is not modelled")
    gb = ctx.usage["registry_gb"]
    mode = "pull-through cache" if res["inputs"].get("mode") == "REMOTE_REPOSITORY" else "images"
    return [
        Charge(
            sku="artifactregistry.storage",
            quantity=gb,
            detail=f"registry_gb {fmt(gb)} ({mode})",
            usage=("registry_gb",),
        )
    ]


def _duration_s(value: Any, default: float) -> float:
    """'60s' / '300s' (protobuf durations) in seconds."""
    return num(str(value).removesuffix("s"), default) if value is not None else default


def uptime_check(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    period = _duration_s(inputs.get("period"), 60) or 60
    regions = inputs.get("selectedRegions") or list(UPTIME_LOCATIONS)
    locations = sum(UPTIME_LOCATIONS.get(str(r), 1) for r in regions)
    runs = locations * ctx.hours * SECONDS_PER_HOUR / period
    return [
        Charge(
            sku="monitoring.uptime_check",
            quantity=runs / 1000,
            detail=f"every {fmt(period)} s from {locations} location(s) x {fmt(ctx.hours)} h = {fmt(round(runs))} runs",
        )
    ]


def certificate(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="certificatemanager.certificate", quantity=1, detail="1 certificate")]


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
    "gcp:compute/securityPolicyRule:SecurityPolicyRule": security_policy_rule,
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": uptime_check,
    "gcp:certificatemanager/certificate:Certificate": certificate,
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
    "gcp:monitoring/notificationChannel:NotificationChannel": "notification channels are free",
    "gcp:monitoring/dashboard:Dashboard": "Cloud Monitoring dashboards are free",
    "gcp:certificatemanager/certificateMap:CertificateMap": "configuration; Certificate Manager bills per certificate",
    "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": "configuration; Certificate Manager bills per "
    "certificate",
    "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": "DNS authorizations are free",
}
