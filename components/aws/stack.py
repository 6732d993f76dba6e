"""The AWS wiring of a stack: which components a profile uses, how they connect, and the stack outputs.

Order: network, secrets, storage, the data services (database, cache, document table), auth, push, CDN,
then the app (servers, containers or serverless) with its ``AppWiring``: plain env for names and URLs,
secret ARNs for ``DATABASE_URL``, ``REDIS_URL`` and ``app.secret_env``. Each kind's module is imported only
when the stack has that kind.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mbops.stacks.config import Stack

APP_KINDS = ("servers", "containers", "serverless")


def build(stack: Stack) -> dict[str, Any]:
    """Create the stack's AWS components, wire them together, and return the stack outputs."""
    from mbops.components.aws.app import AppWiring
    from mbops.components.aws.secrets import Secrets, SecretsArgs, secret_prefix
    from mbops.components.secret_values import secret_env_value

    name, tags, app = stack.name, stack.tags, stack.app
    outputs: dict[str, Any] = {}
    env: dict[str, pulumi.Input[str]] = dict(app.env)
    secret_arns: dict[str, pulumi.Input[str]] = {}
    access: dict[str, Any] = {}
    prefix = secret_prefix(name)
    recovery_days = stack.spec("secrets").recovery_days if stack.has("secrets") else 7

    network = None
    if stack.has("network"):
        from mbops.components.aws.network import Network, NetworkArgs

        network = Network(
            f"{name}-net", NetworkArgs(spec=stack.spec("network"), app_port=app.port, tags=tags)
        )

    if stack.has("secrets"):
        values = {k: secret_env_value(app.secret_env, k) for k in sorted(app.secret_env)}
        secrets = Secrets(
            f"{name}-secrets",
            SecretsArgs(spec=stack.spec("secrets"), prefix=prefix, values=values, tags=tags),
        )
        secret_arns.update(secrets.arns)
        outputs["secrets_store"] = secrets.prefix
    elif app.secret_env:
        raise _config_error("app.secret_env", "the profile has no secrets component to store them in")

    storage = None
    if stack.has("storage"):
        from mbops.components.aws.storage import Storage, StorageArgs

        storage = Storage(
            f"{name}-files", StorageArgs(spec=stack.spec("storage"), cdn_origin=stack.has("cdn"), tags=tags)
        )
        env["STORAGE_BUCKET"] = storage.bucket_name
        access["bucket_arn"] = storage.bucket_arn
        outputs["bucket"] = storage.bucket_name

    if stack.has("database"):
        from mbops.components.aws.database import Database, DatabaseArgs

        net = _needs_network(network, "database")
        database = Database(
            f"{name}-db",
            DatabaseArgs(
                spec=stack.spec("database"),
                vpc_id=net.vpc_id,
                vpc_cidr=net.vpc.cidr_block,
                subnet_ids=net.private_subnet_ids,
                availability_zone=net.private_subnets[0].availability_zone,
                app_security_group_id=net.app_security_group.id,
                secret_prefix=prefix,
                secret_recovery_days=recovery_days,
                region=stack.region,
                log_retention_days=90 if stack.prod else 30,
                prod=stack.prod,
                tags=tags,
            ),
        )
        secret_arns["DATABASE_URL"] = database.database_url_secret_arn
        outputs["database_host"] = database.host
        outputs["database_name"] = database.database_name

    if stack.has("cache"):
        from mbops.components.aws.cache import Cache, CacheArgs

        net = _needs_network(network, "cache")
        cache = Cache(
            f"{name}-cache",
            CacheArgs(
                spec=stack.spec("cache"),
                vpc_id=net.vpc_id,
                subnet_ids=net.private_subnet_ids,
                app_security_group_id=net.app_security_group.id,
                secret_prefix=prefix,
                secret_recovery_days=recovery_days,
                prod=stack.prod,
                tags=tags,
            ),
        )
        secret_arns["REDIS_URL"] = cache.redis_url_secret_arn
        outputs["redis_host"] = cache.host

    if stack.has("docdb"):
        from mbops.components.aws.docdb import DocDb, DocDbArgs

        docdb = DocDb(f"{name}-docs", DocDbArgs(spec=stack.spec("docdb"), tags=tags))
        env["DOCUMENT_TABLE"] = docdb.table_name
        access["table_arn"] = docdb.table_arn
        outputs["document_table"] = docdb.table_name

    if stack.has("auth"):
        from mbops.components.aws.auth import Auth, AuthArgs

        auth = Auth(f"{name}-auth", AuthArgs(spec=stack.spec("auth"), prod=stack.prod, tags=tags))
        env["AUTH_USER_POOL_ID"] = auth.user_pool_id
        env["AUTH_CLIENT_ID"] = auth.client_id
        outputs["auth_user_pool_id"] = auth.user_pool_id
        outputs["auth_client_id"] = auth.client_id

    if stack.has("push"):
        from mbops.components.aws.push import Push, PushArgs

        spec = stack.spec("push")
        wanted = f"components.push.credential_secret ({spec.credential_secret})"
        credential = secret_env_value(app.secret_env, spec.credential_secret, wanted_by=wanted)
        principal_name = f"{spec.credential_secret}_PRINCIPAL"
        principal = (
            secret_env_value(app.secret_env, principal_name) if principal_name in app.secret_env else None
        )
        push = Push(
            f"{name}-push", PushArgs(spec=spec, credential=credential, principal=principal, tags=tags)
        )
        env["PUSH_PLATFORM_APP"] = push.app_arn
        access["push_app_arn"] = push.app_arn
        access["push_topic_arn"] = push.topic_arn
        outputs["push_app"] = push.app_arn

    if stack.has("cdn"):
        from mbops.components.aws.cdn import Cdn, CdnArgs

        if storage is None:
            raise _config_error(
                "components.cdn", "the CDN serves the stack's bucket; the profile has no storage"
            )
        cdn = Cdn(
            f"{name}-cdn",
            CdnArgs(
                spec=stack.spec("cdn"),
                bucket_regional_domain_name=storage.bucket_regional_domain_name,
                tags=tags,
            ),
        )
        storage.allow_cloudfront_read(cdn.arn)
        env["CDN_URL"] = cdn.url
        outputs["cdn_url"] = cdn.url

    wiring = AppWiring(env=env, secrets=secret_arns, **access)
    outputs["endpoint"] = _app(stack, network, wiring)
    return outputs


def _app(stack: Stack, network: Any, wiring: Any) -> pulumi.Output[str]:
    """The component that runs the app; returns its public URL."""
    kinds = [k for k in APP_KINDS if stack.has(k)]
    if len(kinds) != 1:
        raise _config_error(
            "components",
            f"a stack runs its app on exactly one of {', '.join(APP_KINDS)}; "
            f"got {', '.join(kinds) or 'none'}",
        )
    kind, name, tags = kinds[0], stack.name, stack.tags
    if kind == "serverless":
        from mbops.components.aws.serverless import Serverless, ServerlessArgs

        return Serverless(
            f"{name}-app", ServerlessArgs(spec=stack.spec(kind), app=stack.app, wiring=wiring, tags=tags)
        ).endpoint
    net = _needs_network(network, kind)
    placement = {
        "vpc_id": net.vpc_id,
        "public_subnet_ids": net.public_subnet_ids,
        "private_subnet_ids": net.private_subnet_ids,
        "lb_security_group_id": net.lb_security_group.id,
        "app_security_group_id": net.app_security_group.id,
        "region": stack.region,
    }
    if kind == "containers":
        from mbops.components.aws.containers import Containers, ContainersArgs

        return Containers(
            f"{name}-app",
            ContainersArgs(spec=stack.spec(kind), app=stack.app, wiring=wiring, tags=tags, **placement),
        ).endpoint
    from mbops.components.aws.servers import Servers, ServersArgs

    return Servers(
        f"{name}-app",
        ServersArgs(
            spec=stack.spec(kind),
            app=stack.app,
            wiring=wiring,
            log_retention_days=90 if stack.prod else 30,
            tags=tags,
            **placement,
        ),
    ).endpoint


def _needs_network(network: Any, kind: str) -> Any:
    if network is None:
        raise _config_error(
            f"components.{kind}", "needs the network component (a VPC), which the profile lacks"
        )
    return network


def _config_error(field: str, problem: str) -> Exception:
    from mbops.errors import ConfigError

    return ConfigError(f"{field}: {problem}")
