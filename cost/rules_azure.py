"""Price rules for Azure resource types (pulumi-azure-native 3 type tokens) on ``cost/azure.yaml`` SKUs."""

from __future__ import annotations

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
    known,
    log_charges,
    memory_gib,
    num,
    unmodelled_storage,
)

APP_KINDS = ("containers", "serverless", "servers")
SECONDS_PER_HOUR = 3600


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
    return [
        Charge(sku="nat.hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku="nat.gb",
            quantity=ctx.usage["nat_processed_gb"] / count,
            detail=f"nat_processed_gb {fmt(ctx.usage['nat_processed_gb'])} / {count} gateway(s)",
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
    cpu, memory = _containers(res)
    planned = num(dig(res["inputs"], "template", "scale", "minReplicas", default=0), 0)
    replicas = ctx.replicas(planned)
    requests = ctx.usage["requests_per_month"]
    if replicas > 0:
        seconds = replicas * ctx.hours * SECONDS_PER_HOUR
        how = f"{fmt(replicas)} always-on replica(s) x {fmt(ctx.hours)} h (active rate)"
    else:
        seconds = requests * ctx.usage["avg_request_ms"] / 1000
        how = f"scale to zero: {fmt(requests)} requests x {fmt(ctx.usage['avg_request_ms'])} ms"
    return [
        Charge(sku="aca.vcpu_active", quantity=seconds * cpu, detail=f"{how} x {cpu:g} vCPU"),
        Charge(sku="aca.memory_active", quantity=seconds * memory, detail=f"{how} x {memory:g} GiB"),
        Charge(sku="aca.requests", quantity=requests / 1e6, detail=f"requests_per_month {fmt(requests)}"),
    ]


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
    return log_charges("loganalytics.ingest_gb", "loganalytics.retention_gb", gb, detail, retention, 31)


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
    backup = ctx.usage["database_backup_gb"]
    if backup:
        charges.append(Charge(sku="postgres.backup", quantity=backup, detail=f"database_backup_gb {fmt(backup)}"))
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
        ),
        Charge(
            sku="cosmos.storage",
            quantity=u["docdb_storage_gb"],
            detail=f"docdb_storage_gb {fmt(u['docdb_storage_gb'])}",
        ),
    ]
    tier = dig(inputs, "backupPolicy", "continuousModeProperties", "tier", default="")
    if tier == "Continuous30Days":
        charges.append(
            Charge(
                sku="cosmos.continuous30",
                quantity=u["docdb_storage_gb"],
                detail=f"30-day continuous backup of {fmt(u['docdb_storage_gb'])} GB (7 days is free)",
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
        Charge(sku="frontdoor.egress_gb", quantity=gb, detail=f"cdn_egress_gb {fmt(gb)}"),
        Charge(
            sku="frontdoor.requests",
            quantity=requests / 10_000,
            detail=f"cdn_requests_per_month {fmt(requests)}",
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
        ),
        Charge(
            sku="blob.writes",
            quantity=u["object_writes_per_month"] / 10_000,
            detail=f"object_writes_per_month {fmt(u['object_writes_per_month'])}",
        ),
        Charge(
            sku="blob.reads",
            quantity=u["object_reads_per_month"] / 10_000,
            detail=f"object_reads_per_month {fmt(u['object_reads_per_month'])}",
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
        Charge(sku="lb.standard.gb", quantity=gb, detail=f"lb_processed_gb {fmt(gb)}"),
    ]


def application_gateway(res: dict[str, Any], ctx: Context) -> Outcome:
    tier = str(dig(res["inputs"], "sku", "tier", default="Standard_v2"))
    if tier != "Standard_v2":
        return Unpriced(f"Application Gateway tier {tier} is not in the catalog (Standard_v2 only)")
    cu = ctx.usage["lb_capacity_units"]
    return [
        Charge(sku="appgw.v2.fixed_hour", quantity=ctx.hours, detail=f"{fmt(ctx.hours)} h"),
        Charge(
            sku="appgw.v2.cu_hour",
            quantity=cu * ctx.hours,
            detail=f"lb_capacity_units {fmt(cu)} x {fmt(ctx.hours)} h",
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
        )
    ]


def container_registry(res: dict[str, Any], ctx: Context) -> Outcome:
    tier = _sku(res)
    if tier != "Basic":
        return Unpriced(f"Container Registry tier '{tier}' is not in the catalog (Basic only)")
    days = ctx.hours / 24
    return [Charge(sku="acr.basic", quantity=days, detail=f"{fmt(days)} days")]


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
}
