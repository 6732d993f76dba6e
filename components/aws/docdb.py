"""AWS document database: a DynamoDB table, on demand, encrypted, with point-in-time recovery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.base import MbopsComponent
from mbops.components.spec import DocDbSpec


@dataclass(kw_only=True)
class DocDbArgs:
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    tags: Mapping[str, str] = field(default_factory=dict)


class DocDb(MbopsComponent):
    """One single-table-design DynamoDB table: string keys ``pk`` (partition) and ``sk`` (sort).

    Pay per request (scales to zero), server-side encryption with the AWS managed KMS key, point-in-time
    recovery and TTL on ``expires_at``. With ``deletion_protection`` the table refuses deletion in AWS and
    Pulumi protects it too. Child: ``table``.
    """

    kind = "docdb"

    def __init__(self, name: str, args: DocDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            **self.args(
                "table",
                billing_mode="PAY_PER_REQUEST",
                hash_key="pk",
                range_key="sk",
                attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
                point_in_time_recovery={"enabled": spec.point_in_time_recovery},
                server_side_encryption={"enabled": True},
                ttl={"attribute_name": "expires_at", "enabled": True},
                deletion_protection_enabled=spec.deletion_protection,
                tags=self.tags,
            ),
            opts=self.opts(protect=spec.deletion_protection),
        )
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.finish({"table_name": self.table.name, "table_arn": self.table.arn})
