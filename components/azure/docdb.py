"""Azure document DB (saas profile): a serverless Cosmos DB for NoSQL account, Entra ID only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import cosmosdb

from mbops.components.azure.common import COSMOS_DATA_CONTRIBUTOR, AzureComponent, AzureContext, Identity
from mbops.components.azure.network import app_subnet_ids
from mbops.components.spec import DocDbSpec
from mbops.components.wiring import BuildContext, Built

DATABASE = "app"
CONTAINER = "items"


@dataclass(kw_only=True)
class DocDbArgs:
    ctx: AzureContext
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    app_identity: Identity | None = None
    allowed_subnet_ids: Sequence[pulumi.Input[str]] = ()  # with a VNet: only these subnets reach the account


class DocDb(AzureComponent):
    """Cosmos DB account (serverless capacity) with a SQL database and a container partitioned on ``/pk``.

    Keys are off (``disable_local_auth``), so only Entra ID tokens work: the app identity gets the built-in "Cosmos
    DB Built-in Data Contributor" data-plane role (a SQL role assignment, not an ARM role), and control-plane writes
    through keys are disabled too (``disable_key_based_metadata_write_access``). TLS 1.2 minimum, zone-redundant in
    prod (a creation-time choice). The saas app runs outside a VNet, so the public endpoint stays enabled - without
    keys an anonymous or key-holding caller gets nothing; with ``allowed_subnet_ids`` the account is limited to
    those subnets (saas prod: the foundation's VNet, service endpoint ``Microsoft.AzureCosmosDB``), so the public
    endpoint answers no one else. ``point_in_time_recovery``: continuous backup (7 days; 30 days in prod) instead of
    periodic; ``deletion_protection``: a CanNotDelete lock and Pulumi ``protect``. The account, database and
    container (and the app's data-plane role assignment) are kept when the stack is destroyed unless its data is
    released (``destroy --delete-data``, which also drops the lock and ``protect``); the next ``up`` takes them
    back with ``adopt: [docdb.*]``.
    Children: ``account``, ``database``, ``container``, ``app_access``, ``lock``.
    """

    kind = "docdb"

    def __init__(self, name: str, args: DocDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec = args.ctx, args.spec
        self.account_name = ctx.name("cosmos", 44)
        account_id = ctx.resource_id("Microsoft.DocumentDB", "databaseAccounts", self.account_name)
        backup = (
            {
                "type": "Continuous",
                "continuous_mode_properties": {"tier": "Continuous30Days" if ctx.prod else "Continuous7Days"},
            }
            if spec.point_in_time_recovery
            else {"type": "Periodic"}
        )
        account_args = self.base(
            account_name=self.account_name,
            kind="GlobalDocumentDB",
            database_account_offer_type="Standard",
            # Zone-redundant in prod (set at creation only; the region must have availability zones).
            locations=[{"location_name": ctx.location, "failover_priority": 0, "is_zone_redundant": ctx.prod}],
            capabilities=[{"name": "EnableServerless"}],
            consistency_policy={"default_consistency_level": "Session"},
            backup_policy=backup,
            disable_local_auth=True,
            disable_key_based_metadata_write_access=True,
            minimal_tls_version="Tls12",
            public_network_access="Enabled",
            enable_free_tier=False,
        )
        if args.allowed_subnet_ids:
            account_args.update(
                is_virtual_network_filter_enabled=True,
                virtual_network_rules=[{"id": s} for s in args.allowed_subnet_ids],
            )
        self.account = cosmosdb.DatabaseAccount(
            f"{name}-account",
            **self.args("account", **account_args),
            opts=self.data_opts("account", account_id, protect=spec.deletion_protection),
        )
        names = {"resource_group_name": ctx.resource_group_name, "account_name": self.account_name}
        located = {"location": ctx.location, "tags": dict(self.tags)}
        database = cosmosdb.SqlResourceSqlDatabase(
            f"{name}-database",
            **self.args("database", **names, **located, database_name=DATABASE, resource={"id": DATABASE}),
            opts=self.data_opts("database", f"{account_id}/sqlDatabases/{DATABASE}", depends_on=[self.account]),
        )
        cosmosdb.SqlResourceSqlContainer(
            f"{name}-container",
            **self.args(
                "container",
                **names,
                **located,
                database_name=DATABASE,
                container_name=CONTAINER,
                resource={
                    "id": CONTAINER,
                    "partition_key": {"paths": ["/pk"], "kind": "Hash", "version": 2},
                    "indexing_policy": {"indexing_mode": "consistent", "automatic": True},
                },
            ),
            opts=self.data_opts(
                "container", f"{account_id}/sqlDatabases/{DATABASE}/containers/{CONTAINER}", depends_on=[database]
            ),
        )
        if args.app_identity is not None:
            assignment = ctx.guid("app-cosmos")
            cosmosdb.SqlResourceSqlRoleAssignment(
                f"{name}-app-access",
                **self.args(
                    "app_access",
                    **names,
                    role_assignment_id=assignment,
                    role_definition_id=pulumi.Output.concat(
                        self.account.id, f"/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}"
                    ),
                    principal_id=args.app_identity.principal_id,
                    scope=self.account.id,
                ),
                # A child of the (locked, retained) account: kept with it unless the data is released, and with
                # the app identity it names (kept too: foundation.py).
                opts=self.data_opts(
                    "app_access", f"{account_id}/sqlRoleAssignments/{assignment}", depends_on=[self.account]
                ),
            )
        self.lock("lock", scope=self.account.id, why="components.docdb.deletion_protection", after=self.account,
                  when=spec.deletion_protection)  # fmt: skip
        self.endpoint = f"https://{self.account_name}.documents.azure.com:443/"
        self.table = f"{DATABASE}/{CONTAINER}"
        self.finish({"endpoint": self.endpoint, "database": DATABASE, "container": CONTAINER})


def build(ctx: BuildContext) -> Built:
    """The Cosmos DB container the app reads and writes with its identity (``DOCUMENT_TABLE``, ``DOCUMENT_DB_URL``)."""
    found = ctx.foundation
    docdb = DocDb(
        ctx.name,
        DocDbArgs(ctx=found.azure, spec=ctx.spec, app_identity=found.identity, allowed_subnet_ids=app_subnet_ids(ctx)),
    )
    return Built(
        component=docdb, env={"DOCUMENT_TABLE": docdb.table, "DOCUMENT_DB_URL": docdb.endpoint},
        depends_on=[docdb], outputs={"document_table": docdb.table},
    )  # fmt: skip
