"""Azure Backup for a managed disk: the self-hosted PostgreSQL VM's data disk, snapshotted daily.

A Backup vault (its system identity does the work), a policy (incremental snapshots at 03:00 UTC into the
operational store, kept ``days`` days) and the disk's backup instance. The snapshots are incremental managed
disk snapshots in the stack's resource group: the vault's identity may read the disk ("Disk Backup Reader")
and manage snapshots in the group ("Disk Snapshot Contributor"), and the instance waits for both to propagate
(Azure validates them when the instance is created).

Data guard: vault, policy and instance are data (kept on ``destroy``, so the snapshots outlive the stack),
and in prod the vault keeps a stopped instance's recovery points 14 days (soft delete) - off in dev and when
the stack releases its data, so ``destroy --delete-data`` can delete the vault. The next ``up`` takes them back
with ``adopt: [database.*]`` (children ``backup_vault``, ``backup_policy``, ``backup``).
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import dataprotection

from mbops.components.azure.arm import RbacWait
from mbops.components.azure.common import AzureComponent

DISKS = "Microsoft.Compute/disks"
SCHEDULE = "R/2024-01-01T03:00:00+00:00/P1D"  # daily at 03:00 UTC
POLICY = "disk-daily"
SOFT_DELETE_DAYS = 14  # the service's minimum
OPERATIONAL = {"data_store_type": "OperationalStore", "object_type": "DataStoreInfoBase"}


def back_up_disk(
    owner: AzureComponent, *, disk: pulumi.Resource, disk_name: str, days: int
) -> pulumi.Resource:
    """Daily snapshots of ``disk`` kept ``days`` days; returns the backup instance (children ``backup_*``)."""
    ctx, name = owner.ctx, owner.prefix
    soft_delete = ctx.prod and not ctx.release_data
    vault_name = ctx.name("bvault", 50, unique=False)
    vault_id = ctx.resource_id("Microsoft.DataProtection", "backupVaults", vault_name)
    vault = dataprotection.BackupVault(
        f"{name}-backup-vault",
        **owner.args(
            "backup_vault",
            **owner.base(
                vault_name=vault_name,
                identity={"type": "SystemAssigned"},
                properties={
                    # Disk snapshots stay in the operational store; the vault store's redundancy is required.
                    "storage_settings": [{"datastore_type": "VaultStore", "type": "LocallyRedundant"}],
                    "security_settings": {"soft_delete_settings": {
                        "state": "On" if soft_delete else "Off", "retention_duration_in_days": SOFT_DELETE_DAYS,
                    }},
                },
            ),
        ),
        opts=owner.data_opts("backup_vault", vault_id),
    )  # fmt: skip
    policy = dataprotection.BackupPolicy(
        f"{name}-backup-policy",
        **owner.args(
            "backup_policy",
            resource_group_name=ctx.resource_group_name,
            vault_name=vault_name,
            backup_policy_name=POLICY,
            properties={
                "object_type": "BackupPolicy",
                "datasource_types": [DISKS],
                "policy_rules": [
                    {
                        "object_type": "AzureBackupRule",
                        "name": "BackupDaily",
                        "backup_parameters": {"object_type": "AzureBackupParams", "backup_type": "Incremental"},
                        "data_store": OPERATIONAL,
                        "trigger": {
                            "object_type": "ScheduleBasedTriggerContext",
                            "schedule": {"repeating_time_intervals": [SCHEDULE], "time_zone": "UTC"},
                            "tagging_criteria": [{
                                "is_default": True, "tagging_priority": 99,
                                "tag_info": {"tag_name": "Default"},
                            }],
                        },
                    },
                    {
                        "object_type": "AzureRetentionRule",
                        "name": "Default",
                        "is_default": True,
                        "lifecycles": [{
                            "delete_after": {"object_type": "AbsoluteDeleteOption", "duration": f"P{days}D"},
                            "source_data_store": OPERATIONAL,
                        }],
                    },
                ],
            },
        ),
        opts=owner.data_opts("backup_policy", f"{vault_id}/backupPolicies/{POLICY}", depends_on=[vault]),
    )  # fmt: skip
    principal = vault.identity.apply(lambda i: i.principal_id if i else None)  # type: ignore[attr-defined]
    grants = [
        owner.grant("backup_disk_reader", role="Disk Backup Reader", scope=disk.id,  # type: ignore[attr-defined]
                    principal_id=principal, key=f"backup/{disk_name}", depends_on=[vault]),
        owner.grant("backup_snapshot_writer", role="Disk Snapshot Contributor", scope=ctx.rg_id(),
                    principal_id=principal, key=f"backup/{disk_name}/snapshots", depends_on=[vault]),
    ]  # fmt: skip
    propagated = RbacWait(f"{name}-backup-rbac-wait", grants, opts=owner.opts())
    return dataprotection.BackupInstance(
        f"{name}-backup",
        **owner.args(
            "backup",
            resource_group_name=ctx.resource_group_name,
            vault_name=vault_name,
            backup_instance_name=disk_name,
            tags=dict(owner.tags),
            properties={
                "object_type": "BackupInstance",
                "friendly_name": disk_name,
                "data_source_info": {
                    "object_type": "Datasource", "datasource_type": DISKS, "resource_type": DISKS,
                    "resource_id": disk.id, "resource_uri": disk.id,  # type: ignore[attr-defined]
                    "resource_name": disk_name, "resource_location": ctx.location,
                },
                "policy_info": {
                    "policy_id": policy.id,
                    "policy_parameters": {"data_store_parameters_list": [{
                        "object_type": "AzureOperationalStoreParameters", "data_store_type": "OperationalStore",
                        "resource_group_id": ctx.rg_id(),
                    }]},
                },
            },
        ),
        opts=owner.data_opts(
            "backup", f"{vault_id}/backupInstances/{disk_name}", depends_on=[policy, propagated, disk]
        ),
    )  # fmt: skip
