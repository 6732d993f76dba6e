"""GCP secrets: a Secret Manager secret per app secret (``app.secret_env``), kept in the stack's region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from mbops.components.gcp.common import GcpArgs, GcpComponent, SecretRef
from mbops.components.secret_values import secret_env_value
from mbops.components.spec import SecretsSpec


@dataclass(kw_only=True)
class SecretsArgs(GcpArgs):
    spec: SecretsSpec = field(default_factory=SecretsSpec)
    stack: str = "mbops"
    secret_env: Mapping[str, str] = field(default_factory=dict)


class Secrets(GcpComponent):
    """Secret Manager secrets ``<stack>-<NAME>``, user-managed replication in the stack's region only
    (data residency), each with one version holding the value (a Pulumi secret, never in plaintext state).
    Destroyed versions stay recoverable for ``recovery_days`` (``version_destroy_ttl``).

    The app reads them through ``refs`` (pinned versions); its service account gets secretAccessor on each
    secret, never project-wide. ``store`` names where they live: ``projects/<project>/secrets/<stack>-``.

    Children: ``secret``, ``secret_version`` (one each per app secret).
    """

    kind = "secrets"
    apis = ("secretmanager.googleapis.com",)

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        self.refs: dict[str, SecretRef] = {}
        if (
            not args.secret_env
        ):  # nothing to store: still accept (empty) overrides for the children it would have
            self.args("secret"), self.args("secret_version")
        for env_name in sorted(args.secret_env):
            self.refs[env_name] = self.secret(
                "secret",
                env_name,
                args.stack,
                secret_env_value(args.secret_env, env_name),
                destroy_ttl_days=args.spec.recovery_days,
            )
        self.store = f"projects/{self.project}/secrets/{args.stack}-"
        self.finish({"store": self.store, "secret_ids": {k: r.secret_id for k, r in self.refs.items()}})
