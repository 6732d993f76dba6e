"""GCP database: Cloud SQL for PostgreSQL on a private IP, or (``self_hosted``) PostgreSQL on a VM."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from mbops.components.gcp.common import CRM_API, GcpArgs, GcpComponent, SecretRef, built, gcp_name, stack_args
from mbops.components.gcp.db_roles import ADMIN_USER, APP_USER, app_role_job
from mbops.components.gcp.logs import LogQuery
from mbops.components.gcp.network import Network
from mbops.components.gcp.postgres_vm import self_hosted
from mbops.components.spec import DatabaseSpec
from mbops.components.wiring import BuildContext, Built

# Cloud SQL Enterprise edition shapes per size (vCPU-memory MiB); Enterprise Plus has no db-custom tiers.
SQL_TIERS = {"small": "db-custom-1-3840", "medium": "db-custom-2-7680", "large": "db-custom-4-15360"}
# The connection limit per size, set explicitly to Cloud SQL's memory-based default for these tiers (3.75 GB: 100,
# 7.5-15 GB: 400, 15-30 GB: 500; https://cloud.google.com/sql/docs/postgres/quotas#maximum_concurrent_connections),
# so the connections alert knows the limit it measures against.
MAX_CONNECTIONS = {"small": 100, "medium": 400, "large": 500}
# CIS GCP 6.2: log connections, lock waits, temp files and errors; DDL statements for audit.
SQL_FLAGS = {
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_min_duration_statement": "-1",
    "log_min_error_statement": "error",
    "log_statement": "ddl",
}
# Cloud SQL's weekly maintenance window: Sunday 04:00 UTC (day 7 = Sunday), an hour after the daily backup.
# Memorystore's is on another day (cache.py), so the two are never down for maintenance at once.
MAINTENANCE_DAY, MAINTENANCE_HOUR, BACKUP_START = 7, 4, "03:00"
FINAL_BACKUP_DAYS = 30  # prod: the backup Cloud SQL takes when the instance is deleted, kept this long


@dataclass(kw_only=True)
class DatabaseArgs(GcpArgs):
    spec: DatabaseSpec = field(default_factory=DatabaseSpec)
    network: Network
    prod: bool = False
    registry: Any = None  # the stack's Registry: the app-role job's client image is pushed there


# What the settings Cloud SQL changes by itself (disk autoresize, failover moves the primary's zone) may not undo:
# an ``up`` after an autoresize would otherwise shrink the disk, which replaces the instance.
SQL_IGNORED = ["settings.diskSize", "settings.locationPreference"]


def database_url(
    user: pulumi.Input[str], password: pulumi.Input[str], host: pulumi.Input[str], database: pulumi.Input[str],
    sslmode: str = "verify-ca",
) -> pulumi.Output[str]:  # fmt: skip
    """``postgresql://user:password@host:5432/db?sslmode=...`` as a Pulumi secret (TLS is always required;
    ``verify-ca``: the server's certificate is checked against ``DATABASE_CA_CERT``)."""
    url = pulumi.Output.format(
        "postgresql://{0}:{1}@{2}:5432/{3}?sslmode={4}", user, password, host, database, sslmode
    )
    return pulumi.Output.secret(url)


class Database(GcpComponent):
    """PostgreSQL for the app, reachable only inside the stack's VPC, its URL in Secret Manager.

    Cloud SQL (default): no public IP (``ipv4_enabled=False``), a private IP through private service access,
    TLS required (``ssl_mode=ENCRYPTED_ONLY``) and verified: the URL says ``sslmode=verify-ca`` and the app gets
    the instance's own server CA as ``DATABASE_CA_CERT`` (PEM; libpq's ``sslrootcert``), daily backups with
    point-in-time recovery and
    ``backup_retention_days`` retained backups, REGIONAL availability (synchronous standby in the network's
    second zone, primary in the first) with ``ha``, storage autoresize up to ``max_storage_gb``, Query Insights,
    CIS logging flags, an explicit connection limit (``MAX_CONNECTIONS``), Enterprise edition, maintenance on
    Sundays 04:00 UTC (Memorystore's window is on Saturdays). What Cloud SQL changes by itself is not undone by
    the next ``up``: the disk size after an autoresize, the zones after a failover (``SQL_IGNORED``). In prod the
    Cloud SQL Admin API's reads are audit-logged (``audit_config``: ADMIN_READ; writes always are).

    The app connects as ``app``, a plain role that may only use its own database (``db_roles.py``), never as
    the admin (``mbops_admin``, a ``cloudsqlsuperuser`` member whose URL is kept in Secret Manager as
    ``<stack>-DATABASE_ADMIN_URL`` for operators). The app gets ``DATABASE_URL`` only as the Secret Manager
    secret ``<stack>-DATABASE_URL`` (``url``) and starts after the role exists (``ready``).

    Data guard: deletion protection (resource and API) with ``deletion_protection``; the instance (fixed name
    ``<stack>-pg``), its database and the two URL secrets (the only copy of the passwords) are kept in the
    project on ``destroy`` (``retain_on_delete``) and automated backups outlive it in prod; in prod Cloud SQL
    also takes a final backup when the instance is deleted (kept 30 days). The next ``up`` takes them back
    with ``adopt:`` naming ``database.*`` (and ``network.*``: the VPC the instance lives in), then sets
    new passwords. A stack that releases its data (before ``destroy --delete-data``) turns protection and
    retention off. Cloud SQL lets a deleted instance's name be reused at once.

    ``self_hosted``: see ``postgres_vm.py``. It has no failover and no point-in-time recovery: ``ha`` is
    reported as unavailable.

    Children (Cloud SQL): ``password``, ``admin_password``, ``instance``, ``database``, ``admin_user``,
    ``url_secret``, ``url_secret_version``, ``admin_url_secret``, ``admin_url_secret_version``,
    ``setup_account``, ``setup_secret_access``, ``setup_job``, ``iam_propagation`` (seconds only),
    ``audit_config`` (prod). Self-hosted: ``password``, ``password_secret``, ``password_secret_version``,
    ``service_account``, ``project_role``, ``secret_access``, ``snapshot_policy``,
    ``data_disk``, ``instance``, ``allow_postgres``, ``url_secret``, ``url_secret_version``.
    """

    kind = "database"

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self.apis = (
            ("compute.googleapis.com", "iam.googleapis.com", CRM_API)
            if args.spec.self_hosted
            else ("sqladmin.googleapis.com", "run.googleapis.com", "iam.googleapis.com",
                  *((CRM_API,) if args.prod else ()))
        ) + ("secretmanager.googleapis.com",)
        super().__init__(name, args, opts)
        spec = args.spec
        self.password = self._password("password", f"{name}-password")
        self.ready: list[pulumi.Resource] = []
        self.instance_name: str | None = None
        self.max_connections = MAX_CONNECTIONS[spec.size]
        self.ca_certificate: pulumi.Output[str] | None = None  # Cloud SQL's server CA (PEM)
        if spec.self_hosted:  # a self-signed server certificate: encrypted, not verifiable
            host = self_hosted(self, name, args)
            user, database, sslmode = APP_USER, spec.database_name, "require"
        else:
            host, user, database = self._cloud_sql(name, args)
            sslmode = "verify-ca"
        self.host = host
        self.database_name = spec.database_name
        self.url: SecretRef = self.secret(
            "url_secret", "DATABASE_URL", args.stack, database_url(user, self.password.result, host, database, sslmode),
            keep=not spec.self_hosted,
        )  # fmt: skip
        if not spec.self_hosted:
            admin_url = self.secret(
                "admin_url_secret", "DATABASE_ADMIN_URL", args.stack,
                database_url(self.admin_user.name, self.admin_password.result, host, database), keep=True,
            )  # fmt: skip
            self.setup_job = app_role_job(
                self, name, args.stack, args.network, spec.database_name, admin_url, self.url,
                after=[self.admin_user, self.database], registry=args.registry,
                ca_certificate=self.ca_certificate or "",
            )  # fmt: skip
            self.ready = [self.setup_job]
            self.log_queries = {
                "database": LogQuery(filter=pulumi.Output.format(
                    'resource.type="cloudsql_database" AND resource.labels.database_id="{0}:{1}"', self.project,
                    self.instance.name)),
                "database-setup": LogQuery(filter=pulumi.Output.format(
                    'resource.type="cloud_run_job" AND resource.labels.job_name="{0}"', self.setup_job.name)),
            }  # fmt: skip
        else:
            self.log_queries = {"database": LogQuery(filter=pulumi.Output.format(
                'resource.type="gce_instance" AND resource.labels.instance_id="{0}"', self.instance.instance_id))}
        self.finish({"host": host, "database_name": spec.database_name, "url_secret": self.url.secret_id})

    def _password(self, child: str, resource_name: str) -> random.RandomPassword:
        return random.RandomPassword(
            resource_name,
            **self.args(child, length=32, special=True, override_special="-_", min_lower=2, min_upper=2,
                        min_numeric=2, min_special=2),
            opts=self.opts(),
        )  # fmt: skip

    def _cloud_sql(self, name: str, args: DatabaseArgs) -> tuple[pulumi.Output[str], str, pulumi.Output[str]]:
        """The instance, the app's database and the admin user; returns (host, app user, database name)."""
        spec, release = args.spec, self.release_data
        protect = spec.deletion_protection and not release
        zones = args.network.zone_names
        location = {"zone": zones.apply(lambda z: z[0])}
        if spec.ha:
            location["secondary_zone"] = zones.apply(lambda z: z[1])
        final_backup = {"final_backup_config": {"enabled": True, "retention_days": FINAL_BACKUP_DAYS}} if (
            args.prod) else {}  # fmt: skip
        instance_name = gcp_name(args.stack, "pg", limit=84)
        self.instance = gcp.sql.DatabaseInstance(
            f"{name}-pg",
            **self.args(
                "instance",
                project=self.project,
                region=self.region,
                name=instance_name,
                database_version=f"POSTGRES_{spec.engine_version}",
                deletion_protection=protect,
                settings={
                    "tier": SQL_TIERS[spec.size],
                    "edition": "ENTERPRISE",
                    "availability_type": "REGIONAL" if spec.ha else "ZONAL",
                    "location_preference": location,
                    "deletion_protection_enabled": protect,
                    "retain_backups_on_delete": args.prod and not release,
                    **final_backup,
                    "disk_type": "PD_SSD",
                    "disk_size": spec.storage_gb,
                    "disk_autoresize": True,
                    "disk_autoresize_limit": max(spec.max_storage_gb, spec.storage_gb),
                    "ip_configuration": {
                        "ipv4_enabled": False,
                        "private_network": args.network.network_id,
                        "ssl_mode": "ENCRYPTED_ONLY",
                        "server_ca_mode": "GOOGLE_MANAGED_INTERNAL_CA",  # the instance's own CA: DATABASE_CA_CERT
                    },
                    "backup_configuration": {
                        "enabled": True,
                        "point_in_time_recovery_enabled": True,
                        "start_time": BACKUP_START,
                        "transaction_log_retention_days": min(7, spec.backup_retention_days),
                        "backup_retention_settings": {
                            "retained_backups": spec.backup_retention_days,
                            "retention_unit": "COUNT",
                        },
                    },
                    "insights_config": {
                        "query_insights_enabled": True,
                        "record_application_tags": True,
                        "record_client_address": True,
                        "query_string_length": 1024,
                    },
                    "maintenance_window": {"day": MAINTENANCE_DAY, "hour": MAINTENANCE_HOUR, "update_track": "stable"},
                    "database_flags": [
                        {"name": k, "value": v}
                        for k, v in {**SQL_FLAGS, "max_connections": str(self.max_connections)}.items()
                    ],
                    "user_labels": self.labels,
                },
            ),
            opts=self.data_opts("instance", f"projects/{self.project}/instances/{instance_name}",
                                depends_on=[args.network.psa_connection], ignore_changes=SQL_IGNORED),
        )  # fmt: skip
        self.instance_name = instance_name  # known when planned: alert filters name it
        self.ca_certificate = self.instance.server_ca_certs.apply(lambda certs: certs[0].cert if certs else "")
        # ABANDON: the app's role owns objects in it, so the API cannot drop it; it goes with the instance.
        self.database = gcp.sql.Database(
            f"{name}-db",
            **self.args("database", project=self.project, instance=self.instance.name, name=spec.database_name,
                        deletion_policy="ABANDON"),
            opts=self.data_opts(
                "database", f"projects/{self.project}/instances/{instance_name}/databases/{spec.database_name}"),
        )  # fmt: skip
        self.admin_password = self._password("admin_password", f"{name}-admin-password")
        # ABANDON: PostgreSQL refuses to drop a role that owns objects; the role goes with the instance (and is
        # taken back with it: its password is then reset to the new stack's).
        self.admin_user = gcp.sql.User(
            f"{name}-admin",
            **self.args("admin_user", project=self.project, instance=self.instance.name, name=ADMIN_USER,
                        type="BUILT_IN", password=self.admin_password.result, deletion_policy="ABANDON"),
            opts=self.opts(import_=self.adopted("admin_user", f"{self.project}/{instance_name}/{ADMIN_USER}")),
        )  # fmt: skip
        if args.prod:  # who read the instance's configuration, users, backups (writes are always logged)
            gcp.projects.IAMAuditConfig(
                f"{name}-audit",
                **self.args("audit_config", project=self.project, service="sqladmin.googleapis.com",
                            audit_log_configs=[{"log_type": "ADMIN_READ"}]),
                opts=self.opts(),
            )  # fmt: skip
        self.connection_name = self.instance.connection_name
        return self.instance.private_ip_address, APP_USER, self.database.name


def build(ctx: BuildContext) -> Built:
    """PostgreSQL in the stack's VPC; the app gets ``DATABASE_URL`` from Secret Manager and starts after its role
    exists."""
    database = Database(
        ctx.name,
        DatabaseArgs(spec=ctx.spec, network=ctx.component("network"), prod=ctx.stack.prod,
                     registry=ctx.component("registry") if "registry" in ctx.built else None,
                     **stack_args(ctx.stack)),
    )  # fmt: skip
    env = {"DATABASE_CA_CERT": database.ca_certificate} if database.ca_certificate is not None else {}
    return built(
        database, env=env, secrets={"DATABASE_URL": database.url}, depends_on=list(database.ready),
        outputs={"database_host": database.host, "database_name": database.database_name},
    )  # fmt: skip
