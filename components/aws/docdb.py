"""AWS document database: a DynamoDB table, on demand, encrypted, with point-in-time recovery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.kept import kept_id
from mbops.components.base import MbopsComponent
from mbops.components.spec import DocDbSpec
from mbops.components.wiring import BuildContext, Built, Grant


@dataclass(kw_only=True)
class DocDbArgs:
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    release_data: bool = False  # no deletion protection, not retained: `destroy --delete-data` follows
    table_name: str | None = None  # deterministic (see DocDb); None: generated
    tags: Mapping[str, str] = field(default_factory=dict)


class DocDb(MbopsComponent):
    """One single-table-design DynamoDB table: string keys ``pk`` (partition) and ``sk`` (sort).

    Pay per request (scales to zero), server-side encryption with the AWS managed KMS key, point-in-time
    recovery and TTL on ``expires_at``. With ``deletion_protection`` the table refuses deletion in AWS and
    Pulumi protects it too (a destroy stops there). It is retained when the stack is destroyed;
    ``release_data`` lifts all three for the ``destroy --delete-data`` that follows. The table is named after
    the stack (``table_name``), so a stack created again after a destroy that kept it fails loudly on the name
    instead of starting an empty table beside it; the next ``up`` takes it back with ``adopt: [docdb.table]``
    (a Pulumi import of the table by its name). A stack deployed before keeps its generated name
    (``ignore_changes``). Child: ``table``.
    """

    kind = "docdb"

    def __init__(self, name: str, args: DocDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        protected = spec.deletion_protection and not args.release_data
        table_args = self.args(
            "table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            range_key="sk",
            attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            point_in_time_recovery={"enabled": spec.point_in_time_recovery},
            server_side_encryption={"enabled": True},
            ttl={"attribute_name": "expires_at", "enabled": True},
            deletion_protection_enabled=protected,
            tags=self.tags,
        )
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            **table_args,
            opts=self.opts(protect=protected, retain_on_delete=not args.release_data, ignore_changes=["name"],
                           import_=kept_id(self, "table", table_args.get("name"))),
        )  # fmt: skip
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.finish({"table_name": self.table.name, "table_arn": self.table.arn})


def build(ctx: BuildContext) -> Built:
    """The DynamoDB table the app reads and writes (``DOCUMENT_TABLE``)."""
    table = f"{ctx.stack.physical_name}-documents"
    docdb = DocDb(ctx.name, DocDbArgs(spec=ctx.spec, release_data=ctx.stack.release_data, table_name=table,
                                      tags=ctx.stack.tags))  # fmt: skip
    return Built(
        component=docdb, env={"DOCUMENT_TABLE": docdb.table_name},
        grants=[Grant(what="document_db", target=docdb.table_arn)], outputs={"document_table": docdb.table_name},
    )  # fmt: skip
