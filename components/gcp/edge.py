"""GCP edge: the stack's one public entry, a global external HTTPS load balancer on ``domain`` with Cloud Armor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.armor import security_policy
from mbops.components.gcp.common import GcpArgs, GcpComponent, built, gcp_name, stack_args
from mbops.components.gcp.lb import (
    Frontend,
    Route,
    certificate_args,
    front_apis,
    frontend,
    group_backend,
    serverless_backend,
)
from mbops.components.gcp.logs import LogQuery, logs_output, stack_log_queries
from mbops.components.spec import EdgeSpec
from mbops.components.wiring import APP_KINDS, BuildContext, Built


@dataclass(kw_only=True)
class EdgeArgs(GcpArgs):
    spec: EdgeSpec = field(default_factory=EdgeSpec)
    domain: str | None = None
    dns_zone: Any = None
    app: Any  # the app kind's component: Servers (a group), or Containers / Serverless (a Cloud Run service)
    cdn: Any = None  # the stack's Cdn, served under its public prefix on the same domain
    certificate: str | None = None  # the app kind's https_certificate: served instead of a managed certificate


class Edge(GcpComponent):
    """The internet-facing front of the app (and the CDN): an external Application Load Balancer
    (``EXTERNAL_MANAGED``) on a reserved global address.

    - HTTPS on the stack's ``domain`` with a Google-managed certificate (Certificate Manager, DNS-authorized),
      or the app kind's ``https_certificate`` when set, TLS ``min_tls``+ with the RESTRICTED SSL profile; port 80
      only redirects to HTTPS (``lb.py``). DNS records go into ``dns_zone`` or are listed in the ``dns_records``
      output.
    - Cloud Armor (``waf``) on the app's backend: the OWASP preconfigured rules (``managed_rules``), a per-IP
      limit of ``rate_limit`` requests per 5 minutes (429 beyond), Adaptive Protection.
    - The app behind it: Cloud Run through a serverless NEG (the service accepts traffic only from the load
      balancer), or the servers' instance group (its health check); request logs on the backend.
    - The CDN's backend bucket under ``/<public_prefix>*`` on the same domain, when the stack has a CDN.

    Without a domain there is no certificate to issue: the front serves plain HTTP on its address, which is
    reported as a partial gap (a prod stack needs ``domain:``; the policy check says so too).

    Children: ``security_policy``, ``neg`` (Cloud Run), ``backend``, and the front (``address``, ``url_map``,
    ``dns_authorization``, ``certificate``, ``certificate_map``, ``certificate_map_entry``, ``ssl_policy``,
    ``https_proxy``, ``https_rule``, ``redirect_url_map``, ``http_proxy``, ``http_rule``, ``dns_record``,
    ``validation_record``).
    """

    kind = "edge"

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self.apis = ("compute.googleapis.com", *front_apis(args.domain, args.dns_zone))
        super().__init__(name, args, opts)
        spec, app = args.spec, args.app
        purpose = f"mbops {args.stack} edge"
        self.security_policy: gcp.compute.SecurityPolicy | None = (
            security_policy(self, purpose, spec) if spec.waf else None
        )
        self.security_policy_name = gcp_name(self.physical, "waf") if spec.waf else None
        armor = self.security_policy.self_link if self.security_policy is not None else None
        if app.kind == "servers":
            self.backend = group_backend(
                self, purpose, group=app.group.instance_group, health_check=app.health_check.id, security_policy=armor
            )
        else:
            self.backend = serverless_backend(
                self, purpose, service=app.service, service_name=app.service_name, security_policy=armor
            )
        cdn = args.cdn
        routes = [Route(paths=[f"/{cdn.public_prefix}*"], service=cdn.backend_bucket.self_link)] if (
            cdn is not None and args.domain) else []  # fmt: skip
        certificate = (
            certificate_args(args.certificate, f"components.{app.kind}.https_certificate") if args.certificate else None
        )  # fmt: skip
        self.frontend: Frontend = frontend(
            self, purpose=purpose, default_service=self.backend.id, routes=routes, domain=args.domain,
            dns_zone=args.dns_zone, min_tls=spec.min_tls, certificate=certificate,
        )  # fmt: skip
        self.log_queries = {"edge": LogQuery(filter=(
            f'resource.type="http_load_balancer" AND resource.labels.url_map_name="{self.frontend.url_map_name}"'))}
        if not args.domain and certificate is None:
            self.declare_gap(
                "no domain: the edge serves plain HTTP on its address (a certificate needs a domain); Cloud Armor "
                "is in front of the app",
                "set domain: (e.g. api.example.com) and optionally dns_zone: in the stack file; the edge then "
                "serves HTTPS only, with a Google-managed certificate",
            )
        self.endpoint = self.frontend.url
        self.finish({"endpoint": self.endpoint, "address": self.frontend.address.address})


def build(ctx: BuildContext) -> Built:
    """The public HTTPS entry of the stack; its URL is the stack's ``endpoint`` (``https://<domain>``)."""
    app_kind = next((kind for kind in APP_KINDS if kind in ctx.built), None)
    if app_kind is None:  # the stack wiring builds the app before the edge
        raise RuntimeError(f"the gcp edge kind was built before the app ({', '.join(APP_KINDS)}): it fronts the app")
    edge = Edge(
        ctx.name,
        EdgeArgs(spec=ctx.spec, domain=ctx.stack.domain, dns_zone=ctx.stack.dns_zone,
                 app=ctx.component(app_kind), cdn=ctx.component("cdn") if "cdn" in ctx.built else None,
                 certificate=getattr(ctx.stack.specs[app_kind], "https_certificate", None), **stack_args(ctx.stack)),
    )  # fmt: skip
    outputs: dict[str, Any] = {
        "endpoint": edge.endpoint, "edge_address": edge.frontend.address.address,
        "logs": logs_output(ctx.stack.project or "", ctx.stack.region, stack_log_queries(ctx.built, edge.log_queries)),
    }  # fmt: skip
    if edge.frontend.dns_records is not None:
        outputs["dns_records"] = edge.frontend.dns_records
    return built(edge, outputs=outputs)
