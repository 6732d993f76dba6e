"""GCP serverless (saas profile): the app on Cloud Run v2, scaling to zero, outside any VPC."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.gcp.app import app_identity
from mbops.components.gcp.common import CRM_API, GcpArgs, GcpComponent, built, stack_args
from mbops.components.gcp.logs import logs_output, stack_log_queries
from mbops.components.gcp.run import RunSettings, cloud_run_service
from mbops.components.spec import AppSpec, ServerlessSpec
from mbops.components.wiring import AppWiring, BuildContext, Built


@dataclass(kw_only=True)
class ServerlessArgs(GcpArgs):
    spec: ServerlessSpec = field(default_factory=ServerlessSpec)
    app: AppSpec = field(default_factory=AppSpec)
    wiring: AppWiring = field(default_factory=AppWiring)
    image: pulumi.Input[str]  # what the app runs: the registry's pushed digest, or app.image
    deletion_protection: bool = False
    behind_load_balancer: bool = False  # the stack has an edge: ingress only through its load balancer


class Serverless(GcpComponent):
    """Cloud Run v2 service scaling from ``app.min_replicas`` (0 in the saas profile: it scales to zero; more
    keeps instances warm, billed while idle) to ``app.max_replicas`` instances, billed per request
    (CPU only during requests), request timeout ``timeout_s``, no VPC (the saas profile's data services are
    Google APIs reached with the service account's identity). Same identity, secret, probe, ingress and
    invoker pattern as the containers component (see ``run.py``): anyone may call it (the invoker check is off,
    which organization policies allow, unlike an ``allUsers`` binding), through the edge's load balancer when
    the stack has one; override ``invoker.member`` to restrict it.

    Children: ``service_account``, ``project_role``, ``secret_access``, ``bucket_access``,
    ``datastore_access``, ``registry_access``, ``iam_propagation`` (seconds only), ``log_bucket_suffix``,
    ``log_bucket``, ``log_sink``, ``log_exclusion``, ``service``, ``invoker`` (only when overridden).
    """

    kind = "serverless"
    apis = ("run.googleapis.com", "iam.googleapis.com", "logging.googleapis.com", CRM_API)

    def __init__(self, name: str, args: ServerlessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        app = args.app
        identity = app_identity(self, args.stack, "run", args.wiring)
        self.service_account = identity.account
        settings = RunSettings(
            min_instances=app.min_replicas,
            max_instances=app.max_replicas,
            timeout_s=args.spec.timeout_s,
            log_retention_days=args.spec.log_retention_days,
            deletion_protection=args.deletion_protection and not self.release_data,
            behind_load_balancer=args.behind_load_balancer,
        )
        run = cloud_run_service(self, args.stack, app, args.image, args.wiring, identity, settings)
        self.service, self.service_name, self.invoker = run.service, run.name, run.invoker
        self.log_queries = {"app": run.logs}
        self.max_instances = settings.max_instances
        self.endpoint = self.service.uri
        self.finish(
            {"endpoint": self.service.uri, "service": self.service.name, "service_account": identity.email}
        )


def build(ctx: BuildContext) -> Built:
    """The app on Cloud Run outside any VPC (to zero unless ``app.min_replicas``); its URL is the ``endpoint``."""
    serverless = Serverless(
        ctx.name,
        ServerlessArgs(spec=ctx.spec, app=ctx.stack.app, wiring=ctx.wiring,
                       image=ctx.stack.image(ctx.wiring), deletion_protection=ctx.stack.prod,
                       behind_load_balancer=ctx.stack.has("edge"), **stack_args(ctx.stack)),
    )  # fmt: skip
    logs = logs_output(ctx.stack.project or "", ctx.stack.region, stack_log_queries(ctx.built, serverless.log_queries))
    return built(serverless, outputs={"endpoint": serverless.endpoint, "logs": logs})
