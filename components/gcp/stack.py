"""The GCP wiring of a stack: which components a profile uses, how they connect, and the stack outputs.

Data components come first; each hands the app its wiring (``AppWiring``): plain env (``STORAGE_BUCKET``,
``DOCUMENT_TABLE``, ``CDN_URL``, ``AUTH_*``, ``PUSH_PLATFORM_APP``, ``REDIS_CA_CERT``), Secret Manager
secrets (``DATABASE_URL``, ``REDIS_URL``, ``CDN_SIGNING_KEY``, every ``app.secret_env``) and the resources its
service account may use. The app component (servers, containers or serverless) comes last. ``PORT`` is the
app's port (Cloud Run sets it from the container port; on VMs the launcher exports it).
"""

from __future__ import annotations

from typing import Any

import pulumi

from mbops.errors import ConfigError
from mbops.stacks.config import Stack

# Wired by the GCP components beyond the cross-cloud names: the app may not use them for its own env.
GCP_WIRED_ENV = frozenset({"REDIS_CA_CERT", "CDN_SIGNING_KEY", "CDN_SIGNING_KEY_NAME", "DATABASE_PASSWORD"})


def build(stack: Stack) -> dict[str, Any]:
    """Create the stack's GCP components, wire them together, and return the stack outputs."""
    from mbops.components.gcp.app import AppWiring

    clash = sorted(GCP_WIRED_ENV & (set(stack.app.env) | set(stack.app.secret_env)))
    if clash:
        raise ConfigError(f"app: {', '.join(clash)} is set by mbops on GCP; choose another name")
    name, app = stack.name, stack.app
    common: dict[str, Any] = {"project": stack.project, "region": stack.region, "tags": stack.tags}
    outputs: dict[str, Any] = {}
    wiring = AppWiring()
    built: dict[str, Any] = {}

    network = None
    if stack.has("network"):
        from mbops.components.gcp.network import Network, NetworkArgs

        network = built["network"] = Network(
            f"{name}-net", NetworkArgs(spec=stack.spec("network"), app_port=app.port, stack=name, **common)
        )
    if stack.has("secrets"):
        from mbops.components.gcp.secrets import Secrets, SecretsArgs

        secrets = built["secrets"] = Secrets(
            f"{name}-secrets",
            SecretsArgs(spec=stack.spec("secrets"), stack=name, secret_env=app.secret_env, **common),
        )
        wiring.secrets.update(secrets.refs)
        outputs["secrets_store"] = secrets.store
    elif app.secret_env:
        raise ConfigError("app.secret_env: the stack has no secrets component to keep them in")
    storage = None
    if stack.has("storage"):
        from mbops.components.gcp.storage import Storage, StorageArgs

        storage = built["storage"] = Storage(
            f"{name}-files", StorageArgs(spec=stack.spec("storage"), **common)
        )
        wiring.env["STORAGE_BUCKET"] = storage.bucket_name
        wiring.bucket = storage.bucket_name
        outputs["bucket"] = storage.bucket_name
    if stack.has("database"):
        from mbops.components.gcp.database import Database, DatabaseArgs

        database = built["database"] = Database(
            f"{name}-db",
            DatabaseArgs(
                spec=stack.spec("database"), stack=name, network=_needs(network, "database"), **common
            ),
        )
        wiring.secrets["DATABASE_URL"] = database.url
        outputs["database_host"] = database.host
        outputs["database_name"] = database.database_name
    if stack.has("cache"):
        from mbops.components.gcp.cache import Cache, CacheArgs

        cache = built["cache"] = Cache(
            f"{name}-cache",
            CacheArgs(
                spec=stack.spec("cache"),
                stack=name,
                network=_needs(network, "cache"),
                deletion_protection=stack.prod,
                **common,
            ),
        )
        wiring.secrets["REDIS_URL"] = cache.url
        wiring.env["REDIS_CA_CERT"] = cache.ca_certificate
        outputs["redis_host"] = cache.host
    if stack.has("docdb"):
        from mbops.components.gcp.docdb import DocDb, DocDbArgs

        docdb = built["docdb"] = DocDb(
            f"{name}-docs", DocDbArgs(spec=stack.spec("docdb"), stack=name, **common)
        )
        wiring.env["DOCUMENT_TABLE"] = docdb.database_id
        wiring.firestore_database = docdb.database_id
        outputs["document_table"] = docdb.database_id
    if stack.has("auth"):
        from mbops.components.gcp.auth import Auth, AuthArgs

        auth = built["auth"] = Auth(
            f"{name}-auth", AuthArgs(spec=stack.spec("auth"), stack=name, prod=stack.prod, **common)
        )
        wiring.env["AUTH_USER_POOL_ID"] = auth.user_pool_id
        wiring.env["AUTH_CLIENT_ID"] = auth.client_id
        outputs["auth_user_pool_id"] = auth.user_pool_id
        outputs["auth_client_id"] = auth.client_id
    if stack.has("push"):
        from mbops.components.gcp.push import Push, PushArgs

        spec = stack.spec("push")
        push = built["push"] = Push(
            f"{name}-push",
            PushArgs(spec=spec, stack=name, credential=wiring.secrets.get(spec.credential_secret), **common),
        )
        wiring.env["PUSH_PLATFORM_APP"] = push.push_app
        wiring.project_roles.append(push.sender_role_name)
        wiring.grant_after.append(push.sender_role)
        outputs["push_app"] = push.push_app
    if stack.has("cdn"):
        from mbops.components.gcp.cdn import Cdn, CdnArgs

        if storage is None:
            raise ConfigError("components.cdn: the CDN serves the stack's bucket; the stack needs storage")
        cdn = built["cdn"] = Cdn(
            f"{name}-cdn",
            CdnArgs(spec=stack.spec("cdn"), stack=name, bucket_name=storage.bucket_name, **common),
        )
        wiring.env["CDN_URL"] = cdn.url
        wiring.env["CDN_SIGNING_KEY_NAME"] = cdn.signing_key_name
        wiring.secrets["CDN_SIGNING_KEY"] = cdn.signing_key
        outputs["cdn_url"] = cdn.url

    app_component = _app(stack, wiring, network, common)
    if app_component is not None:
        built[app_component.kind] = app_component
        outputs["endpoint"] = app_component.endpoint

    unavailable = {kind: c.gap for kind, c in built.items() if c.gap}
    for kind, gap in unavailable.items():
        pulumi.log.warn(f"not available on gcp: {kind} — {gap['reason']}")
    if unavailable:
        outputs["unavailable"] = unavailable
    return outputs


def _app(stack: Stack, wiring: Any, network: Any, common: dict[str, Any]) -> Any:
    """The component that runs the app: servers (custom), containers (managed) or serverless (saas)."""
    name, app = stack.name, stack.app
    if stack.has("servers"):
        from mbops.components.gcp.servers import Servers, ServersArgs

        return Servers(
            f"{name}-app",
            ServersArgs(
                spec=stack.spec("servers"),
                stack=name,
                app=app,
                network=_needs(network, "servers"),
                wiring=wiring,
                **common,
            ),
        )
    if stack.has("containers"):
        from mbops.components.gcp.containers import Containers, ContainersArgs

        return Containers(
            f"{name}-app",
            ContainersArgs(
                spec=stack.spec("containers"),
                stack=name,
                app=app,
                network=_needs(network, "containers"),
                wiring=wiring,
                deletion_protection=stack.prod,
                **common,
            ),
        )
    if stack.has("serverless"):
        from mbops.components.gcp.serverless import Serverless, ServerlessArgs

        return Serverless(
            f"{name}-app",
            ServerlessArgs(
                spec=stack.spec("serverless"),
                stack=name,
                app=app,
                wiring=wiring,
                deletion_protection=stack.prod,
                **common,
            ),
        )
    return None


def _needs(network: Any, kind: str) -> Any:
    if network is None:
        raise ConfigError(
            f"components.{kind}: needs the stack's network on GCP (private IPs); add components.network"
        )
    return network
