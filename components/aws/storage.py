"""AWS storage: an S3 bucket that is private, encrypted, versioned, TLS-only, with lifecycle and CORS."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from mbops.components.aws.kept import kept_id
from mbops.components.aws.log_bucket import log_bucket
from mbops.components.aws.naming import fit
from mbops.components.base import MbopsComponent, merge_args
from mbops.components.spec import StorageSpec
from mbops.components.wiring import BuildContext, Built, Grant

ACCESS_LOG_DAYS = 90


@dataclass(kw_only=True)
class StorageArgs:
    spec: StorageSpec = field(default_factory=StorageSpec)
    cdn_origin: bool = False  # a CDN reads the bucket: call allow_cloudfront_read() once the distribution exists
    release_data: bool = False  # force-destroyed, not retained: `destroy --delete-data` follows
    bucket_name: pulumi.Input[str] | None = None  # deterministic (see Storage); None: generated
    # bucket_name as a plain str, asked only when the stack adopts the kept bucket (it reads the account)
    bucket_name_now: Callable[[], str] | None = None
    access_logs: bool = False  # S3 server access logs to a log bucket of its own
    tags: Mapping[str, str] = field(default_factory=dict)


class Storage(MbopsComponent):
    """S3 bucket with every public access path blocked, SSE, versioning, lifecycle and a deny-non-TLS policy.

    Children: ``bucket``, ``public_access_block``, ``encryption``, ``versioning``, ``lifecycle``, ``policy``,
    ``ownership`` and ``cors`` (only with ``cors_origins``).

    Objects are encrypted with the AWS managed KMS key, or with SSE-S3 when ``cdn_origin`` is set: CloudFront
    origin access control cannot decrypt objects under the AWS managed ``aws/s3`` key. A CDN origin bucket's
    policy is created by ``allow_cloudfront_read(distribution_arn)`` (the distribution needs the bucket
    first); it keeps the deny-non-TLS statement and adds read-only access for that one distribution, to the
    objects under ``public_prefix`` only: user uploads elsewhere stay private (the app serves or signs them).

    Data guard: the bucket is retained when the stack is destroyed, unless ``release_data`` (then it is
    force-destroyed with its objects, for the ``destroy --delete-data`` that follows). Its name is the stack's
    (``bucket_name``: ``<stack>-<environment>-<account>-<region>``), so a stack created again after a destroy that
    kept the bucket fails loudly on the name (or, in us-east-1, gets the kept bucket back) instead of starting an empty
    one beside it; the next ``up`` takes it back with ``adopt: [storage.bucket]`` (a Pulumi import of the bucket by
    its name; its other settings, ``public_access_block`` and the rest, are applied to it again). A stack deployed
    before keeps its generated name (``ignore_changes``).

    With ``access_logs`` S3 writes a server access log of every request to a log bucket of the component's
    (``access_log_*`` children, kept 90 days) under ``s3/``: who read or changed which object (child ``logging``).
    """

    kind = "storage"

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        self._name = name
        spec = args.spec
        self.public_prefix = spec.public_prefix
        bucket_args = self.args("bucket", bucket=args.bucket_name,
                                force_destroy=spec.force_destroy or args.release_data, tags=self.tags)  # fmt: skip
        now = args.bucket_name_now if bucket_args.get("bucket") is args.bucket_name else None  # not overridden
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            **bucket_args,
            opts=self.opts(retain_on_delete=not args.release_data, ignore_changes=["bucket"],
                           import_=kept_id(self, "bucket", bucket_args.get("bucket"), now)),
        )  # fmt: skip
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            **self.args(
                "public_access_block",
                bucket=self.bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=self.opts(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            **self.args("ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}),
            opts=self.opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            **self.args(
                "encryption",
                bucket=self.bucket.id,
                rules=[
                    {
                        "apply_server_side_encryption_by_default": {
                            "sse_algorithm": "AES256" if args.cdn_origin else "aws:kms"
                        },
                        "bucket_key_enabled": True,
                    }
                ],
            ),
            opts=self.opts(),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            **self.args(
                "versioning",
                bucket=self.bucket.id,
                versioning_configuration={"status": "Enabled" if spec.versioning else "Suspended"},
            ),
            opts=self.opts(),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            **self.args(
                "lifecycle",
                bucket=self.bucket.id,
                rules=[
                    {
                        "id": "expire-noncurrent",
                        "status": "Enabled",
                        "filter": {},
                        "noncurrent_version_expiration": {"noncurrent_days": spec.noncurrent_version_days},
                    },
                    {
                        "id": "abort-incomplete-uploads",
                        "status": "Enabled",
                        "filter": {},
                        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                    },
                ],
            ),
            opts=self.opts(depends_on=[versioning]),
        )
        if spec.cors_origins:
            aws.s3.BucketCorsConfiguration(
                f"{name}-cors",
                **self.args(
                    "cors",
                    bucket=self.bucket.id,
                    cors_rules=[
                        {
                            "allowed_methods": ["GET", "PUT", "HEAD"],
                            "allowed_origins": spec.cors_origins,
                            "allowed_headers": ["*"],
                            "max_age_seconds": 3000,
                        }
                    ],
                ),
                opts=self.opts(),
            )
        if args.access_logs:
            self._access_logs(name)
        else:
            for child in ("bucket", "public_access_block", "ownership", "encryption", "lifecycle", "policy"):
                self.args(f"access_log_{child}")
            self.args("logging")
        self._policy_overrides = self.args("policy")
        self.policy: aws.s3.BucketPolicy | None = None
        if not args.cdn_origin:
            self._bucket_policy([])
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.bucket_regional_domain_name = self.bucket.bucket_regional_domain_name
        self.finish({"bucket_name": self.bucket.bucket, "bucket_arn": self.bucket.arn})

    def _access_logs(self, name: str) -> None:
        """Server access logs of the bucket to a log bucket only S3's log delivery (for this bucket) may write."""
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        def delivery(logs_arn: pulumi.Output[str]) -> pulumi.Output[dict[str, Any]]:
            return pulumi.Output.all(logs_arn, self.bucket.arn, account).apply(lambda a: {
                "Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject", "Resource": f"{a[0]}/s3/*",
                "Condition": {"ArnLike": {"aws:SourceArn": a[1]}, "StringEquals": {"aws:SourceAccount": a[2]}}})

        logs = log_bucket(self, f"{name}-access-logs", "access_log", days=ACCESS_LOG_DAYS, writer=delivery)
        aws.s3.BucketLogging(
            f"{name}-logging",
            **self.args("logging", bucket=self.bucket.id, target_bucket=logs.bucket.id, target_prefix="s3/"),
            opts=self.opts(depends_on=[logs.policy]),
        )

    def allow_cloudfront_read(self, distribution_arn: pulumi.Input[str]) -> aws.s3.BucketPolicy:
        """Create the bucket policy with read-only access for one CloudFront distribution (OAC) to the objects
        under the public prefix."""
        if self.policy is not None:
            raise RuntimeError("the bucket policy already exists; allow_cloudfront_read() must be called once")
        statement = pulumi.Output.from_input(distribution_arn).apply(
            lambda dist: [
                {
                    "Sid": "AllowCloudFrontRead",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": self.public_prefix + "*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": dist}},
                }
            ]
        )
        return self._bucket_policy(statement)

    def _bucket_policy(self, extra: pulumi.Input[list[dict[str, Any]]]) -> aws.s3.BucketPolicy:
        """The bucket's one policy: deny non-TLS access, plus ``extra`` statements scoped to its objects (their
        ``Resource``: a key pattern in the bucket, all objects by default)."""

        def document(arn: str, statements: list[dict[str, Any]]) -> str:
            return json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [arn, f"{arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                        *({**st, "Resource": f"{arn}/{st.get('Resource', '*')}"} for st in statements),
                    ],
                }
            )

        policy = pulumi.Output.all(self.bucket.arn, extra).apply(lambda a: document(a[0], a[1]))
        self.policy = aws.s3.BucketPolicy(
            f"{self._name}-policy",
            **merge_args({"bucket": self.bucket.id, "policy": policy}, self._policy_overrides),
            opts=self.opts(depends_on=[self.public_access_block]),
        )
        return self.policy


def build(ctx: BuildContext) -> Built:
    """The app's bucket (read/write for the app; a CDN origin when the stack has a CDN)."""
    account = aws.get_caller_identity_output().account_id
    # <stack>-<account>-<region>: at most 63 characters (S3), the account id has 12.
    stack = fit(ctx.stack.physical_name, 63 - 12 - len(ctx.stack.region) - 2)
    storage = Storage(
        ctx.name,
        StorageArgs(spec=ctx.spec, cdn_origin=ctx.stack.has("cdn"), release_data=ctx.stack.release_data,
                    bucket_name=pulumi.Output.concat(stack, "-", account, "-", ctx.stack.region),
                    bucket_name_now=lambda: f"{stack}-{aws.get_caller_identity().account_id}-{ctx.stack.region}",
                    access_logs=ctx.stack.prod, tags=ctx.stack.tags),
    )  # fmt: skip
    return Built(
        component=storage, env={"STORAGE_BUCKET": storage.bucket_name},
        grants=[Grant(what="bucket", target=storage.bucket_arn)], outputs={"bucket": storage.bucket_name},
    )  # fmt: skip
