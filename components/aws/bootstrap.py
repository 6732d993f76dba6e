"""AWS side of ``mbops bootstrap``: the state bucket, the secrets key, the CI's OIDC trust and the deploy role."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from mbops.components.base import MbopsComponent
from mbops.components.spec import ComponentSpec
from mbops.errors import ConfigError

MAX_MANAGED_POLICIES = 10  # per role (IAM's default quota)


def deploying_account() -> tuple[str, str]:
    """(account id, partition) of the credentials the program runs with."""
    return aws.get_caller_identity().account_id, aws.get_partition().partition


@dataclass(kw_only=True)
class BootstrapArgs:
    """What the bootstrap makes on AWS; names are decided by the program (``stacks/bootstrap.py``)."""

    account_id: str
    partition: str = "aws"
    region: str
    state_bucket: str
    key_alias: str  # alias/...
    role_name: str
    issuer_url: str  # https://token.actions.githubusercontent.com, https://gitlab.com, ...
    audience: str = "sts.amazonaws.com"
    claims: Mapping[str, Sequence[str]]  # OIDC claim -> the values the trust accepts (aud, sub, ...)
    existing_oidc_provider: bool = False
    policies: Sequence[Mapping[str, Any]]  # the deploy role's IAM policy documents, one managed policy each
    noncurrent_version_days: int = 90  # old versions of state files are kept this long
    max_session_hours: int = 2  # a deploy may outlast the default hour (ask for it with role-duration-seconds)
    spec: ComponentSpec = field(default_factory=ComponentSpec)
    tags: Mapping[str, str] = field(default_factory=dict)


class Bootstrap(MbopsComponent):
    """The state bucket, the secrets key, the OIDC provider and the CI deploy role.

    - ``bucket``: S3, private (public access block, bucket-owner-enforced ownership), SSE-KMS with the AWS managed
      key and a bucket key, versioned, old versions expired after ``noncurrent_version_days``, a policy that
      denies requests without TLS. Pulumi's S3 backend keeps its lock files in the bucket itself
      (``.pulumi/locks``): no DynamoDB table. Kept when the bootstrap is destroyed (it holds every stack's state).
    - ``key``: a symmetric KMS key with yearly automatic rotation (KMS keeps the old material, so secrets
      encrypted before a rotation still decrypt) and its ``alias``, for ``awskms://alias/...``; the default key
      policy, which lets IAM policies grant its use. Kept when the bootstrap is destroyed.
    - ``oidc_provider``: the CI's issuer, trusted for ``audience``; one per account and URL, so with
      ``existing_oidc_provider`` the one the account has is referenced by its ARN instead.
    - ``role``: assumable only with a web identity token from that issuer whose ``claims`` all match
      (``StringEquals``: audience, subjects, ...), with the deploy policies attached as managed policies
      (``policy_<n>``, ``attach_<n>``): at most 6,144 characters each, so a large policy comes split.

    Children: ``bucket``, ``public_access_block``, ``ownership``, ``encryption``, ``versioning``, ``lifecycle``,
    ``bucket_policy``, ``key``, ``alias``, ``oidc_provider``, ``role``, ``policy_<n>``, ``attach_<n>``.
    """

    kind = "bootstrap"

    def __init__(self, name: str, args: BootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        if not args.policies:
            raise ValueError("the deploy role needs at least one policy document")
        if len(args.policies) > MAX_MANAGED_POLICIES:
            raise ConfigError(
                f"the deploy policy needs {len(args.policies)} managed policies; a role holds {MAX_MANAGED_POLICIES}. "
                "Bootstrap fewer stacks per repository, or raise the account's quota and attach the rest yourself"
            )
        tags = dict(self.tags)
        self._state_bucket(name, args, tags)
        self.key = aws.kms.Key(
            f"{name}-key",
            **self.args("key", description=f"mbops: Pulumi secrets of {tags.get('repository', name)}",
                        key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT",
                        enable_key_rotation=True, rotation_period_in_days=365, deletion_window_in_days=30,
                        tags=tags),
            opts=self.opts(retain_on_delete=True),
        )  # fmt: skip
        aws.kms.Alias(f"{name}-alias", **self.args("alias", name=args.key_alias, target_key_id=self.key.key_id),
                      opts=self.opts())  # fmt: skip
        host = args.issuer_url.removeprefix("https://")
        if args.existing_oidc_provider:
            self._children_built.append("oidc_provider")
            self.oidc_provider_arn: pulumi.Input[str] = (
                f"arn:{args.partition}:iam::{args.account_id}:oidc-provider/{host}"
            )
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                **self.args("oidc_provider", url=args.issuer_url, client_id_lists=[args.audience], tags=tags),
                opts=self.opts(),
            )
            self.oidc_provider_arn = provider.arn
        trust = pulumi.Output.from_input(self.oidc_provider_arn).apply(lambda arn: trust_policy(arn, host, args.claims))
        self.role = aws.iam.Role(
            f"{name}-deploy-role",
            **self.args("role", name=args.role_name, assume_role_policy=trust,
                        description=f"mbops CI deploys of {tags.get('repository', name)} (OIDC: {host})",
                        max_session_duration=args.max_session_hours * 3600, tags=tags),
            opts=self.opts(),
        )  # fmt: skip
        for index, document in enumerate(args.policies, start=1):
            policy = aws.iam.Policy(
                f"{name}-deploy-policy-{index}",
                **self.args(f"policy_{index}", name=f"{args.role_name}-{index}",
                            description=f"mbops deployer policy, part {index} of {len(args.policies)}",
                            policy=json.dumps(document), tags=tags),
                opts=self.opts(),
            )  # fmt: skip
            aws.iam.RolePolicyAttachment(
                f"{name}-deploy-attach-{index}",
                **self.args(f"attach_{index}", role=self.role.name, policy_arn=policy.arn),
                opts=self.opts(),
            )
        self.role_arn = self.role.arn
        self.key_arn = self.key.arn
        self.finish({"bucket": self.bucket.bucket, "key_arn": self.key.arn, "role_arn": self.role.arn,
                     "oidc_provider_arn": self.oidc_provider_arn})  # fmt: skip

    def _state_bucket(self, name: str, args: BootstrapArgs, tags: dict[str, str]) -> None:
        self.bucket = aws.s3.Bucket(
            f"{name}-state",
            **self.args("bucket", bucket=args.state_bucket, force_destroy=False, tags=tags),
            opts=self.opts(retain_on_delete=True),
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-state-public-access-block",
            **self.args("public_access_block", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
                        ignore_public_acls=True, restrict_public_buckets=True),
            opts=self.opts(),
        )  # fmt: skip
        aws.s3.BucketOwnershipControls(
            f"{name}-state-ownership",
            **self.args("ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}),
            opts=self.opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-state-encryption",
            **self.args("encryption", bucket=self.bucket.id, rules=[{
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True,
            }]),
            opts=self.opts(),
        )  # fmt: skip
        versioning = aws.s3.BucketVersioning(
            f"{name}-state-versioning",
            **self.args("versioning", bucket=self.bucket.id, versioning_configuration={"status": "Enabled"}),
            opts=self.opts(),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-state-lifecycle",
            **self.args("lifecycle", bucket=self.bucket.id, rules=[
                {"id": "expire-noncurrent", "status": "Enabled", "filter": {},
                 "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days}},
                {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
                 "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
            ]),
            opts=self.opts(depends_on=[versioning]),
        )  # fmt: skip
        aws.s3.BucketPolicy(
            f"{name}-state-policy",
            **self.args("bucket_policy", bucket=self.bucket.id,
                        policy=deny_insecure_transport(f"arn:{args.partition}:s3:::{args.state_bucket}")),
            opts=self.opts(depends_on=[block]),
        )  # fmt: skip


def deny_insecure_transport(bucket_arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]})  # fmt: skip


def trust_policy(provider_arn: str, host: str, claims: Mapping[str, Sequence[str]]) -> str:
    """``sts:AssumeRoleWithWebIdentity`` for tokens of the provider ``provider_arn`` whose claims all match."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "CiOidc", "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": provider_arn},
        "Condition": {"StringEquals": {f"{host}:{claim}": list(values) for claim, values in claims.items()}},
    }]})  # fmt: skip
