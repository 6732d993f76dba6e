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


@dataclass(kw_only=True)
class StorageArgs:
    ctx: AzureContext
    spec: StorageSpec = field(default_factory=StorageSpec)
    app_identity: Identity | None = None
    allowed_subnet_ids: Sequence[pulumi.Input[str]] = ()  # with a VNet: the firewall admits only these subnets
    public_origin: bool = False  # a CDN (Front Door Standard) reads the account over its public endpoint


class Storage(AzureComponent):
    """Storage account + private blob container, with managed identities instead of keys.

    Secure defaults: HTTPS only, TLS 1.2, no anonymous blob access, shared keys (and SAS from them) off,
    Entra ID as the portal default, infrastructure (double) encryption, no cross-tenant replication, no
    SFTP/local users. Blob versioning with a lifecycle rule expiring old versions after
    ``noncurrent_version_days``, soft delete for blobs and containers. Zone-redundant (ZRS) in prod.
    With a VNet the firewall denies by default and admits the app subnets (service endpoints), unless a
    Front Door Standard CDN reads the account over its public endpoint (dev); a Front Door Premium CDN (prod,
    with an edge) reaches it over Private Link, which the firewall does not apply to. Without a VNet (saas
    dev) the public endpoint answers only Entra-authenticated requests. The app identity gets "Storage Blob
    Data Contributor" on the account. The account is kept when the stack is destroyed unless its data is
    released (``destroy --delete-data``, which deletes it with its blobs); ``force_destroy`` has no Azure
    counterpart (deleting an account deletes its blobs).
    Children: ``account``, ``blob_service``, ``container``, ``lifecycle``, ``app_writer``.
    """

    kind = "storage"

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec = args.ctx, args.spec
        self.account_name = ctx.name("st", 24, alnum=True)
        rules: dict[str, Any] = {"bypass": "AzureServices", "default_action": "Allow"}
        if args.allowed_subnet_ids and not args.public_origin:
            rules = {
                "bypass": "AzureServices",
                "default_action": "Deny",
                "virtual_network_rules": [
                    {"virtual_network_resource_id": s, "action": "Allow"} for s in args.allowed_subnet_ids
                ],
            }
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
            opts=self.data_opts(),
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
            opts=self.opts(depends_on=[self.account]),
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            **self.args("container", **account_args, container_name=CONTAINER, public_access="None"),
            opts=self.data_opts(depends_on=[self.account]),
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
                opts=self.opts(depends_on=[self.blob_service]),
            )
        if args.app_identity is not None:
            self.grant(
                "app_writer",
                role="Storage Blob Data Contributor",
                scope=self.account.id,
                principal_id=args.app_identity.principal_id,
                key="app-blob",
            )
        self.blob_host = f"{self.account_name}.blob.core.windows.net"
        self.container_name = CONTAINER
        self.container_url = f"https://{self.blob_host}/{CONTAINER}"
        self.finish(
            {"account_name": self.account_name, "container": CONTAINER, "container_url": self.container_url}
        )


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
            public_origin=ctx.stack.has("cdn") and not private_cdn(ctx.stack),
        ),
    )
    return Built(
        component=storage, env={"STORAGE_BUCKET": storage.container_name, "STORAGE_URL": storage.container_url},
        depends_on=[storage], outputs={"bucket": storage.container_url},
    )  # fmt: skip
