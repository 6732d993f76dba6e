"""The local wiring of a stack: every kind of the profile on this machine, wired into the app's environment.

Working files live in ``<state folder>/<stack>/`` (the state folder comes from the Pulumi config
``mbops:stateDir`` that the engine sets, else ``MBOPS_STATE_DIR``, else ``~/.mbops/state``). Kinds with no
local equivalent (auth, push, cdn; cache without redis-server) are reported in the ``unavailable`` output
and with a warning, never dropped silently.

App environment: ``PORT``; ``STORAGE_URL=file://...``; ``DOCUMENT_DB_URL`` and ``DOCUMENT_TABLE`` (saas);
``app.env``; and from the secrets file ``DATABASE_URL`` (the docdb's SQLite URL on saas, which has no
database, so the same app runs on every profile), ``REDIS_URL`` and ``app.secret_env``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pulumi

from mbops.engine.state import state_dir
from mbops.errors import ConfigError
from mbops.stacks.config import Stack

APP_KINDS = ("servers", "containers", "serverless")
NOT_LOCAL: dict[str, dict[str, str]] = {
    "auth": {
        "reason": "no managed user pool runs on this machine",
        "alternative": "deploy the stack to aws, gcp or azure for managed auth, or run an OIDC server "
        "(e.g. Keycloak) next to the app",
    },
    "push": {
        "reason": "push notifications need the platform's service (FCM / APNs)",
        "alternative": "deploy to a cloud, or call FCM/APNs from the app with a credential in app.secret_env",
    },
    "cdn": {
        "reason": "no CDN runs on this machine",
        "alternative": "serve files from the app (its /files endpoints) locally; deploy to a cloud for a CDN",
    },
}
NO_REDIS = {
    "reason": "redis-server is not installed",
    "alternative": "install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) "
    "and run mbops up again",
}


def stack_dir(stack: Stack) -> Path:
    return state_dir(pulumi.Config("mbops").get("stateDir")) / stack.name


def app_cwd(stack: Stack) -> Path:
    """The app's working directory: the stack file's folder, or the current directory."""
    if stack.source not in ("flags", "") and Path(stack.source).is_file():
        return Path(stack.source).resolve().parent
    return Path.cwd()


def secret_env(stack: Stack) -> dict[str, str]:
    """``app.secret_env`` read from the deployer's environment (placeholders in previews)."""
    values: dict[str, str] = {}
    for name, source in stack.app.secret_env.items():
        var = source.removeprefix("env:")
        if var in os.environ:
            values[name] = os.environ[var]
        elif pulumi.runtime.is_dry_run():
            values[name] = ""
        else:
            raise ConfigError(
                f"{stack.source}: app.secret_env.{name}: the environment variable {var} is not set"
            )
    return values


def unavailable(kind: str, info: dict[str, str], into: dict[str, Any]) -> None:
    pulumi.log.warn(f"not available on local: {kind} — {info['reason']}")
    into[kind] = info


def build(stack: Stack) -> dict[str, Any]:
    """Create the stack's local components, wire them together, and return the stack outputs."""
    from mbops.components.local.app import AppService, AppServiceArgs

    name, tags, folder = stack.name, stack.tags, stack_dir(stack)
    outputs: dict[str, Any] = {}
    gaps: dict[str, Any] = {}
    plain_env: dict[str, Any] = dict(stack.app.env)
    secret_values: dict[str, Any] = {}
    app_secrets = secret_env(stack)  # first: a missing variable must stop the run before anything is created

    if stack.has("network"):
        from mbops.components.local.network import Network, NetworkArgs

        Network(f"{name}-net", NetworkArgs(spec=stack.spec("network"), tags=tags))
    if stack.has("database"):
        from mbops.components.local.database import Database, DatabaseArgs

        db = Database(
            f"{name}-db", DatabaseArgs(spec=stack.spec("database"), stack=name, stack_dir=folder, tags=tags)
        )
        outputs.update(database_host=db.host, database_name=stack.spec("database").database_name,
                       database_engine=db.engine, database_url=db.url,
                       database_data_dir=db.data_dir)  # fmt: skip
        if db.port is not None:
            outputs["database_port"] = db.port
        secret_values["DATABASE_URL"] = db.url
    if stack.has("docdb"):
        from mbops.components.local.docdb import DocDb, DocDbArgs

        doc = DocDb(f"{name}-docdb", DocDbArgs(spec=stack.spec("docdb"), stack_dir=folder, tags=tags))
        outputs.update(document_table=doc.table, document_db_path=doc.path)
        plain_env.update(DOCUMENT_DB_URL=doc.url, DOCUMENT_TABLE=doc.table)
        secret_values.setdefault("DATABASE_URL", doc.url)
    if stack.has("storage"):
        from mbops.components.local.storage import Storage, StorageArgs

        files = Storage(f"{name}-files", StorageArgs(spec=stack.spec("storage"), stack_dir=folder, tags=tags))
        outputs["bucket"] = files.path
        plain_env["STORAGE_URL"] = files.url
    if stack.has("cache"):
        from mbops.components.local.cache import Cache, CacheArgs, redis_server

        binary = redis_server()
        if binary:
            cache = Cache(
                f"{name}-cache",
                CacheArgs(spec=stack.spec("cache"), stack_dir=folder, binary=binary, tags=tags),
            )
            outputs.update(redis_host=cache.host, redis_port=cache.port)
            secret_values["REDIS_URL"] = cache.url
        else:
            unavailable("cache", NO_REDIS, gaps)
    for kind, info in NOT_LOCAL.items():
        if stack.has(kind):
            unavailable(kind, info, gaps)

    secret_values.update(app_secrets)
    app_kind = next((k for k in APP_KINDS if stack.has(k)), None)
    secrets_file = secrets_version = None
    direct_secrets: Any = None
    if stack.has("secrets"):
        from mbops.components.local.secrets import Secrets, SecretsArgs

        store = Secrets(f"{name}-secrets", SecretsArgs(spec=stack.spec("secrets"), stack_dir=folder,
                                                          values=secret_values, tags=tags))  # fmt: skip
        outputs["secrets_store"] = store.path
        secrets_file, secrets_version = store.path, store.version
    else:
        direct_secrets = secret_values
    if app_kind is not None:
        app = AppService(
            f"{name}-app",
            AppServiceArgs(
                kind=app_kind, spec=stack.spec(app_kind), command=stack.app.command, cwd=app_cwd(stack),
                stack_dir=folder, health_path=stack.app.health_path, port=stack.app.port, env=plain_env,
                secrets_file=secrets_file, secrets_version=secrets_version, secret_env=direct_secrets,
                tags=tags,
            ),
        )  # fmt: skip
        outputs.update(endpoint=app.url, app_log=app.log)
    if gaps:
        outputs["unavailable"] = gaps
    return outputs
