"""AWS CDN: a CloudFront distribution in front of the stack's bucket, via Origin Access Control."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.certs import CLOUDFRONT_REGION, Domain, alias_records, managed_certificate, stack_dns_records
from mbops.components.aws.naming import physical
from mbops.components.aws.waf import web_acl
from mbops.components.base import MbopsComponent
from mbops.components.spec import CdnSpec, EdgeSpec
from mbops.components.wiring import BuildContext, Built

PRICE_CLASSES = {"economy": "PriceClass_100", "standard": "PriceClass_200", "global": "PriceClass_All"}
# AWS managed response headers policy "SecurityHeadersPolicy" (HSTS, nosniff, frame options, referrer policy).
SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ORIGIN_ID = "bucket"
VIEWER_TLS = {"1.2": "TLSv1.2_2021", "1.3": "TLSv1.3_2025"}  # CloudFront's viewer security policies


@dataclass(kw_only=True)
class CdnArgs:
    spec: CdnSpec = field(default_factory=CdnSpec)
    bucket_regional_domain_name: pulumi.Input[str]
    public_prefix: str = "public/"  # the only part of the bucket the distribution reaches
    edge: EdgeSpec | None = None  # the stack's edge: a WAF in front of the distribution too (``waf``)
    domain: Domain | None = None  # cdn.<the stack's domain>: its own name, certificate and TLS minimum
    log_retention_days: int = 30
    physical_name: str | None = None  # the web ACL's log group and metrics; None: the component's name
    tags: Mapping[str, str] = field(default_factory=dict)


class Cdn(MbopsComponent):
    """CloudFront distribution with the bucket's public prefix as its only origin, HTTPS-only for viewers.

    The origin path is ``public_prefix``: ``<cdn_url>/a.png`` is the object ``public/a.png``, and nothing
    outside the prefix (user uploads) can be reached or cached; the bucket admits this distribution to that
    prefix only (``Storage.allow_cloudfront_read(cdn.arn)``). With the stack's edge (``waf``) a CLOUDFRONT
    web ACL (rate limit per IP, managed rules) is in front of it.

    Children: ``origin_access_control`` (SigV4, always signs), ``cache_policy`` (TTL from the spec, gzip and
    brotli), ``distribution`` (redirect-to-https, security headers, price class from the spec) and the
    web ACL's (``web_acl``, ``web_acl_log_group``, ``web_acl_logging``).

    With a ``domain`` (``cdn.<the stack's domain>``) the distribution answers on that name only over SNI with
    an ACM certificate in us-east-1 (``certificate``, ``validation_record``, ``certificate_validation``) and
    TLS 1.2 at least (the edge's ``min_tls``), and the name points at it (``dns_record`` with a Route 53 zone,
    else ``dns_records``): ``url`` is ``https://cdn.<domain>``. Without one it keeps ``*.cloudfront.net``,
    whose certificate takes no TLS minimum (CloudFront serves TLSv1 there and records any other value as drift).
    """

    kind = "cdn"

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        waf = args.edge is not None and args.edge.waf
        self.web_acl = (
            web_acl(
                self,
                name,
                args.edge,
                scope="CLOUDFRONT",
                log_retention_days=args.log_retention_days,
                physical=args.physical_name,
            )
            if waf and args.edge is not None
            else None
        )
        if self.web_acl is None:
            for child in ("web_acl", "web_acl_log_group", "web_acl_logging"):
                self.args(child)
        self.origin_access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            **self.args(
                "origin_access_control",
                origin_access_control_origin_type="s3",
                signing_behavior="always",
                signing_protocol="sigv4",
                description=f"{name}: CloudFront reads the bucket",
            ),
            opts=self.opts(),
        )
        self.cache_policy = aws.cloudfront.CachePolicy(
            f"{name}-cache",
            **self.args(
                "cache_policy",
                comment=f"{name}: objects by path",
                min_ttl=0,
                default_ttl=spec.default_ttl_s,
                max_ttl=max(spec.default_ttl_s, 31536000),
                parameters_in_cache_key_and_forwarded_to_origin={
                    "enable_accept_encoding_gzip": True,
                    "enable_accept_encoding_brotli": True,
                    "cookies_config": {"cookie_behavior": "none"},
                    "headers_config": {"header_behavior": "none"},
                    "query_strings_config": {"query_string_behavior": "none"},
                },
            ),
            opts=self.opts(),
        )
        self.dns_records: list[pulumi.Output] = []
        viewer: dict[str, object] = {"cloudfront_default_certificate": True}
        domain = args.domain
        if domain is not None:
            cert = managed_certificate(self, name, domain, region=CLOUDFRONT_REGION, purpose="CDN")
            self.dns_records += cert.dns_records
            min_tls = args.edge.min_tls if args.edge is not None else "1.2"
            viewer = {"acm_certificate_arn": cert.arn, "ssl_support_method": "sni-only",
                      "minimum_protocol_version": VIEWER_TLS[min_tls]}  # fmt: skip
        else:
            for child in ("certificate", "validation_record", "certificate_validation", "dns_record"):
                self.args(child)
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            **self.args(
                "distribution",
                enabled=True,
                is_ipv6_enabled=True,
                http_version="http2and3",
                comment=f"{name} (mbops)",
                aliases=[domain.name] if domain is not None else None,
                price_class=PRICE_CLASSES[spec.price_class],
                origins=[
                    {
                        "origin_id": ORIGIN_ID,
                        "domain_name": args.bucket_regional_domain_name,
                        "origin_path": "/" + args.public_prefix.rstrip("/"),
                        "origin_access_control_id": self.origin_access_control.id,
                    }
                ],
                default_cache_behavior={
                    "target_origin_id": ORIGIN_ID,
                    "viewer_protocol_policy": "redirect-to-https",
                    "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                    "cached_methods": ["GET", "HEAD"],
                    "compress": True,
                    "cache_policy_id": self.cache_policy.id,
                    "response_headers_policy_id": SECURITY_HEADERS_POLICY_ID,
                },
                restrictions={"geo_restriction": {"restriction_type": "none"}},
                viewer_certificate=viewer,
                web_acl_id=self.web_acl.arn if self.web_acl is not None else None,
                tags=self.tags,
            ),
            opts=self.opts(),
        )
        self.arn = self.distribution.arn
        if domain is not None:
            self.dns_records += alias_records(
                self, name, domain, target=self.distribution.domain_name,
                target_zone=self.distribution.hosted_zone_id, ipv6=True, evaluate_health=False,
            )  # fmt: skip
            self.url: pulumi.Output[str] = pulumi.Output.from_input(f"https://{domain.name}")
        else:
            self.url = pulumi.Output.concat("https://", self.distribution.domain_name)
        self.finish({"distribution_arn": self.arn, "url": self.url, "dns_records": self.dns_records})


def build(ctx: BuildContext) -> Built:
    """CloudFront in front of the stack's bucket (origin access control); ``CDN_URL``."""
    storage = ctx.component("storage")
    domain = None
    if ctx.stack.domain:
        zone = ctx.stack.dns_zone.name if ctx.stack.dns_zone is not None else None
        domain = Domain(name=f"cdn.{ctx.stack.domain}", zone=zone)
    cdn = Cdn(
        ctx.name,
        CdnArgs(spec=ctx.spec, bucket_regional_domain_name=storage.bucket_regional_domain_name,
                public_prefix=storage.public_prefix, edge=ctx.stack.specs.get("edge"), domain=domain,
                log_retention_days=90 if ctx.stack.prod else 30, physical_name=physical(ctx), tags=ctx.stack.tags),
    )  # fmt: skip
    storage.allow_cloudfront_read(cdn.arn)
    outputs: dict[str, object] = {"cdn_url": cdn.url}
    if cdn.dns_records:
        outputs["dns_records"] = stack_dns_records(ctx.built, cdn.dns_records)
    return Built(component=cdn, env={"CDN_URL": cdn.url}, outputs=outputs)
