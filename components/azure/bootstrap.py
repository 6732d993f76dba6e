"""Azure side of ``mbops bootstrap``: the state container, the secrets key, a user-assigned identity that one
repository's CI signs in as (federated credentials), and its deployer role."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import authorization, keyvault, managedidentity, resources, storage

from mbops.components.azure.common import AzureComponent, AzureContext, storage_encryption
from mbops.components.spec import ComponentSpec

# Built-in data-plane roles (the same ids in every tenant).
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
ASSIGN = "Microsoft.Authorization/roleAssignments/write"


def constrain_roles(role_ids: Sequence[str]) -> str:
    """An Azure ABAC condition (version 2.0) on a role assignment that lets its holder add and remove role
    assignments of ``role_ids`` only (Microsoft's "Constrain roles" delegation example)."""
    roles = ", ".join(role_ids)
    attribute = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[{attribute}] ForAnyOfAnyValues:GuidEquals {{{roles}}}))"
        " AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[{attribute}] ForAnyOfAnyValues:GuidEquals {{{roles}}}))"
    )


def deploying_subscription(subscription_id: str | None = None) -> tuple[str, str]:
    """(subscription id, tenant id): ``subscription_id`` when given, else the provider's; the tenant is the
    signed-in one."""
    client = authorization.get_client_config()
    return subscription_id or client.subscription_id, client.tenant_id


@dataclass(kw_only=True)
class BootstrapArgs:
    """What the bootstrap makes on Azure; names are decided by the program (``stacks/bootstrap.py``)."""

    subscription_id: str
    tenant_id: str
    location: str
    resource_group: str
    storage_account: str
    container: str
    vault_name: str
    key_name: str
    identity_name: str
    issuer_url: str
    audience: str = "api://AzureADTokenExchange"
    subjects: Sequence[str]  # one federated credential per subject (exact match)
    role_definition: Mapping[str, Any]  # the deployer role definition (Actions, AssignableScopes, ...)
    role_name: str  # unique in the tenant
    guid_namespace: str  # role definition and assignment names are GUIDs derived from it
    # The role definition GUIDs the stacks assign: the deploy identity may assign (and remove) those only.
    # None: not known before deploy, so its role assignments cannot be constrained.
    assignable_roles: Sequence[str] | None = ()
    retention_days: int = 30  # soft delete of state blobs and containers
    noncurrent_version_days: int = 90
    spec: ComponentSpec = field(default_factory=ComponentSpec)
    tags: Mapping[str, str] = field(default_factory=dict)


class Bootstrap(AzureComponent):
    """Resource group, state storage, Key Vault key, deploy identity with federated credentials, its roles.

    Identity: a user-assigned managed identity with one federated identity credential per CI subject, rather
    than an Entra app registration: azure-native (ARM) creates both the identity and its credentials, while app
    registrations live in Microsoft Graph, outside ARM (they need the azuread provider and directory rights).
    ``azure/login`` and the ``ARM_USE_OIDC`` provider settings sign in as the identity by its client id.
    Federated credentials of one identity are written one after another (Entra refuses concurrent writes).

    - ``account``: StorageV2, zone-redundant, HTTPS only, TLS 1.2, no anonymous blob access, no shared keys
      (Entra ID only: the state backend and CI sign in with their identity), infrastructure encryption;
      ``blob_service``: versioning, soft delete of blobs and containers for ``retention_days``;
      ``lifecycle``: old versions deleted after ``noncurrent_version_days``; ``container``: private. Blob leases
      are not needed: Pulumi keeps its lock files in the container. Kept when the bootstrap is destroyed.
    - ``vault``: Key Vault with Azure RBAC, soft delete and purge protection; ``key``: RSA 3072 for
      ``azurekeyvault://``. No automatic rotation: Pulumi's Key Vault secrets provider decrypts with the key's
      latest version, so a rotated key would strand every stack's secrets (rotate by changing the stacks'
      secrets provider). Both kept when the bootstrap is destroyed.
    - ``role`` (the deployer custom role) assigned on the subscription (``role_assignment``): when the stacks
      assign roles, a condition lets the identity assign (and remove) only the roles they name; Storage Blob Data
      Contributor on the state container only (``state_access``); Key Vault Crypto User on the key only
      (``key_access``).

    Children: ``resource_group``, ``account``, ``blob_service``, ``lifecycle``, ``container``, ``vault``, ``key``,
    ``identity``, ``credential_<n>``, ``role``, ``role_assignment``, ``state_access``, ``key_access``.
    """

    kind = "bootstrap"

    def __init__(self, name: str, args: BootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ctx = AzureContext(stack=name, environment="prod", location=args.location,
                           subscription_id=args.subscription_id, tenant_id=args.tenant_id,
                           resource_group_name=args.resource_group, tags=args.tags)  # fmt: skip
        super().__init__(name, args.spec, ctx, opts)
        group = resources.ResourceGroup(
            f"{name}-rg",
            **self.args("resource_group", resource_group_name=args.resource_group, location=args.location,
                        tags=dict(self.tags)),
            opts=self.opts(),
        )  # fmt: skip
        ctx.resource_group = group
        self._deps.append(group)
        self._state(name, args)
        self._secrets_key(name, args)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-deployer",
            **self.args("identity", **self.base(resource_name_=args.identity_name)),
            opts=self.opts(),
        )
        previous: list[pulumi.Resource] = [identity]
        for index, subject in enumerate(args.subjects, start=1):
            previous = [managedidentity.FederatedIdentityCredential(
                f"{name}-credential-{index}",
                **self.args(f"credential_{index}", resource_group_name=args.resource_group,
                            resource_name_=args.identity_name,
                            federated_identity_credential_resource_name=_credential_name(subject),
                            issuer=args.issuer_url, subject=subject, audiences=[args.audience]),
                opts=self.opts(depends_on=previous),
            )]  # fmt: skip
        subscription = f"/subscriptions/{args.subscription_id}"
        document = args.role_definition
        role_id = self._guid(args, "role-definition")
        role = authorization.RoleDefinition(
            f"{name}-role",
            **self.args("role", role_definition_id=role_id, scope=subscription, role_name=args.role_name,
                        description=document.get("Description", ""), role_type="CustomRole",
                        permissions=[{"actions": list(document["Actions"]),
                                      "not_actions": list(document.get("NotActions") or []),
                                      "data_actions": list(document.get("DataActions") or []),
                                      "not_data_actions": list(document.get("NotDataActions") or [])}],
                        assignable_scopes=list(document.get("AssignableScopes") or [subscription])),
            opts=self.opts(),
        )  # fmt: skip
        roles = f"{subscription}/providers/Microsoft.Authorization/roleDefinitions"
        account_id = self.ctx.resource_id("Microsoft.Storage", "storageAccounts", args.storage_account)
        vault_id = self.ctx.resource_id("Microsoft.KeyVault", "vaults", args.vault_name)
        # Scopes and role ids are written out (ARM ids are names), so the plan shows exactly what is granted.
        condition = None
        if ASSIGN in document["Actions"] and args.assignable_roles:
            condition = constrain_roles(args.assignable_roles)
        self._assign("role_assignment", name, args, scope=subscription, role=f"{roles}/{role_id}",
                     principal=identity.principal_id, depends_on=[role], condition=condition)  # fmt: skip
        self._assign("state_access", name, args,
                     scope=f"{account_id}/blobServices/default/containers/{args.container}",
                     role=f"{roles}/{BLOB_DATA_CONTRIBUTOR}", principal=identity.principal_id,
                     depends_on=[self.container])  # fmt: skip
        self._assign("key_access", name, args, scope=f"{vault_id}/keys/{args.key_name}",
                     role=f"{roles}/{KEY_VAULT_CRYPTO_USER}", principal=identity.principal_id,
                     depends_on=[self.key])  # fmt: skip
        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        self.resource_group_name = args.resource_group
        self.role_definition_id = f"{roles}/{role_id}"
        self.finish({"storage_account": args.storage_account, "container": args.container, "vault": args.vault_name,
                     "client_id": identity.client_id, "role": self.role_definition_id})  # fmt: skip

    def _guid(self, args: BootstrapArgs, *parts: str) -> str:
        return str(uuid.uuid5(uuid.UUID(args.guid_namespace), "/".join(parts)))

    def _assign(self, child: str, name: str, args: BootstrapArgs, *, scope: pulumi.Input[str],
                role: pulumi.Input[str], principal: pulumi.Input[str], depends_on: list[pulumi.Resource],
                condition: str | None = None) -> None:  # fmt: skip
        conditional = {"condition": condition, "condition_version": "2.0"} if condition else {}
        authorization.RoleAssignment(
            f"{name}-{child.replace('_', '-')}",
            **self.args(child, scope=scope, role_definition_id=role, principal_id=principal,
                        principal_type="ServicePrincipal", role_assignment_name=self._guid(args, child),
                        description=f"mbops CI: {child.replace('_', ' ')}", **conditional),
            opts=self.opts(depends_on=depends_on),
        )  # fmt: skip

    def _state(self, name: str, args: BootstrapArgs) -> None:
        account_args = {"resource_group_name": args.resource_group, "account_name": args.storage_account}
        self.account = storage.StorageAccount(
            f"{name}-state",
            **self.args("account", **self.base(
                account_name=args.storage_account, kind="StorageV2", sku={"name": "Standard_ZRS"}, access_tier="Hot",
                minimum_tls_version="TLS1_2", enable_https_traffic_only=True, allow_blob_public_access=False,
                allow_shared_key_access=False, default_to_o_auth_authentication=True,
                allow_cross_tenant_replication=False, is_local_user_enabled=False, is_sftp_enabled=False,
                public_network_access="Enabled", encryption=storage_encryption(),
                network_rule_set={"bypass": "AzureServices", "default_action": "Allow"},
            )),
            opts=self.opts(retain_on_delete=True),
        )  # fmt: skip
        blob_service = storage.BlobServiceProperties(
            f"{name}-state-blob-service",
            **self.args("blob_service", **account_args, blob_services_name="default", is_versioning_enabled=True,
                        delete_retention_policy={"enabled": True, "days": args.retention_days},
                        container_delete_retention_policy={"enabled": True, "days": args.retention_days}),
            opts=self.opts(depends_on=[self.account]),
        )  # fmt: skip
        expire = {"delete": {"days_after_creation_greater_than": args.noncurrent_version_days}}
        storage.ManagementPolicy(
            f"{name}-state-lifecycle",
            **self.args("lifecycle", **account_args, management_policy_name="default", policy={"rules": [{
                "name": "expire-noncurrent-versions", "enabled": True, "type": "Lifecycle",
                "definition": {"filters": {"blob_types": ["blockBlob"]}, "actions": {"version": expire}},
            }]}),
            opts=self.opts(depends_on=[blob_service]),
        )  # fmt: skip
        self.container = storage.BlobContainer(
            f"{name}-state-container",
            **self.args("container", **account_args, container_name=args.container, public_access="None"),
            opts=self.opts(retain_on_delete=True, depends_on=[self.account]),
        )

    def _secrets_key(self, name: str, args: BootstrapArgs) -> None:
        self.vault = keyvault.Vault(
            f"{name}-vault",
            **self.args("vault", **self.base(vault_name=args.vault_name, properties={
                "tenant_id": args.tenant_id, "sku": {"family": "A", "name": "standard"},
                "enable_rbac_authorization": True, "enable_soft_delete": True, "soft_delete_retention_in_days": 90,
                "enable_purge_protection": True, "public_network_access": "Enabled",
                "network_acls": {"bypass": "AzureServices", "default_action": "Allow"},
                "enabled_for_deployment": False, "enabled_for_disk_encryption": False,
                "enabled_for_template_deployment": False,
            })),
            opts=self.opts(retain_on_delete=True),
        )  # fmt: skip
        self.key = keyvault.Key(
            f"{name}-key",
            **self.args("key", resource_group_name=args.resource_group, vault_name=args.vault_name,
                        key_name=args.key_name, tags=dict(self.tags),
                        properties={"kty": "RSA", "key_size": 3072, "key_ops": ["encrypt", "decrypt"],
                                    "attributes": {"enabled": True}}),
            opts=self.opts(retain_on_delete=True, depends_on=[self.vault]),
        )  # fmt: skip


def _credential_name(subject: str) -> str:
    """A federated credential's name (3-120 letters, digits, '-' and '_', starting with a letter or digit)."""
    tail = subject.rsplit(":", 1)[-1]
    kind = "env" if ":environment:" in subject else "branch"
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{kind}-{tail}")
    return f"{cleaned[:100]}-{uuid.uuid5(uuid.NAMESPACE_URL, subject).hex[:8]}"
