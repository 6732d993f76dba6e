"""GCP storage: a private, versioned Cloud Storage bucket in the stack's region."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, built, gcp_name, stack_args
from mbops.components.spec import StorageSpec
from mbops.components.wiring import BuildContext, Built, Grant


@dataclass(kw_only=True)
class StorageArgs(GcpArgs):
    spec: StorageSpec = field(default_factory=StorageSpec)


def bucket_name(project: str, stack: str) -> str:
    """The bucket's global name, ``<project>-<stack>-files``: unique (project ids are), and known when planned,
    so IAM conditions naming its objects can be read in the plan."""
    return gcp_name(project, stack, "files")


class Storage(GcpComponent):
    """Cloud Storage bucket: uniform bucket-level access (IAM only, no ACLs), public access prevention
    enforced, versioning, lifecycle (expire noncurrent versions, abort incomplete multipart uploads), CORS
    only for ``cors_origins``. Objects are encrypted at rest with Google-managed keys; access is granted per
    bucket (the app's service account, the CDN's service agent on the ``public_prefix`` only), never to
    ``allUsers``: user uploads stay private, the app serves or signs them.

    Data guard: ``destroy`` keeps the bucket and its objects (``retain_on_delete``); a stack that releases its
    data deletes it with everything in it (``force_destroy``), as ``force_destroy`` in the spec always does. A
    bucket kept by an earlier ``destroy`` is taken back by the next ``up`` with ``adopt:`` naming
    ``storage.bucket`` (its name is the stack's: creating it again would fail).

    Children: ``bucket``.
    """

    kind = "storage"
    apis = ("storage.googleapis.com",)

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        lifecycle = [
            {
                "action": {"type": "Delete"},
                "condition": {
                    "days_since_noncurrent_time": spec.noncurrent_version_days,
                    "with_state": "ARCHIVED",
                },
            },
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
        ]
        cors = (
            {
                "cors": [
                    {
                        "origins": list(spec.cors_origins),
                        "methods": ["GET", "HEAD", "PUT"],
                        "response_headers": ["Content-Type", "ETag", "x-goog-meta-*"],
                        "max_age_seconds": 3600,
                    }
                ]
            }
            if spec.cors_origins
            else {}
        )
        bucket_args = self.args(
            "bucket",
            name=bucket_name(self.project, args.stack),
            project=self.project,
            location=self.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": spec.versioning},
            lifecycle_rules=lifecycle,
            force_destroy=spec.force_destroy or self.release_data,
            labels=self.labels,
            **cors,
        )
        self.name_in_gcp: str = bucket_args["name"]  # known when planned (bucket_name is the output: waits for it)
        self.bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            **bucket_args,
            opts=self.data_opts("bucket", f"{self.project}/{self.name_in_gcp}"),
        )
        self.public_prefix = spec.public_prefix
        self.bucket_name = self.bucket.name
        self.bucket_url = self.bucket.url
        self.finish({"bucket_name": self.bucket.name, "bucket_url": self.bucket.url})


def build(ctx: BuildContext) -> Built:
    """The app's bucket (objectAdmin for the app's service account; the CDN's origin when the stack has one)."""
    storage = Storage(ctx.name, StorageArgs(spec=ctx.spec, **stack_args(ctx.stack)))
    return built(
        storage, env={"STORAGE_BUCKET": storage.bucket_name},
        grants=[Grant(what="bucket", target=storage.bucket_name)], outputs={"bucket": storage.bucket_name},
    )  # fmt: skip
