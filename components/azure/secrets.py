"""Azure secrets: a Key Vault (RBAC, soft delete, purge protection in prod) holding the app's secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import keyvault

from mbops.components.azure.common import (
    AzureComponent,
    AzureContext,
    Identity,
    KeyVaultRef,
    secret_name_for,
)
from mbops.components.azure.network import app_subnet_ids
from mbops.components.spec import SecretsSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class SecretsArgs:
    ctx: AzureContext
    spec: SecretsSpec = field(default_factory=SecretsSpec)
    app_identity: Identity
    values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # app secret NAME -> its value
    allowed_subnet_ids: Sequence[pulumi.Input[str]] = ()  # subnets (with the Key Vault service endpoint)


class Secrets(AzureComponent):
    """Key Vault with Azure RBAC (no access policies), soft delete for ``recovery_days`` and, in prod, purge
    protection (irreversible by design: a deleted prod vault and its name stay recoverable).

    Network: with a VNet the firewall denies by default, admits the app subnets (service endpoints) and
    trusted Azure services; without one (saas: Container Apps outside a VNet) the public endpoint stays
    open but every request needs an Entra ID token with a data-plane role. The deployer needs no firewall
    exception and no data-plane role: mbops writes secrets through ARM (Contributor on the resource group).
    Each app secret (``values``: ``app.secret_env``, read by the stack wiring) becomes a secret
    ``app-<name>``; the app identity gets "Key Vault Secrets User" on the vault.
    Children: ``vault``, ``secret_<NAME>``, ``app_reader``.
    """

    kind = "secrets"

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx = args.ctx
        vault_name = ctx.name("kv", 24)
        acls: dict[str, object] = {"bypass": "AzureServices", "default_action": "Allow"}
        if args.allowed_subnet_ids:
            acls = {
                "bypass": "AzureServices",
                "default_action": "Deny",
                "virtual_network_rules": [{"id": s} for s in args.allowed_subnet_ids],
            }
        properties: dict[str, object] = {
            "tenant_id": ctx.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": args.spec.recovery_days,
            "network_acls": acls,
            "public_network_access": "Enabled",
            "enabled_for_deployment": False,
            "enabled_for_disk_encryption": False,
            "enabled_for_template_deployment": False,
        }
        if ctx.prod:
            # Only ever set to true: the API rejects turning it off, and leaving it unset keeps dev purgeable.
            properties["enable_purge_protection"] = True
        self.vault = keyvault.Vault(
            f"{name}-vault",
            **self.args("vault", **self.base(vault_name=vault_name, properties=properties)),
            opts=self.opts(),
        )
        self.ref = KeyVaultRef(name=vault_name, resource=self.vault)
        self.secret_names: dict[str, str] = {}
        for env_name in sorted(args.values):
            secret = secret_name_for(env_name)
            self.store_secret(f"secret_{env_name}", vault=self.ref, secret_name=secret, value=args.values[env_name])
            self.secret_names[env_name] = secret
        self.app_reader = self.grant(
            "app_reader",
            role="Key Vault Secrets User",
            scope=self.vault.id,
            principal_id=args.app_identity.principal_id,
            key="app-kv",
        )
        self.uri = self.ref.uri
        self.finish({"vault_name": vault_name, "vault_uri": self.ref.uri})


def build(ctx: BuildContext) -> Built:
    """The stack's Key Vault, holding ``app.secret_env`` (the app references them by secret name)."""
    found = ctx.foundation
    secrets = Secrets(
        ctx.name,
        SecretsArgs(
            ctx=found.azure,
            spec=ctx.spec,
            app_identity=found.identity,
            values=ctx.app_secrets,
            allowed_subnet_ids=app_subnet_ids(ctx),
        ),
    )
    return Built(
        component=secrets, secrets=dict(secrets.secret_names), depends_on=[secrets],
        outputs={"secrets_store": secrets.uri},
    )  # fmt: skip
