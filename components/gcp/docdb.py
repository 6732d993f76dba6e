"""GCP document database: a Firestore database in Native mode in the stack's region."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, gcp_name
from mbops.components.spec import DocDbSpec


@dataclass(kw_only=True)
class DocDbArgs(GcpArgs):
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    stack: str = "mbops"


class DocDb(GcpComponent):
    """Firestore (Native mode) database ``<stack>-docs`` located in the stack's region: serverless, encrypted
    at rest, optimistic concurrency, point-in-time recovery (7 days) with ``point_in_time_recovery``, delete
    protection with ``deletion_protection`` (then the resource is abandoned, not deleted, on destroy).
    ``document_table`` is the database id; the app's service account gets ``roles/datastore.user`` with an
    IAM condition on this database only.

    Children: ``database``.
    """

    kind = "docdb"
    apis = ("firestore.googleapis.com",)

    def __init__(self, name: str, args: DocDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        database_id = gcp_name(args.stack, "docs")
        self.database = gcp.firestore.Database(
            f"{name}-firestore",
            **self.args(
                "database",
                project=self.project,
                name=database_id,
                location_id=self.region,
                type="FIRESTORE_NATIVE",
                concurrency_mode="OPTIMISTIC",
                app_engine_integration_mode="DISABLED",
                point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED"
                if spec.point_in_time_recovery
                else "POINT_IN_TIME_RECOVERY_DISABLED",
                delete_protection_state="DELETE_PROTECTION_ENABLED"
                if spec.deletion_protection
                else "DELETE_PROTECTION_DISABLED",
                deletion_policy="ABANDON" if spec.deletion_protection else "DELETE",
            ),
            opts=self.opts(),
        )
        self.database_id = database_id
        self.document_table = self.database.name
        self.finish({"database": self.database.name})
