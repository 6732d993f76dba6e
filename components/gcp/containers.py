"""GCP containers (managed profile): the app on Cloud Run v2 with Direct VPC egress into the network."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.gcp.app import app_identity
from mbops.components.gcp.common import CRM_API, GcpArgs, GcpComponent, built, stack_args
from mbops.components.gcp.logs import logs_output, stack_log_queries
from mbops.components.gcp.network import Network
from mbops.components.gcp.run import RunSettings, cloud_run_service
from mbops.components.spec import AppSpec, ContainersSpec
from mbops.components.wiring import AppWiring, BuildContext, Built


@dataclass(kw_only=True)
class ContainersArgs(GcpArgs):
    spec: ContainersSpec = field(default_factory=ContainersSpec)
    app: AppSpec = field(default_factory=AppSpec)
    network: Network
    wiring: AppWiring = field(default_factory=AppWiring)
    image: pulumi.Input[str]  # what the app runs: the registry's pushed digest, or app.image
    deletion_protection: bool = False
    behind_load_balancer: bool = False  # the stack has an edge: ingress only through its load balancer


class Containers(GcpComponent):
    """Cloud Run v2 service between ``app.min_replicas`` and ``app.max_replicas`` instances, its own service
    account (logWriter, metricWriter, secretAccessor on its secrets, objectAdmin on its bucket), secrets via
    ``secret_key_ref``, startup/liveness probes on the health path, and Direct VPC egress to the stack's
    subnet (``PRIVATE_RANGES_ONLY``: Cloud SQL and Memorystore private IPs through the VPC, the internet
    directly) with the network's app tag. Logs are kept ``log_retention_days`` in a dedicated log bucket.

    Without an edge it answers on its own ``https://*.run.app`` URL (Google-managed TLS); with the stack's edge
    (prod) only the external HTTPS load balancer reaches it (Cloud Armor in front), and that load balancer serves
    ``https_certificate`` when it is set. Without an edge there is no load balancer to serve it on: a set
    ``https_certificate`` is then reported as a partial gap. The invoker check is off (a public API; see
    ``run.py``); override ``invoker.member`` to restrict it. It starts after the IAM propagation wait and the
    database's app role. Deletion protection is on in prod.

    Children: ``service_account``, ``project_role``, ``secret_access``, ``bucket_access``,
    ``datastore_access``, ``registry_access``, ``iam_propagation`` (seconds only), ``log_bucket_suffix``,
    ``log_bucket``, ``log_sink``, ``log_exclusion``, ``service``, ``invoker`` (only when overridden).
    """

    kind = "containers"
    apis = ("run.googleapis.com", "iam.googleapis.com", "logging.googleapis.com", CRM_API)

    def __init__(self, name: str, args: ContainersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        app, network = args.app, args.network
        identity = app_identity(self, args.stack, "run", args.wiring)
        self.service_account = identity.account
        settings = RunSettings(
            min_instances=app.min_replicas,
            max_instances=app.max_replicas,
            log_retention_days=args.spec.log_retention_days,
            deletion_protection=args.deletion_protection and not self.release_data,
            behind_load_balancer=args.behind_load_balancer,
            network=network.network_id,
            subnetwork=network.subnetwork_id,
            network_tags=(network.app_tag,),
        )
        run = cloud_run_service(self, args.stack, app, args.image, args.wiring, identity, settings)
        self.service, self.service_name, self.invoker = run.service, run.name, run.invoker
        self.log_queries = {"app": run.logs}
        self.max_instances = settings.max_instances
        if args.spec.https_certificate and not args.behind_load_balancer:
            self.declare_gap(
                "https_certificate: Cloud Run serves its run.app URL with a Google-managed certificate; a "
                "certificate of your own needs a load balancer in front of it, and the stack has no edge",
                "turn on the edge (components.edge: true) with a domain: its HTTPS load balancer serves "
                "https_certificate (or a Google-managed certificate for the domain without one)",
            )
        self.endpoint = self.service.uri
        self.finish(
            {"endpoint": self.service.uri, "service": self.service.name, "service_account": identity.email}
        )


def build(ctx: BuildContext) -> Built:
    """The app on Cloud Run in the stack's network; its URL is the stack's ``endpoint`` output."""
    containers = Containers(
        ctx.name,
        ContainersArgs(spec=ctx.spec, app=ctx.stack.app, network=ctx.component("network"),
                       wiring=ctx.wiring, image=ctx.stack.image(ctx.wiring), deletion_protection=ctx.stack.prod,
                       behind_load_balancer=ctx.stack.has("edge"), **stack_args(ctx.stack)),
    )  # fmt: skip
    logs = logs_output(ctx.stack.project or "", ctx.stack.region, stack_log_queries(ctx.built, containers.log_queries))
    return built(containers, outputs={"endpoint": containers.endpoint, "logs": logs})
