"""Azure database: PostgreSQL Flexible Server with private access, or PostgreSQL on a VM (``self_hosted``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import dbforpostgresql

from mbops.components.azure.common import AzureComponent, AzureContext, Identity, KeyVaultRef
from mbops.components.spec import DatabaseSpec
from mbops.components.wiring import BuildContext, Built, Gap
from mbops.errors import ConfigError

ADMIN = "mbopsadmin"
APP_ROLE = "app"
ADMIN_URL_SECRET, APP_URL_SECRET = "database-admin-url", "database-url"
# Idempotent, run by the app runtime from inside the VNet (container_apps.py: a Container Apps job; servers.py:
# the VMs' deploy extension) as the admin, connected to the app's database: creates the app's role once and
# (re)sets its password, lets it connect to and create in its own database only, and hands it the objects the
# admin created in ``public`` (stacks whose app used to connect as the admin keep working).
SETUP_SQL = f"""SELECT 'CREATE ROLE {APP_ROLE} LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}')
\\gexec
ALTER ROLE {APP_ROLE} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'pw';
SELECT format('GRANT %I TO %I', '{APP_ROLE}', current_user) WHERE NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER')
\\gexec
SELECT format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO {APP_ROLE}', :'db')
\\gexec
GRANT USAGE, CREATE ON SCHEMA public TO {APP_ROLE};
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  LOOP
    EXECUTE format('ALTER %s public.%I OWNER TO {APP_ROLE}',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.relname);
  END LOOP;
END $$;
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'S'
             AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  LOOP EXECUTE format('ALTER SEQUENCE public.%I OWNER TO {APP_ROLE}', r.relname); END LOOP;
END $$;
"""
# The shell around it: the app's password is the one in its own URL (postgresql://app:<password>@...), one
# secret; the server may still be starting (a self-hosted VM installs PostgreSQL at first boot).
SETUP_SCRIPT = f"""set -eu
pw="${{APP_URL#*://*:}}"
pw="${{pw%%@*}}"
tries=0
until psql "$ADMIN_URL" -tAc 'select 1' >/dev/null; do
  tries=$((tries + 1)); [ "$tries" -lt 60 ] || {{ echo "mbops: PostgreSQL does not answer" >&2; exit 1; }}; sleep 10
done
psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -v pw="$pw" -v db="$DATABASE" <<'SQL'
{SETUP_SQL}SQL
"""
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
class AppRoleSetup:
    """What the app runtime needs to create the app's role from inside the VNet (see ``SETUP_SQL``)."""

    database: str
    engine_version: str
    admin_secret: str  # Key Vault secret holding the admin URL (the app identity cannot read it)
    app_secret: str  # Key Vault secret holding the app's URL
    admin_url: pulumi.Output[str]  # Pulumi secrets
    app_url: pulumi.Output[str]
    secrets: list[pulumi.Resource]  # the two Key Vault secrets
    server: pulumi.Resource  # what must exist first (the server, or the self-hosted VM)
    script: str = SETUP_SCRIPT

    @property
    def run_key(self) -> pulumi.Output[str]:
        """Changes when the script or either URL changes: the setup runs again then."""
        import hashlib

        return pulumi.Output.all(self.admin_url, self.app_url).apply(
            lambda urls: hashlib.sha256("\0".join([self.script, self.database, *urls]).encode()).hexdigest()[:16]
        )


@dataclass(kw_only=True)
class DatabaseArgs:
    ctx: AzureContext
    vault: KeyVaultRef
    app_identity: Identity | None = None  # may read the app's URL (and nothing else of the database's)
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
    (``destroy --delete-data``: lock, ``protect`` and retention off); the next ``up`` takes them back with
    ``adopt: [database.*]`` (by ARM id; the server is imported without its admin password, which ARM never returns,
    and ``arm.AdminPassword`` then sets this deployment's). Flexible Server has no final backup on
    delete: its backups are deleted with it (restore a deleted server within 5 days through Azure support).
    Logins: passwords only (``active_directory_auth`` off: no Entra administrator is configured, so Entra logins
    would reach nothing; set one through overrides with an ``Administrator`` to use them). The admin
    (``mbopsadmin``) password is a generated Pulumi secret and its URL the Key Vault secret ``database-admin-url``,
    which the app identity cannot read. The app logs in as ``app``, a plain role with its own generated password
    (``database-url``, the only database secret the app reads), created from inside the VNet before the app
    starts by the app runtime (``SETUP_SQL``; ``container_apps.database_setup``), which also hands ``app`` the
    tables an older deployment's app made as the admin. Server parameters and the database are kept with the
    server. ``self_hosted``: see ``selfhosted.py``.
    Children: ``password``, ``app_password``, ``server``, ``require_tls``, ``tls_version``, ``database``,
    ``lock``, ``admin_url_secret``, ``url_secret``, ``url_secret_reader`` (and the self-hosted ones).
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
        self.app_password = random.RandomPassword(
            f"{name}-app-password",
            **self.args("app_password", length=32, special=False, min_upper=2, min_lower=2, min_numeric=2),
            opts=self.opts(),
        )
        if spec.self_hosted:
            from mbops.components.azure.selfhosted import build_self_hosted

            self.host, server = build_self_hosted(self, args)
        else:
            self.host, server = self._flexible_server(name, args)

        def url(user: str, password: pulumi.Output[str]) -> pulumi.Output[str]:
            tail = f"@{self.host}:5432/{spec.database_name}?sslmode=require"
            return pulumi.Output.secret(pulumi.Output.concat(f"postgresql://{user}:", password, tail))

        admin_url, app_url = url(ADMIN, self.password.result), url(APP_ROLE, self.app_password.result)
        # For operators and the role setup only: no app identity reads it.
        self.admin_url_secret = self.store_secret(
            "admin_url_secret", vault=args.vault, secret_name=ADMIN_URL_SECRET, value=admin_url
        )
        self.url_secret = self.store_secret(
            "url_secret", vault=args.vault, secret_name=APP_URL_SECRET, value=app_url, app=args.app_identity
        )
        self.setup = AppRoleSetup(
            database=spec.database_name, engine_version=spec.engine_version, admin_secret=ADMIN_URL_SECRET,
            app_secret=APP_URL_SECRET, admin_url=admin_url, app_url=app_url,
            secrets=[self.admin_url_secret, self.url_secret], server=server,
        )  # fmt: skip
        self.database_name = spec.database_name
        self.finish({"host": self.host, "database": spec.database_name, "url_secret": APP_URL_SECRET,
                     "admin_url_secret": ADMIN_URL_SECRET, "app_role": APP_ROLE})  # fmt: skip

    def _flexible_server(self, name: str, args: DatabaseArgs) -> tuple[str, pulumi.Resource]:
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
        server_id = ctx.resource_id("Microsoft.DBforPostgreSQL", "flexibleServers", server_name)
        # ARM never returns the admin password: an import would always differ on it, so an adopted server is
        # imported without it, and AdminPassword then sets this deployment's.
        adopting = self.adopted("server", server_id) is not None
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
                    # Passwords only: no Entra administrator is configured, so Entra logins would reach nothing.
                    auth_config={"password_auth": "Enabled", "active_directory_auth": "Disabled"},
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
            opts=self.data_opts(
                "server", server_id, depends_on=args.network_ready, protect=spec.deletion_protection,
                ignore_changes=["administratorLoginPassword"] if adopting else None,
            ),
        )
        self.server = server
        ready: list[pulumi.Resource] = []
        if adopting:  # the kept server's password is the last deployment's: set this one's (see arm.AdminPassword)
            from mbops.components.azure.arm import AdminPassword, arm_token

            ready.append(AdminPassword(
                f"{name}-admin-password", server_id=server_id, password=self.password.result,
                token=arm_token(self, after=[server]), opts=self.opts(depends_on=[server]),
            ))  # fmt: skip
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
            opts=self.data_opts("require_tls", f"{server_id}/configurations/require_secure_transport",
                                depends_on=[server]),  # fmt: skip
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
            opts=self.data_opts("tls_version", f"{server_id}/configurations/ssl_min_protocol_version",
                                depends_on=[tls_on]),  # fmt: skip
        )
        database = dbforpostgresql.Database(
            f"{name}-database",
            **self.args(
                "database",
                **server_args,
                database_name=spec.database_name,
                charset="UTF8",
                collation="en_US.utf8",
            ),
            opts=self.data_opts("database", f"{server_id}/databases/{spec.database_name}",
                                depends_on=[tls_version, *ready], protect=spec.deletion_protection),  # fmt: skip
        )
        self.lock("lock", scope=server.id, why="components.database.deletion_protection", after=server,
                  when=spec.deletion_protection)  # fmt: skip
        return f"{server_name}.postgres.database.azure.com", database


def static_ip(cidr: str, offset: int = 10) -> str:
    """A fixed private address in ``cidr`` (Azure reserves the first four)."""
    return str(ipaddress.ip_network(cidr)[offset])


MAX_STORAGE_GAP = Gap(
    reason=(
        "database.max_storage_gb: PostgreSQL Flexible Server storage auto-grows without a ceiling on Azure (and "
        "never shrinks), so the limit is not enforced; storage_gb sets the starting size"
    ),
    alternative="the db-storage alert (monitoring) warns before the disk fills; watch its growth there",
    partial=True,
)


def self_hosted_gap(spec: DatabaseSpec) -> Gap:
    """What a PostgreSQL VM does not do that the managed server does: failover (``ha``) and point-in-time
    restore (its backups are daily disk snapshots: ``disk_backup.py``)."""
    missing = ["no point-in-time restore (a restore is the data disk's daily snapshot)"]
    if spec.ha:
        missing.insert(0, "no standby or failover in another zone (ha: true is not honoured)")
    return Gap(
        reason=f"database.self_hosted: PostgreSQL on one VM in one zone has {' and '.join(missing)}",
        alternative=(
            "self_hosted: false (PostgreSQL Flexible Server) gives zone-redundant HA, point-in-time restore "
            "and geo-redundant backups"
        ),
        partial=True,
    )


def build(ctx: BuildContext) -> Built:
    """PostgreSQL inside the VNet; the app gets ``DATABASE_URL`` from Key Vault (``database-url``)."""
    net, spec = ctx.component("network"), ctx.spec
    args = DatabaseArgs(
        ctx=ctx.foundation.azure, spec=spec, vault=ctx.component("secrets").ref, app_identity=ctx.foundation.identity
    )
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
        gap=self_hosted_gap(spec) if spec.self_hosted else MAX_STORAGE_GAP,
        outputs={"database_host": database.host, "database_name": database.database_name},
    )  # fmt: skip
