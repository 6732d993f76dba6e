"""Shared by the Azure VM components (scale set, self-hosted database): image, size, login and hardening.

Login: Azure refuses a Linux VM without either a password or an SSH key, so mbops generates an RSA key
(pulumi-tls) whose private half stays only in the Pulumi state as a secret; password login is disabled
and nothing exposes port 22 to the internet. Operators get in without a bastion or a key: ``az vm
run-command`` / ``az vmss run-command`` (through the VM agent, no network path needed) or, from inside
the VNet, ``az ssh vm`` with their Entra ID identity (AADSSHLoginForLinux extension, "Virtual Machine
Administrator Login" role).
"""

from __future__ import annotations

from typing import Any

from mbops.errors import ConfigError

ADMIN_USER = "azureops"
# Ubuntu 24.04 LTS, Gen2 (Trusted Launch capable).
UBUNTU_LTS = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
VM_SIZES = {"small": "Standard_B2s_v2", "medium": "Standard_D2s_v5", "large": "Standard_D4s_v5"}
MIN_OS_DISK_GB = 30  # the Ubuntu image's own disk size; Azure rejects a smaller OS disk


def image_reference(os_image: str | None, field: str) -> dict[str, str]:
    """``os_image`` as an image reference: a marketplace URN ``publisher:offer:sku:version`` or an id."""
    if not os_image:
        return dict(UBUNTU_LTS)
    if os_image.startswith("/subscriptions/"):
        return {"id": os_image}
    parts = os_image.split(":")
    if len(parts) != 4 or not all(parts):
        raise ConfigError(
            f"{field}: '{os_image}' is not an Azure image; use a marketplace URN publisher:offer:sku:version "
            "(e.g. Canonical:ubuntu-24_04-lts:server:latest) or an image resource id"
        )
    return dict(zip(("publisher", "offer", "sku", "version"), parts, strict=True))


def security_profile() -> dict[str, Any]:
    """Trusted Launch (secure boot, vTPM). Disks are encrypted at rest by the platform either way.

    Encryption at host (temp disk and caches encrypted too) is opt-in: a VM asking for it fails to create
    unless the subscription registered the feature (``az feature register --namespace Microsoft.Compute
    --name EncryptionAtHost``, then ``az provider register -n Microsoft.Compute``). Turn it on with
    ``overrides: {scale_set: {virtual_machine_profile: {security_profile: {encryption_at_host: true}}}}``
    (``vm`` instead of ``scale_set`` for a self-hosted database).
    """
    return {
        "security_type": "TrustedLaunch",
        "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True},
    }


def identity(user_assigned: Any) -> dict[str, Any]:
    """System-assigned (the Entra SSH login extension signs users in with it) plus the user-assigned identity
    the VM's software uses (Key Vault, registry, monitoring agent)."""
    return {"type": "SystemAssigned, UserAssigned", "user_assigned_identities": [user_assigned]}


def monitor_agent(identity_id: Any) -> dict[str, Any]:
    """The Azure Monitor Agent extension, authenticating with the user-assigned identity ``identity_id``."""
    return {
        "name": "AzureMonitorLinuxAgent",
        "publisher": "Microsoft.Azure.Monitor",
        "type": "AzureMonitorLinuxAgent",
        "type_handler_version": "1.0",
        "auto_upgrade_minor_version": True,
        "enable_automatic_upgrade": True,
        "settings": {"authentication": {"managedIdentity": {"identifier-name": "mi_res_id",
                                                            "identifier-value": identity_id}}},
    }  # fmt: skip


def linux_configuration(public_key: Any) -> dict[str, Any]:
    return {
        "disable_password_authentication": True,
        "provision_vm_agent": True,
        "ssh": {
            "public_keys": [{"path": f"/home/{ADMIN_USER}/.ssh/authorized_keys", "key_data": public_key}]
        },
    }


def entra_ssh_extension() -> dict[str, Any]:
    """VM extension for Entra ID SSH login (``az ssh vm``), instead of shared keys; it needs the VM's
    system-assigned identity (see ``identity``)."""
    return {
        "name": "AADSSHLoginForLinux",
        "publisher": "Microsoft.Azure.ActiveDirectory",
        "type": "AADSSHLoginForLinux",
        "type_handler_version": "1.0",
        "auto_upgrade_minor_version": True,
    }
