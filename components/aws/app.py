"""What the app (containers, servers or serverless) receives from the rest of the stack on AWS.

``AppWiring`` carries the plain environment (``PORT``, ``STORAGE_BUCKET``, ... and ``app.env``), the secrets
as ``NAME -> Secrets Manager ARN`` (``DATABASE_URL``, ``REDIS_URL`` and ``app.secret_env``: never a value),
and the ARNs the app may use, from which ``statements()`` derives its least-privilege IAM policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from mbops.components.aws.iam import allow
from mbops.errors import ConfigError

ECR_IMAGE = re.compile(
    r"^(?P<registry>(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com)/(?P<repo>[^:@]+)"
)


def ecr_image(image: str) -> re.Match[str] | None:
    """The parts of an Amazon ECR image URI (registry, account, region, repo), or None."""
    return ECR_IMAGE.match(image)


@dataclass(kw_only=True)
class AppWiring:
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    bucket_arn: pulumi.Input[str] | None = None
    table_arn: pulumi.Input[str] | None = None
    push_app_arn: pulumi.Input[str] | None = None
    push_topic_arn: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        clash = sorted(set(self.env) & set(self.secrets))
        if clash:
            raise ConfigError(f"app: {', '.join(clash)} is both a plain env var and a secret; keep one")

    @property
    def secret_arns(self) -> list[pulumi.Input[str]]:
        return list(self.secrets.values())

    def statements(self) -> list[dict[str, Any]]:
        """The IAM statements the app needs: its bucket, its table, its secrets, its push application."""
        out: list[dict[str, Any]] = []
        if self.bucket_arn is not None:
            bucket = pulumi.Output.from_input(self.bucket_arn)
            out.append(allow("BucketList", ["s3:ListBucket", "s3:GetBucketLocation"], bucket))
            out.append(
                allow(
                    "BucketObjects",
                    ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    bucket.apply(lambda a: f"{a}/*"),
                )
            )
        if self.table_arn is not None:
            table = pulumi.Output.from_input(self.table_arn)
            out.append(
                allow(
                    "DocumentTable",
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:Query",
                        "dynamodb:Scan",
                        "dynamodb:BatchGetItem",
                        "dynamodb:BatchWriteItem",
                        "dynamodb:ConditionCheckItem",
                        "dynamodb:DescribeTable",
                    ],
                    [table, table.apply(lambda a: f"{a}/index/*")],
                )
            )
        if self.secrets:
            out.append(
                allow(
                    "ReadSecrets",
                    ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    self.secret_arns,
                )
            )
        if self.push_app_arn is not None:
            app = pulumi.Output.from_input(self.push_app_arn)
            out.append(
                allow(
                    "PushRegister",
                    ["sns:CreatePlatformEndpoint", "sns:ListEndpointsByPlatformApplication"],
                    app,
                )
            )
            out.append(
                allow(
                    "PushEndpoints",
                    [
                        "sns:Publish",
                        "sns:GetEndpointAttributes",
                        "sns:SetEndpointAttributes",
                        "sns:DeleteEndpoint",
                    ],
                    app.apply(lambda a: a.replace(":app/", ":endpoint/", 1) + "/*"),
                )
            )
        if self.push_topic_arn is not None:
            out.append(
                allow("PushTopic", ["sns:Publish", "sns:Subscribe", "sns:Unsubscribe"], self.push_topic_arn)
            )
        return out
