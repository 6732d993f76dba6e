"""Azure storage: a private, TLS 1.2, Entra-only, versioned StorageV2 account with a private container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import storage

from mbops.components.azure.cdn import private_cdn
from mbops.components.azure.common import AzureComponent, AzureContext, Identity, storage_encryption
from mbops.components.azure.network import app_subnet_ids
from mbops.components.spec import StorageSpec
from mbops.components.wiring import BuildContext, Built

CONTAINER = "app-files"
PUBLIC_CONTAINER = "public"  # the public assets' container: CDN_URL/<public_prefix>x is blob <public_prefix>x in it


@dataclass(kw_only=True)
class StorageArgs:
    ctx: AzureContext
    spec: StorageSpec = field(default_factory=StorageSpec)
    app_identity: Identity | None = None
    allowed_subnet_ids: Sequence[pulumi.Input[str]] = ()  # with a VNet: the firewall admits only these subnets
    public_assets: bool = False  # a CDN serves the public prefix: a separate public-assets account for it
    private_cdn: bool = False  # the CDN (Front Door Premium) reads the public assets over Private Link


class Storage(AzureComponent):
    """Storage account + private blob container, with managed identities instead of keys.

    Secure defaults: HTTPS only, TLS 1.2, no anonymous blob access, shared keys (and SAS from them) off,
    Entra ID as the portal default, infrastructure (double) encryption, no cross-tenant replication, no
    SFTP/local users. Blob versioning with a lifecycle rule expiring old versions after
    ``noncurrent_version_days``, soft delete for blobs and containers. Zone-redundant (ZRS) in prod.
    With a VNet the firewall denies by default and admits the app subnets (service endpoints); without one
    (saas dev) the public endpoint answers only Entra-authenticated requests. The app identity gets "Storage
    Blob Data Contributor" on the account. No CDN ever reads this account: user uploads stay private.

    Public assets (``public_assets``: the stack has a CDN): a second account holds what the CDN serves, in the
    container ``public`` (the app writes blob ``<public_prefix>x`` there, served as ``CDN_URL/<public_prefix>x``;
    it gets the container's URL as ``STORAGE_PUBLIC_URL`` and "Storage Blob Data Contributor" on the account).
    With a private CDN (prod: Front Door Premium over Private Link) the container allows anonymous reads but the
    account's firewall admits only the app subnets, so the only anonymous reader is Front Door through its
    approved private endpoint (Front Door cannot sign requests with its identity over Private Link). Without
    (dev: Front Door Standard over the public endpoint) nothing is anonymous: Front Door signs its reads with
    its managed identity (origin authentication) and the account answers Entra-authenticated requests only.

    Both accounts and their children are kept when the stack is destroyed unless its data is released
    (``destroy --delete-data``, which deletes them with their blobs), and locked (CanNotDelete) in prod until
    then; the next ``up`` takes them back with ``adopt: [storage.*]`` (or ``storage.<child>``). ``force_destroy``
    has no Azure counterpart (deleting an account deletes its blobs).
    Children: ``account``, ``blob_service``, ``container``, ``lifecycle``, ``app_writer``, ``lock`` (prod), and
    with public assets ``public_account``, ``public_blob_service``, ``public_container``, ``public_writer``,
    ``public_lock`` (prod).
    """

    kind = "storage"

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec = args.ctx, args.spec
        self.account_name = ctx.name("st", 24, alnum=True)
        account_id = ctx.resource_id("Microsoft.Storage", "storageAccounts", self.account_name)
        rules: dict[str, Any] = {"bypass": "AzureServices", "default_action": "Allow"}
        if args.allowed_subnet_ids:
            rules = subnet_rules(args.allowed_subnet_ids)
        self.account = storage.StorageAccount(
            f"{name}-account",
            **self.args(
                "account",
                **self.base(
                    account_name=self.account_name,
                    kind="StorageV2",
                    sku={"name": "Standard_ZRS" if ctx.prod else "Standard_LRS"},
                    access_tier="Hot",
                    minimum_tls_version="TLS1_2",
                    enable_https_traffic_only=True,
                    allow_blob_public_access=False,
                    allow_shared_key_access=False,
                    default_to_o_auth_authentication=True,
                    allow_cross_tenant_replication=False,
                    is_local_user_enabled=False,
                    is_sftp_enabled=False,
                    public_network_access="Enabled",
                    network_rule_set=rules,
                    encryption=storage_encryption(),
                ),
            ),
            opts=self.data_opts("account", account_id),
        )
        account_args = {"resource_group_name": ctx.resource_group_name, "account_name": self.account_name}
        retention = 30 if ctx.prod else 7
        blob_service: dict[str, Any] = {
            **account_args,
            "blob_services_name": "default",
            "is_versioning_enabled": spec.versioning,
            "delete_retention_policy": {"enabled": True, "days": retention},
            "container_delete_retention_policy": {"enabled": True, "days": retention},
        }
        if spec.cors_origins:
            blob_service["cors"] = {
                "cors_rules": [
                    {
                        "allowed_origins": spec.cors_origins,
                        "allowed_methods": ["GET", "PUT", "HEAD"],
                        "allowed_headers": ["*"],
                        "exposed_headers": ["ETag"],
                        "max_age_in_seconds": 3000,
                    }
                ]
            }
        self.blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            **self.args("blob_service", **blob_service),
            opts=self.data_opts("blob_service", f"{account_id}/blobServices/default", depends_on=[self.account]),
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            **self.args("container", **account_args, container_name=CONTAINER, public_access="None"),
            opts=self.data_opts(
                "container", f"{account_id}/blobServices/default/containers/{CONTAINER}", depends_on=[self.account]
            ),
        )
        if spec.versioning:
            expire = {"delete": {"days_after_creation_greater_than": spec.noncurrent_version_days}}
            rule = {
                "name": "expire-noncurrent-versions",
                "enabled": True,
                "type": "Lifecycle",
                "definition": {"filters": {"blob_types": ["blockBlob"]}, "actions": {"version": expire}},
            }
            storage.ManagementPolicy(
                f"{name}-lifecycle",
                **self.args(
                    "lifecycle", **account_args, management_policy_name="default", policy={"rules": [rule]}
                ),
                opts=self.data_opts(
                    "lifecycle", f"{account_id}/managementPolicies/default", depends_on=[self.blob_service]
                ),
            )
        if args.app_identity is not None:
            ctx.app_grants.append(self.grant(
                "app_writer", role="Storage Blob Data Contributor", scope=self.account.id,
                principal_id=args.app_identity.principal_id, key="app-blob",
            ))  # fmt: skip
        self.lock("lock", scope=self.account.id, why="prod storage account", after=self.account, when=ctx.prod)
        self.blob_host = f"{self.account_name}.blob.core.windows.net"
        self.container_name = CONTAINER
        self.container_url = f"https://{self.blob_host}/{CONTAINER}"
        self.public_account = None
        self.public_url: str | None = None
        if args.public_assets:
            self._public_assets(name, args)
        self.finish({
            "account_name": self.account_name, "container": CONTAINER, "container_url": self.container_url,
            "public_url": self.public_url,
        })  # fmt: skip

    def _public_assets(self, name: str, args: StorageArgs) -> None:
        """The account the CDN serves (see the class docstring)."""
        ctx, anonymous = args.ctx, args.private_cdn
        self.public_account_name = ctx.name("stpub", 24, alnum=True)
        account_id = ctx.resource_id("Microsoft.Storage", "storageAccounts", self.public_account_name)
        # Anonymous: the app subnets only, not even Azure's trusted services (Front Door comes over Private Link).
        rules = (
            {**subnet_rules(args.allowed_subnet_ids), "bypass": "None"} if anonymous
            else {"bypass": "AzureServices", "default_action": "Allow"}
        )  # fmt: skip
        self.public_account = storage.StorageAccount(
            f"{name}-public-account",
            **self.args(
                "public_account",
                **self.base(
                    account_name=self.public_account_name, kind="StorageV2",
                    sku={"name": "Standard_ZRS" if ctx.prod else "Standard_LRS"}, access_tier="Hot",
                    minimum_tls_version="TLS1_2", enable_https_traffic_only=True,
                    # Anonymous reads only where nothing but Front Door's private endpoint can reach the account.
                    allow_blob_public_access=anonymous, allow_shared_key_access=False,
                    default_to_o_auth_authentication=True, allow_cross_tenant_replication=False,
                    is_local_user_enabled=False, is_sftp_enabled=False, public_network_access="Enabled",
                    network_rule_set=rules, encryption=storage_encryption(),
                ),
            ),
            opts=self.data_opts("public_account", account_id),
        )  # fmt: skip
        names = {"resource_group_name": ctx.resource_group_name, "account_name": self.public_account_name}
        retention = 30 if ctx.prod else 7
        storage.BlobServiceProperties(
            f"{name}-public-blob-service",
            **self.args(
                "public_blob_service", **names, blob_services_name="default",
                delete_retention_policy={"enabled": True, "days": retention},
                container_delete_retention_policy={"enabled": True, "days": retention},
            ),
            opts=self.data_opts(
                "public_blob_service", f"{account_id}/blobServices/default", depends_on=[self.public_account]
            ),
        )  # fmt: skip
        self.public_container = storage.BlobContainer(
            f"{name}-public-container",
            **self.args("public_container", **names, container_name=PUBLIC_CONTAINER,
                        public_access="Blob" if anonymous else "None"),
            opts=self.data_opts("public_container", f"{account_id}/blobServices/default/containers/{PUBLIC_CONTAINER}",
                                depends_on=[self.public_account]),
        )  # fmt: skip
        if args.app_identity is not None:
            ctx.app_grants.append(self.grant(
                "public_writer", role="Storage Blob Data Contributor", scope=self.public_account.id,
                principal_id=args.app_identity.principal_id, key="app-public-blob",
            ))  # fmt: skip
        self.lock("public_lock", scope=self.public_account.id, why="prod public assets account",
                  after=self.public_account, when=ctx.prod)  # fmt: skip
        self.public_blob_host = f"{self.public_account_name}.blob.core.windows.net"
        self.public_container_name = PUBLIC_CONTAINER
        self.public_url = f"https://{self.public_blob_host}/{PUBLIC_CONTAINER}"


def subnet_rules(subnet_ids: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    """A storage firewall that admits only ``subnet_ids`` (service endpoints), and Azure's trusted services."""
    return {
        "bypass": "AzureServices",
        "default_action": "Deny",
        "virtual_network_rules": [{"virtual_network_resource_id": s, "action": "Allow"} for s in subnet_ids],
    }


def build(ctx: BuildContext) -> Built:
    """The app's container (``STORAGE_BUCKET``, ``STORAGE_URL``), writable by the app identity."""
    found = ctx.foundation
    storage = Storage(
        ctx.name,
        StorageArgs(
            ctx=found.azure,
            spec=ctx.spec,
            app_identity=found.identity,
            allowed_subnet_ids=app_subnet_ids(ctx),
            public_assets=ctx.stack.has("cdn"),
            private_cdn=private_cdn(ctx.stack),
        ),
    )
    env = {"STORAGE_BUCKET": storage.container_name, "STORAGE_URL": storage.container_url}
    outputs = {"bucket": storage.container_url}
    if storage.public_url is not None:
        env["STORAGE_PUBLIC_URL"] = outputs["public_assets"] = storage.public_url
    return Built(component=storage, env=env, depends_on=[storage], outputs=outputs)
