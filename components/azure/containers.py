"""Azure containers (managed profile): Container Apps in the stack's VNet behind HTTPS ingress."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.azure.app import AppArgs, app_args, container_app_logs
from mbops.components.azure.container_apps import ContainerAppsComponent
from mbops.components.spec import ContainersSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class ContainersArgs(AppArgs):
    infrastructure_subnet_id: pulumi.Input[str] | None = None
    spec: ContainersSpec = field(default_factory=ContainersSpec)


class Containers(ContainerAppsComponent):
    """The app on Azure Container Apps, VNet-integrated (delegated ``containerapps`` subnet, NAT egress).

    Ingress is external and HTTPS-only on the environment's managed certificate (``allow_insecure`` off;
    plain HTTP is redirected). ``https_certificate`` is not needed on Azure: bind a custom domain and its
    certificate through ``overrides.app.configuration.ingress.custom_domains``. Zone-redundant in prod.
    Children: see ContainerAppsComponent.
    """

    kind = "containers"

    def __init__(self, name: str, args: ContainersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        self.build_apps(
            args,
            log_retention_days=args.spec.log_retention_days,
            infrastructure_subnet_id=args.infrastructure_subnet_id,
            zone_redundant=args.ctx.prod,
        )
        self.finish({"url": self.url, "app_id": self.app.id, "environment_id": self.environment.id})


def build(ctx: BuildContext) -> Built:
    """The app on Container Apps (in the VNet when the stack has one); its URL is the ``endpoint`` output."""
    subnet = ctx.component("network").subnet_ids["containerapps"] if ctx.stack.has("network") else None
    containers = Containers(ctx.name, ContainersArgs(**app_args(ctx), infrastructure_subnet_id=subnet))
    logs = container_app_logs(containers.ctx, containers.app_name, containers.app, containers.log_workspace)
    return Built(component=containers, outputs={"endpoint": containers.url, "logs": logs})
