"""What the app (containers, servers or serverless) may use on AWS: its least-privilege IAM statements.

The app's wiring (``components.wiring.AppWiring``) holds its plain env, its secrets as
``NAME -> Secrets Manager ARN`` (``DATABASE_URL``, ``REDIS_URL`` and ``app.secret_env``: never a value) and
grants (its bucket, table, push application and topic), from which ``app_statements`` derives the policy.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi

from mbops.components.aws.iam import allow
from mbops.components.wiring import AppWiring

ECR_IMAGE = re.compile(
    r"^(?P<registry>(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com)/(?P<repo>[^:@]+)"
)
DOCUMENT_TABLE_ACTIONS = [
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
    "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]  # fmt: skip


def ecr_image(image: str) -> re.Match[str] | None:
    """The parts of an Amazon ECR image URI (registry, account, region, repo), or None."""
    return ECR_IMAGE.match(image)


def pull_statements(wiring: AppWiring, image: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What an identity that pulls the app image needs: ECR login, and pulls from the stack's repository
    (``Grant(what="registry")``) or from the ECR repository a prebuilt ``app.image`` names; nothing for an
    image from another registry."""
    repositories: list[pulumi.Input[str]] = [g.target for g in wiring.granted("registry")]
    match = ecr_image(image) if isinstance(image, str) and not repositories else None
    if match:
        repositories = [f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"]
    if not repositories:
        return []
    return [
        # GetAuthorizationToken has no resource-level scope; the pulls are scoped to the repository.
        allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
        allow("PullAppImage", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
              repositories),
    ]  # fmt: skip


def registry_host(image: pulumi.Input[str]) -> pulumi.Output[str]:
    """The ECR registry host (``<account>.dkr.ecr.<region>.amazonaws.com``) a VM logs in to, or ``""``."""
    return pulumi.Output.from_input(image).apply(lambda ref: (m := ecr_image(ref)) and m["registry"] or "")


def app_statements(wiring: AppWiring) -> list[dict[str, Any]]:
    """The IAM statements the app needs: its bucket, its table, its secrets, its push application."""
    out: list[dict[str, Any]] = []
    for grant in wiring.granted("bucket"):
        bucket = pulumi.Output.from_input(grant.target)
        out.append(allow("BucketList", ["s3:ListBucket", "s3:GetBucketLocation"], bucket))
        out.append(
            allow(
                "BucketObjects",
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                bucket.apply(lambda a: f"{a}/*"),
            )
        )
    for grant in wiring.granted("document_db"):
        table = pulumi.Output.from_input(grant.target)
        out.append(allow("DocumentTable", DOCUMENT_TABLE_ACTIONS, [table, table.apply(lambda a: f"{a}/index/*")]))
    if wiring.secrets:
        out.append(
            allow(
                "ReadSecrets",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                list(wiring.secrets.values()),
            )
        )
    for grant in wiring.granted("push_app"):
        app = pulumi.Output.from_input(grant.target)
        out.append(allow("PushRegister", ["sns:CreatePlatformEndpoint", "sns:ListEndpointsByPlatformApplication"], app))
        out.append(
            allow(
                "PushEndpoints",
                ["sns:Publish", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"],
                app.apply(lambda a: a.replace(":app/", ":endpoint/", 1) + "/*"),
            )
        )
    for grant in wiring.granted("push_topic"):
        out.append(allow("PushTopic", ["sns:Publish", "sns:Subscribe", "sns:Unsubscribe"], grant.target))
    return out
