"""GCP database: Cloud SQL for PostgreSQL on a private IP, or (``self_hosted``) PostgreSQL on a VM."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from mbops.components.gcp.app import BASE_ROLES
from mbops.components.gcp.common import MACHINE_TYPES, GcpArgs, GcpComponent, SecretRef, built, gcp_name, stack_args
from mbops.components.gcp.network import Network
from mbops.components.spec import DatabaseSpec
from mbops.components.wiring import BuildContext, Built

# Cloud SQL Enterprise edition shapes per size (vCPU-memory MiB); Enterprise Plus has no db-custom tiers.
SQL_TIERS = {"small": "db-custom-1-3840", "medium": "db-custom-2-7680", "large": "db-custom-4-15360"}
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
APP_USER = "app"


@dataclass(kw_only=True)
class DatabaseArgs(GcpArgs):
    spec: DatabaseSpec = field(default_factory=DatabaseSpec)
    stack: str = "mbops"
    network: Network


def database_url(
    user: pulumi.Input[str], password: pulumi.Input[str], host: pulumi.Input[str], database: pulumi.Input[str]
) -> pulumi.Output[str]:
    """``postgresql://user:password@host:5432/db?sslmode=require`` as a Pulumi secret (TLS is required)."""
    url = pulumi.Output.format(
        "postgresql://{0}:{1}@{2}:5432/{3}?sslmode=require", user, password, host, database
    )
    return pulumi.Output.secret(url)


class Database(GcpComponent):
    """PostgreSQL for the app, reachable only inside the stack's VPC, its URL in Secret Manager.

    Cloud SQL (default): no public IP (``ipv4_enabled=False``), a private IP through private service access,
    TLS required (``ssl_mode=ENCRYPTED_ONLY``), daily backups with point-in-time recovery and
    ``backup_retention_days`` retained backups, REGIONAL availability (synchronous standby in another zone)
    with ``ha``, deletion protection on the resource and in the API with ``deletion_protection``, storage
    autoresize up to ``max_storage_gb``, Query Insights, CIS logging flags, Enterprise edition.

    ``self_hosted``: one shielded VM (no external IP, OS Login) running PostgreSQL from the PGDG packages on a
    separate persistent data disk (encrypted at rest, daily snapshots kept ``backup_retention_days``, kept
    when the VM is replaced), port 5432 open only to the app's network tag, TLS required by ``pg_hba``.
    It has no failover and no point-in-time recovery: ``ha`` is reported as unavailable.

    The app gets ``DATABASE_URL`` only as the Secret Manager secret ``<stack>-DATABASE_URL`` (``url``).

    Children (Cloud SQL): ``password``, ``instance``, ``database``, ``user``, ``url_secret``,
    ``url_secret_version``. Self-hosted: ``password``, ``password_secret``, ``password_secret_version``,
    ``service_account``, ``project_role``, ``secret_access``, ``snapshot_policy``, ``data_disk``,
    ``instance``, ``allow_postgres``, ``url_secret``, ``url_secret_version``.
    """

    kind = "database"

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self.apis = (
            ("compute.googleapis.com", "iam.googleapis.com")
            if args.spec.self_hosted
            else ("sqladmin.googleapis.com",)
        ) + ("secretmanager.googleapis.com",)
        super().__init__(name, args, opts)
        spec = args.spec
        self.password = random.RandomPassword(
            f"{name}-password",
            **self.args(
                "password",
                length=32,
                special=True,
                override_special="-_",
                min_lower=2,
                min_upper=2,
                min_numeric=2,
                min_special=2,
            ),
            opts=self.opts(),
        )
        host = self._self_hosted(name, args) if spec.self_hosted else self._cloud_sql(name, args)
        self.host = host
        self.database_name = spec.database_name
        self.url: SecretRef = self.secret(
            "url_secret",
            "DATABASE_URL",
            args.stack,
            database_url(self._user_name, self.password.result, host, self._database_name),
        )
        self.finish({"host": host, "database_name": spec.database_name, "url_secret": self.url.secret_id})

    def _cloud_sql(self, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
        spec = args.spec
        self.instance = gcp.sql.DatabaseInstance(
            f"{name}-pg",
            **self.args(
                "instance",
                project=self.project,
                region=self.region,
                database_version=f"POSTGRES_{spec.engine_version}",
                deletion_protection=spec.deletion_protection,
                settings={
                    "tier": SQL_TIERS[spec.size],
                    "edition": "ENTERPRISE",
                    "availability_type": "REGIONAL" if spec.ha else "ZONAL",
                    "deletion_protection_enabled": spec.deletion_protection,
                    "retain_backups_on_delete": spec.deletion_protection,
                    "disk_type": "PD_SSD",
                    "disk_size": spec.storage_gb,
                    "disk_autoresize": True,
                    "disk_autoresize_limit": max(spec.max_storage_gb, spec.storage_gb),
                    "ip_configuration": {
                        "ipv4_enabled": False,
                        "private_network": args.network.network_id,
                        "ssl_mode": "ENCRYPTED_ONLY",
                    },
                    "backup_configuration": {
                        "enabled": True,
                        "point_in_time_recovery_enabled": True,
                        "start_time": "03:00",
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
                    "maintenance_window": {"day": 7, "hour": 4, "update_track": "stable"},
                    "database_flags": [{"name": k, "value": v} for k, v in SQL_FLAGS.items()],
                    "user_labels": self.labels,
                },
            ),
            opts=self.opts(depends_on=[args.network.psa_connection]),
        )
        self.database = gcp.sql.Database(
            f"{name}-db",
            **self.args(
                "database", project=self.project, instance=self.instance.name, name=spec.database_name
            ),
            opts=self.opts(),
        )
        # ABANDON: PostgreSQL refuses to drop a role that owns objects; the role goes with the instance.
        self.user = gcp.sql.User(
            f"{name}-user",
            **self.args(
                "user",
                project=self.project,
                instance=self.instance.name,
                name=APP_USER,
                type="BUILT_IN",
                password=self.password.result,
                deletion_policy="ABANDON",
            ),
            opts=self.opts(),
        )
        self._user_name, self._database_name = self.user.name, self.database.name
        self.connection_name = self.instance.connection_name
        return self.instance.private_ip_address

    def _self_hosted(self, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
        spec, network, stack = args.spec, args.network, args.stack
        if spec.ha:
            self.declare_gap(
                "self-hosted PostgreSQL runs on one VM: no standby or automatic failover (ha: true is not "
                "honoured),"
                " and recovery is from daily disk snapshots, not point in time",
                "use Cloud SQL (components.database.self_hosted: false) for REGIONAL high availability and "
                "point-in-time recovery",
            )
        zone = gcp.compute.get_zones_output(
            project=self.project,
            region=self.region,
            status="UP",
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).names[0]
        password_ref = self.secret("password_secret", "DATABASE_PASSWORD", stack, self.password.result)
        account_id = gcp_name(stack, "postgres", limit=30)
        account = gcp.serviceaccount.Account(
            f"{name}-sa",
            **self.args(
                "service_account",
                project=self.project,
                account_id=account_id,
                display_name=f"mbops {stack} self-hosted PostgreSQL",
            ),
            opts=self.opts(),
        )
        email = f"{account_id}@{self.project}.iam.gserviceaccount.com"
        member = f"serviceAccount:{email}"
        grants: list[pulumi.Resource] = [
            gcp.projects.IAMMember(
                f"{name}-{role.rsplit('.', 1)[-1].lower()}",
                **self.args("project_role", project=self.project, role=role, member=member),
                opts=self.opts(depends_on=[account]),
            )
            for role in BASE_ROLES
        ]
        grants.append(
            gcp.secretmanager.SecretIamMember(
                f"{name}-reads-password",
                **self.args(
                    "secret_access",
                    project=self.project,
                    secret_id=password_ref.secret.id,
                    role="roles/secretmanager.secretAccessor",
                    member=member,
                ),
                opts=self.opts(depends_on=[account]),
            )
        )
        policy = gcp.compute.ResourcePolicy(
            f"{name}-snapshots",
            **self.args(
                "snapshot_policy",
                project=self.project,
                region=self.region,
                description="Daily snapshots of the PostgreSQL data disk",
                snapshot_schedule_policy={
                    "schedule": {"daily_schedule": {"days_in_cycle": 1, "start_time": "03:00"}},
                    "retention_policy": {
                        "max_retention_days": spec.backup_retention_days,
                        "on_source_disk_delete": "KEEP_AUTO_SNAPSHOTS",
                    },
                    "snapshot_properties": {"storage_locations": self.region, "labels": self.labels},
                },
            ),
            opts=self.opts(),
        )
        self.data_disk = gcp.compute.Disk(
            f"{name}-data",
            **self.args(
                "data_disk",
                project=self.project,
                zone=zone,
                size=spec.storage_gb,
                type="pd-ssd" if spec.size != "small" else "pd-balanced",
                resource_policies=[policy.id],
                labels=self.labels,
            ),
            opts=self.opts(protect=spec.deletion_protection),
        )
        script = startup_script(
            spec.engine_version,
            spec.database_name,
            network.subnet_range,
            password_ref.secret_id,
            self.project,
        )
        self.instance = gcp.compute.Instance(
            f"{name}-vm",
            **self.args(
                "instance",
                project=self.project,
                zone=zone,
                machine_type=MACHINE_TYPES[spec.size],
                boot_disk={
                    "initialize_params": {
                        "image": "debian-cloud/debian-12",
                        "size": 20,
                        "type": "pd-balanced",
                        "labels": self.labels,
                    }
                },
                attached_disks=[{"source": self.data_disk.id, "device_name": "pgdata"}],
                network_interfaces=[{"subnetwork": network.subnetwork_id}],
                metadata={"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE"},
                metadata_startup_script=script,
                service_account={"email": email, "scopes": ["cloud-platform"]},
                shielded_instance_config={
                    "enable_secure_boot": True,
                    "enable_vtpm": True,
                    "enable_integrity_monitoring": True,
                },
                tags=[network.db_tag],
                labels=self.labels,
                deletion_protection=spec.deletion_protection,
                allow_stopping_for_update=True,
            ),
            opts=self.opts(depends_on=[*grants, password_ref.version]),
        )
        self.allow_postgres = gcp.compute.Firewall(
            f"{name}-allow-postgres",
            **self.args(
                "allow_postgres",
                project=self.project,
                network=network.network_id,
                direction="INGRESS",
                priority=1000,
                description="PostgreSQL only from the app's instances",
                source_tags=[network.app_tag],
                target_tags=[network.db_tag],
                allows=[{"protocol": "tcp", "ports": ["5432"]}],
                log_config={"metadata": "INCLUDE_ALL_METADATA"},
            ),
            opts=self.opts(),
        )
        self._user_name, self._database_name = APP_USER, spec.database_name
        return self.instance.network_interfaces[0].network_ip


def startup_script(version: str, database: str, client_range: str, password_secret: str, project: str) -> str:
    """Boot script of the self-hosted database VM: idempotent, safe to run on every boot.

    Formats and mounts the data disk once, keeps PostgreSQL's config on it (so a replaced VM finds its
    cluster), installs PostgreSQL ``version`` from PGDG, requires TLS + SCRAM from ``client_range`` only,
    and sets the app role's password from Secret Manager (never from metadata).
    """
    return f"""#!/bin/bash
set -euo pipefail
dev=/dev/disk/by-id/google-pgdata
data=/mnt/pgdata
pgdg=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc
blkid "$dev" >/dev/null || mkfs.ext4 -m 0 -E lazy_itable_init=0,lazy_journal_init=0,discard "$dev"
mkdir -p "$data"
if ! grep -q " $data " /etc/fstab; then
  echo "UUID=$(blkid -s UUID -o value "$dev") $data ext4 discard,defaults,nofail 0 2" >> /etc/fstab
fi
mountpoint -q "$data" || mount "$data"
mkdir -p "$data/etc" && ln -sfn "$data/etc" /etc/postgresql
if [ ! -x /usr/lib/postgresql/{version}/bin/postgres ]; then
  install -d "$(dirname "$pgdg")"
  curl -fsSL -o "$pgdg" https://www.postgresql.org/media/keys/ACCC4CF8.asc
  echo "deb [signed-by=$pgdg] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \\
    > /etc/apt/sources.list.d/pgdg.list
  mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold postgresql-{version}
fi
if [ ! -f "$data/{version}/main/PG_VERSION" ]; then
  install -d -o postgres -g postgres "$data/{version}"
  pg_createcluster {version} main -d "$data/{version}/main" -- \\
    --auth-local=peer --auth-host=scram-sha-256 --data-checksums
fi
conf=/etc/postgresql/{version}/main
mkdir -p "$conf/conf.d"
printf "listen_addresses = '*'\\nssl = on\\npassword_encryption = scram-sha-256\\n" \\
  > "$conf/conf.d/mbops.conf"
if ! grep -q "mbops" "$conf/pg_hba.conf"; then
  cat >> "$conf/pg_hba.conf" <<'HBA'
# mbops: TLS + SCRAM from the app subnet only
hostnossl all all 0.0.0.0/0 reject
hostssl {database} app {client_range} scram-sha-256
HBA
fi
systemctl enable postgresql@{version}-main
systemctl restart postgresql@{version}-main
password=$(gcloud secrets versions access latest --secret={password_secret} --project={project})
runuser -u postgres -- psql -v ON_ERROR_STOP=1 -v pw="$password" -v db={database} <<'SQL'
SELECT 'CREATE ROLE app LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app')\\gexec
ALTER ROLE app WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER app', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec
SQL
"""


def build(ctx: BuildContext) -> Built:
    """PostgreSQL in the stack's VPC; the app gets ``DATABASE_URL`` from Secret Manager."""
    database = Database(
        ctx.name,
        DatabaseArgs(spec=ctx.spec, stack=ctx.stack.name, network=ctx.component("network"), **stack_args(ctx.stack)),
    )
    return built(
        database, secrets={"DATABASE_URL": database.url},
        outputs={"database_host": database.host, "database_name": database.database_name},
    )  # fmt: skip
