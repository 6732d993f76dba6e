"""Azure secrets: a Key Vault (RBAC, soft delete, purge protection in prod, private endpoint) holding the app's
secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import keyvault

from mbops.components.azure.common import (
    AzureComponent,
    AzureContext,
    Identity,
    KeyVaultRef,
    secret_name_for,
)
from mbops.components.azure.network import Network, private_link, vnet_of
from mbops.components.spec import SecretsSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class SecretsArgs:
    ctx: AzureContext
    spec: SecretsSpec = field(default_factory=SecretsSpec)
    app_identity: Identity
    values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # app secret NAME -> its value
    network: Network | None = None  # with a VNet: a private endpoint, and no public network access


class Secrets(AzureComponent):
    """Key Vault with Azure RBAC (no access policies), soft delete for ``recovery_days`` and, in prod, purge
    protection (irreversible by design: a deleted prod vault and its name stay recoverable).

    Name: ``kv-<stack>-<5 random characters>``, drawn once per deployment (``name_suffix``). A destroyed vault
    stays soft-deleted for ``recovery_days`` and keeps its name (purge protection forbids purging it), so a
    fixed name would make ``destroy`` then ``up`` fail for that long; a new deployment gets a new name.
    Network: with a VNet (managed, custom, saas prod) public network access is disabled and the vault is
    reached through a private endpoint in the ``data`` subnet with the ``privatelink.vaultcore.azure.net``
    zone linked to the VNet: Container Apps resolves Key Vault references from the environment's network and
    is not a trusted service, so a firewall with VNet rules would refuse it. Without a VNet (saas dev) the
    public endpoint stays open but every request needs an Entra ID token with a data-plane role.
    The deployer needs no firewall exception and no data-plane role: mbops writes secrets through ARM
    (Contributor on the resource group), which the vault's network rules do not apply to.
    Each app secret (``values``: ``app.secret_env``, read by the stack wiring) becomes a secret
    ``app-<name>``. The app identity gets "Key Vault Secrets User" on each secret it reads, one assignment per
    secret (``secret_<NAME>_reader`` here, the same for the database, cache and push secrets), never on the
    vault: other secrets (the PostgreSQL admin URL) stay out of its reach. The vault and its secrets are kept
    when the stack is destroyed unless its data is released (``destroy --delete-data``); in prod a
    CanNotDelete lock (``lock``) guards the vault until then. ``adopt: [secrets.*]`` cannot take a kept vault
    back (its name is drawn per deployment, so it is unknown to the next one): the next ``up`` makes a new vault
    beside it and writes its secrets there, and the kept vault stays until it is deleted by hand.
    Children: ``name_suffix``, ``vault``, ``secret_<NAME>``, ``secret_<NAME>_reader``, ``lock`` (prod), and
    with a VNet ``private_endpoint``, ``dns_zone``, ``dns_link``, ``dns_group``.
    """

    kind = "secrets"

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, net = args.ctx, args.network
        suffix = random.RandomString(
            f"{name}-name-suffix",
            **self.args("name_suffix", length=5, special=False, upper=False, min_lower=1),
            opts=self.opts(),
        )
        vault_name = pulumi.Output.concat(ctx.name("kv", 18, unique=False), "-", suffix.result)
        private = net is not None
        properties: dict[str, object] = {
            "tenant_id": ctx.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": args.spec.recovery_days,
            "network_acls": {"bypass": "AzureServices", "default_action": "Deny" if private else "Allow"},
            "public_network_access": "Disabled" if private else "Enabled",
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
            # Not adoptable by id: the name's suffix is drawn per deployment (see the class docstring), so the
            # next deployment makes a new vault beside the kept one instead of colliding with it.
            opts=self.data_opts("vault", None),
        )
        self.private_endpoint = None
        if net is not None:
            self.private_endpoint = private_link(
                self, label="vault", target_id=self.vault.id, group_id="vault", zone="privatelink.vaultcore.azure.net",
                net=net, depends_on=[self.vault],
            )  # fmt: skip
        self.ref = KeyVaultRef(name=vault_name, resource=self.vault)
        self.secret_names: dict[str, str] = {}
        for env_name in sorted(args.values):
            secret = secret_name_for(env_name)
            self.store_secret(
                f"secret_{env_name}", vault=self.ref, secret_name=secret, value=args.values[env_name],
                app=args.app_identity,
            )  # fmt: skip
            self.secret_names[env_name] = secret
        self.lock("lock", scope=self.vault.id, why="prod Key Vault", after=self.vault, when=ctx.prod)
        self.uri = self.ref.uri
        self.vault_name = vault_name
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
            network=vnet_of(ctx),
        ),
    )
    ready = [secrets.private_endpoint] if secrets.private_endpoint is not None else []
    return Built(
        component=secrets, secrets=dict(secrets.secret_names), depends_on=[secrets, *ready],
        outputs={"secrets_store": secrets.uri},
    )  # fmt: skip
