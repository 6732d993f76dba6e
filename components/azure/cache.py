"""Azure cache (managed profile): Azure Managed Redis, reachable only through a private endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import redisenterprise

from mbops.components.azure.common import AzureComponent, AzureContext, Identity, KeyVaultRef
from mbops.components.azure.network import Network, private_link
from mbops.components.spec import CacheSpec
from mbops.components.wiring import BuildContext, Built

PORT = 10000
SKUS = {"small": "Balanced_B0", "medium": "Balanced_B1", "large": "Balanced_B5"}
DNS_ZONE = "privatelink.redis.azure.net"


@dataclass(kw_only=True)
class CacheArgs:
    ctx: AzureContext
    vault: KeyVaultRef
    network: Network  # the private endpoint goes in its data subnet
    spec: CacheSpec = field(default_factory=CacheSpec)
    app_identity: Identity | None = None


class Cache(AzureComponent):
    """Azure Managed Redis (``redisenterprise``), the successor of Azure Cache for Redis.

    Not Azure Cache for Redis (``redis`` module): all its tiers are retiring (Basic/Standard/Premium on
    2028-09-30) and new tenants can no longer create them, so a new stack on it would be a dead end.
    Balanced SKU by size (B0 / B1 / B5), high availability (replica in another zone) with ``ha``, TLS 1.2
    only (``client_protocol: Encrypted``, port 10000), public network access disabled with a private
    endpoint in the ``data`` subnet and the ``privatelink.redis.azure.net`` zone linked to the VNet.
    REDIS_URL (``rediss://:<key>@<host>:10000/0``) is built from the access key and stored only in Key Vault,
    because any Redis client understands it - the app contract (REDIS_URL) and the example app rely on it,
    which is why keys stay on by default. Entra ID auth is also granted to the app identity (access policy
    "default"), so an app that authenticates with tokens (e.g. redis-entraid with AZURE_CLIENT_ID) turns the
    keys off with ``overrides.database.access_keys_authentication: Disabled``: then no key is read and
    REDIS_URL carries no secret. ``engine_version`` is managed by Azure.
    Children: ``cluster``, ``database``, ``app_access``, ``private_endpoint``, ``dns_zone``, ``dns_link``,
    ``dns_group``, ``url_secret``.
    """

    kind = "cache"

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec = args.ctx, args.spec
        cluster_name = ctx.name("redis", 60)
        self.cluster = redisenterprise.RedisEnterprise(
            f"{name}-cluster",
            **self.args(
                "cluster",
                **self.base(
                    cluster_name=cluster_name,
                    sku={"name": SKUS[spec.size]},
                    minimum_tls_version="1.2",
                    high_availability="Enabled" if spec.ha else "Disabled",
                    public_network_access="Disabled",
                ),
            ),
            opts=self.opts(),
        )
        names = {"resource_group_name": ctx.resource_group_name, "cluster_name": cluster_name}
        self.database = redisenterprise.Database(
            f"{name}-database",
            **self.args(
                "database",
                **names,
                database_name="default",
                client_protocol="Encrypted",
                port=PORT,
                clustering_policy="NoCluster",
                eviction_policy="VolatileLRU",
                access_keys_authentication="Enabled",
            ),
            opts=self.opts(depends_on=[self.cluster]),
        )
        if args.app_identity is not None:
            redisenterprise.AccessPolicyAssignment(
                f"{name}-app-access",
                **self.args(
                    "app_access",
                    **names,
                    database_name="default",
                    access_policy_name="default",
                    access_policy_assignment_name="app",
                    user={"object_id": args.app_identity.principal_id},
                ),
                opts=self.opts(depends_on=[self.database]),
            )
        private_link(
            self, label="redis", target_id=self.cluster.id, group_id="redisEnterprise", zone=DNS_ZONE,
            net=args.network, depends_on=[self.database],
        )  # fmt: skip
        self.host = f"{cluster_name}.{ctx.location}.redis.azure.net"
        database_args = spec.overrides.get("database", {})
        self.keys_enabled = database_args.get("access_keys_authentication", "Enabled") != "Disabled"
        if self.keys_enabled:
            # The keys are read only once the database exists (its name is unknown in a preview, so a preview
            # never calls the API); the result is a secret.
            keys = redisenterprise.list_database_keys_output(
                cluster_name=cluster_name,
                database_name=self.database.name,
                resource_group_name=ctx.resource_group_name,
                opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self.database]),
            )
            url = pulumi.Output.secret(keys.primary_key).apply(lambda key: f"rediss://:{key}@{self.host}:{PORT}/0")
        else:  # Entra ID only: the app signs in with its identity (AZURE_CLIENT_ID), the URL holds no secret
            url = pulumi.Output.from_input(f"rediss://{self.host}:{PORT}/0")
        self.store_secret("url_secret", vault=args.vault, secret_name="redis-url", value=url, app=args.app_identity)
        self.finish({"host": self.host, "port": PORT, "url_secret": "redis-url"})


def build(ctx: BuildContext) -> Built:
    """Managed Redis behind a private endpoint; the app gets ``REDIS_URL`` from Key Vault (``redis-url``)."""
    found, net = ctx.foundation, ctx.component("network")
    cache = Cache(
        ctx.name,
        CacheArgs(
            ctx=found.azure,
            spec=ctx.spec,
            vault=ctx.component("secrets").ref,
            network=net,
            app_identity=found.identity,
        ),
    )
    return Built(
        component=cache, secrets={"REDIS_URL": "redis-url"}, depends_on=[cache], outputs={"redis_host": cache.host}
    )
