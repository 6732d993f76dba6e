"""The Azure wiring of a stack: which components a profile uses, how they connect, and the stack outputs.

Order matters on Azure because the app resolves its secrets at start: the resource group and the app's
identity come first, then the Key Vault and every service that writes a secret or grants the identity a
role, and the app runtime last, depending on all of them.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mbops.errors import ConfigError
from mbops.stacks.config import Stack

NEEDS_SECRETS = ("database", "cache", "push", "servers", "containers", "serverless")


def resource_group_name(stack: Stack) -> str:
    """``rg-<stack>``, with the environment appended unless the stack name already ends with it."""
    name = stack.name if stack.name.endswith(f"-{stack.environment}") else f"{stack.name}-{stack.environment}"
    return f"rg-{name}"


def build(stack: Stack) -> dict[str, Any]:
    """Create the stack's Azure components, wire them together, and return the stack outputs."""
    from pulumi_azure_native import authorization

    from mbops.components.azure.common import AppWiring, AzureContext
    from mbops.components.azure.foundation import create_foundation

    missing = [k for k in NEEDS_SECRETS if stack.has(k)]
    if missing and not stack.has("secrets"):
        raise ConfigError(
            f"azure: {', '.join(missing)} keep their credentials in Key Vault; enable components.secrets"
        )
    client = authorization.get_client_config()
    ctx = AzureContext(
        stack=stack.name,
        environment=stack.environment,
        location=stack.region,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        resource_group_name=resource_group_name(stack),
        tags=stack.tags,
    )
    name = stack.name
    identity = create_foundation(ctx)
    outputs: dict[str, Any] = {"resource_group": ctx.resource_group_name}
    unavailable: dict[str, Any] = {}
    wiring = AppWiring(identity=identity)

    net = _network(stack, ctx) if stack.has("network") else None
    app_subnets = [net.subnet_ids[s] for s in ("app", "containerapps") if s in net.subnet_ids] if net else []
    if stack.has("secrets"):
        from mbops.components.azure.secrets import Secrets, SecretsArgs

        secrets = Secrets(
            f"{name}-secrets",
            SecretsArgs(
                ctx=ctx,
                spec=stack.spec("secrets"),
                app_identity=identity,
                secret_env=stack.app.secret_env,
                allowed_subnet_ids=app_subnets,
            ),
        )
        wiring.vault = secrets.ref
        wiring.secrets.update(secrets.secret_names)
        wiring.depends_on.append(secrets)
        outputs["secrets_store"] = secrets.uri
    if stack.has("storage"):
        from mbops.components.azure.storage import Storage, StorageArgs

        storage = Storage(
            f"{name}-files",
            StorageArgs(
                ctx=ctx,
                spec=stack.spec("storage"),
                app_identity=identity,
                allowed_subnet_ids=app_subnets,
                public_origin=stack.has("cdn"),
            ),
        )
        wiring.env.update(STORAGE_BUCKET=storage.container_name, STORAGE_URL=storage.container_url)
        wiring.depends_on.append(storage)
        outputs["bucket"] = storage.container_url
        if stack.has("cdn"):
            from mbops.components.azure.cdn import Cdn, CdnArgs

            cdn = Cdn(
                f"{name}-cdn",
                CdnArgs(
                    ctx=ctx,
                    spec=stack.spec("cdn"),
                    blob_host=storage.blob_host,
                    container=storage.container_name,
                    storage_account_id=storage.account.id,
                ),
            )
            wiring.env["CDN_URL"] = cdn.url
            outputs["cdn_url"] = cdn.url
    elif stack.has("cdn"):
        raise ConfigError("azure: components.cdn serves the storage container; enable components.storage")
    if stack.has("database"):
        _database(stack, ctx, net, wiring, outputs)
    if stack.has("cache"):
        if net is None:
            raise ConfigError(
                "azure: components.cache is reachable only through the VNet; enable components.network"
            )
        from mbops.components.azure.cache import Cache, CacheArgs

        cache = Cache(
            f"{name}-cache",
            CacheArgs(
                ctx=ctx,
                spec=stack.spec("cache"),
                vault=wiring.vault,
                subnet_id=net.subnet_ids["data"],
                vnet_id=net.vnet_id,
                app_identity=identity,
            ),
        )
        wiring.secrets["REDIS_URL"] = "redis-url"
        wiring.depends_on.append(cache)
        outputs["redis_host"] = cache.host
    if stack.has("docdb"):
        from mbops.components.azure.docdb import DocDb, DocDbArgs

        docdb = DocDb(f"{name}-docs", DocDbArgs(ctx=ctx, spec=stack.spec("docdb"), app_identity=identity))
        wiring.env.update(DOCUMENT_TABLE=docdb.table, DOCUMENT_DB_URL=docdb.endpoint)
        wiring.depends_on.append(docdb)
        outputs["document_table"] = docdb.table
    if stack.has("auth"):
        from mbops.components.azure.auth import declare_gap

        declare_gap(unavailable)
    if stack.has("push"):
        from mbops.components.azure.push import Push, PushArgs

        push = Push(
            f"{name}-push",
            PushArgs(ctx=ctx, spec=stack.spec("push"), vault=wiring.vault, secret_env=stack.app.secret_env),
        )
        wiring.env["PUSH_PLATFORM_APP"] = push.app
        wiring.secrets["PUSH_CONNECTION_STRING"] = "push-connection-string"
        wiring.depends_on.append(push)
        outputs["push_app"] = push.app
    endpoint = _runtime(stack, ctx, net, wiring)
    if endpoint is not None:
        outputs["endpoint"] = endpoint
    if unavailable:
        outputs["unavailable"] = unavailable
    return outputs


def _network(stack: Stack, ctx: Any) -> Any:
    from mbops.components.azure.network import Network, NetworkArgs

    managed_db = stack.has("database") and not stack.spec("database").self_hosted
    return Network(
        f"{stack.name}-net",
        NetworkArgs(
            ctx=ctx,
            spec=stack.spec("network"),
            app_port=stack.app.port,
            servers=stack.has("servers"),
            containers=stack.has("containers"),
            managed_database=managed_db,
        ),
    )


def _database(stack: Stack, ctx: Any, net: Any, wiring: Any, outputs: dict[str, Any]) -> None:
    from mbops.components.azure.database import Database, DatabaseArgs

    if net is None:
        raise ConfigError("azure: components.database is private to the VNet; enable components.network")
    spec = stack.spec("database")
    args = DatabaseArgs(ctx=ctx, spec=spec, vault=wiring.vault)
    if spec.self_hosted:
        args.data_subnet_id, args.data_cidr = net.subnet_ids["data"], net.cidrs["data"]
        args.app_cidrs = [net.cidrs[s] for s in ("app", "containerapps") if s in net.cidrs]
    else:
        args.delegated_subnet_id = net.subnet_ids["postgres"]
        args.private_dns_zone_id = net.postgres_dns_zone_id
        args.network_ready = [net]
    database = Database(f"{stack.name}-db", args, opts=pulumi.ResourceOptions(depends_on=[net]))
    wiring.secrets["DATABASE_URL"] = "database-url"
    wiring.depends_on.append(database)
    outputs["database_host"] = database.host
    outputs["database_name"] = database.database_name


def _runtime(stack: Stack, ctx: Any, net: Any, wiring: Any) -> Any:
    """The component that runs the app (servers, containers or serverless) and its public URL."""
    if stack.has("servers"):
        from mbops.components.azure.servers import Servers, ServersArgs

        if net is None:
            raise ConfigError("azure: components.servers run in the VNet; enable components.network")
        servers = Servers(
            f"{stack.name}-servers",
            ServersArgs(
                ctx=ctx,
                spec=stack.spec("servers"),
                app=stack.app,
                wiring=wiring,
                subnet_id=net.subnet_ids["app"],
                zones=stack.spec("network").zones,
            ),
        )
        return servers.url
    if stack.has("containers"):
        from mbops.components.azure.containers import Containers, ContainersArgs

        containers = Containers(
            f"{stack.name}-app",
            ContainersArgs(
                ctx=ctx,
                spec=stack.spec("containers"),
                app=stack.app,
                wiring=wiring,
                infrastructure_subnet_id=net.subnet_ids["containerapps"] if net else None,
            ),
        )
        return containers.url
    if stack.has("serverless"):
        from mbops.components.azure.serverless import Serverless, ServerlessArgs

        serverless = Serverless(
            f"{stack.name}-app",
            ServerlessArgs(ctx=ctx, spec=stack.spec("serverless"), app=stack.app, wiring=wiring),
        )
        return serverless.url
    return None
