"""Self-hosted PostgreSQL on an Azure VM (custom profile, ``components.database.self_hosted: true``).

A VM without a public IP in the ``data`` subnet (whose NSG admits 5432 only from the app subnets), a
separate managed data disk for the data directory (platform-key encryption at rest, no network export,
kept when the VM is replaced), PostgreSQL from the PostgreSQL project's apt repository set up by cloud-init,
TLS on, scram-sha-256 logins from the app CIDRs only. The admin password never enters custom data: the VM
reads it from Key Vault with its own identity, which may read that one secret only. The admin may create
roles (CREATEROLE), so the app runtime's setup job creates the app's own role as on Flexible Server (a VM
made before that change needs ``ALTER ROLE mbopsadmin CREATEROLE`` once, through Run Command).
The data disk is kept when the stack is destroyed (unless its data is released); the next ``up`` takes it back with
``adopt: [database.*]`` (``database.data_disk``), and the new VM's first boot sets the admin's password on the kept
cluster to the new deployment's. The data disk is backed up daily by Azure Backup for disks (incremental snapshots kept
``backup_retention_days``: ``disk_backup.py``). There is no standby and no point-in-time restore (a restore is
a whole-disk snapshot): the plan declares that as a limitation of the database kind (``database.self_hosted_gap``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_tls as tls
from pulumi_azure_native import compute, managedidentity, network

from mbops.components.azure import cloudinit, vm
from mbops.components.preview import readable_in_preview
from mbops.errors import ConfigError

if TYPE_CHECKING:
    from mbops.components.azure.database import Database, DatabaseArgs

PASSWORD_SECRET = "database-password"


def build_self_hosted(db: Database, args: DatabaseArgs) -> tuple[str, pulumi.Resource]:
    """Create the VM, its disk, identity and password secret; return the host the app connects to and the VM."""
    from mbops.components.azure.database import static_ip

    ctx, spec, name = args.ctx, args.spec, db.prefix
    if args.data_subnet_id is None or args.data_cidr is None:
        raise ConfigError("azure: components.database.self_hosted needs components.network")
    zone = ["1"]
    password_secret = db.store_secret(
        "password_secret", vault=args.vault, secret_name=PASSWORD_SECRET, value=db.password.result
    )
    identity = managedidentity.UserAssignedIdentity(
        f"{name}-vm-identity",
        **db.args("vm_identity", **db.base(resource_name_=ctx.name("id-postgres", 128, unique=False))),
        opts=db.opts(),
    )
    reader = db.grant(
        "vm_reader",
        role="Key Vault Secrets User",
        scope=pulumi.Output.concat(args.vault.resource.id, f"/secrets/{PASSWORD_SECRET}"),
        principal_id=identity.principal_id,
        key="postgres-vm-password",
        depends_on=[password_secret],
    )
    disk_name = ctx.name("disk-pgdata", 80, unique=False)
    disk = compute.Disk(
        f"{name}-data-disk",
        **db.args(
            "data_disk",
            **db.base(
                disk_name=disk_name,
                disk_size_gb=spec.storage_gb,
                zones=zone,
                creation_data={"create_option": "Empty"},
                sku={"name": "Premium_LRS"},
                encryption={"type": "EncryptionAtRestWithPlatformKey"},
                network_access_policy="DenyAll",
                public_network_access="Disabled",
            ),
        ),
        opts=db.data_opts(
            "data_disk", ctx.resource_id("Microsoft.Compute", "disks", disk_name), protect=spec.deletion_protection
        ),
    )
    from mbops.components.azure.disk_backup import back_up_disk

    back_up_disk(db, disk=disk, disk_name=disk_name, days=spec.backup_retention_days)
    host = static_ip(args.data_cidr)
    nic = network.NetworkInterface(
        f"{name}-nic",
        **db.args(
            "nic",
            **db.base(
                network_interface_name=ctx.name("nic-postgres", 80, unique=False),
                ip_configurations=[
                    {
                        "name": "ipconfig",
                        "primary": True,
                        "subnet": {"id": args.data_subnet_id},
                        "private_ip_allocation_method": "Static",
                        "private_ip_address": host,
                    }
                ],
            ),
        ),
        opts=db.opts(),
    )
    key = tls.PrivateKey(
        f"{name}-ssh-key", **db.args("ssh_key", algorithm="RSA", rsa_bits=4096), opts=db.opts()
    )
    # The vault's name is an Output too (its suffix is random): both are resolved before the document is made.
    custom_data = pulumi.Output.all(*readable_in_preview([identity.client_id, args.vault.name])).apply(
        lambda v: cloudinit.encode(
            cloudinit.postgres_server(
                version=spec.engine_version,
                database=spec.database_name,
                admin="mbopsadmin",
                vault=v[1],
                client_id=v[0],
                password_secret=PASSWORD_SECRET,
                allowed_cidrs=args.app_cidrs,
            )
        )
    )
    size = vm.VM_SIZES[spec.size]
    machine = compute.VirtualMachine(
        f"{name}-vm",
        **db.args(
            "vm",
            **db.base(
                vm_name=ctx.name("vm-postgres", 64, unique=False),
                zones=zone,
                hardware_profile={"vm_size": size},
                identity=vm.identity(identity.id),
                os_profile={
                    "computer_name": "postgres",
                    "admin_username": vm.ADMIN_USER,
                    "custom_data": custom_data,
                    "linux_configuration": vm.linux_configuration(key.public_key_openssh),
                },
                storage_profile={
                    "image_reference": dict(vm.UBUNTU_LTS),
                    "os_disk": {
                        "create_option": "FromImage",
                        "caching": "ReadWrite",
                        "delete_option": "Delete",
                        "disk_size_gb": vm.MIN_OS_DISK_GB,
                        "managed_disk": {"storage_account_type": "Premium_LRS"},
                    },
                    "data_disks": [
                        {
                            "lun": 0,
                            "create_option": "Attach",
                            "caching": "None",
                            "delete_option": "Detach",
                            "managed_disk": {"id": disk.id},
                        }
                    ],
                },
                network_profile={
                    "network_interfaces": [{"id": nic.id, "primary": True, "delete_option": "Delete"}]
                },
                security_profile=vm.security_profile(),
                diagnostics_profile={"boot_diagnostics": {"enabled": True}},
            ),
        ),
        opts=db.opts(depends_on=[reader]),
    )
    compute.VirtualMachineExtension(
        f"{name}-vm-entra-ssh",
        **db.args(
            "vm_entra_ssh",
            **db.base(
                vm_name=ctx.name("vm-postgres", 64, unique=False),
                vm_extension_name="AADSSHLoginForLinux",
                **{k: v for k, v in vm.entra_ssh_extension().items() if k != "name"},
            ),
        ),
        opts=db.opts(depends_on=[machine]),
    )
    return host, machine
