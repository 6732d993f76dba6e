"""A private bucket an AWS service writes logs to (load balancer access logs, S3 server access logs).

SSE-S3 (the log delivery services cannot use KMS keys), every public access path blocked, bucket-owner-enforced
ownership, objects expired after ``days``, and a policy that denies requests without TLS and lets the one
writer (``writer``: a statement for the bucket's ARN) put its objects. Emptied and deleted with the stack: the
logs are not the app's data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from mbops.components.base import MbopsComponent


@dataclass
class LogBucket:
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy  # a writer checks it may write before it starts: wait for it


def log_bucket(
    owner: MbopsComponent, name: str, child: str, *, days: int,
    writer: Callable[[pulumi.Output[str]], pulumi.Input[dict[str, Any]]],
) -> LogBucket:  # fmt: skip
    """The bucket ``name`` and its settings: children ``<child>_bucket``, ``<child>_public_access_block``,
    ``<child>_ownership``, ``<child>_encryption``, ``<child>_lifecycle``, ``<child>_policy``."""
    s3 = aws.s3
    bucket = s3.Bucket(name, **owner.args(f"{child}_bucket", force_destroy=True, tags=owner.tags), opts=owner.opts())
    block = s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        **owner.args(f"{child}_public_access_block", bucket=bucket.id, block_public_acls=True,
                     block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True),
        opts=owner.opts(),
    )  # fmt: skip
    s3.BucketOwnershipControls(
        f"{name}-ownership",
        **owner.args(f"{child}_ownership", bucket=bucket.id,
                     rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced")),
        opts=owner.opts(),
    )  # fmt: skip
    s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        **owner.args(
            f"{child}_encryption",
            bucket=bucket.id,
            rules=[s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=s3.
                BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256")
            )],
        ),
        opts=owner.opts(),
    )  # fmt: skip
    s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        **owner.args(
            f"{child}_lifecycle",
            bucket=bucket.id,
            rules=[s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-logs", status="Enabled", filter=s3.BucketLifecycleConfigurationRuleFilterArgs(),
                expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
            )],
        ),
        opts=owner.opts(),
    )  # fmt: skip
    policy = pulumi.Output.all(bucket.arn, writer(bucket.arn)).apply(
        lambda a: json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [a[0], f"{a[0]}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                a[1],
            ],
        })
    )  # fmt: skip
    bucket_policy = s3.BucketPolicy(
        f"{name}-policy",
        **owner.args(f"{child}_policy", bucket=bucket.id, policy=policy),
        opts=owner.opts(depends_on=[block]),
    )
    return LogBucket(bucket, bucket_policy)
