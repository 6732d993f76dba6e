"""Self-hosted PostgreSQL for the database kind (``self_hosted: true``): one shielded VM with a data disk.

The VM has no external IP and OS Login only; PostgreSQL from the PGDG packages keeps its cluster and config on
a separate persistent disk (``<stack>-pgdata``: encrypted at rest, daily snapshots kept ``backup_retention_days``,
kept when the VM is replaced, kept in the project on ``destroy`` unless the data is released, and attached again
by the next ``up`` with ``adopt:`` naming ``database.data_disk`` or ``database.*``); port 5432 is open only to
the app's network tag, TLS + SCRAM required by ``pg_hba``. The boot script creates the ``app`` role (not a
superuser) owning the app's database, its password read from Secret Manager. The boot image is the current
``debian-12`` image resolved once and kept (a new Debian release never replaces the database VM); set
``overrides.instance.boot_disk.initialize_params.image`` to move on. The disk and the VM stay in the zone they
were created in (``ignore_changes``): the network's zone list is read on every run. The disk also keeps the type
it was created with when ``size`` moves across small (pd-balanced) and larger (pd-ssd): move it to another type by
a snapshot restored to a new disk.

The boot script is the VM's ``startup-script`` metadata, updated in place and run on every boot (a changed script
applies at the next restart); ``metadata_startup_script`` would replace the VM on any change, which deletion
protection refuses in prod. A VM that must be replaced is deleted first (``delete_before_replace``): the data
disk attaches read-write to one VM only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.app import BASE_ROLES
from mbops.components.gcp.common import MACHINE_TYPES, gcp_name

if TYPE_CHECKING:
    from mbops.components.gcp.database import Database, DatabaseArgs

DEBIAN_PROJECT, DEBIAN_FAMILY = "debian-cloud", "debian-12"
APP_USER = "app"
# What the data disk keeps from its creation: its zone, and its type (``size`` picks pd-balanced or pd-ssd; a disk's
# type cannot change in place, and a replaced disk would be a new, empty one under the same name).
KEPT = ["zone", "type"]


def self_hosted(c: Database, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
    """Build the VM, its disk, identity and firewall rule on ``c``; return the VM's private IP.

    Children: ``password_secret``, ``password_secret_version``, ``service_account``, ``project_role``,
    ``secret_access``, ``snapshot_policy``, ``data_disk``, ``instance``, ``allow_postgres``.
    """
    spec, network, stack = args.spec, args.network, args.stack
    if spec.ha:
        c.declare_gap(
            "self-hosted PostgreSQL runs on one VM: no standby or automatic failover (ha: true is not honoured), "
            "and recovery is from daily disk snapshots, not point in time",
            "use Cloud SQL (components.database.self_hosted: false) for REGIONAL high availability and "
            "point-in-time recovery",
        )
    disk_name = gcp_name(stack, "pgdata")
    zone: pulumi.Input[str] = network.zone_names.apply(lambda zones: zones[0])
    adopt_disk = c.adopted("data_disk", disk_name)
    if adopt_disk is not None:  # the kept disk's id names its zone: read it now (Compute Engine is on: it exists)
        zone = sorted(gcp.compute.get_zones(project=c.project, region=c.region).names)[0]
    password_ref = c.secret("password_secret", "DATABASE_PASSWORD", stack, c.password.result)
    account_id = gcp_name(stack, "postgres", limit=30)
    account = gcp.serviceaccount.Account(
        f"{name}-sa",
        **c.args("service_account", project=c.project, account_id=account_id,
                 display_name=f"mbops {stack} self-hosted PostgreSQL"),
        opts=c.opts(),
    )  # fmt: skip
    member = f"serviceAccount:{account_id}@{c.project}.iam.gserviceaccount.com"
    grants: list[pulumi.Resource] = [
        gcp.projects.IAMMember(
            f"{name}-{role.rsplit('.', 1)[-1].lower()}",
            **c.args("project_role", project=c.project, role=role, member=member),
            opts=c.opts(depends_on=[account]),
        )
        for role in BASE_ROLES
    ]
    grants.append(
        gcp.secretmanager.SecretIamMember(
            f"{name}-reads-password",
            **c.args("secret_access", project=c.project, secret_id=password_ref.secret.id,
                     role="roles/secretmanager.secretAccessor", member=member),
            opts=c.opts(depends_on=[account]),
        )  # fmt: skip
    )
    policy = gcp.compute.ResourcePolicy(
        f"{name}-snapshots",
        **c.args(
            "snapshot_policy", project=c.project, region=c.region,
            description="Daily snapshots of the PostgreSQL data disk",
            snapshot_schedule_policy={
                "schedule": {"daily_schedule": {"days_in_cycle": 1, "start_time": "03:00"}},
                "retention_policy": {"max_retention_days": spec.backup_retention_days,
                                     "on_source_disk_delete": "KEEP_AUTO_SNAPSHOTS"},
                "snapshot_properties": {"storage_locations": c.region, "labels": c.labels},
            },
        ),
        opts=c.opts(),
    )  # fmt: skip
    c.data_disk = gcp.compute.Disk(
        f"{name}-data",
        **c.args("data_disk", project=c.project, zone=zone, name=disk_name, size=spec.storage_gb,
                 type="pd-ssd" if spec.size != "small" else "pd-balanced", resource_policies=[policy.id],
                 labels=c.labels),
        opts=c.data_opts("data_disk", f"projects/{c.project}/zones/{zone}/disks/{disk_name}", ignore_changes=KEPT)
        if adopt_disk is not None else c.data_opts(ignore_changes=KEPT),
    )  # fmt: skip
    image = gcp.compute.get_image_output(family=DEBIAN_FAMILY, project=DEBIAN_PROJECT, opts=c.invoke_opts()).self_link
    protect = spec.deletion_protection and not c.release_data
    script = startup_script(spec.engine_version, spec.database_name, network.subnet_range, password_ref.secret_id,
                            c.project)  # fmt: skip
    c.instance = gcp.compute.Instance(
        f"{name}-vm",
        **c.args(
            "instance", project=c.project, zone=zone, machine_type=MACHINE_TYPES[spec.size],
            boot_disk={"initialize_params": {"image": image, "size": 20, "type": "pd-balanced", "labels": c.labels}},
            attached_disks=[{"source": c.data_disk.id, "device_name": "pgdata"}],
            network_interfaces=[{"subnetwork": network.subnetwork_id}],
            # the ``startup-script`` key, not ``metadata_startup_script``: a changed script would replace the VM
            metadata={"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "startup-script": script},
            service_account={"email": member.removeprefix("serviceAccount:"), "scopes": ["cloud-platform"]},
            shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True,
                                      "enable_integrity_monitoring": True},
            tags=[network.db_tag], labels=c.labels, deletion_protection=protect, allow_stopping_for_update=True,
        ),
        opts=c.opts(depends_on=[*grants, password_ref.version], delete_before_replace=True,
                    ignore_changes=["bootDisk.initializeParams.image", "zone"]),
    )  # fmt: skip
    c.allow_postgres = gcp.compute.Firewall(
        f"{name}-allow-postgres",
        **c.args(
            "allow_postgres", project=c.project, network=network.network_id, direction="INGRESS", priority=1000,
            description="PostgreSQL only from the app's instances", source_tags=[network.app_tag],
            target_tags=[network.db_tag], allows=[{"protocol": "tcp", "ports": ["5432"]}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
        ),
        opts=c.opts(),
    )  # fmt: skip
    return c.instance.network_interfaces[0].network_ip


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
hostssl {database} {APP_USER} {client_range} scram-sha-256
HBA
fi
systemctl enable postgresql@{version}-main
systemctl restart postgresql@{version}-main
password=$(gcloud secrets versions access latest --secret={password_secret} --project={project})
runuser -u postgres -- psql -v ON_ERROR_STOP=1 -v pw="$password" -v db={database} <<'SQL'
SELECT 'CREATE ROLE {APP_USER} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_USER}')\\gexec
ALTER ROLE {APP_USER} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER {APP_USER}', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec
SQL
"""
