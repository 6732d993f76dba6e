"""AWS CDN: a CloudFront distribution in front of the stack's bucket, via Origin Access Control."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.waf import web_acl
from mbops.components.base import MbopsComponent
from mbops.components.spec import CdnSpec, EdgeSpec
from mbops.components.wiring import BuildContext, Built

PRICE_CLASSES = {"economy": "PriceClass_100", "standard": "PriceClass_200", "global": "PriceClass_All"}
# AWS managed response headers policy "SecurityHeadersPolicy" (HSTS, nosniff, frame options, referrer policy).
SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ORIGIN_ID = "bucket"


@dataclass(kw_only=True)
class CdnArgs:
    spec: CdnSpec = field(default_factory=CdnSpec)
    bucket_regional_domain_name: pulumi.Input[str]
    public_prefix: str = "public/"  # the only part of the bucket the distribution reaches
    edge: EdgeSpec | None = None  # the stack's edge: a WAF in front of the distribution too (``waf``)
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class Cdn(MbopsComponent):
    """CloudFront distribution with the bucket's public prefix as its only origin, HTTPS-only for viewers.

    The origin path is ``public_prefix``: ``<cdn_url>/a.png`` is the object ``public/a.png``, and nothing
    outside the prefix (user uploads) can be reached or cached; the bucket admits this distribution to that
    prefix only (``Storage.allow_cloudfront_read(cdn.arn)``). With the stack's edge (``waf``) a CLOUDFRONT
    web ACL (rate limit per IP, managed rules) is in front of it.

    Children: ``origin_access_control`` (SigV4, always signs), ``cache_policy`` (TTL from the spec, gzip and
    brotli), ``distribution`` (redirect-to-https, security headers, price class from the spec) and the
    web ACL's (``web_acl``, ``web_acl_log_group``, ``web_acl_logging``). The ``*.cloudfront.net`` certificate
    takes no TLS minimum (CloudFront serves TLSv1 to old clients and records any other value as drift); a
    minimum applies with an alias and an ACM certificate (``overrides.distribution.viewer_certificate``).
    """

    kind = "cdn"

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        waf = args.edge is not None and args.edge.waf
        self.web_acl = (
            web_acl(self, name, args.edge, scope="CLOUDFRONT", log_retention_days=args.log_retention_days)
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
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            **self.args(
                "distribution",
                enabled=True,
                is_ipv6_enabled=True,
                http_version="http2and3",
                comment=f"{name} (mbops)",
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
                viewer_certificate={"cloudfront_default_certificate": True},
                web_acl_id=self.web_acl.arn if self.web_acl is not None else None,
                tags=self.tags,
            ),
            opts=self.opts(),
        )
        self.arn = self.distribution.arn
        self.url = pulumi.Output.concat("https://", self.distribution.domain_name)
        self.finish({"distribution_arn": self.arn, "url": self.url})


def build(ctx: BuildContext) -> Built:
    """CloudFront in front of the stack's bucket (origin access control); ``CDN_URL``."""
    storage = ctx.component("storage")
    cdn = Cdn(
        ctx.name,
        CdnArgs(spec=ctx.spec, bucket_regional_domain_name=storage.bucket_regional_domain_name,
                public_prefix=storage.public_prefix, edge=ctx.stack.specs.get("edge"),
                log_retention_days=90 if ctx.stack.prod else 30, tags=ctx.stack.tags),
    )  # fmt: skip
    storage.allow_cloudfront_read(cdn.arn)
    return Built(component=cdn, env={"CDN_URL": cdn.url}, outputs={"cdn_url": cdn.url})
