"""AWS CDN: a CloudFront distribution in front of the stack's bucket, via Origin Access Control."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.base import MbopsComponent
from mbops.components.spec import CdnSpec
from mbops.components.wiring import BuildContext, Built

PRICE_CLASSES = {"economy": "PriceClass_100", "standard": "PriceClass_200", "global": "PriceClass_All"}
# AWS managed response headers policy "SecurityHeadersPolicy" (HSTS, nosniff, frame options, referrer policy).
SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ORIGIN_ID = "bucket"


@dataclass(kw_only=True)
class CdnArgs:
    spec: CdnSpec = field(default_factory=CdnSpec)
    bucket_regional_domain_name: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


class Cdn(MbopsComponent):
    """CloudFront distribution with the bucket as its only origin, HTTPS-only for viewers.

    Children: ``origin_access_control`` (SigV4, always signs), ``cache_policy`` (TTL from the spec, gzip and
    brotli), ``distribution`` (redirect-to-https, TLSv1.2_2021 minimum, security headers, price class from
    the spec). The bucket must allow this distribution to read: ``Storage.allow_cloudfront_read(cdn.arn)``.
    The ``*.cloudfront.net`` certificate cannot enforce a TLS minimum; the setting applies once an alias
    with an ACM certificate is configured (``overrides.distribution.viewer_certificate``).
    """

    kind = "cdn"

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
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
                viewer_certificate={
                    "cloudfront_default_certificate": True,
                    "minimum_protocol_version": "TLSv1.2_2021",
                },
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
        CdnArgs(spec=ctx.spec, bucket_regional_domain_name=storage.bucket_regional_domain_name, tags=ctx.stack.tags),
    )
    storage.allow_cloudfront_read(cdn.arn)
    return Built(component=cdn, env={"CDN_URL": cdn.url}, outputs={"cdn_url": cdn.url})
