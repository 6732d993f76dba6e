"""AWS edge: the public entry of the app on the stack's ``domain``, HTTPS only, behind a WAFv2 web ACL.

- Load balancer apps (containers, servers): the ALB already serves the domain's ACM certificate on 443 with
  the TLS policy and redirects 80 to it (``alb.py``, created with the load balancer it belongs to); the edge
  puts a REGIONAL web ACL in front of the ALB and points the domain at it.
- Lambda (serverless): an HTTP API cannot take a WAF, so CloudFront fronts it: the domain's certificate (in
  us-east-1, as CloudFront requires), a CLOUDFRONT web ACL, no caching, every method and header but Host
  forwarded, and the origin secret header the API's authorizer checks (requests around CloudFront fail).

With a Route 53 ``dns_zone`` the records are created; without one the ``dns_records`` output lists what to
create where the domain is hosted. Without a ``domain`` (a policy violation in prod) the WAF still applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from mbops.components.aws.cdn import SECURITY_HEADERS_POLICY_ID, VIEWER_TLS
from mbops.components.aws.certs import CLOUDFRONT_REGION, Domain, alias_records, managed_certificate, stack_dns_records
from mbops.components.aws.naming import physical
from mbops.components.aws.serverless import ORIGIN_HEADER
from mbops.components.aws.waf import associate, web_acl
from mbops.components.base import MbopsComponent
from mbops.components.spec import EdgeSpec
from mbops.components.wiring import BuildContext, Built

CF = aws.cloudfront
# AWS managed CloudFront policies: no caching (an API); forward everything the viewer sent except Host (the
# origin is the API's own name); the security headers of the CDN.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ORIGIN_ID = "api"


@dataclass(kw_only=True)
class EdgeArgs:
    spec: EdgeSpec = field(default_factory=EdgeSpec)
    domain: Domain | None = None
    load_balancer: Any = None  # alb.LoadBalancer of a containers/servers app
    api_endpoint: pulumi.Input[str] | None = None  # https://<id>.execute-api... of a serverless app
    origin_secret: pulumi.Input[str] | None = None  # the header value the API's authorizer admits
    certificate_records: list[pulumi.Output] = field(default_factory=list)  # the ALB certificate's, to create
    log_retention_days: int = 30
    physical_name: str | None = None  # the web ACL's log group and metrics; None: the component's name
    tags: Mapping[str, str] = field(default_factory=dict)


class Edge(MbopsComponent):
    """The stack's public entry (see the module). ``endpoint``: ``https://<domain>`` (else the entry's own
    name); ``dns_records``: records to create elsewhere, ``{name, type, value, purpose}``.

    Children: ``web_acl``, ``web_acl_log_group``, ``web_acl_logging`` (with ``waf``); ``web_acl_association``
    (ALB); ``certificate``, ``validation_record``, ``certificate_validation``, ``distribution`` (Lambda);
    ``dns_record`` (with a zone).
    """

    kind = "edge"

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec, domain = args.spec, args.domain
        self.dns_records: list[pulumi.Output] = list(args.certificate_records)
        self.web_acl: aws.wafv2.WebAcl | None = None
        if args.load_balancer is not None:
            lb = args.load_balancer.load_balancer
            if spec.waf:
                self.web_acl = web_acl(
                    self,
                    name,
                    spec,
                    scope="REGIONAL",
                    log_retention_days=args.log_retention_days,
                    physical=args.physical_name,
                )
                associate(self, name, self.web_acl, lb.arn)
            for child in ("certificate", "validation_record", "certificate_validation", "distribution"):
                self.args(child)
            target, target_zone, ipv6 = lb.dns_name, lb.zone_id, False
            self.endpoint: pulumi.Output[str] = args.load_balancer.url
        else:
            if spec.waf:
                self.web_acl = web_acl(
                    self,
                    name,
                    spec,
                    scope="CLOUDFRONT",
                    log_retention_days=args.log_retention_days,
                    physical=args.physical_name,
                )
            self.args("web_acl_association")
            self.distribution = self._distribution(name, args)
            target, target_zone, ipv6 = self.distribution.domain_name, self.distribution.hosted_zone_id, True
            self.endpoint = (
                pulumi.Output.from_input(f"https://{domain.name}")
                if domain
                else pulumi.Output.concat("https://", self.distribution.domain_name)
            )
        if not spec.waf:
            for child in ("web_acl", "web_acl_log_group", "web_acl_logging", "web_acl_association"):
                self.args(child)
        if domain is not None:
            self.dns_records += alias_records(
                self, name, domain, target=target, target_zone=target_zone, ipv6=ipv6,
                evaluate_health=args.load_balancer is not None,  # CloudFront aliases cannot evaluate health
            )  # fmt: skip
        else:
            self.args("dns_record")
            pulumi.log.warn(
                "edge: the stack has no domain, so its entry has no name of its own (and a load balancer no "
                "certificate): set `domain:` (and `dns_zone:` when Route 53 hosts it) to serve HTTPS on it",
                resource=self,
            )
        self.finish({"endpoint": self.endpoint, "dns_records": self.dns_records})

    def _distribution(self, name: str, args: EdgeArgs) -> CF.Distribution:
        """CloudFront in front of the HTTP API: HTTPS only, no caching, the origin secret header added."""
        spec, domain = args.spec, args.domain
        if domain is not None:
            cert = managed_certificate(self, name, domain, region=CLOUDFRONT_REGION, purpose="CloudFront")
            self.dns_records += cert.dns_records
            viewer = CF.DistributionViewerCertificateArgs(
                acm_certificate_arn=cert.arn, ssl_support_method="sni-only",
                minimum_protocol_version=VIEWER_TLS[spec.min_tls],
            )  # fmt: skip
        else:
            for child in ("certificate", "validation_record", "certificate_validation"):
                self.args(child)
            # The *.cloudfront.net certificate takes no minimum (any other value than TLSv1 drifts).
            viewer = CF.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        host = pulumi.Output.from_input(args.api_endpoint).apply(lambda url: str(url).removeprefix("https://"))
        return CF.Distribution(
            f"{name}-distribution",
            **self.args(
                "distribution",
                enabled=True,
                is_ipv6_enabled=True,
                http_version="http2and3",
                comment=f"{name}: the app's API (mbops)",
                aliases=[domain.name] if domain else None,
                price_class="PriceClass_100",
                origins=[
                    CF.DistributionOriginArgs(
                        origin_id=ORIGIN_ID,
                        domain_name=host,
                        custom_origin_config=CF.DistributionOriginCustomOriginConfigArgs(
                            http_port=80, https_port=443, origin_protocol_policy="https-only",
                            origin_ssl_protocols=["TLSv1.2"], origin_read_timeout=30,
                        ),
                        custom_headers=[CF.DistributionOriginCustomHeaderArgs(
                            name=ORIGIN_HEADER, value=pulumi.Output.secret(args.origin_secret))],
                    )
                ],
                default_cache_behavior=CF.DistributionDefaultCacheBehaviorArgs(
                    target_origin_id=ORIGIN_ID,
                    viewer_protocol_policy="redirect-to-https",
                    allowed_methods=["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                    cached_methods=["GET", "HEAD"],
                    compress=True,
                    cache_policy_id=CACHING_DISABLED,
                    origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST,
                    response_headers_policy_id=SECURITY_HEADERS_POLICY_ID,
                ),
                restrictions=CF.DistributionRestrictionsArgs(
                    geo_restriction=CF.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
                ),
                viewer_certificate=viewer,
                web_acl_id=self.web_acl.arn if self.web_acl is not None else None,
                tags=self.tags,
            ),
            opts=self.opts(),
        )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """The stack's entry on its domain: WAF + the domain's records (and CloudFront in front of a Lambda app)."""
    domain = None
    if ctx.stack.domain:
        zone = ctx.stack.dns_zone.name if ctx.stack.dns_zone is not None else None
        domain = Domain(name=ctx.stack.domain, zone=zone)
    app = next(ctx.built[k].component for k in ("containers", "servers", "serverless") if k in ctx.built)
    lb = getattr(app, "load_balancer", None)
    edge = Edge(
        ctx.name,
        EdgeArgs(
            spec=ctx.spec, domain=domain, load_balancer=lb, api_endpoint=None if lb else app.endpoint,
            origin_secret=None if lb else app.origin_secret,
            certificate_records=list(lb.dns_records) if lb else [], log_retention_days=90 if ctx.stack.prod else 30,
            physical_name=physical(ctx), tags=ctx.stack.tags,
        ),
    )  # fmt: skip
    outputs: dict[str, Any] = {"endpoint": edge.endpoint}
    records = stack_dns_records(ctx.built, edge.dns_records)  # with the CDN's and the user pool's email's
    if records:
        outputs["dns_records"] = records
    return Built(component=edge, outputs=outputs)
