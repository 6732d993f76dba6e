"""GCP document database: a Firestore database in Native mode in the stack's region."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, built, gcp_name, stack_args
from mbops.components.spec import DocDbSpec
from mbops.components.wiring import BuildContext, Built, Grant

# Prod: how long the daily Firestore backups are kept (Firestore allows up to 14 weeks).
BACKUP_RETENTION_DAYS = 14


@dataclass(kw_only=True)
class DocDbArgs(GcpArgs):
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    prod: bool = False


class DocDb(GcpComponent):
    """Firestore (Native mode) database ``<stack>-docs`` located in the stack's region: serverless, encrypted
    at rest, optimistic concurrency, point-in-time recovery (7 days) with ``point_in_time_recovery``, delete
    protection with ``deletion_protection``. ``document_table`` is the database id; the app's service account
    gets ``roles/datastore.user`` with an IAM condition on this database only.

    Data guard: ``destroy`` keeps the database in the project (``retain_on_delete``, and ``ABANDON`` in the
    provider); a stack that releases its data turns delete protection off and deletes it. A database kept by
    an earlier ``destroy`` is taken back by the next ``up`` with ``adopt:`` naming ``docdb.database``
    (see ``common.adopted``): its id is fixed, so creating it again would fail. In prod a daily backup schedule
    keeps ``BACKUP_RETENTION_DAYS`` of backups (point-in-time recovery covers only 7 days, and not a deleted
    database); it is not kept by a ``destroy`` (a database has one daily schedule: the next ``up`` makes it again).

    Children: ``database``, ``backup_schedule`` (prod).
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
                if spec.deletion_protection and not self.release_data
                else "DELETE_PROTECTION_DISABLED",
                deletion_policy="DELETE" if self.release_data else "ABANDON",
            ),
            opts=self.data_opts("database", f"projects/{self.project}/databases/{database_id}"),
        )
        self.backup_schedule: gcp.firestore.BackupSchedule | None = None
        if args.prod:
            self.backup_schedule = gcp.firestore.BackupSchedule(
                f"{name}-backups",
                **self.args("backup_schedule", project=self.project, database=self.database.name,
                            retention=f"{BACKUP_RETENTION_DAYS * 86400}s", daily_recurrence={}),
                opts=self.opts(),
            )  # fmt: skip
        self.database_id = database_id
        self.document_table = self.database.name
        self.finish({"database": self.database.name})


def build(ctx: BuildContext) -> Built:
    """The Firestore database (``DOCUMENT_TABLE``); the app's identity may use that database only, and the app
    starts after it exists: ``DOCUMENT_TABLE`` is its planned id, and the app's health path reads it."""
    docdb = DocDb(ctx.name, DocDbArgs(spec=ctx.spec, prod=ctx.stack.prod, **stack_args(ctx.stack)))
    return built(
        docdb, env={"DOCUMENT_TABLE": docdb.database_id}, depends_on=[docdb.database],
        grants=[Grant(what="document_db", target=docdb.database_id)], outputs={"document_table": docdb.database_id},
    )  # fmt: skip
