"""Azure serverless (saas profile): Container Apps on the Consumption profile, scaling to zero."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.azure.app import AppArgs, app_args
from mbops.components.azure.container_apps import ContainerAppsComponent
from mbops.components.spec import ServerlessSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class ServerlessArgs(AppArgs):
    spec: ServerlessSpec = field(default_factory=ServerlessSpec)


class Serverless(ContainerAppsComponent):
    """The app as a scale-to-zero container app (min replicas from the app, 0 in saas), pay per request.

    No VNet: the environment is Azure-managed, so data services it uses (Cosmos DB, Key Vault, Storage)
    keep public endpoints restricted to Entra ID auth and TLS 1.2. Log Analytics keeps logs at least
    30 days (its minimum retention); ``timeout_s`` is informational on Azure, whose ingress allows 240 s.
    Children: see ContainerAppsComponent.
    """

    kind = "serverless"

    def __init__(self, name: str, args: ServerlessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        self.build_apps(args, log_retention_days=args.spec.log_retention_days)
        self.finish({"url": self.url, "app_id": self.app.id, "environment_id": self.environment.id})


def build(ctx: BuildContext) -> Built:
    """The app as a scale-to-zero container app; its URL is the ``endpoint`` output."""
    serverless = Serverless(ctx.name, ServerlessArgs(**app_args(ctx)))
    return Built(component=serverless, outputs={"endpoint": serverless.url})
