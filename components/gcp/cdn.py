"""GCP CDN: Cloud CDN on a backend bucket in front of the private storage bucket, serving signed URLs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from mbops.components.gcp.armor import edge_policy
from mbops.components.gcp.common import CRM_API, GcpArgs, GcpComponent, SecretRef, built, gcp_name, stack_args
from mbops.components.gcp.lb import Frontend, frontend
from mbops.components.spec import CdnSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class CdnArgs(GcpArgs):
    spec: CdnSpec = field(default_factory=CdnSpec)
    bucket_name: pulumi.Input[str]  # the bucket's name output (children wait for the bucket)
    bucket_id: str = ""  # the same name, known when planned: the fill grant's IAM condition names it
    public_prefix: str = "public/"
    edge_waf: bool = False  # the stack's edge has a WAF: the backend bucket gets a Cloud Armor edge policy
    shared_domain: str | None = None  # the edge serves the CDN on this domain (prod): no front of its own


def prefix_condition(bucket: str, prefix: str) -> str:
    """The IAM condition that keeps a bucket grant to the objects under ``prefix``."""
    return f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")'


def base64url(standard: str) -> str:
    """RFC 4648 section 5 (URL-safe) base64 of a standard base64 string, as Cloud CDN keys are written."""
    return standard.replace("+", "-").replace("/", "_")


class Cdn(GcpComponent):
    """Cloud CDN on a backend bucket for the stack's bucket, serving its ``public_prefix`` only.

    The bucket stays private (uniform access, public access prevention enforced): nothing is granted to
    ``allUsers``. Cloud CDN fetches objects as its fill service agent
    (``service-<project number>@cloud-cdn-fill.iam.gserviceaccount.com``), which gets objectViewer on this
    bucket with an IAM condition on ``public_prefix``: user uploads (everything else) can never be read
    through the CDN, so no private object is ever cached, and a deleted upload is gone at once. That agent
    exists once a signed-URL key is attached, and a private bucket is served for signed requests: the app
    signs CDN URLs with the 128-bit key (generated, a Pulumi secret) kept in Secret Manager (``signing_key``,
    app env ``CDN_SIGNING_KEY``, its name ``CDN_SIGNING_KEY_NAME``). Public content is cached with
    ``default_ttl_s`` and served stale while the origin is slow.

    Where: with the stack's edge and domain (prod), on the edge's HTTPS load balancer, which sends
    ``/<public_prefix>*`` to the bucket (``CDN_URL`` is ``https://<domain>``); otherwise on a load balancer of
    its own (``lb.py``: plain HTTP without a domain, dev).

    Not WAF-inspected: the CDN path serves only cached public files of the private bucket (GET/HEAD, no app
    payloads), and a Cloud Armor edge policy, the only kind a backend bucket takes, cannot run the WAF rules or
    rate limits (IP and region matches only). With the edge's WAF the bucket still gets an edge policy
    (``armor.edge_policy``): it filters nothing until rules are added (``overrides.edge_security_policy.rules``,
    or in an incident, on the live policy, without touching the load balancer), and the prod ``edge-waf`` policy
    requires it on every public entry. Without the edge's WAF, overriding ``edge_security_policy`` creates it.

    ``price_class`` has no meaning on GCP: Cloud CDN always serves from every Google edge location (each request
    billed at its own region's rate), so every value gets the same deployment and none is reported.

    Children: ``signing_key_bytes``, ``edge_security_policy`` (with the edge's WAF), ``backend_bucket``,
    ``signing_key``, ``fill_access``, ``signing_key_secret``, ``signing_key_secret_version``, and without the
    edge's front the load balancer front (``address``, ``url_map``, ``http_proxy``, ``http_rule``, ...).
    """

    kind = "cdn"
    # The project's number (the CDN fill agent's name) is read through the Cloud Resource Manager API.
    apis = ("compute.googleapis.com", "secretmanager.googleapis.com", CRM_API)

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        key_bytes = random.RandomBytes(
            f"{name}-signing-key-bytes", **self.args("signing_key_bytes", length=16), opts=self.opts()
        )
        key_value = pulumi.Output.secret(key_bytes.base64.apply(base64url))
        edge = (
            {"edge_security_policy": edge_policy(self, f"mbops {args.stack} CDN").self_link}
            if args.edge_waf or "edge_security_policy" in spec.overrides else {}
        )  # fmt: skip
        self.backend_bucket = gcp.compute.BackendBucket(
            f"{name}-backend",
            **self.args(
                "backend_bucket",
                project=self.project,
                bucket_name=args.bucket_name,
                **edge,
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
        self.signed_url_key = signed_key = gcp.compute.BackendBucketSignedUrlKey(
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
        number = gcp.organizations.get_project_output(project_id=self.project, opts=self.invoke_opts()).number
        self.public_prefix = args.public_prefix
        self.fill_access = gcp.storage.BucketIAMMember(
            f"{name}-fill-access",
            **self.args(
                "fill_access",
                bucket=args.bucket_name,
                role="roles/storage.objectViewer",
                member=number.apply(
                    lambda n: f"serviceAccount:service-{n}@cloud-cdn-fill.iam.gserviceaccount.com"
                ),
                condition={
                    "title": "public-prefix-only",
                    "description": f"Cloud CDN reads only objects under {args.public_prefix}",
                    "expression": prefix_condition(args.bucket_id, args.public_prefix),
                },
            ),
            opts=self.opts(depends_on=[signed_key]),
        )
        self.signing_key: SecretRef = self.secret(
            "signing_key_secret", "CDN_SIGNING_KEY", args.stack, key_value
        )
        self.frontend: Frontend | None = None
        if args.shared_domain:
            self.url: pulumi.Output[str] = pulumi.Output.from_input(f"https://{args.shared_domain}")
        else:
            self.frontend = frontend(self, purpose=f"mbops {args.stack} CDN",
                                     default_service=self.backend_bucket.self_link)  # fmt: skip
            self.url = self.frontend.url
        self.finish(
            {
                "url": self.url,
                "signing_key_name": self.signing_key_name,
                "signing_key_secret": self.signing_key.secret_id,
            }
        )


def build(ctx: BuildContext) -> Built:
    """Cloud CDN on the stack's bucket: ``CDN_URL``, the signing key's name and the key (Secret Manager); the app
    starts once the backend bucket has the key (the URLs it signs before would be refused)."""
    storage = ctx.component("storage")
    edge = ctx.stack.specs.get("edge")
    cdn = Cdn(
        ctx.name,
        CdnArgs(spec=ctx.spec, bucket_name=storage.bucket_name, bucket_id=storage.name_in_gcp,
                public_prefix=storage.public_prefix, shared_domain=ctx.stack.domain if edge is not None else None,
                edge_waf=bool(edge is not None and edge.waf), **stack_args(ctx.stack)),
    )  # fmt: skip
    return built(
        cdn, env={"CDN_URL": cdn.url, "CDN_SIGNING_KEY_NAME": cdn.signing_key_name},
        secrets={"CDN_SIGNING_KEY": cdn.signing_key}, outputs={"cdn_url": cdn.url}, depends_on=[cdn.signed_url_key],
    )  # fmt: skip
