"""AWS storage: an S3 bucket that is private, encrypted, versioned, TLS-only, with lifecycle and CORS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.base import MbopsComponent
from mbops.components.spec import StorageSpec


@dataclass(kw_only=True)
class StorageArgs:
    spec: StorageSpec = field(default_factory=StorageSpec)
    tags: Mapping[str, str] = field(default_factory=dict)


class Storage(MbopsComponent):
    """S3 bucket with every public access path blocked, SSE, versioning, lifecycle and a deny-non-TLS policy.

    Children: ``bucket``, ``public_access_block``, ``encryption``, ``versioning``, ``lifecycle``, ``policy``,
    ``ownership`` and ``cors`` (only with ``cors_origins``).
    """

    kind = "storage"

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket", **self.args("bucket", force_destroy=spec.force_destroy, tags=self.tags), opts=self.opts()
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            **self.args("public_access_block", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
                        ignore_public_acls=True, restrict_public_buckets=True),
            opts=self.opts(),
        )  # fmt: skip
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            **self.args("ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}),
            opts=self.opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            **self.args("encryption", bucket=self.bucket.id, rules=[{
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}]),
            opts=self.opts(),
        )  # fmt: skip
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            **self.args("versioning", bucket=self.bucket.id,
                        versioning_configuration={"status": "Enabled" if spec.versioning else "Suspended"}),
            opts=self.opts(),
        )  # fmt: skip
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            **self.args("lifecycle", bucket=self.bucket.id, rules=[
                {"id": "expire-noncurrent", "status": "Enabled", "filter": {},
                 "noncurrent_version_expiration": {"noncurrent_days": spec.noncurrent_version_days}},
                {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
                 "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
            ]),
            opts=self.opts(depends_on=[versioning]),
        )  # fmt: skip
        if spec.cors_origins:
            aws.s3.BucketCorsConfiguration(
                f"{name}-cors",
                **self.args("cors", bucket=self.bucket.id, cors_rules=[{
                    "allowed_methods": ["GET", "PUT", "HEAD"], "allowed_origins": spec.cors_origins,
                    "allowed_headers": ["*"], "max_age_seconds": 3000}]),
                opts=self.opts(),
            )  # fmt: skip
        aws.s3.BucketPolicy(
            f"{name}-policy",
            **self.args("policy", bucket=self.bucket.id, policy=self.bucket.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                               "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}],
            }))),
            opts=self.opts(depends_on=[self.public_access_block]),
        )  # fmt: skip
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.finish({"bucket_name": self.bucket.bucket, "bucket_arn": self.bucket.arn})
