"""adopt on Azure: what a destroy keeps comes back with the next up by its exact ARM id (Pulumi ``import``).

Read from the planned graph (``importId``, ``ignoreChanges``, ``retainOnDelete`` of each resource), the way
``mbops preview --json`` shows it.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from mbops.engine.fakes.azure import PLAN_SUBSCRIPTION_ID as SUB
from mbops.engine.plan import plan
from mbops.stacks.config import StackFile, resolve
from tests.pg_cluster import throwaway_postgres

EVERYTHING = ["database.*", "storage.*", "docdb.*", "secrets.*", "network.*"]
PLANS = {
    "saas": ("saas", {}),
    "managed": ("managed", {}),
    "custom": ("custom", {}),
    "custom-self-hosted": ("custom", {"database": {"self_hosted": True}}),
}
# The ARM id of each kept type, spelled from the inputs the resource is created with (the azure-native import
# ids: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/..."), so an import finds
# the very resource the program describes.
PROVIDER_PATHS = {
    "managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}",
    "dbforpostgresql:Server": "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}",
    "dbforpostgresql:Configuration":
        "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}/configurations/{configurationName}",
    "dbforpostgresql:Database": "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}/databases/{databaseName}",
    "storage:StorageAccount": "Microsoft.Storage/storageAccounts/{accountName}",
    "storage:BlobServiceProperties": "Microsoft.Storage/storageAccounts/{accountName}/blobServices/{blobServicesName}",
    "storage:BlobContainer": "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/"
                             "{containerName}",
    "storage:ManagementPolicy":
        "Microsoft.Storage/storageAccounts/{accountName}/managementPolicies/{managementPolicyName}",
    "cosmosdb:DatabaseAccount": "Microsoft.DocumentDB/databaseAccounts/{accountName}",
    "cosmosdb:SqlResourceSqlDatabase":
        "Microsoft.DocumentDB/databaseAccounts/{accountName}/sqlDatabases/{databaseName}",
    "cosmosdb:SqlResourceSqlContainer": "Microsoft.DocumentDB/databaseAccounts/{accountName}/sqlDatabases/"
                                        "{databaseName}/containers/{containerName}",
    "cosmosdb:SqlResourceSqlRoleAssignment":
        "Microsoft.DocumentDB/databaseAccounts/{accountName}/sqlRoleAssignments/{roleAssignmentId}",
    "network:VirtualNetwork": "Microsoft.Network/virtualNetworks/{virtualNetworkName}",
    "network:Subnet": "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}",
    "network:NetworkSecurityGroup": "Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}",
    "privatedns:PrivateZone": "Microsoft.Network/privateDnsZones/{privateZoneName}",
    "privatedns:VirtualNetworkLink":
        "Microsoft.Network/privateDnsZones/{privateZoneName}/virtualNetworkLinks/{virtualNetworkLinkName}",
    "compute:Disk": "Microsoft.Compute/disks/{diskName}",
    "dataprotection:BackupVault": "Microsoft.DataProtection/backupVaults/{vaultName}",
    "dataprotection:BackupPolicy":
        "Microsoft.DataProtection/backupVaults/{vaultName}/backupPolicies/{backupPolicyName}",
    "dataprotection:BackupInstance":
        "Microsoft.DataProtection/backupVaults/{vaultName}/backupInstances/{backupInstanceName}",
}  # fmt: skip
# Kept, but named per deployment (the vault's random suffix): a new deployment never collides with them.
NOT_ADOPTABLE = {"keyvault:Vault", "keyvault:Secret"}

_graphs: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}


def planned(key: str, adopt: list[str]) -> dict[str, Any]:
    """The prod plan of ``key`` (PLANS) with ``adopt``: ``adopt`` in the stack file, as a user writes it."""
    cache = (key, tuple(adopt))
    if cache not in _graphs:
        profile, components = PLANS[key]
        stack = resolve(StackFile(adopt=adopt, components=components), profile=profile, cloud="azure",
                        environment="prod")  # fmt: skip
        _graphs[cache] = plan(stack, with_policy=False, with_cost=False)
    return _graphs[cache]


def short(resource: dict[str, Any]) -> str:
    return resource["type"].removeprefix("azure-native:")


def expected_id(resource: dict[str, Any]) -> str:
    inputs = resource["inputs"]
    group = f"/subscriptions/{SUB}/resourceGroups/{inputs['resourceGroupName']}"
    if short(resource) == "resources:ResourceGroup":
        return group
    return f"{group}/providers/{PROVIDER_PATHS[short(resource)].format(**inputs)}"


def by_name(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in graph["resources"]}


@pytest.mark.parametrize("key", sorted(PLANS))
def test_everything_a_destroy_keeps_is_adopted_by_its_exact_arm_id(key: str) -> None:
    graph = planned(key, EVERYTHING)
    kept = [r for r in graph["resources"] if r["retainOnDelete"]]
    assert kept, "prod keeps its data"
    group = one(graph, "azure-native:resources:ResourceGroup")["inputs"]["resourceGroupName"]
    pattern = re.compile(rf"^/subscriptions/{SUB}/resourceGroups/{re.escape(group)}(/providers/Microsoft\.\w+/.+)?$")
    for resource in kept:
        if short(resource) in NOT_ADOPTABLE:
            assert "importId" not in resource, resource["name"]
            continue
        assert resource.get("importId") == expected_id(resource), resource["name"]
        assert pattern.match(resource["importId"]), resource["importId"]
    imported = {r["name"] for r in graph["resources"] if "importId" in r}
    assert imported == {r["name"] for r in kept if short(r) not in NOT_ADOPTABLE}, "only what a destroy kept"


def test_a_few_ids_exactly() -> None:
    managed = by_name(planned("managed", EVERYTHING))
    rg = f"/subscriptions/{SUB}/resourceGroups/rg-managed-prod"
    server = managed["managed-prod-db-server"]["inputs"]["serverName"]
    assert managed["managed-prod-rg"]["importId"] == rg
    assert managed["managed-prod-db-server"]["importId"] == (
        f"{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{server}")
    assert managed["managed-prod-db-database"]["importId"] == (
        f"{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{server}/databases/app")
    assert managed["managed-prod-db-tls-version"]["importId"] == (
        f"{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{server}/configurations/ssl_min_protocol_version")
    account = managed["managed-prod-files-account"]["inputs"]["accountName"]
    assert managed["managed-prod-files-container"]["importId"] == (
        f"{rg}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/app-files")
    assert managed["managed-prod-net-subnet-postgres"]["importId"] == (
        f"{rg}/providers/Microsoft.Network/virtualNetworks/vnet-managed-prod/subnets/postgres")
    saas = by_name(planned("saas", EVERYTHING))
    cosmos = saas["saas-prod-docs-account"]["inputs"]["accountName"]
    assert saas["saas-prod-docs-container"]["importId"] == (
        f"/subscriptions/{SUB}/resourceGroups/rg-saas-prod/providers/Microsoft.DocumentDB/databaseAccounts/{cosmos}"
        "/sqlDatabases/app/containers/items")
    custom = by_name(planned("custom-self-hosted", EVERYTHING))
    assert custom["custom-prod-db-data-disk"]["importId"] == (
        f"/subscriptions/{SUB}/resourceGroups/rg-custom-prod/providers/Microsoft.Compute/disks/disk-pgdata-custom-prod")
    assert custom["custom-prod-db-backup-policy"]["importId"] == (
        f"/subscriptions/{SUB}/resourceGroups/rg-custom-prod/providers/Microsoft.DataProtection/backupVaults/"
        "bvault-custom-prod/backupPolicies/disk-daily")  # fmt: skip


@pytest.mark.parametrize("key", sorted(PLANS))
def test_without_adopt_nothing_is_imported(key: str) -> None:
    graph = planned(key, [])
    assert not [r["name"] for r in graph["resources"] if "importId" in r]
    assert not [r["name"] for r in graph["resources"] if "administratorLoginPassword" in r.get("ignoreChanges", [])]
    assert not [r for r in graph["resources"] if r["type"].endswith("mbops:AdminPassword")]


def test_one_child_adopts_just_that_child_and_the_group_it_lives_in() -> None:
    graph = planned("managed", ["storage.account"])
    imported = {r["name"] for r in graph["resources"] if "importId" in r}
    # The group (and the app identity the kept grants name) hold whatever was kept: back whenever anything is.
    assert imported == {"managed-prod-files-account", "managed-prod-rg", "managed-prod-app-identity"}


def test_the_network_is_adopted_by_kind_or_by_child() -> None:
    network = {"managed-prod-net-vnet", "managed-prod-net-subnet-postgres", "managed-prod-net-nsg-postgres",
               "managed-prod-net-postgres-dns", "managed-prod-net-postgres-dns-link"}  # fmt: skip
    whole = {r["name"] for r in planned("managed", ["network.*"])["resources"] if "importId" in r}
    assert whole - {"managed-prod-rg", "managed-prod-app-identity"} == network, "what a kept server needs"
    one_subnet = {r["name"] for r in planned("managed", ["network.subnet_postgres"])["resources"] if "importId" in r}
    assert one_subnet == {"managed-prod-net-subnet-postgres", "managed-prod-rg", "managed-prod-app-identity"}


def test_a_network_without_a_kept_server_has_nothing_to_adopt() -> None:
    graph = planned("custom-self-hosted", ["network.*"])
    assert not [r["name"] for r in graph["resources"] if "importId" in r and "-net-" in r["name"]]
    assert not [r["name"] for r in graph["resources"] if r["retainOnDelete"] and "-net-" in r["name"]]


def test_an_adopted_server_gets_this_deployments_admin_password() -> None:
    """ARM never returns the admin password, so the import ignores it and AdminPassword sets the stack's own
    before the database (and the role setup after it) is reached."""
    graph = planned("managed", EVERYTHING)
    names = by_name(graph)
    server = names["managed-prod-db-server"]
    assert server["ignoreChanges"] == ["administratorLoginPassword"]
    [reset] = [r for r in graph["resources"] if r["type"].endswith("mbops:AdminPassword")]
    assert server["urn"] in reset["dependencies"]
    assert reset["inputs"]["server_id"] == server["importId"]
    assert reset["inputs"]["password"] == "[secret]" and reset["inputs"]["token"] == "[secret]"
    assert reset["urn"] in names["managed-prod-db-database"]["dependencies"]


def one(graph: dict[str, Any], type_token: str) -> dict[str, Any]:
    [found] = [r for r in graph["resources"] if r["type"] == type_token]
    return found


class _FakeArm(http.server.BaseHTTPRequestHandler):
    """ARM for one Flexible Server: PATCH starts an update, GET answers Updating once, then Ready."""

    calls: list[tuple[str, str, Any, str]] = []
    states: list[str] = []

    def _answer(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PATCH(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append(("PATCH", self.path, body, self.headers["Authorization"]))
        self._answer({}, 202)

    def do_GET(self) -> None:  # noqa: N802
        self.calls.append(("GET", self.path, None, self.headers["Authorization"]))
        self._answer({"properties": {"state": self.states.pop(0) if self.states else "Ready"}})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_arm(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeArm]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeArm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MBOPS_ARM_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    _FakeArm.calls, _FakeArm.states = [], ["Updating"]
    try:
        yield _FakeArm
    finally:
        server.shutdown()


SERVER_ID = f"/subscriptions/{SUB}/resourceGroups/rg-x/providers/Microsoft.DBforPostgreSQL/flexibleServers/psql-x"


def test_admin_password_sets_the_password_waits_for_ready_and_keeps_no_secret(fake_arm: type[_FakeArm]) -> None:
    from mbops.components.azure.arm import SERVER_API, AdminPasswordProvider

    props = {"server_id": SERVER_ID, "password": "N3w-secret", "token": "tok", "timeout_s": 5, "poll_s": 0}
    created = AdminPasswordProvider().create(props)
    patch, *gets = fake_arm.calls
    assert patch == ("PATCH", f"{SERVER_ID}?api-version={SERVER_API}",
                     {"properties": {"administratorLoginPassword": "N3w-secret"}}, "Bearer tok")  # fmt: skip
    assert [g[0] for g in gets] == ["GET", "GET"], "polled until Ready"
    state = json.dumps(created.outs)
    assert "N3w-secret" not in state and "tok" not in state
    provider = AdminPasswordProvider()
    assert not provider.diff(created.id, created.outs, props).changes
    assert provider.diff(created.id, created.outs, {**props, "password": "other"}).changes
    assert provider.diff(created.id, created.outs, {**props, "token": "a-new-token"}).changes is False


def test_admin_password_names_the_server_when_it_does_not_come_back(fake_arm: type[_FakeArm]) -> None:
    from mbops.components.azure.arm import set_admin_password

    fake_arm.states = ["Updating"] * 1000
    with pytest.raises(RuntimeError, match="psql-x did not come back Ready.*state Updating"):
        set_admin_password({"server_id": SERVER_ID, "password": "p", "token": "t", "timeout_s": 0.2, "poll_s": 0.05})


# --- self-hosted: a kept data disk's admin logs in with the new deployment's password -------------------------


def _setup_sql() -> str:
    """The SQL the PostgreSQL VM's first boot runs (cloud-init's setup script), as the VM would run it."""
    from mbops.components.azure import cloudinit

    document = cloudinit.postgres_server(version="16", database="appdb", admin="mbopsadmin", vault="kv-x",
                                         client_id="c", password_secret="database-password",
                                         allowed_cidrs=["10.0.0.0/27"])  # fmt: skip
    config = yaml.safe_load(document.removeprefix("#cloud-config\n"))
    [setup] = [f["content"] for f in config["write_files"] if f["path"] == "/usr/local/sbin/mbops-postgres-setup"]
    return setup.split("<<'SQL'\n", 1)[1].split("\nSQL\n", 1)[0]


def test_a_kept_data_directory_takes_the_new_deployments_admin_password() -> None:
    with throwaway_postgres("mbops-azure-adopt-pg-") as (port, superuser):

        def login(password: str) -> int:
            url = f"postgresql://mbopsadmin:{password}@127.0.0.1:{port}/appdb"
            return subprocess.run(["psql", url, "-tAc", "select 1"], capture_output=True).returncode

        for password in ("first-deploy", "after-adopt"):  # the first boot, then a new VM on the kept disk
            done = subprocess.run([*superuser, "-v", f"pw={password}"], input=_setup_sql(), text=True,
                                  capture_output=True)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert login(password) == 0
        assert login("first-deploy") != 0, "the old deployment's password no longer works"
        rows = subprocess.run([*superuser, "-tAc", "SELECT count(*) FROM pg_database WHERE datname = 'appdb'"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert rows.stdout.strip() == "1"
