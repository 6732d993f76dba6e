"""What the Azure components share: stack context, naming, ARM ids, role assignments, Key Vault secrets.

Azure names many resources globally (storage accounts, Key Vaults, PostgreSQL servers, Cosmos accounts, ...).
Names here are explicit and deterministic, so a plan is readable and stable: ``<prefix>-<stack>-<suffix>``,
where the suffix is a short hash of subscription, stack, environment and region (unique per subscription
without a random component). Because explicit names are plain strings, components pass ``depends_on`` for
ordering (``AzureComponent.opts`` always adds the resource group).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from mbops.components.base import MbopsComponent
from mbops.components.spec import ComponentSpec

# Built-in Azure RBAC role definition ids (same in every tenant).
ROLES: dict[str, str] = {
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "AcrPull": "7f951dfd-4ed3-4e3e-8cb3-2e8ae1c2b04b",
    "Disk Backup Reader": "3e5e47e6-65f7-47ef-90b5-e5dd4d455f24",
    "Disk Snapshot Contributor": "7efff54f-a5b4-42b5-a1c5-5411624893ce",
}
# Cosmos DB built-in data-plane role (SQL API), relative to the account id.
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
PLAN_SECRET_PLACEHOLDER = "unset-at-plan-time"


@dataclass(kw_only=True)
class AzureContext:
    """Where and how a stack's Azure resources are created."""

    stack: str
    environment: str
    location: str
    subscription_id: str
    tenant_id: str
    resource_group_name: str
    resource_group: pulumi.Resource | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    release_data: bool = False  # data resources deletable (the up before `destroy --delete-data`)
    adopting: bool = False  # the stack adopts what a destroy kept (``adopt:``): the kept group comes back with it
    # The app identity's role assignments made so far (per Key Vault secret, storage, registry): the app waits
    # for them to propagate before it starts (see arm.RbacWait).
    app_grants: list[pulumi.Resource] = field(default_factory=list)

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    @property
    def suffix(self) -> str:
        """Six hex characters that make global names unique per subscription, stack and region."""
        key = f"{self.subscription_id}/{self.stack}/{self.environment}/{self.location}"
        return hashlib.sha256(key.encode()).hexdigest()[:6]

    def name(self, prefix: str, max_len: int = 63, *, alnum: bool = False, unique: bool = True) -> str:
        """An Azure name: ``prefix-stack-suffix`` cut to ``max_len`` (alnum: letters and digits only)."""
        suffix = self.suffix if unique else ""
        if alnum:
            stem = re.sub(r"[^a-z0-9]", "", self.stack.lower())
            room = max_len - len(prefix) - len(suffix)
            return f"{prefix}{stem[:room]}{suffix}"
        stem = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", self.stack.lower())).strip("-")
        room = max_len - len(prefix) - len(suffix) - (2 if suffix else 1)
        stem = stem[:room].rstrip("-")
        return "-".join(p for p in (prefix, stem, suffix) if p)

    def rg_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group_name}"

    def resource_id(self, provider: str, *parts: str) -> str:
        """ARM id of a resource in the stack's group: provider ``Microsoft.Network``, parts type/name..."""
        return f"{self.rg_id()}/providers/{provider}/{'/'.join(parts)}"

    def role_definition_id(self, role: str) -> str:
        provider = "providers/Microsoft.Authorization/roleDefinitions"
        return f"/subscriptions/{self.subscription_id}/{provider}/{ROLES[role]}"

    def guid(self, *parts: str) -> str:
        """A deterministic GUID (role assignment names must be GUIDs) for this stack and ``parts``."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((self.rg_id(), *parts))))


class AzureComponent(MbopsComponent):
    """An mbops component on Azure: every child is in the stack's resource group and waits for it."""

    def __init__(
        self,
        name: str,
        spec: ComponentSpec,
        ctx: AzureContext,
        opts: pulumi.ResourceOptions | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        super().__init__("azure", name, spec, ctx.tags, opts)
        self.ctx = ctx
        self.prefix = name
        self._deps = [r for r in (ctx.resource_group, *depends_on) if r is not None]

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        depends_on = [*self._deps, *kwargs.pop("depends_on", [])]
        return super().opts(depends_on=depends_on, **kwargs)

    def data_opts(
        self, child: str, arm_id: str | None, *, protect: bool = False, **kwargs: Any
    ) -> pulumi.ResourceOptions:
        """Options of data resource ``child`` (server, account, vault): kept in Azure when the stack is destroyed
        (``retain_on_delete``) and ``protect``-ed as asked, unless the stack releases its data
        (``release_data``: the up before ``destroy --delete-data``), which turns both off.

        ``arm_id`` is the resource's ARM id (``ctx.resource_id``; names are deterministic): when the stack adopts
        ``child`` (``adopt: [<kind>.<child>]`` or ``<kind>.*``), the next ``up`` takes the kept resource back
        (``import_``) instead of failing on "already exists". None only where the name is drawn per deployment
        (the Key Vault's): a new deployment never collides with what an earlier one kept, and cannot adopt it.
        """
        release = self.ctx.release_data
        adopt = self.adopted(child, arm_id) if arm_id is not None else None
        return self.opts(retain_on_delete=not release, protect=protect and not release, import_=adopt, **kwargs)

    def lock(self, child: str, *, scope: pulumi.Input[str], why: str, after: pulumi.Resource,
             when: bool = True) -> pulumi.Resource | None:  # fmt: skip
        """A CanNotDelete management lock on ``scope`` (prod deletion protection), unless ``when`` is false or the
        stack releases its data (``release_data``: the lock goes before ``destroy --delete-data``)."""
        if not when or self.ctx.release_data:
            return None
        from pulumi_azure_native import authorization

        return authorization.ManagementLockByScope(
            f"{self.prefix}-{child.replace('_', '-')}",
            **self.args(child, scope=scope, level="CanNotDelete", lock_name="mbops-deletion-protection",
                        notes=f"mbops: deletion protection ({why})"),
            opts=self.opts(depends_on=[after]),
        )  # fmt: skip

    def base(self, **extra: Any) -> dict[str, Any]:
        """The args every ARM resource in the group takes: resource group, location, tags."""
        return {
            "resource_group_name": self.ctx.resource_group_name,
            "location": self.ctx.location,
            "tags": dict(self.tags),
            **extra,
        }

    def grant(
        self,
        child: str,
        *,
        role: str,
        scope: pulumi.Input[str],
        principal_id: pulumi.Input[str],
        key: str,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> pulumi.Resource:
        """An Azure RBAC role assignment for a managed identity (a service principal) on ``scope``."""
        from pulumi_azure_native import authorization

        return authorization.RoleAssignment(
            f"{self.prefix}-{child.replace('_', '-')}",
            **self.args(
                child,
                scope=scope,
                principal_id=principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=self.ctx.role_definition_id(role),
                role_assignment_name=self.ctx.guid(key, role),
                description=f"mbops: {role}",
            ),
            opts=self.opts(depends_on=list(depends_on)),
        )

    def store_secret(
        self, child: str, *, vault: KeyVaultRef, secret_name: str, value: pulumi.Input[str], app: Identity | None = None
    ) -> pulumi.Resource:
        """Write ``value`` (made a Pulumi secret) to the stack's Key Vault as ``secret_name``; with ``app``, the app
        identity may read that one secret ("Key Vault Secrets User" scoped to it, child ``<child>_reader``).

        The write goes through ARM (Microsoft.KeyVault/vaults/secrets), so the deployer needs only
        control-plane rights on the vault; the vault's firewall and data-plane RBAC do not apply to it. The secret
        is data: kept with its vault when the stack is destroyed, unless the data is released.
        """
        from pulumi_azure_native import keyvault

        secret = keyvault.Secret(
            f"{self.prefix}-{child.replace('_', '-')}",
            **self.args(
                child,
                resource_group_name=self.ctx.resource_group_name,
                vault_name=vault.name,
                secret_name=secret_name,
                tags=dict(self.tags),
                properties={"value": pulumi.Output.secret(value), "content_type": "text/plain"},
            ),
            # Not adoptable: the vault's name is drawn per deployment (secrets.py), so a new deployment writes
            # its secrets to a new vault; what a destroy kept stays in the old one.
            opts=self.data_opts(child, None, depends_on=[vault.resource], additional_secret_outputs=["properties"]),
        )
        if app is not None:
            self.ctx.app_grants.append(self.grant(
                f"{child}_reader", role="Key Vault Secrets User", scope=vault.secret_id(secret_name),
                principal_id=app.principal_id, key=f"app-kv/{secret_name}", depends_on=[secret],
            ))  # fmt: skip
        return secret


@dataclass(kw_only=True)
class KeyVaultRef:
    """The stack's Key Vault as other components need it: its name, URI and resource (for ordering)."""

    name: pulumi.Input[str]  # unique per deployment (see secrets.py), so known only once created
    resource: pulumi.Resource

    @property
    def uri(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("https://", self.name, ".vault.azure.net/")

    def secret_id(self, secret_name: str) -> pulumi.Output[str]:
        """ARM id of one secret: the scope of a role assignment on that secret alone."""
        return pulumi.Output.concat(self.resource.id, f"/secrets/{secret_name}")  # type: ignore[attr-defined]

    def secret_url(self, secret_name: str) -> pulumi.Output[str]:
        """Versionless secret URL: Container Apps picks up new versions without a redeploy."""
        return pulumi.Output.concat(self.uri, f"secrets/{secret_name}")


@dataclass(kw_only=True)
class Identity:
    """A user-assigned managed identity: ARM id, principal (object) id and client id."""

    id: pulumi.Input[str]
    principal_id: pulumi.Input[str]
    client_id: pulumi.Input[str]


def secret_name_for(env_name: str) -> str:
    """Key Vault / Container Apps secret name for an env var: ``API_KEY`` -> ``app-api-key``."""
    return "app-" + env_name.lower().replace("_", "-")


def storage_encryption() -> dict[str, Any]:
    """A storage account's encryption at rest: Microsoft-managed keys, infrastructure (double) encryption, on
    for blobs and files (every account mbops makes uses this)."""
    return {
        "key_source": "Microsoft.Storage",
        "require_infrastructure_encryption": True,
        "services": {kind: {"enabled": True, "key_type": "Account"} for kind in ("blob", "file")},
    }
