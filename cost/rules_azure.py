"""Price rules for Azure resource types (pulumi-azure-native 3 type tokens) on ``cost/azure.yaml`` SKUs."""

from __future__ import annotations

from typing import Any

from mbops.cost.rules import (
    CapacityUnit,
    Charge,
    Context,
    Free,
    Outcome,
    Rule,
    Unpriced,
    backup_storage,
    busy_seconds,
    capacity_units,
    cpu_cores,
    dig,
    fmt,
    known,
    log_charges,
    memory_gib,
    nat_processed,
    num,
    unmodelled_storage,
)

APP_KINDS = ("containers", "serverless", "servers")
SECONDS_PER_HOUR = 3600
# Application Gateway v2 capacity unit: 2,500 persistent connections, 2.22 Mbps (~1 GB/h), one compute unit
# (~50 new TLS connections/s with RSA 2048 keys); an instance is 10 capacity units.
APPGW_CU = CapacityUnit(new_per_second=50, active=2500, gb_per_hour=2.22e6 / 8 * 3600 / 1e9)
ACR_INCLUDED_GB = {"Basic": 10, "Standard": 100, "Premium": 500}


def _sku(res: dict[str, Any]) -> str:
    return str(dig(res["inputs"], "sku", "name", default=""))


def public_ip(res: dict[str, Any], ctx: Context) -> Outcome:
    return [
        Charge(
            sku="publicip.standard.hour",
            quantity=ctx.hours,
            detail=f"1 static IPv4 address x {fmt(ctx.hours)} h",
        )
    ]


def nat_gateway(res: dict[str, Any], ctx: Context) -> Outcome:
    count = len(ctx.of_type(res["type"])) or 1
    app = ctx.of_type(("azure-native:app:ContainerApp", "azure-native:compute:VirtualMachineScaleSet"))
    gb, how = nat_processed(ctx, pulls_via_nat=bool(app), logs_via_nat=False)
    explicit = ctx.usage["nat_processed_gb"] >= 0
    return [
        Charge(sku="nat.hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h (its public IP is charged on the IP)"),
        Charge(
            sku="nat.gb",
            quantity=gb / count,
            detail=f"{how}, / {count} gateway(s)",
            usage=("nat_processed_gb",) if explicit else ("outbound_gb", "image_gb"),
        ),
    ]


def private_zone(res: dict[str, Any], ctx: Context) -> Outcome:
    return [Charge(sku="dns.private_zone", quantity=1, detail="1 private DNS zone (queries not modelled)")]


def private_endpoint(res: dict[str, Any], ctx: Context) -> Outcome:
    return [
        Charge(
            sku="privateendpoint.hour",
            quantity=ctx.hours,
            detail=f"{fmt(ctx.hours)} h (data processed at $0.01/GB not modelled)",
        )
    ]


def managed_redis(res: dict[str, Any], ctx: Context) -> Outcome:
    name = _sku(res)
    if not name:
        return Unpriced("the Azure Managed Redis SKU is not known at plan time")
    nodes = 2 if res["inputs"].get("highAvailability", "Enabled") == "Enabled" else 1
    label = "high availability: 2 nodes" if nodes == 2 else "no high availability: 1 node"
    return [
        Charge(
            sku=f"redis.managed.{name.lower()}",
            quantity=nodes * ctx.hours,
            detail=f"{label} x {fmt(ctx.hours)} h",
        )
    ]


def classic_redis(res: dict[str, Any], ctx: Context) -> Outcome:
    sku = res["inputs"].get("sku") or {}
    tier, family, capacity = (
        sku.get("name", "Basic"),
        sku.get("family", "C"),
        int(num(sku.get("capacity"), 0)),
    )
    shards = max(int(num(res["inputs"].get("shardCount"), 1)), 1)
    return [
        Charge(
            sku=f"redis.{str(tier).lower()}.{str(family).lower()}{capacity}",
            quantity=shards * ctx.hours,
            detail=f"{tier} {family}{capacity}, {shards} shard(s) x {fmt(ctx.hours)} h",
        )
    ]


def _containers(res: dict[str, Any]) -> tuple[float, float]:
    cpu = memory = 0.0
    for container in dig(res["inputs"], "template", "containers", default=[]) or []:
        resources = container.get("resources") or {}
        cpu += cpu_cores(resources.get("cpu"), 0.5)
        memory += memory_gib(resources.get("memory"), 1.0)
    return cpu or 0.5, memory or 1.0


def container_app(res: dict[str, Any], ctx: Context) -> Outcome:
    """Consumption plan: active seconds at the active rate; always-on replicas' other seconds at the idle rate."""
    cpu, memory = _containers(res)
    planned = num(dig(res["inputs"], "template", "scale", "minReplicas", default=0), 0)
    replicas = ctx.replicas(planned)
    requests = ctx.usage["requests_per_month"]
    rules = dig(res["inputs"], "template", "scale", "rules", default=[]) or []
    per_replica = next(
        (
            num(dig(r, "http", "metadata", "concurrentRequests", default=10), 10)
            for r in rules
            if isinstance(r, dict) and r.get("http")
        ),
        10.0,  # the default HTTP scale rule: 10 concurrent requests per replica
    )
    active, how = busy_seconds(ctx, per_replica)
    driven = ("requests_per_month", "avg_request_ms")
    charges = [
        Charge(sku="aca.vcpu_active", quantity=active * cpu, detail=f"{how} x {cpu:g} vCPU", usage=driven),
        Charge(sku="aca.memory_active", quantity=active * memory, detail=f"{how} x {memory:g} GiB", usage=driven),
        Charge(
            sku="aca.requests",
            quantity=requests / 1e6,
            detail=f"requests_per_month {fmt(requests)}",
            usage=("requests_per_month",),
        ),
    ]
    if replicas > 0:  # an always-on replica is billed at the idle rate while it serves no request
        idle_s = max(replicas * ctx.hours * SECONDS_PER_HOUR - active, 0.0)
        idle = (
            f"{fmt(replicas)} always-on replica(s) x {fmt(ctx.hours)} h, "
            f"less {fmt(active / SECONDS_PER_HOUR)} h active"
        )
        charges += [
            Charge(sku="aca.vcpu_idle", quantity=idle_s * cpu, detail=f"{idle} x {cpu:g} vCPU"),
            Charge(sku="aca.memory_idle", quantity=idle_s * memory, detail=f"{idle} x {memory:g} GiB"),
        ]
    return charges


def managed_environment(res: dict[str, Any], ctx: Context) -> Outcome:
    profiles = res["inputs"].get("workloadProfiles") or []
    dedicated = [
        p for p in profiles if isinstance(p, dict) and p.get("workloadProfileType") not in (None, "Consumption")
    ]
    if dedicated:
        return Unpriced("dedicated workload profiles (plan management fee + per-profile compute) are not modelled")
    return Free("consumption-only environments have no standing charge; apps are billed per use")


def log_workspace(res: dict[str, Any], ctx: Context) -> Outcome:
    component = res.get("component")
    key = "flow_log_gb" if component == "network" else "app_log_gb" if component in APP_KINDS else "service_log_gb"
    workspaces = len([r for r in ctx.of_type(res["type"]) if r.get("component") == component]) or 1
    gb = ctx.usage[key] / workspaces
    retention = num(res["inputs"].get("retentionInDays"), 30)
    detail = f"{key} {fmt(ctx.usage[key])}"
    return log_charges(
        "loganalytics.ingest_gb", "loganalytics.retention_gb", gb, detail, retention, 31, usage=(key,)
    )


def postgres_server(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    name = _sku(res)
    if not name:
        return Unpriced("the server SKU is not known at plan time")
    mode = dig(inputs, "highAvailability", "mode", default="Disabled")
    copies = 1 if mode in ("Disabled", None) else 2
    label = f"high availability {mode}: primary + standby" if copies == 2 else "no high availability"
    gb = num(dig(inputs, "storage", "storageSizeGB", default=32), 32)
    charges = [
        Charge(
            sku=f"postgres.{name}",
            quantity=copies * ctx.hours,
            detail=f"{label}, {copies} x {fmt(ctx.hours)} h",
        ),
        Charge(sku="postgres.storage", quantity=copies * gb, detail=f"{fmt(gb)} GB x {copies} ({label})"),
    ]
    retention = num(dig(inputs, "backup", "backupRetentionDays", default=7), 7)
    geo = dig(inputs, "backup", "geoRedundantBackup", default="Disabled") == "Enabled"
    billed, how = backup_storage(ctx, gb, retention, included_gb=gb)
    charges.append(
        Charge(
            sku="postgres.backup_grs" if geo else "postgres.backup",
            quantity=billed,
            detail=f"{'geo-redundant' if geo else 'locally redundant'} backups: {how} (100% of storage included)",
        )
    )
    return charges


def cosmos_account(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    capabilities = {c.get("name") for c in inputs.get("capabilities") or [] if isinstance(c, dict)}
    if "EnableServerless" not in capabilities:
        return Unpriced("provisioned throughput is set on databases/containers; only serverless accounts are modelled")
    u = ctx.usage
    ru = u["docdb_reads_per_month"] * u["cosmos_ru_per_read"] + u["docdb_writes_per_month"] * u["cosmos_ru_per_write"]
    charges = [
        Charge(
            sku="cosmos.serverless.ru",
            quantity=ru / 1e6,
            detail=f"{fmt(u['docdb_reads_per_month'])} reads x {fmt(u['cosmos_ru_per_read'])} RU + "
            f"{fmt(u['docdb_writes_per_month'])} writes x {fmt(u['cosmos_ru_per_write'])} RU",
            usage=("docdb_reads_per_month", "docdb_writes_per_month"),
        ),
        Charge(
            sku="cosmos.storage",
            quantity=u["docdb_storage_gb"],
            detail=f"docdb_storage_gb {fmt(u['docdb_storage_gb'])}",
            usage=("docdb_storage_gb",),
        ),
    ]
    tier = dig(inputs, "backupPolicy", "continuousModeProperties", "tier", default="")
    if tier == "Continuous30Days":
        charges.append(
            Charge(
                sku="cosmos.continuous30",
                quantity=u["docdb_storage_gb"],
                detail=f"30-day continuous backup of {fmt(u['docdb_storage_gb'])} GB (7 days is free)",
                usage=("docdb_storage_gb",),
            )
        )
    return charges


def notification_namespace(res: dict[str, Any], ctx: Context) -> Outcome:
    tier = _sku(res) or "Free"
    if tier == "Free":
        return Free("Notification Hubs Free tier (1M pushes, 500 active devices a month)")
    return [Charge(sku=f"notificationhubs.{tier.lower()}", quantity=1, detail=f"1 {tier} namespace")]


def cdn_profile(res: dict[str, Any], ctx: Context) -> Outcome:
    name = _sku(res)
    tiers = {"Standard_AzureFrontDoor": "standard", "Premium_AzureFrontDoor": "premium"}
    if name not in tiers:
        return Unpriced(f"CDN SKU '{name}' is not in the catalog (Azure Front Door Standard/Premium only)")
    gb, requests = ctx.usage["cdn_egress_gb"], ctx.usage["cdn_requests_per_month"]
    return [
        Charge(sku=f"frontdoor.{tiers[name]}.base", quantity=1, detail="base fee, 1 profile"),
        Charge(sku="frontdoor.egress_gb", quantity=gb, detail=f"cdn_egress_gb {fmt(gb)}", usage=("cdn_egress_gb",)),
        Charge(
            sku="frontdoor.requests",
            quantity=requests / 10_000,
            detail=f"cdn_requests_per_month {fmt(requests)}",
            usage=("cdn_requests_per_month",),
        ),
    ]


def storage_account(res: dict[str, Any], ctx: Context) -> Outcome:
    unpriced = unmodelled_storage(res, ctx, "storage account")
    if unpriced:
        return unpriced
    redundancy = _sku(res).split("_", 1)[-1].lower() or "lrs"
    tier = str(res["inputs"].get("accessTier", "Hot")).lower()
    if tier != "hot":
        return Unpriced(f"access tier '{tier}' is not in the catalog (hot only)")
    u = ctx.usage
    return [
        Charge(
            sku=f"blob.hot.{redundancy}",
            quantity=u["storage_gb"],
            detail=f"storage_gb {fmt(u['storage_gb'])}",
            usage=("storage_gb",),
        ),
        Charge(
            sku="blob.writes",
            quantity=u["object_writes_per_month"] / 10_000,
            detail=f"object_writes_per_month {fmt(u['object_writes_per_month'])}",
            usage=("object_writes_per_month",),
        ),
        Charge(
            sku="blob.reads",
            quantity=u["object_reads_per_month"] / 10_000,
            detail=f"object_reads_per_month {fmt(u['object_reads_per_month'])}",
            usage=("object_reads_per_month",),
        ),
    ]


DISK_TIERS = ((32, 4), (64, 6), (128, 10), (256, 15), (512, 20))


def _disk(storage_type: str, size_gb: float) -> str | None:
    letter = {"Premium_LRS": "P", "StandardSSD_LRS": "E"}.get(storage_type)
    tier = next((t for limit, t in DISK_TIERS if size_gb <= limit), None)
    return f"disk.{storage_type}.{letter}{tier}" if letter and tier else None


def scale_set(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    size = _sku(res)
    if not known(size) or not size:
        return Unpriced("the VM size is not known at plan time")
    instances = ctx.replicas(num(dig(inputs, "sku", "capacity", default=ctx.app_replicas()), ctx.app_replicas()))
    charges = [
        Charge(
            sku=f"vm.{size}",
            quantity=instances * ctx.hours,
            detail=f"{fmt(instances)} instance(s) x {fmt(ctx.hours)} h",
        )
    ]
    os_disk = dig(inputs, "virtualMachineProfile", "storageProfile", "osDisk", default={})
    storage_type = dig(os_disk, "managedDisk", "storageAccountType", default="Premium_LRS")
    gb = num(os_disk.get("diskSizeGB"), 30)
    disk = _disk(storage_type, gb)
    if disk:
        charges.append(
            Charge(
                sku=disk,
                quantity=instances,
                detail=f"{fmt(instances)} OS disk(s) of {fmt(gb)} GB ({disk.rsplit('.', 1)[-1]})",
            )
        )
    for data_disk in dig(inputs, "virtualMachineProfile", "storageProfile", "dataDisks", default=[]) or []:
        kind = dig(data_disk, "managedDisk", "storageAccountType", default="Premium_LRS")
        size_gb = num(data_disk.get("diskSizeGB"), 32)
        if sku := _disk(kind, size_gb):
            charges.append(
                Charge(sku=sku, quantity=instances, detail=f"{fmt(instances)} data disk(s) of {fmt(size_gb)} GB")
            )
    return charges


def managed_disk(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    kind = dig(inputs, "sku", "name", default="Premium_LRS")
    gb = num(inputs.get("diskSizeGB"), 32)
    sku = _disk(kind, gb)
    if sku is None:
        return Unpriced(f"disk type {kind} of {fmt(gb)} GB is not in the catalog")
    return [Charge(sku=sku, quantity=1, detail=f"1 disk of {fmt(gb)} GB")]


def virtual_machine(res: dict[str, Any], ctx: Context) -> Outcome:
    size = dig(res["inputs"], "hardwareProfile", "vmSize", default=None)
    if not known(size) or not size:
        return Unpriced("the VM size is not known at plan time")
    charges = [Charge(sku=f"vm.{size}", quantity=ctx.hours, detail=f"1 VM x {fmt(ctx.hours)} h")]
    os_disk = dig(res["inputs"], "storageProfile", "osDisk", default={})
    kind = dig(os_disk, "managedDisk", "storageAccountType", default="Premium_LRS")
    gb = num(os_disk.get("diskSizeGB"), 30)
    if sku := _disk(kind, gb):
        charges.append(Charge(sku=sku, quantity=1, detail=f"OS disk of {fmt(gb)} GB"))
    return charges


def load_balancer(res: dict[str, Any], ctx: Context) -> Outcome:
    if _sku(res) not in ("Standard", ""):
        return Free("Basic load balancers have no charge (retired for new deployments)")
    gb = ctx.usage["lb_processed_gb"]
    return [
        Charge(sku="lb.standard.hour", quantity=ctx.hours, detail=f"up to 5 rules x {fmt(ctx.hours)} h"),
        Charge(sku="lb.standard.gb", quantity=gb, detail=f"lb_processed_gb {fmt(gb)}", usage=("lb_processed_gb",)),
    ]


def application_gateway(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    tier = str(dig(inputs, "sku", "tier", default="Standard_v2"))
    if tier != "Standard_v2":
        return Unpriced(f"Application Gateway tier {tier} is not in the catalog (Standard_v2 only)")
    cu, how = capacity_units(ctx, APPGW_CU)
    fixed = num(dig(inputs, "sku", "capacity", default=0), 0)
    minimum = num(dig(inputs, "autoscaleConfiguration", "minCapacity", default=None), fixed)
    if minimum * 10 > cu:
        how = f"{fmt(minimum)} reserved instance(s) x 10 capacity units (more than the traffic's {how})"
        cu = minimum * 10
    explicit = ctx.usage["lb_capacity_units"] >= 0
    return [
        Charge(sku="appgw.v2.fixed_hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku="appgw.v2.cu_hour",
            quantity=cu * ctx.hours,
            detail=f"{how} x {fmt(ctx.hours)} h",
            usage=("lb_capacity_units",) if explicit else ("requests_per_month", "lb_processed_gb"),
        ),
    ]


def key_vault(res: dict[str, Any], ctx: Context) -> Outcome:
    owner = ctx.claim("secret_api_calls_per_month", res)
    if owner:
        return Free(f"no standing charge; secret reads are counted on vault {owner}")
    calls = ctx.usage["secret_api_calls_per_month"]
    return [
        Charge(
            sku="keyvault.operations",
            quantity=calls / 10_000,
            detail=f"secret_api_calls_per_month {fmt(calls)} (no standing charge on Standard vaults)",
            usage=("secret_api_calls_per_month",),
        )
    ]


def container_registry(res: dict[str, Any], ctx: Context) -> Outcome:
    tier = _sku(res) or "Basic"
    if tier not in ACR_INCLUDED_GB:
        return Unpriced(f"Container Registry tier '{tier}' is not in the catalog (Basic, Standard, Premium)")
    days = ctx.hours / 24
    charges: list[Charge | Unpriced] = [
        Charge(sku=f"acr.{tier.lower()}", quantity=days, detail=f"{tier} registry x {fmt(days)} days")
    ]
    owner = ctx.claim("registry_gb", res)
    if owner:
        charges.append(Unpriced(f"image storage (registry_gb) is counted on registry {owner}"))
        return charges
    gb, included = ctx.usage["registry_gb"], ACR_INCLUDED_GB[tier]
    charges.append(
        Charge(
            sku="acr.storage",
            quantity=max(gb - included, 0.0),
            detail=f"registry_gb {fmt(gb)}, {included} GB included in {tier}",
            usage=("registry_gb",),
        )
    )
    return charges


def waf_policy(res: dict[str, Any], ctx: Context) -> Outcome:
    """A Front Door WAF policy: included in Premium; Standard and classic pay per policy, rule and request."""
    inputs = res["inputs"]
    tier = _sku(res) or "Classic_AzureFrontDoor"
    if tier == "Premium_AzureFrontDoor":
        return Free("WAF policies (custom and managed rules) are included in the Front Door Premium base fee")
    rules = len(dig(inputs, "customRules", "rules", default=[]) or [])
    managed = len(dig(inputs, "managedRules", "managedRuleSets", default=[]) or [])
    requests = ctx.usage["requests_per_month"] + ctx.usage["cdn_requests_per_month"]
    charges = [
        Charge(sku="frontdoor.waf.policy", quantity=1, detail=f"1 {tier} WAF policy"),
        Charge(sku="frontdoor.waf.custom_rule", quantity=rules, detail=f"{rules} custom rule(s)"),
        Charge(
            sku="frontdoor.waf.requests",
            quantity=requests / 1e6,
            detail=f"requests_per_month + cdn_requests_per_month = {fmt(requests)}",
            usage=("requests_per_month", "cdn_requests_per_month"),
        ),
    ]
    if managed:
        charges += [
            Charge(sku="frontdoor.waf.managed_ruleset", quantity=managed, detail=f"{managed} managed rule set(s)"),
            Charge(
                sku="frontdoor.waf.managed_requests",
                quantity=requests / 1e6,
                detail=f"{fmt(requests)} requests through managed rules",
                usage=("requests_per_month", "cdn_requests_per_month"),
            ),
        ]
    return charges


def app_insights(res: dict[str, Any], ctx: Context) -> Outcome:
    """Application Insights telemetry, billed as ingestion into its (workspace-based) Log Analytics workspace."""
    gb = ctx.usage["telemetry_gb"]
    return [
        Charge(
            sku="loganalytics.ingest_gb",
            quantity=gb,
            detail=f"telemetry_gb {fmt(gb)} ingested (workspace-based Application Insights)",
            usage=("telemetry_gb",),
        )
    ]


def web_test(res: dict[str, Any], ctx: Context) -> Outcome:
    inputs = res["inputs"]
    kind = str(inputs.get("webTestKind") or inputs.get("kind") or "ping").lower()  # the API's default kind is ping
    if kind == "ping":
        return Free("classic URL ping tests are free (retired in favour of standard tests)")
    if kind != "standard":
        return Unpriced(f"availability test kind '{kind}' is not in the catalog (standard tests only)")
    frequency = num(inputs.get("frequency"), 300) or 300
    locations = len(inputs.get("locations") or []) or 1
    runs = locations * ctx.hours * SECONDS_PER_HOUR / frequency
    return [
        Charge(
            sku="appinsights.webtest",
            quantity=runs,
            detail=f"every {fmt(frequency)} s from {locations} location(s) x {fmt(ctx.hours)} h",
        )
    ]


def metric_alert(res: dict[str, Any], ctx: Context) -> Outcome:
    """Metric alert rules bill per monitored time series (per criterion x resource; dynamic thresholds twice)."""
    inputs = res["inputs"]
    criteria = dig(inputs, "criteria", "allOf", default=[]) or [{}]
    scopes = len(inputs.get("scopes") or []) or 1
    dynamic = sum(1 for c in criteria if isinstance(c, dict) and c.get("criterionType") == "DynamicThresholdCriterion")
    series = (len(criteria) + dynamic) * scopes
    return [
        Charge(
            sku="monitor.metric_alert",
            quantity=series,
            detail=f"{len(criteria)} criterion(s) x {scopes} resource(s)"
            + (f", {dynamic} dynamic threshold(s) billed twice" if dynamic else ""),
        )
    ]


RULES: dict[str, Rule] = {
    "azure-native:network:PublicIPAddress": public_ip,
    "azure-native:network:NatGateway": nat_gateway,
    "azure-native:privatedns:PrivateZone": private_zone,
    "azure-native:network:PrivateEndpoint": private_endpoint,
    "azure-native:redisenterprise:RedisEnterprise": managed_redis,
    "azure-native:redis:Redis": classic_redis,
    "azure-native:app:ContainerApp": container_app,
    "azure-native:app:ManagedEnvironment": managed_environment,
    "azure-native:operationalinsights:Workspace": log_workspace,
    "azure-native:dbforpostgresql:Server": postgres_server,
    "azure-native:cosmosdb:DatabaseAccount": cosmos_account,
    "azure-native:notificationhubs:Namespace": notification_namespace,
    "azure-native:cdn:Profile": cdn_profile,
    "azure-native:storage:StorageAccount": storage_account,
    "azure-native:compute:VirtualMachineScaleSet": scale_set,
    "azure-native:compute:VirtualMachine": virtual_machine,
    "azure-native:compute:Disk": managed_disk,
    "azure-native:network:LoadBalancer": load_balancer,
    "azure-native:network:ApplicationGateway": application_gateway,
    "azure-native:keyvault:Vault": key_vault,
    "azure-native:containerregistry:Registry": container_registry,
    "azure-native:frontdoor:Policy": waf_policy,
    "azure-native:applicationinsights:Component": app_insights,
    "azure-native:applicationinsights:WebTest": web_test,
    "azure-native:monitor:MetricAlert": metric_alert,
}

FREE: dict[str, str] = {
    "azure-native:resources:ResourceGroup": "resource groups are free",
    "azure-native:managedidentity:": "managed identities are free",
    "azure-native:authorization:": "Azure RBAC and locks are free",
    "azure-native:network:VirtualNetwork": "virtual networks are free (peering and gateways are not used)",
    "azure-native:network:Subnet": "subnets are free",
    "azure-native:network:NetworkSecurityGroup": "network security groups are free",
    "azure-native:network:SecurityRule": "network security rules are free",
    "azure-native:network:RouteTable": "route tables are free",
    "azure-native:network:PrivateDnsZoneGroup": "included in the private endpoint",
    "azure-native:privatedns:VirtualNetworkLink": "private DNS zone links are free (the zone is charged)",
    "azure-native:privatedns:PrivateRecordSet": "included in the private DNS zone",
    "azure-native:dbforpostgresql:Configuration": "server parameters are free",
    "azure-native:dbforpostgresql:Database": "databases are included in the server's price",
    "azure-native:dbforpostgresql:FirewallRule": "firewall rules are free",
    "azure-native:dbforpostgresql:Administrator": "Entra administrators are free",
    "azure-native:redisenterprise:Database": "included in the Azure Managed Redis cluster's price",
    "azure-native:redisenterprise:AccessPolicyAssignment": "included in the Managed Redis cluster's price",
    "azure-native:keyvault:Secret": "no standing charge (Standard); operations are counted on the vault",
    "azure-native:cosmosdb:SqlResourceSqlDatabase": "serverless: billed by request units on the account",
    "azure-native:cosmosdb:SqlResourceSqlContainer": "serverless: billed by request units on the account",
    "azure-native:cosmosdb:SqlResourceSqlRoleAssignment": "data-plane RBAC is free",
    "azure-native:notificationhubs:NotificationHub": "billed on the namespace tier",
    "azure-native:notificationhubs:NotificationHubAuthorizationRule": "billed on the namespace tier",
    "azure-native:cdn:": "included in the Front Door profile's base fee and traffic",
    "azure-native:storage:BlobContainer": "the storage account carries storage and operation charges",
    "azure-native:storage:BlobServiceProperties": "storage account configuration is free",
    "azure-native:storage:ManagementPolicy": "lifecycle management is free (its operations are negligible)",
    "azure-native:monitor:DiagnosticSetting": "logs are charged as ingestion in the destination workspace",
    "azure-native:monitor:AutoscaleSetting": "autoscale settings are free",
    "azure-native:insights:": "Azure Monitor configuration is free",
    "azure-native:monitor:ActionGroup": "no standing charge (notifications beyond the free monthly allowance, SMS "
    "and voice are billed per message; not modelled)",
    "azure-native:monitor:ActivityLogAlert": "activity log alerts are free",
    "azure-native:containerregistry:ScopeMap": "registry configuration is free",
}
