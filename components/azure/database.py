"""Azure database: PostgreSQL Flexible Server with private access, or PostgreSQL on a VM (``self_hosted``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, dbforpostgresql

from mbops.components.azure.common import AzureComponent, AzureContext, KeyVaultRef
from mbops.components.spec import DatabaseSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError

ADMIN = "mbopsadmin"
SKUS = {
    "small": ("Standard_B1ms", "Burstable"),
    "medium": ("Standard_D2ds_v5", "GeneralPurpose"),
    "large": ("Standard_D4ds_v5", "GeneralPurpose"),
}
STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
VERSIONS = tuple(v.value for v in dbforpostgresql.PostgresMajorVersion)
MIN_BACKUP_DAYS = 7  # Flexible Server keeps 7..35 days


def storage_size(gb: int) -> int:
    """The smallest Flexible Server storage size that holds ``gb`` (Azure offers fixed sizes)."""
    for size in STORAGE_SIZES_GB:
        if size >= gb:
            return size
    return STORAGE_SIZES_GB[-1]


@dataclass(kw_only=True)
class DatabaseArgs:
    ctx: AzureContext
    vault: KeyVaultRef
    spec: DatabaseSpec = field(default_factory=DatabaseSpec)
    delegated_subnet_id: pulumi.Input[str] | None = None
    private_dns_zone_id: pulumi.Input[str] | None = None
    network_ready: list[pulumi.Resource] = field(default_factory=list)  # DNS zone link etc. to wait for
    # self_hosted only:
    data_subnet_id: pulumi.Input[str] | None = None
    data_cidr: str | None = None
    app_cidrs: list[str] = field(default_factory=list)


class Database(AzureComponent):
    """PostgreSQL reachable only inside the VNet, its DATABASE_URL kept in Key Vault.

    Flexible Server (default): private access (delegated subnet + private DNS zone, public network access
    disabled), TLS required (``require_secure_transport`` on, TLS 1.2 minimum), SKU by size (Burstable
    B1ms / GeneralPurpose D2ds_v5 / D4ds_v5), storage rounded up to Azure's sizes with auto-grow (Azure has
    no storage ceiling, so ``max_storage_gb`` is not enforced), backups kept ``backup_retention_days``
    (Azure's minimum is 7) and geo-redundant in prod, zone-redundant HA with ``ha`` (not on Burstable),
    and with ``deletion_protection`` a CanNotDelete management lock plus Pulumi ``protect``. The server and
    its database are kept when the stack is destroyed (``retain_on_delete``) unless its data is released
    (``destroy --delete-data``: lock, ``protect`` and retention off). Flexible Server has no final backup on
    delete: its backups are deleted with it (restore a deleted server within 5 days through Azure support).
    The admin password is a generated Pulumi secret; the app only ever sees ``database-url`` in Key Vault.
    ``self_hosted``: see ``selfhosted.py``.
    Children: ``password``, ``server``, ``require_tls``, ``tls_version``, ``database``, ``lock``,
    ``url_secret`` (and the self-hosted ones).
    """

    kind = "database"

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        spec = args.spec
        if spec.engine_version not in VERSIONS:
            raise ConfigError(
                f"components.database.engine_version: '{spec.engine_version}' is not offered on "
                f"Azure; allowed: {', '.join(sorted(VERSIONS))}"
            )
        self.password = random.RandomPassword(
            f"{name}-password",
            **self.args("password", length=32, special=False, min_upper=2, min_lower=2, min_numeric=2),
            opts=self.opts(),
        )
        if spec.self_hosted:
            from mbops.components.azure.selfhosted import build_self_hosted

            self.host = build_self_hosted(self, args)
        else:
            self.host = self._flexible_server(name, args)
        url = pulumi.Output.concat(
            f"postgresql://{ADMIN}:",
            self.password.result,
            f"@{self.host}:5432/{spec.database_name}?sslmode=require",
        )
        self.url_secret = self.store_secret(
            "url_secret", vault=args.vault, secret_name="database-url", value=url
        )
        self.database_name = spec.database_name
        self.finish({"host": self.host, "database": spec.database_name, "url_secret": "database-url"})

    def _flexible_server(self, name: str, args: DatabaseArgs) -> str:
        ctx, spec = args.ctx, args.spec
        if args.delegated_subnet_id is None or args.private_dns_zone_id is None:
            raise ConfigError("azure: components.database needs components.network (private access only)")
        sku, tier = SKUS[spec.size]
        if spec.ha and tier == "Burstable":
            raise ConfigError(
                "components.database.ha: zone-redundant HA is not offered on Azure's Burstable tier; "
                "use size medium or large"
            )
        server_name = ctx.name("psql", 63)
        server = dbforpostgresql.Server(
            f"{name}-server",
            **self.args(
                "server",
                **self.base(
                    server_name=server_name,
                    version=spec.engine_version,
                    sku={"name": sku, "tier": tier},
                    administrator_login=ADMIN,
                    administrator_login_password=pulumi.Output.secret(self.password.result),
                    auth_config={
                        "password_auth": "Enabled",
                        "active_directory_auth": "Enabled",
                        "tenant_id": ctx.tenant_id,
                    },
                    storage={"storage_size_gb": storage_size(spec.storage_gb), "auto_grow": "Enabled"},
                    backup={
                        "backup_retention_days": max(spec.backup_retention_days, MIN_BACKUP_DAYS),
                        "geo_redundant_backup": "Enabled" if ctx.prod else "Disabled",
                    },
                    high_availability={"mode": "ZoneRedundant" if spec.ha else "Disabled"},
                    network={
                        "delegated_subnet_resource_id": args.delegated_subnet_id,
                        "private_dns_zone_arm_resource_id": args.private_dns_zone_id,
                        "public_network_access": "Disabled",
                    },
                    maintenance_window={
                        "custom_window": "Enabled",
                        "day_of_week": 0,
                        "start_hour": 3,
                        "start_minute": 0,
                    },
                ),
            ),
            opts=self.data_opts(depends_on=args.network_ready, protect=spec.deletion_protection),
        )
        self.server = server
        server_args = {"resource_group_name": ctx.resource_group_name, "server_name": server_name}
        # Server parameters are applied one at a time (the server rejects concurrent configuration writes).
        tls_on = dbforpostgresql.Configuration(
            f"{name}-require-tls",
            **self.args(
                "require_tls",
                **server_args,
                configuration_name="require_secure_transport",
                value="on",
                source="user-override",
            ),
            opts=self.opts(depends_on=[server]),
        )
        tls_version = dbforpostgresql.Configuration(
            f"{name}-tls-version",
            **self.args(
                "tls_version",
                **server_args,
                configuration_name="ssl_min_protocol_version",
                value="TLSv1.2",
                source="user-override",
            ),
            opts=self.opts(depends_on=[tls_on]),
        )
        dbforpostgresql.Database(
            f"{name}-database",
            **self.args(
                "database",
                **server_args,
                database_name=spec.database_name,
                charset="UTF8",
                collation="en_US.utf8",
            ),
            opts=self.data_opts(depends_on=[tls_version], protect=spec.deletion_protection),
        )
        if spec.deletion_protection and not ctx.release_data:
            authorization.ManagementLockByScope(
                f"{name}-lock",
                **self.args(
                    "lock",
                    scope=server.id,
                    level="CanNotDelete",
                    lock_name="mbops-deletion-protection",
                    notes="mbops: deletion protection (components.database.deletion_protection)",
                ),
                opts=self.opts(depends_on=[server]),
            )
        return f"{server_name}.postgres.database.azure.com"


def static_ip(cidr: str, offset: int = 10) -> str:
    """A fixed private address in ``cidr`` (Azure reserves the first four)."""
    return str(ipaddress.ip_network(cidr)[offset])


def build(ctx: BuildContext) -> Built:
    """PostgreSQL inside the VNet; the app gets ``DATABASE_URL`` from Key Vault (``database-url``)."""
    net, spec = ctx.component("network"), ctx.spec
    args = DatabaseArgs(ctx=ctx.foundation.azure, spec=spec, vault=ctx.component("secrets").ref)
    if spec.self_hosted:
        args.data_subnet_id, args.data_cidr = net.subnet_ids["data"], net.cidrs["data"]
        args.app_cidrs = list(net.app_cidrs)
    else:
        args.delegated_subnet_id = net.subnet_ids["postgres"]
        args.private_dns_zone_id = net.postgres_dns_zone_id
        args.network_ready = [net]
    database = Database(ctx.name, args, opts=pulumi.ResourceOptions(depends_on=[net]))
    return Built(
        component=database, secrets={"DATABASE_URL": "database-url"}, depends_on=[database],
        outputs={"database_host": database.host, "database_name": database.database_name},
    )  # fmt: skip
