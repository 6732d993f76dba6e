"""Azure containers (managed profile): Container Apps in the stack's VNet behind HTTPS ingress."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.azure.common import AppWiring, AzureContext
from mbops.components.azure.container_apps import ContainerAppsComponent
from mbops.components.spec import ContainersSpec
from mbops.stacks.config import AppSpec


@dataclass(kw_only=True)
class ContainersArgs:
    ctx: AzureContext
    app: AppSpec
    wiring: AppWiring
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
            app=args.app,
            wiring=args.wiring,
            log_retention_days=args.spec.log_retention_days,
            infrastructure_subnet_id=args.infrastructure_subnet_id,
            zone_redundant=args.ctx.prod,
        )
        self.finish({"url": self.url, "app_id": self.app.id, "environment_id": self.environment.id})
