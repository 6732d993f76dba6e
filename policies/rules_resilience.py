"""Data survives mistakes and outages: backups kept long enough, deletion protection and HA on prod."""

from __future__ import annotations

from collections.abc import Iterator

from mbops.policies.model import Check, Context, Graph, Resource, Rule, unverified
from mbops.policies.values import flag, get, known, number, word

MIN_PROD_BACKUP_DAYS = 7
COSMOS = ("azure-native:cosmosdb:DatabaseAccount",)
AZURE_PROTECTED = ("azure-native:dbforpostgresql:Server", *COSMOS)
AZURE_LOCKS = (
    "azure-native:authorization:ManagementLockAtResourceLevel",
    "azure-native:authorization:ManagementLockByScope",
)


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- database-backup-retention ------------------------------------------------------------------------------
def _retention(days: float | None, default: float, ctx: Context, res: Resource, field: str) -> Iterator[str]:
    value = default if days is None else days
    if value < 1:
        yield f"{field} is {value:g}: automated backups are off"
    elif ctx.prod(res) and value < MIN_PROD_BACKUP_DAYS:
        shown = f"{value:g}" + ("" if days is not None else " (the default)")
        yield f"{field} is {shown} days; prod keeps at least {MIN_PROD_BACKUP_DAYS}"


def _rds_backups(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "backupRetentionPeriod")
    if not known(value):
        yield unverified("backupRetentionPeriod")
    else:
        yield from _retention(number(value), 1, ctx, res, "backupRetentionPeriod")


def _cloud_sql_backups(res: Resource, ctx: Context) -> Iterator[str]:
    backup = get(_inputs(res), "settings.backupConfiguration")
    if not known(backup):
        yield unverified("settings.backupConfiguration")
        return
    enabled = get(backup, "enabled")
    if not known(enabled):
        yield unverified("settings.backupConfiguration.enabled")
        return
    if flag(enabled) is not True:
        yield "settings.backup_configuration.enabled is not true: no automated backups"
        return
    retained = get(backup, "backupRetentionSettings.retainedBackups")
    if not known(retained):
        yield unverified("settings.backupConfiguration.backupRetentionSettings.retainedBackups")
    else:
        yield from _retention(number(retained), 7, ctx, res, "backup_retention_settings.retained_backups")
    pitr = get(backup, "pointInTimeRecoveryEnabled")
    if ctx.prod(res) and not known(pitr):
        yield unverified("settings.backupConfiguration.pointInTimeRecoveryEnabled")
    elif ctx.prod(res) and flag(pitr) is not True:
        yield "point_in_time_recovery_enabled is not true on a prod database"


def _azure_pg_backups(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "backup.backupRetentionDays")
    if not known(value):
        yield unverified("backup.backupRetentionDays")
    else:
        yield from _retention(number(value), 7, ctx, res, "backup.backup_retention_days")


def _dynamodb_pitr(res: Resource, ctx: Context) -> Iterator[str]:
    if not ctx.prod(res):
        return
    value = get(_inputs(res), "pointInTimeRecovery.enabled")
    if not known(value):
        yield unverified("pointInTimeRecovery.enabled")
    elif flag(value) is not True:
        yield "point-in-time recovery is off on a prod table"


def _firestore_pitr(res: Resource, ctx: Context) -> Iterator[str]:
    if not ctx.prod(res):
        return
    state = get(_inputs(res), "pointInTimeRecoveryEnablement")
    if not known(state):
        yield unverified("pointInTimeRecoveryEnablement")
    elif word(state) != "point_in_time_recovery_enabled":
        yield "point-in-time recovery is off on a prod database"


def _cosmos_backups(res: Resource, ctx: Context) -> Iterator[str]:
    if not ctx.prod(res):
        return
    policy = get(_inputs(res), "backupPolicy")
    if not known(policy):
        yield unverified("backupPolicy")
        return
    kind = get(policy, "type")
    if not known(kind):
        yield unverified("backupPolicy.type")
        return
    if word(kind) == "continuous":
        return
    hours = number(get(policy, "periodicModeProperties.backupRetentionIntervalInHours")) or 8
    if hours < MIN_PROD_BACKUP_DAYS * 24:
        yield (
            f"periodic backups are kept {hours:g} hours; prod keeps at least {MIN_PROD_BACKUP_DAYS} days "
            "(use continuous backup)"
        )


BACKUPS = Rule(
    id="database-backup-retention",
    title="Database backups on, kept ≥ 7 days on prod",
    severity="high",
    enforcement="mandatory",
    description="Every database has automated backups; prod keeps them at least 7 days with point-in-time "
    "recovery (RDS backup_retention_period, Cloud SQL backups + PITR, Azure PostgreSQL backup retention, "
    "DynamoDB/Firestore PITR, Cosmos DB continuous backup).",
    remediation={
        "aws": "Set components.database.backup_retention_days (7-35) in the stack file; enable point-in-time "
        "recovery on DynamoDB tables.",
        "gcp": "Enable settings.backup_configuration with point_in_time_recovery_enabled and "
               "retained_backups ≥ 7.",
        "azure": "Set backup.backup_retention_days ≥ 7 on the server; use continuous backup on Cosmos DB.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={
        "aws": "AWS FSBP RDS.11",
        "gcp": "CIS GCP 6.7",
        "azure": "MCSB BR-1",
        "aws:dynamodb/table:Table": "AWS FSBP DynamoDB.2",
    },  # fmt: skip
    checks={
        "aws:rds/instance:Instance": _rds_backups,
        "aws:rds/cluster:Cluster": _rds_backups,
        "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql_backups,
        "azure-native:dbforpostgresql:Server": _azure_pg_backups,
        "aws:dynamodb/table:Table": _dynamodb_pitr,
        "gcp:firestore/database:Database": _firestore_pitr,
        **dict.fromkeys(COSMOS, _cosmos_backups),
    },
)


# --- database-deletion-protection ---------------------------------------------------------------------------
def _flag_on(path: str, label: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        value = get(_inputs(res), path)
        if not known(value):
            yield unverified(label)
        elif flag(value) is not True:
            yield f"{label} is not true on a prod database"

    return check


def _cloud_sql_deletion(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    pulumi_side = get(inputs, "deletionProtection")
    if not known(pulumi_side):
        yield unverified("deletionProtection")
    elif flag(pulumi_side) is False:
        yield "deletion_protection is false: `pulumi destroy` may delete the prod instance"
    value = get(inputs, "settings.deletionProtectionEnabled")
    if not known(value):
        yield unverified("settings.deletionProtectionEnabled")
    elif flag(value) is not True:
        yield "settings.deletion_protection_enabled is not true: the API lets anyone delete the prod instance"


def _firestore_deletion(res: Resource, ctx: Context) -> Iterator[str]:
    state = get(_inputs(res), "deleteProtectionState")
    if not known(state):
        yield unverified("deleteProtectionState")
    elif word(state) != "delete_protection_enabled":
        yield "delete_protection_state is not DELETE_PROTECTION_ENABLED on a prod database"


def _azure_locks(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    """Every Azure database has a delete lock (the rule is prod-only: Rule.applies gates the findings)."""
    for res in graph.of_type(*AZURE_PROTECTED):
        if res.get("protect"):
            continue
        locks = [
            lock for lock in graph.dependents(res, *AZURE_LOCKS)
            if word(get(_inputs(lock), "level")) in ("cannotdelete", "readonly")
        ]  # fmt: skip
        if not locks:
            yield res, "no CanNotDelete management lock (and not protected): the prod database can be deleted"


DELETION_PROTECTION = Rule(
    id="database-deletion-protection",
    title="Prod databases protected from deletion",
    severity="high",
    enforcement="mandatory",
    description="On prod, a database cannot be deleted by a stray destroy or API call: RDS "
                "deletion_protection, "
    "Cloud SQL deletion_protection_enabled, DynamoDB deletion_protection_enabled, Firestore delete "
    "protection, "
    "and on Azure a CanNotDelete management lock on the server or account.",
    remediation={
        "aws": "Set components.database.deletion_protection: true (components.docdb.deletion_protection for "
        "DynamoDB) in the prod stack.",
        "gcp": "Set settings.deletion_protection_enabled=True (and keep deletion_protection) on the "
               "instance; "
        "delete_protection_state='DELETE_PROTECTION_ENABLED' on Firestore.",
        "azure": "Add a ManagementLockAtResourceLevel with level 'CanNotDelete' on the server / account.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "AWS FSBP RDS.8", "aws:dynamodb/table:Table": ""},
    prod_only=True,
    checks={
        "aws:rds/instance:Instance": _flag_on("deletionProtection", "deletionProtection"),
        "aws:rds/cluster:Cluster": _flag_on("deletionProtection", "deletionProtection"),
        "aws:dynamodb/table:Table": _flag_on("deletionProtectionEnabled", "deletionProtectionEnabled"),
        "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql_deletion,
        "gcp:firestore/database:Database": _firestore_deletion,
    },
    graph_check=_azure_locks,
)


# --- database-ha --------------------------------------------------------------------------------------------
def _rds_multi_az(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "multiAz")
    if not known(value):
        yield unverified("multiAz")
    elif flag(value) is not True:
        yield "multiAz is not true: one zone failure takes the prod database down"


def _cloud_sql_regional(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(_inputs(res), "settings.availabilityType")
    if not known(value):
        yield unverified("settings.availabilityType")
    elif word(value) != "regional":
        yield f"settings.availability_type is {value or 'not set (ZONAL)'}, not REGIONAL"


def _azure_pg_ha(res: Resource, ctx: Context) -> Iterator[str]:
    mode = get(_inputs(res), "highAvailability.mode")
    if not known(mode):
        yield unverified("highAvailability.mode")
    elif word(mode) != "zoneredundant":
        yield f"high_availability.mode is {mode or 'not set (Disabled)'}, not ZoneRedundant"


DATABASE_HA = Rule(
    id="database-ha",
    title="Prod databases highly available",
    severity="medium",
    enforcement="mandatory",
    description="On prod, the database survives the loss of a zone: RDS Multi-AZ, Cloud SQL REGIONAL, Azure "
    "PostgreSQL zone-redundant HA.",
    remediation="Set components.database.ha: true in the prod stack (the prod environment of every profile "
                "does).",
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "AWS FSBP RDS.5", "azure": "MCSB BR-1"},
    prod_only=True,
    checks={
        "aws:rds/instance:Instance": _rds_multi_az,
        "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql_regional,
        "azure-native:dbforpostgresql:Server": _azure_pg_ha,
    },
)


# --- cache-ha (advisory) ------------------------------------------------------------------------------------
def _replication_group_ha(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    values = [get(inputs, "automaticFailoverEnabled"), get(inputs, "multiAzEnabled")]
    if not all(known(v) for v in values):
        yield unverified("automaticFailoverEnabled / multiAzEnabled")
    elif any(flag(v) is not True for v in values):
        yield "automatic failover across zones is off: a node failure loses the prod cache"


def _memorystore_ha(res: Resource, ctx: Context) -> Iterator[str]:
    tier = get(_inputs(res), "tier")
    if not known(tier):
        yield unverified("tier")
    elif word(tier) != "standard_ha":
        yield f"tier is {tier or 'not set (BASIC)'}, not STANDARD_HA"


def _azure_redis_ha(res: Resource, ctx: Context) -> Iterator[str]:
    sku = get(_inputs(res), "sku.name")
    if not known(sku):
        yield unverified("sku.name")
    elif word(sku) == "basic":
        yield "the Basic tier has a single node and no SLA"


CACHE_HA = Rule(
    id="cache-ha",
    title="Prod caches replicated",
    severity="medium",
    enforcement="advisory",
    description="On prod, Redis has a replica with automatic failover (ElastiCache Multi-AZ, Memorystore "
    "STANDARD_HA, Azure Standard or Premium). Advisory: a cache can be rebuilt, a database cannot.",
    remediation="Set components.cache.ha: true in the prod stack.",
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "AWS FSBP ElastiCache.3"},
    prod_only=True,
    checks={
        "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group_ha,
        "gcp:redis/instance:Instance": _memorystore_ha,
        "azure-native:redis:Redis": _azure_redis_ha,
    },
)

RULES = [BACKUPS, DELETION_PROTECTION, DATABASE_HA, CACHE_HA]
