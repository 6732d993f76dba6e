"""GCP CDN: Cloud CDN on a backend bucket in front of the private storage bucket, serving signed URLs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from mbops.components.gcp.common import GcpArgs, GcpComponent, SecretRef, built, gcp_name, stack_args
from mbops.components.gcp.lb import global_frontend
from mbops.components.spec import CdnSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class CdnArgs(GcpArgs):
    spec: CdnSpec = field(default_factory=CdnSpec)
    stack: str = "mbops"
    bucket_name: pulumi.Input[str]


def base64url(standard: str) -> str:
    """RFC 4648 section 5 (URL-safe) base64 of a standard base64 string, as Cloud CDN keys are written."""
    return standard.replace("+", "-").replace("/", "_")


class Cdn(GcpComponent):
    """Cloud CDN on a backend bucket for the stack's bucket, behind a global external Application LB.

    The bucket stays private (uniform access, public access prevention enforced): nothing is granted to
    ``allUsers``. Cloud CDN fetches objects as its fill service agent
    (``service-<project number>@cloud-cdn-fill.iam.gserviceaccount.com``), which gets objectViewer on this
    bucket only; that agent exists once a signed-URL key is attached, so clients get objects through URLs
    signed with the key. The 128-bit key is generated (a Pulumi secret) and kept in Secret Manager
    (``signing_key``, app env ``CDN_SIGNING_KEY``) with its name (``signing_key_name``,
    ``CDN_SIGNING_KEY_NAME``), so the app can sign URLs. Static content is cached with ``default_ttl_s``,
    stale content is served while the origin is slow. ``price_class`` has no GCP equivalent (Cloud CDN
    always serves from every edge location). HTTPS needs a domain (see ``lb.py``); otherwise HTTP.

    Children: ``signing_key_bytes``, ``backend_bucket``, ``signing_key``, ``fill_access``,
    ``signing_key_secret``, ``signing_key_secret_version``, and the load balancer front (``address``,
    ``url_map``, ``http_proxy``, ``http_rule``, ...).
    """

    kind = "cdn"
    apis = ("compute.googleapis.com", "secretmanager.googleapis.com")

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        key_bytes = random.RandomBytes(
            f"{name}-signing-key-bytes", **self.args("signing_key_bytes", length=16), opts=self.opts()
        )
        key_value = pulumi.Output.secret(key_bytes.base64.apply(base64url))
        self.backend_bucket = gcp.compute.BackendBucket(
            f"{name}-backend",
            **self.args(
                "backend_bucket",
                project=self.project,
                bucket_name=args.bucket_name,
                enable_cdn=True,
                compression_mode="AUTOMATIC",
                description=f"mbops {args.stack}: CDN origin",
                cdn_policy={
                    "cache_mode": "CACHE_ALL_STATIC",
                    "default_ttl": spec.default_ttl_s,
                    "client_ttl": spec.default_ttl_s,
                    "max_ttl": max(spec.default_ttl_s, 86400),
                    "negative_caching": True,
                    "serve_while_stale": 86400,
                    "request_coalescing": True,
                    "signed_url_cache_max_age_sec": 3600,
                },
            ),
            opts=self.opts(),
        )
        self.signing_key_name = gcp_name(args.stack, "cdn-key")
        signed_key = gcp.compute.BackendBucketSignedUrlKey(
            f"{name}-signing-key",
            **self.args(
                "signing_key",
                project=self.project,
                backend_bucket=self.backend_bucket.name,
                name=self.signing_key_name,
                key_value=key_value,
            ),
            opts=self.opts(),
        )
        number = gcp.organizations.get_project_output(
            project_id=self.project, opts=pulumi.InvokeOutputOptions(parent=self)
        ).number
        self.fill_access = gcp.storage.BucketIAMMember(
            f"{name}-fill-access",
            **self.args(
                "fill_access",
                bucket=args.bucket_name,
                role="roles/storage.objectViewer",
                member=number.apply(
                    lambda n: f"serviceAccount:service-{n}@cloud-cdn-fill.iam.gserviceaccount.com"
                ),
            ),
            opts=self.opts(depends_on=[signed_key]),
        )
        self.signing_key: SecretRef = self.secret(
            "signing_key_secret", "CDN_SIGNING_KEY", args.stack, key_value
        )
        self.frontend = global_frontend(self, f"mbops {args.stack} CDN", self.backend_bucket.self_link)
        self.url = self.frontend.url
        self.finish(
            {
                "url": self.url,
                "signing_key_name": self.signing_key_name,
                "signing_key_secret": self.signing_key.secret_id,
            }
        )


def build(ctx: BuildContext) -> Built:
    """Cloud CDN on the stack's bucket: ``CDN_URL``, the signing key's name and the key (Secret Manager)."""
    cdn = Cdn(
        ctx.name,
        CdnArgs(spec=ctx.spec, stack=ctx.stack.name, bucket_name=ctx.component("storage").bucket_name,
                **stack_args(ctx.stack)),
    )  # fmt: skip
    return built(
        cdn, env={"CDN_URL": cdn.url, "CDN_SIGNING_KEY_NAME": cdn.signing_key_name},
        secrets={"CDN_SIGNING_KEY": cdn.signing_key}, outputs={"cdn_url": cdn.url},
    )  # fmt: skip
