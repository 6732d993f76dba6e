"""Azure serverless (saas profile): Container Apps on the Consumption profile, scaling to zero."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.azure.app import AppArgs, app_args, container_app_logs
from mbops.components.azure.container_apps import ContainerAppsComponent
from mbops.components.azure.network import vnet_of
from mbops.components.spec import ServerlessSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class ServerlessArgs(AppArgs):
    spec: ServerlessSpec = field(default_factory=ServerlessSpec)
    infrastructure_subnet_id: pulumi.Input[str] | None = None  # prod: the foundation's private network


class Serverless(ContainerAppsComponent):
    """The app as a scale-to-zero container app (min replicas from the app, 0 in saas), pay per request.

    Dev: no VNet, the environment is Azure-managed, so the data services it uses (Cosmos DB, Key Vault,
    Storage) keep public endpoints restricted to Entra ID auth and TLS 1.2. Prod: the environment runs in the
    foundation's private network (zone-redundant), Key Vault behind a private endpoint and the Cosmos DB and
    storage firewalls admitting only its subnet; the Consumption profile still scales to zero there. Log
    Analytics keeps logs at least 30 days (its minimum retention); ``timeout_s`` is informational on Azure,
    whose ingress allows 240 s.
    Children: see ContainerAppsComponent.
    """

    kind = "serverless"

    def __init__(self, name: str, args: ServerlessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        subnet = args.infrastructure_subnet_id
        self.build_apps(
            args, log_retention_days=args.spec.log_retention_days, infrastructure_subnet_id=subnet,
            zone_redundant=subnet is not None,
        )  # fmt: skip
        self.finish({"url": self.url, "app_id": self.app.id, "environment_id": self.environment.id})


def build(ctx: BuildContext) -> Built:
    """The app as a scale-to-zero container app; its URL is the ``endpoint`` output."""
    net = vnet_of(ctx)
    subnet = net.subnet_ids["containerapps"] if net is not None else None
    serverless = Serverless(ctx.name, ServerlessArgs(**app_args(ctx), infrastructure_subnet_id=subnet))
    logs = container_app_logs(serverless.ctx, serverless.app_name, serverless.app, serverless.log_workspace)
    return Built(component=serverless, outputs={"endpoint": serverless.url, "logs": logs})
