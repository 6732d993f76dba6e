"""The Azure architect review's findings (B1-M9 and the lows), each read from the planned graphs of the prod stacks
(domain api.example.com in the Azure DNS zone example.com, monitoring with notify and a budget) and the dev ones,
or run for real where the fix is code that runs at deploy time (the app-role SQL on PostgreSQL, the Private Link
approval against a fake ARM, the deploy tag).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mbops.components.azure import arm, cloudinit
from mbops.components.azure.common import ROLES
from mbops.components.azure.database import SETUP_SCRIPT
from mbops.components.azure.servers import deploy_tag
from mbops.engine.fakes.azure import PLAN_SUBSCRIPTION_ID as SUBSCRIPTION
from mbops.engine.plan import plan
from mbops.stacks.config import StackFile, resolve
from tests.conftest import ENVIRONMENTS, PROFILES, one, resources
from tests.pg_cluster import throwaway_postgres

PAIRS = [(p, e) for p in PROFILES for e in ENVIRONMENTS]
ZONE = {"name": "example.com", "resource_group": "rg-dns"}
MONITORING = {"notify": ["email:ops@example.com"], "budget_usd": 500}
# The port each private link sub-resource answers on (Azure's documentation, kept apart from the code's table).
ENDPOINT_PORTS = {"vault": 443, "redisEnterprise": 10000, "blob": 443}
APPROVAL = "pulumi-python:dynamic/mbops:PrivateLinkApproval"


@cache
def reviewed(profile: str, env: str, release: bool = False) -> dict[str, Any]:
    """The plan the review read: prod with the domain, the zone and monitoring on; dev as the profile has it."""
    fields: dict[str, Any] = {}
    if env == "prod":
        fields = {"domain": "api.example.com", "dns_zone": ZONE, "components": {"monitoring": MONITORING}}
    stack = resolve(StackFile(**fields), profile=profile, cloud="azure", environment=env)
    if not release:
        return plan(stack, with_policy=False, with_cost=False)
    return released(stack)


def released(stack: Any) -> dict[str, Any]:
    """The plan of the `up` before `destroy --delete-data` (the program's ``mbops:releaseData`` config)."""
    original = pulumi.Config.get_bool

    def get_bool(self: pulumi.Config, key: str, *a: Any, **k: Any) -> bool | None:
        return True if (self.name, key) == ("mbops", "releaseData") else original(self, key, *a, **k)

    pulumi.Config.get_bool = get_bool  # type: ignore[method-assign]
    try:
        return plan(stack, with_policy=False, with_cost=False)
    finally:
        pulumi.Config.get_bool = original  # type: ignore[method-assign]


def by_urn(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in graph["resources"]}


def named(graph: dict[str, Any], type_token: str, suffix: str) -> dict[str, Any]:
    found = [r for r in resources(graph, type_token) if r["name"].endswith(suffix)]
    assert len(found) == 1, f"{type_token} *{suffix}: {[r['name'] for r in found]}"
    return found[0]


# --- B1: every private endpoint's port is open from the app subnets -----------------------------------------


def _ports(ranges: list[str]) -> Iterator[tuple[int, int]]:
    for r in ranges:
        if r == "*":
            yield 0, 65535
        else:
            low, _, high = r.partition("-")
            yield int(low), int(high or low)


def nsg_allows(rules: list[dict[str, Any]], source: str, port: int, vnet: list[str]) -> bool:
    """Azure's inbound evaluation: the lowest-priority-number matching rule decides; then the default rules
    (AllowVnetInBound at 65000: VirtualNetwork to VirtualNetwork)."""
    net = ipaddress.ip_network(source)

    def matches(rule: dict[str, Any]) -> bool:
        prefix = rule["sourceAddressPrefix"]
        if prefix == "*":
            covered = True
        elif prefix == "VirtualNetwork":
            covered = any(net.subnet_of(ipaddress.ip_network(v)) for v in vnet)
        elif prefix[0].isdigit():
            covered = net.subnet_of(ipaddress.ip_network(prefix))
        else:  # Internet, AzureLoadBalancer, ...: not a VNet source
            covered = False
        in_range = any(lo <= port <= hi for lo, hi in _ports(rule["destinationPortRanges"]))
        return covered and in_range and rule["protocol"] in ("Tcp", "*") and rule["direction"] == "Inbound"

    for rule in sorted(rules, key=lambda r: r["priority"]):
        if matches(rule):
            return rule["access"] == "Allow"
    return any(net.subnet_of(ipaddress.ip_network(v)) for v in vnet)  # AllowVnetInBound


@pytest.mark.parametrize("profile,env", PAIRS)
def test_every_private_endpoint_port_is_allowed_from_every_app_subnet(profile: str, env: str) -> None:
    graph = reviewed(profile, env)
    urns = by_urn(graph)
    endpoints = resources(graph, "azure-native:network:PrivateEndpoint")
    if profile == "saas" and env == "dev":
        assert not endpoints  # no VNet
        return
    assert endpoints
    subnets = resources(graph, "azure-native:network:Subnet")
    app_cidrs = [s["inputs"]["addressPrefix"] for s in subnets if s["inputs"]["subnetName"] in ("app", "containerapps")]
    vnet = one_value(graph, "azure-native:network:VirtualNetwork")["inputs"]["addressSpace"]["addressPrefixes"]
    for endpoint in endpoints:
        [group] = endpoint["inputs"]["privateLinkServiceConnections"][0]["groupIds"]
        subnet = next(urns[d] for d in endpoint["dependencies"] if urns[d]["type"] == "azure-native:network:Subnet")
        assert subnet["inputs"]["privateEndpointNetworkPolicies"] == "Enabled"  # the NSG applies to the endpoint
        nsg = next(urns[d] for d in subnet["dependencies"]
                   if urns[d]["type"] == "azure-native:network:NetworkSecurityGroup")  # fmt: skip
        for cidr in app_cidrs:
            assert nsg_allows(nsg["inputs"]["securityRules"], cidr, ENDPOINT_PORTS[group], vnet), (
                f"{nsg['name']} refuses {cidr} -> {endpoint['name']} ({group}, port {ENDPOINT_PORTS[group]})"
            )
        # ... and the rest of the VNet stays out (the data tier's deny).
        assert not nsg_allows(nsg["inputs"]["securityRules"], "10.20.255.0/28", ENDPOINT_PORTS[group], vnet)


def one_value(graph: dict[str, Any], type_token: str) -> dict[str, Any]:
    [found] = resources(graph, type_token)
    return found


def test_a_private_endpoint_the_network_was_not_told_about_is_refused() -> None:
    from mbops.components.azure.network import PRIVATE_ENDPOINT_PORTS

    assert {"vault", "redisEnterprise"} <= set(PRIVATE_ENDPOINT_PORTS)
    graph = reviewed("managed", "prod")
    data = named(graph, "azure-native:network:NetworkSecurityGroup", "-nsg-data")["inputs"]["securityRules"]
    postgres = named(graph, "azure-native:network:NetworkSecurityGroup", "-nsg-postgres")["inputs"]["securityRules"]
    assert any("443" in r["destinationPortRanges"] for r in data if r["access"] == "Allow")
    assert not any("10000" in r["destinationPortRanges"] for r in postgres), "Redis is not in the PostgreSQL subnet"


# --- B2: public assets in their own account, private uploads never behind the CDN ---------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_cdn_reads_a_public_assets_account_and_the_app_is_told_where_it_is(env: str) -> None:
    graph = reviewed("saas", env)
    urns = by_urn(graph)
    public = named(graph, "azure-native:storage:StorageAccount", "-files-public-account")
    uploads = named(graph, "azure-native:storage:StorageAccount", "-files-account")
    container = named(graph, "azure-native:storage:BlobContainer", "-public-container")["inputs"]
    origin = next(r for r in resources(graph, "azure-native:cdn:AFDOrigin") if r["component"] == "cdn")
    assert origin["inputs"]["hostName"].startswith(public["inputs"]["accountName"] + ".")
    assert uploads["inputs"]["allowBlobPublicAccess"] is False
    assert not [r for r in graph["resources"] if uploads["inputs"]["accountName"] in str(r["inputs"].get("hostName"))]
    app = one_value(graph, "azure-native:app:ContainerApp")
    env_vars = {e["name"]: e.get("value") for e in app["inputs"]["template"]["containers"][0]["env"]}
    assert env_vars["STORAGE_PUBLIC_URL"] == f"https://{public['inputs']['accountName']}.blob.core.windows.net/public"
    writers = [a for a in resources(graph, "azure-native:authorization:RoleAssignment")
               if a["name"].endswith("-public-writer")]  # fmt: skip
    assert writers and writers[0]["inputs"]["roleDefinitionId"].endswith(ROLES["Storage Blob Data Contributor"])
    if env == "prod":  # anonymous reads, but only Front Door's approved private endpoint gets to the account
        assert container["publicAccess"] == "Blob" and public["inputs"]["allowBlobPublicAccess"] is True
        assert public["inputs"]["networkRuleSet"]["defaultAction"] == "Deny"
        group = next(r for r in resources(graph, "azure-native:cdn:AFDOriginGroup") if r["component"] == "cdn")
        assert "authentication" not in group["inputs"], "origin authentication is not supported with Private Link"
        approval = next(a for a in resources(graph, APPROVAL) if a["component"] == "cdn")
        assert approval["inputs"]["api_version"] == arm.CONNECTION_API["Microsoft.Storage/storageAccounts"]
        assert origin["urn"] in approval["dependencies"] and public["urn"] in {
            d for d in urns[origin["urn"]]["dependencies"]} | set(approval["dependencies"])  # fmt: skip
    else:
        assert container["publicAccess"] == "None" and public["inputs"]["allowBlobPublicAccess"] is False


# --- H1: the availability alert names its web test and waits for it -------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_the_availability_alert_is_scoped_to_its_web_test_and_waits_for_it(profile: str) -> None:
    graph = reviewed(profile, "prod")
    test = one_value(graph, "azure-native:applicationinsights:WebTest")
    insights = one_value(graph, "azure-native:applicationinsights:Component")
    alert = next(a for a in resources(graph, "azure-native:monitor:MetricAlert")
                 if a["name"] == f"{profile}-prod-monitoring-health")  # fmt: skip
    # scopes = [the test's id, the component's id]: unknown in a preview, so read through the dependencies.
    assert {test["urn"], insights["urn"]} <= set(alert["dependencies"])
    assert alert["inputs"]["criteria"]["webTestId"] == "[computed]"  # the test's id, never a string built in code


# --- H2: the app logs in as its own role; the admin URL is out of its reach ---------------------------------


def app_principal_assignments(graph: dict[str, Any]) -> list[dict[str, Any]]:
    identity = named(graph, "azure-native:managedidentity:UserAssignedIdentity", "-app-identity")
    return [a for a in resources(graph, "azure-native:authorization:RoleAssignment")
            if identity["urn"] in a["dependencies"]]  # fmt: skip


@pytest.mark.parametrize("profile,env", [p for p in PAIRS if p[0] != "saas"])
def test_the_app_reads_only_its_own_secrets_and_its_role_exists_before_it_starts(profile: str, env: str) -> None:
    graph = reviewed(profile, env)
    urns = by_urn(graph)
    vault = one_value(graph, "azure-native:keyvault:Vault")
    secrets = {s["urn"]: s["inputs"]["secretName"] for s in resources(graph, "azure-native:keyvault:Secret")}
    readable: set[str] = set()
    for assignment in app_principal_assignments(graph):
        if not assignment["inputs"]["roleDefinitionId"].endswith(ROLES["Key Vault Secrets User"]):
            continue
        assert vault["urn"] not in assignment["dependencies"] or any(d in secrets for d in assignment["dependencies"])
        readable |= {secrets[d] for d in assignment["dependencies"] if d in secrets}
    assert "database-url" in readable and "database-admin-url" not in readable
    server = resources(graph, "azure-native:dbforpostgresql:Server")
    if server:  # no Entra administrator is configured: Entra logins stay off
        assert server[0]["inputs"]["authConfig"] == {"passwordAuth": "Enabled", "activeDirectoryAuth": "Disabled"}
    run = one_value(graph, "pulumi-python:dynamic/mbops:JobRun")
    job = one_value(graph, "azure-native:app:Job")
    assert job["urn"] in run["dependencies"] and job["inputs"]["configuration"]["triggerType"] == "Manual"
    container = job["inputs"]["template"]["containers"][0]
    assert container["args"] == [SETUP_SCRIPT] and {e["name"] for e in container["env"]} == {
        "DATABASE", "ADMIN_URL", "APP_URL"}  # fmt: skip
    setup_identity = named(graph, "azure-native:managedidentity:UserAssignedIdentity", "-setup-identity")
    assert job["inputs"]["identity"]["userAssignedIdentities"] == ["[computed]"]
    assert setup_identity["urn"] in job["dependencies"]
    environment = urns[next(d for d in job["dependencies"] if urns[d]["type"] == "azure-native:app:ManagedEnvironment")]
    assert environment["inputs"]["vnetConfiguration"]["infrastructureSubnetId"], "the job runs inside the VNet"
    app = one_value(graph, {"managed": "azure-native:app:ContainerApp",
                            "custom": "azure-native:compute:VirtualMachineScaleSet"}[profile])  # fmt: skip
    assert run["urn"] in app["dependencies"], "the app starts once its role exists"


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL cluster: an admin like Flexible Server's (CREATEROLE, CREATEDB, no superuser) that
    owns the app database and made a table there the way an app connecting as the admin did."""
    with throwaway_postgres("mbops-azure-pg-") as (port, superuser):
        subprocess.run([*superuser, "-c", "CREATE ROLE mbopsadmin LOGIN CREATEROLE CREATEDB PASSWORD 'adminpw'",
                        "-c", "CREATE DATABASE appdb OWNER mbopsadmin"], check=True)  # fmt: skip
        admin = f"postgresql://mbopsadmin:adminpw@127.0.0.1:{port}/appdb"
        subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                        "CREATE TABLE notes (id serial PRIMARY KEY, title text)", "-c",
                        "INSERT INTO notes (title) VALUES ('kept')"], check=True)  # fmt: skip
        yield {"admin": admin, "app": f"postgresql://app:Ab1secretPW@127.0.0.1:{port}/appdb", "port": port}


def _psql(url: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True)


def test_the_setup_script_creates_a_plain_app_role_that_owns_the_apps_tables(postgres: dict[str, str]) -> None:
    env = {**os.environ, "ADMIN_URL": postgres["admin"], "APP_URL": postgres["app"], "DATABASE": "appdb"}
    for _ in range(2):  # idempotent: a rerun (a new password, a new deploy) succeeds
        done = subprocess.run(["/bin/sh", "-c", SETUP_SCRIPT], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    app = postgres["app"]
    assert _psql(app, "SELECT title FROM notes").stdout.strip() == "kept", "the admin's old table is the app's"
    assert _psql(app, "INSERT INTO notes (title) VALUES ('new') RETURNING id").returncode == 0, "its sequence too"
    assert _psql(app, "CREATE TABLE t (x int)").returncode == 0
    flags = _psql(postgres["admin"], "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname='app'")
    assert flags.stdout.strip() == "f|f|f"
    assert _psql(app, "CREATE ROLE intruder").returncode != 0 and _psql(app, "CREATE DATABASE other").returncode != 0
    wrong = postgres["app"].replace("Ab1secretPW", "wrong")
    assert _psql(wrong, "SELECT 1").returncode != 0


# --- H3: destroy keeps the group that holds the kept data, and the network a kept server lives in ------------


@pytest.mark.parametrize("release", [False, True])
def test_the_resource_group_and_a_kept_servers_network_follow_the_data(release: bool) -> None:
    graph = reviewed("managed", "prod", release)
    group = one_value(graph, "azure-native:resources:ResourceGroup")
    assert group["retainOnDelete"] is (not release)
    server = one_value(graph, "azure-native:dbforpostgresql:Server")
    assert server["retainOnDelete"] is (not release) and server["protect"] is (not release)
    kept = {r["name"] for r in graph["resources"] if r["retainOnDelete"]}
    network = {"managed-prod-net-vnet", "managed-prod-net-subnet-postgres", "managed-prod-net-nsg-postgres",
               "managed-prod-net-postgres-dns", "managed-prod-net-postgres-dns-link"}  # fmt: skip
    assert (network <= kept) is (not release) and not (network & kept and release)
    assert "managed-prod-net-subnet-app" not in kept, "only what the server needs stays"


# --- H5, H6: autoscale owns the count; a release reaches running VMs without touching the scale set ----------


def options_of(profile: str, env: str) -> dict[str, pulumi.ResourceOptions]:
    """name -> the options each resource was created with (ignore_changes is not in the planned graph)."""
    from mbops.engine.embedded import run_program
    from mbops.engine.plan import Planner
    from mbops.stacks.wiring import build as build_stack

    stack = resolve(profile=profile, cloud="azure", environment=env)
    found: dict[str, pulumi.ResourceOptions] = {}
    original = pulumi.CustomResource.__init__

    def record(self: Any, t: str, name: str, props: Any = None, opts: Any = None, *a: Any, **k: Any) -> None:
        found[name] = opts
        original(self, t, name, props, opts, *a, **k)

    pulumi.CustomResource.__init__ = record  # type: ignore[method-assign]
    try:
        run_program(lambda: build_stack(stack), Planner(stack.region), project="mbops", stack=stack.name,
                    dry_run=True)  # fmt: skip
    finally:
        pulumi.CustomResource.__init__ = original  # type: ignore[method-assign]
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_scale_set_leaves_its_size_to_autoscale(env: str) -> None:
    options = options_of("custom", env)
    assert options[f"custom-{env}-servers-vmss"].ignore_changes == ["sku.capacity"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_release_rolls_out_through_the_deploy_extension(env: str) -> None:
    graph = reviewed("custom", env)
    vmss = one_value(graph, "azure-native:compute:VirtualMachineScaleSet")
    deploy = named(graph, "azure-native:compute:VirtualMachineScaleSetExtension", "-servers-deploy")
    document = named(graph, "azure-native:keyvault:Secret", "-servers-deploy-secret")
    image = next(i for i in resources(graph, "pulumi-python:dynamic/mbops:Image") if i["component"] == "registry")
    assert image["urn"] in document["dependencies"] and document["urn"] in deploy["dependencies"]
    assert vmss["urn"] in deploy["dependencies"] and image["urn"] not in vmss["dependencies"]
    inputs = deploy["inputs"]
    assert (inputs["publisher"], inputs["type"], inputs["forceUpdateTag"]) == (
        "Microsoft.Azure.Extensions", "CustomScript", "[computed]")  # fmt: skip
    assert vmss["inputs"]["upgradePolicy"]["mode"] == "Rolling"
    first = deploy_tag('{"env": {}, "image": "acr.azurecr.io/app@sha256:' + "a" * 64 + '"}')
    second = deploy_tag('{"env": {}, "image": "acr.azurecr.io/app@sha256:' + "b" * 64 + '"}')
    assert first != second and len(first) == 32, "a new digest re-runs the extension on every VM"
    command = cloudinit.deploy_command(vault="kv", client_id="cid", port=8080, health_path="/healthz", restart=True)
    assert command.endswith("app-deploy 8080 /healthz --restart")


# --- M1, M2: the Private Link approval ------------------------------------------------------------------------


def _connection(cid: str, status: str, description: str) -> dict[str, Any]:
    return {"id": cid, "properties": {"privateEndpoint": {"id": f"{cid}-pe"},
                                      "privateLinkServiceConnectionState": {"status": status,
                                                                            "description": description}}}  # fmt: skip


def approve(monkeypatch: pytest.MonkeyPatch, connections: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    puts: list[str] = []

    def fake(method: str, path: str, token: str, api: str, body: Any = None) -> Any:
        if method == "PUT":
            puts.append(path)
            return {}
        return {"value": connections}

    monkeypatch.setattr(arm, "_arm", fake)
    props = {"target_id": "/x/pls", "request_message": "m (nonce1)", "token": "t", "api_version": "v",
             "timeout_s": 0, "poll_s": 0}  # fmt: skip
    try:
        return arm.approve_connection(props), puts
    except RuntimeError as exc:
        return exc, puts


def test_the_approval_takes_only_the_one_connection_with_the_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    result, puts = approve(monkeypatch, [_connection("/c/spoof", "Pending", "m"),
                                         _connection("/c/fd", "Pending", "m (nonce1)")])  # fmt: skip
    assert result == {"connection_id": "/c/fd", "endpoint_id": "/c/fd-pe"} and puts == ["/c/fd"]
    result, puts = approve(monkeypatch, [_connection("/c/a", "Pending", "m (nonce1)"),
                                         _connection("/c/b", "Pending", "m (nonce1)")])  # fmt: skip
    assert isinstance(result, RuntimeError) and "more than one" in str(result) and not puts
    result, puts = approve(monkeypatch, [_connection("/c/fd", "Approved", "m (nonce1) (approved by mbops)")])
    assert result == {"connection_id": "/c/fd", "endpoint_id": "/c/fd-pe"} and not puts


@pytest.mark.parametrize("profile", PROFILES)
def test_front_door_asks_with_a_per_deployment_nonce(profile: str) -> None:
    graph = reviewed(profile, "prod")
    urns = by_urn(graph)
    for approval in resources(graph, APPROVAL):
        nonce = [urns[d] for d in approval["dependencies"]
                 if urns[d]["type"] == "random:index/randomString:RandomString"]  # fmt: skip
        origin = next(urns[d] for d in approval["dependencies"] if urns[d]["type"] == "azure-native:cdn:AFDOrigin")
        assert approval["inputs"]["request_message"] == "[computed]" and nonce and nonce[0]["inputs"]["length"] >= 16
        assert nonce[0]["urn"] in origin["dependencies"], "the origin sends the same message"


def test_the_arm_token_is_read_after_what_it_waits_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_azure_native import authorization

    seen: list[Any] = []

    def fake(opts: pulumi.InvokeOutputOptions | None = None) -> Any:
        seen.append(opts)
        raise StopIteration

    monkeypatch.setattr(authorization, "get_client_token_output", fake)
    origin = object()
    with pytest.raises(StopIteration):
        arm.arm_token(None, after=[origin])  # type: ignore[arg-type, list-item]
    assert seen[0].depends_on == [origin]


# --- M3, M4, M5 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_flow_logs_write_with_their_own_identity_to_a_keyless_account(profile: str) -> None:
    graph = reviewed(profile, "prod")
    flow = one_value(graph, "azure-native:network:FlowLog")
    identity = named(graph, "azure-native:managedidentity:UserAssignedIdentity", "-flow-log-identity")
    assert flow["inputs"]["identity"]["type"] == "UserAssigned"
    writer = named(graph, "azure-native:authorization:RoleAssignment", "-flow-log-writer")
    account = named(graph, "azure-native:storage:StorageAccount", "-flow-log-storage")
    assert writer["inputs"]["roleDefinitionId"].endswith(ROLES["Storage Blob Data Contributor"])
    assert {identity["urn"], account["urn"]} <= set(writer["dependencies"]) and writer["urn"] in flow["dependencies"]
    assert account["inputs"]["allowSharedKeyAccess"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cosmos_is_zone_redundant_in_prod(env: str) -> None:
    account = one_value(reviewed("saas", env), "azure-native:cosmosdb:DatabaseAccount")["inputs"]
    assert account["locations"][0]["isZoneRedundant"] is (env == "prod")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("release", [False, True])
def test_prod_storage_and_vault_are_locked_until_the_data_is_released(profile: str, release: bool) -> None:
    graph = reviewed(profile, "prod", release)
    urns = by_urn(graph)
    locked = {d for lock in resources(graph, "azure-native:authorization:ManagementLockByScope")
              for d in lock["dependencies"] if urns[d]["type"] in ("azure-native:storage:StorageAccount",
                                                                  "azure-native:keyvault:Vault")}  # fmt: skip
    data = {r["urn"] for r in graph["resources"] if r["component"] in ("storage", "secrets")
            and r["type"] in ("azure-native:storage:StorageAccount", "azure-native:keyvault:Vault")}  # fmt: skip
    assert locked == (set() if release else data)
    assert all(urns[u]["retainOnDelete"] is (not release) for u in data)


# --- M8: entry alerts on the app's endpoint, thresholds that do not page for an upgrade ---------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_entry_alerts_watch_the_apps_endpoint_and_the_database_answers(profile: str) -> None:
    graph = reviewed(profile, "prod")
    alerts = {a["inputs"]["criteria"]["allOf"][0]["name"]: a["inputs"]
              for a in resources(graph, "azure-native:monitor:MetricAlert") if "allOf" in a["inputs"]["criteria"]}
    for key in ("entry-5xx", "entry-latency"):
        assert alerts[key]["criteria"]["allOf"][0]["dimensions"] == [
            {"name": "Endpoint", "operator": "Include", "values": ["[computed]", "api.example.com"]}]  # fmt: skip
    health = alerts["entry-origin-health"]["criteria"]["allOf"][0]
    assert health["threshold"] == 90 and health["dimensions"][0] == {
        "name": "OriginGroup", "operator": "Include", "values": ["app"]}  # fmt: skip
    if profile == "custom":
        assert alerts["app-unhealthy"]["criteria"]["allOf"][0]["threshold"] < 100
        assert alerts["app-unhealthy"]["windowSize"] == "PT15M"
    else:
        restarts = alerts["app-restarts"]
        assert restarts["severity"] > 1 and restarts["criteria"]["allOf"][0]["threshold"] > 0
    if profile != "saas":
        alive = alerts["db-alive"]
        assert alive["criteria"]["allOf"][0]["metricName"] == "is_db_alive" and alive["severity"] == 1
    text = " ".join(a["description"] for a in alerts.values())
    assert "_CL" not in text


@pytest.mark.parametrize("profile", PROFILES)
def test_the_dashboard_charts_what_the_alerts_watch(profile: str) -> None:
    graph = reviewed(profile, "prod")
    dashboard = one_value(graph, "azure-native:portal:Dashboard")["inputs"]
    parts = dashboard["properties"]["lenses"][0]["parts"]
    charted = {p["metadata"]["inputs"][0]["value"]["chart"]["metrics"][0]["name"] for p in parts}
    watched = {a["inputs"]["criteria"]["allOf"][0]["metricName"]
               for a in resources(graph, "azure-native:monitor:MetricAlert") if "allOf" in a["inputs"]["criteria"]}
    assert charted == watched and len(parts) == len(charted)
    assert all(p["metadata"]["type"] == "Extension/HubsExtension/PartType/MonitorChartPart" for p in parts)


# --- mbops logs --cloud azure --------------------------------------------------------------------------------


@pytest.mark.parametrize("profile,env", PAIRS)
def test_the_logs_output_says_where_the_app_logs_are(profile: str, env: str) -> None:
    logs = reviewed(profile, env)["outputs"]["logs"]
    assert set(logs["app"]) == {"command", "follow", "console"}
    group = f"rg-{profile}-{env}"
    if profile == "custom":  # the app container's journald tag, shipped as Syslog; one VM's journal live
        assert logs["app"]["command"] == "[computed]"  # the workspace id
        assert "az vmss run-command invoke -g rg-custom-" in logs["app"]["follow"]
    else:
        assert logs["app"]["command"] == (
            f"az containerapp logs show -n ca-{profile}-{env} -g {group} --type console --tail 100")
        assert logs["app"]["follow"] == logs["app"]["command"] + " --follow"
        assert set(logs["app-history"]) == {"command", "console"}


# --- low: settings that cannot work are declared, not silently dropped --------------------------------------


@pytest.mark.parametrize("profile", ["managed", "custom"])
def test_max_storage_gb_is_a_declared_limitation_on_flexible_server(profile: str) -> None:
    limits = {g["kind"]: g for g in reviewed(profile, "prod")["limitations"]}
    assert "max_storage_gb" in limits["database"]["reason"] and limits["database"]["alternative"]
    server = one_value(reviewed(profile, "prod"), "azure-native:dbforpostgresql:Server")
    assert server["inputs"]["storage"]["autoGrow"] == "Enabled"


# --- final review: what the VMs fetch from Key Vault ---------------------------------------------------------

SECRET_URI = r"https://\S+\.vault\.azure\.net/secrets/"


def user_data(resource: dict[str, Any], path: str) -> str:
    """A VM's or scale set's custom data as the VM reads it (readable in a preview: see components/preview.py)."""
    value: Any = resource["inputs"]
    for key in path.split("."):
        value = value[key]
    return base64.b64decode(value).decode()


@cache
def checked(env: str, self_hosted: bool = False) -> dict[str, Any]:
    """The reviewed custom plan with the policy rules run on it (the self-hosted database when asked)."""
    fields: dict[str, Any] = {"components": {"database": {"self_hosted": self_hosted}}}
    if env == "prod":
        fields = {"domain": "api.example.com", "dns_zone": ZONE,
                  "components": {"monitoring": MONITORING, "database": {"self_hosted": self_hosted}}}
    return plan(resolve(StackFile(**fields), profile="custom", cloud="azure", environment=env), with_cost=False)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_app_vms_name_their_secrets_by_key_vault_uri_and_pass_the_plaintext_rule(env: str) -> None:
    graph = checked(env)
    scale_set = named(graph, "azure-native:compute:VirtualMachineScaleSet", "-vmss")
    text = user_data(scale_set, "virtualMachineProfile.osProfile.customData")
    assert re.search(rf"mbops-kv-fetch \S+ --out /run/mbops/secrets.env '?DATABASE_URL={SECRET_URI}database-url'?\n",
                     text)
    assert not [f for f in graph["policy"] if f["rule"] == "secrets-not-in-plaintext"], graph["policy"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_self_hosted_database_vm_reads_its_password_by_key_vault_uri(env: str) -> None:
    graph = checked(env, self_hosted=True)
    text = user_data(named(graph, "azure-native:compute:VirtualMachine", "-db-vm"), "osProfile.customData")
    assert re.search(rf"'?P={SECRET_URI}database-password'? \| cut -d= -f2-\)", text)
    assert not [f for f in graph["policy"] if f["rule"] == "secrets-not-in-plaintext"], graph["policy"]


@pytest.mark.parametrize("pair", ["DATABASE_URL=database-url", "DATABASE_URL=https://attacker.example/secrets/x",
                                  "DATABASE_URL=http://kv-x.vault.azure.net/secrets/x"])
def test_kv_fetch_sends_the_vms_token_to_key_vault_uris_only(pair: str, tmp_path: Path) -> None:
    script = tmp_path / "mbops-kv-fetch"
    script.write_text(cloudinit.KV_FETCH)
    run = subprocess.run([sys.executable, str(script), "cid", pair], capture_output=True, text=True, timeout=10)
    assert run.returncode != 0 and "is not ENV=https://VAULT.vault.azure.net/secrets/NAME" in run.stderr
    assert "169.254.169.254" not in run.stderr  # refused before any token was asked for


def test_kv_fetch_writes_an_owner_only_env_file_even_without_secrets(tmp_path: Path) -> None:
    """The app unit always passes --env-file /run/mbops/secrets.env to docker: it must exist, readable by root only."""
    script, out = tmp_path / "mbops-kv-fetch", tmp_path / "secrets.env"
    script.write_text(cloudinit.KV_FETCH)
    out.write_text("STALE=1\n")
    run = subprocess.run([sys.executable, str(script), "cid", "--out", str(out)], capture_output=True, timeout=10)
    assert run.returncode == 0, run.stderr
    assert out.read_text() == "" and (out.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_what_a_self_hosted_database_vm_does_not_do_is_a_declared_limitation(env: str) -> None:
    graph = checked(env, self_hosted=True)
    reason = {g["kind"]: g for g in graph["limitations"]}["database"]["reason"]
    assert "no point-in-time restore" in reason
    assert ("ha: true is not honoured" in reason) == (env == "prod")  # prod asks for HA, dev does not
    assert len(resources(graph, "azure-native:compute:VirtualMachine")) == 1  # one VM: nothing fails over


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_self_hosted_data_disk_is_snapshotted_daily_by_a_vault_allowed_to(env: str) -> None:
    graph = checked(env, self_hosted=True)
    urns = by_urn(graph)
    disk = one_value(graph, "azure-native:compute:Disk")
    instance = one_value(graph, "azure-native:dataprotection:BackupInstance")
    source = instance["inputs"]["properties"]["dataSourceInfo"]
    assert source["datasourceType"] == "Microsoft.Compute/disks"
    assert source["resourceName"] == disk["inputs"]["diskName"]
    assert disk["urn"] in instance["dependencies"]
    policy = one_value(graph, "azure-native:dataprotection:BackupPolicy")["inputs"]["properties"]
    days = resolve(StackFile(), profile="custom", cloud="azure", environment=env).spec("database").backup_retention_days
    assert [r["trigger"]["schedule"]["repeatingTimeIntervals"] for r in policy["policyRules"] if "trigger" in r] == [
        ["R/2024-01-01T03:00:00+00:00/P1D"]]
    retention = next(r for r in policy["policyRules"] if r["objectType"] == "AzureRetentionRule")
    assert retention["lifecycles"][0]["deleteAfter"]["duration"] == f"P{days}D"
    # The vault's identity may read the disk and write snapshots in the group, propagated before the instance.
    wait = next(urns[u] for u in instance["dependencies"] if urns[u]["type"].endswith(":RbacWait"))
    grants = {urns[u]["inputs"]["description"]: urns[u] for u in wait["dependencies"]
              if urns[u]["type"] == "azure-native:authorization:RoleAssignment"}
    assert set(grants) == {"mbops: Disk Backup Reader", "mbops: Disk Snapshot Contributor"}
    assert disk["urn"] in grants["mbops: Disk Backup Reader"]["dependencies"]  # scoped to the disk's id
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-custom-{env}"
    assert grants["mbops: Disk Snapshot Contributor"]["inputs"]["scope"] == group


@pytest.mark.parametrize("env,release", [("dev", False), ("prod", False), ("prod", True)])
def test_backup_soft_delete_guards_prod_recovery_points_until_the_data_is_released(env: str, release: bool) -> None:
    fields: dict[str, Any] = {"components": {"database": {"self_hosted": True}}}
    stack = resolve(StackFile(**fields), profile="custom", cloud="azure", environment=env)
    graph = released(stack) if release else plan(stack, with_policy=False, with_cost=False)
    vault = one_value(graph, "azure-native:dataprotection:BackupVault")
    state = vault["inputs"]["properties"]["securitySettings"]["softDeleteSettings"]["state"]
    assert state == ("On" if env == "prod" and not release else "Off")
    assert vault["retainOnDelete"] == (not release)  # the recovery points outlive a destroy that keeps data


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_self_hosted_variants_inputs_match_the_sdk_types(env: str) -> None:
    """The built-in plans are checked in test_input_types.py; the self-hosted database is not a built-in profile."""
    from mbops.engine.schema_check import check_graph

    assert check_graph(checked(env, self_hosted=True)) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_entry_alerts_match_the_custom_domain_as_well_as_the_endpoint_host(profile: str) -> None:
    """Requests come in on the custom domain (the azurefd.net host is not linked): whichever host Front Door
    reports in the Endpoint dimension, the 5xx and latency alerts see them; the saas CDN endpoint stays out."""
    graph = reviewed(profile, "prod")
    edge_host = named(graph, "azure-native:cdn:AFDEndpoint", "edge-endpoint")
    for alert in (a for a in resources(graph, "azure-native:monitor:MetricAlert") if a["name"].endswith(
            ("entry-5xx", "entry-latency"))):
        urns = set(alert["dependencies"])
        (dimension,) = alert["inputs"]["criteria"]["allOf"][0]["dimensions"]
        assert dimension["values"][1:] == ["api.example.com"] and edge_host["urn"] in urns
        assert not any(u.endswith("-cdn-endpoint") for u in urns)
    dev = reviewed(profile, "dev")  # no domain, no edge: the dev entry (if any) is matched on its own host only
    for alert in (a for a in resources(dev, "azure-native:monitor:MetricAlert") if a["name"].endswith("entry-5xx")):
        assert len(alert["inputs"]["criteria"]["allOf"][0]["dimensions"][0]["values"]) == 1


@pytest.mark.parametrize("profile", ["saas", "managed"])
def test_a_replica_is_restarted_only_after_a_sustained_health_failure(planned, profile: str) -> None:
    """A database failover makes the health path answer 503 for a minute or two: liveness must not restart every
    replica then (readiness takes them out of traffic), yet stay within Container Apps' probe limits."""
    from mbops.components.azure.container_apps import HEAL_AFTER_S

    app = one(planned(profile, "azure", "prod"), "azure-native:app:ContainerApp")
    probes = {p["type"]: p for p in app["inputs"]["template"]["containers"][0]["probes"]}
    liveness, readiness = probes["Liveness"], probes["Readiness"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= HEAL_AFTER_S >= 300
    assert liveness["periodSeconds"] <= 240 and liveness["failureThreshold"] <= 10
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 30
