"""GCP secrets: a Secret Manager secret per app secret (``app.secret_env``), kept in the stack's region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import CRM_API, GcpArgs, GcpComponent, SecretRef, built, stack_args
from mbops.components.spec import SecretsSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class SecretsArgs(GcpArgs):
    spec: SecretsSpec = field(default_factory=SecretsSpec)
    values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # env name -> value (a secret)
    prod: bool = False


class Secrets(GcpComponent):
    """Secret Manager secrets ``<stack>-<NAME>``, user-managed replication in the stack's region only
    (data residency), each with one version holding the value (a Pulumi secret, never in plaintext state).

    ``recovery_days`` applies to every secret of the stack (the database URL, the cache URL and the CDN key
    too): a version replaced by a new value is disabled and destroyed only ``recovery_days`` later
    (``version_destroy_ttl``), so a bad rotation can be undone by re-enabling it. Secret Manager has no
    recovery window for a deleted *secret*: ``destroy`` deletes the stack's secrets at once.

    The app reads them through ``refs`` (pinned versions); its service account gets secretAccessor on each
    secret, never project-wide. ``store`` names where they live: ``projects/<project>/secrets/<stack>-``.

    In prod every read of a secret's value is audit-logged (Data Access audit logs, ``DATA_READ`` for Secret
    Manager, ``audit_config``): who read which secret, when. The setting is the project's: another prod stack in
    the same project sets the same, and destroying one turns it off until the other's next ``up``.

    Children: ``secret``, ``secret_version`` (one each per app secret), ``audit_config`` (prod).
    """

    kind = "secrets"

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self.apis = ("secretmanager.googleapis.com", *((CRM_API,) if args.prod else ()))
        super().__init__(name, args, opts)
        self.refs: dict[str, SecretRef] = {}
        if not args.values:  # nothing to store: still accept (empty) overrides for the children it would have
            self.args("secret"), self.args("secret_version")
        for env_name in sorted(args.values):
            self.refs[env_name] = self.secret("secret", env_name, args.stack, args.values[env_name])
        if args.prod:
            gcp.projects.IAMAuditConfig(
                f"{name}-audit",
                **self.args("audit_config", project=self.project, service="secretmanager.googleapis.com",
                            audit_log_configs=[{"log_type": "DATA_READ"}]),
                opts=self.opts(),
            )  # fmt: skip
        self.store = f"projects/{self.project}/secrets/{args.stack}-"
        self.finish({"store": self.store, "secret_ids": {k: r.secret_id for k, r in self.refs.items()}})


def build(ctx: BuildContext) -> Built:
    """The stack's Secret Manager secrets, holding ``app.secret_env`` (the app reads them by reference)."""
    secrets = Secrets(
        ctx.name, SecretsArgs(spec=ctx.spec, values=ctx.app_secrets, prod=ctx.stack.prod, **stack_args(ctx.stack))
    )  # stack_args carries recovery_days to every component that keeps a secret
    return built(secrets, secrets=dict(secrets.refs), outputs={"secrets_store": secrets.store})
