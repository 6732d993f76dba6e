"""The GCP production review's findings, each read from the planned graph (or the registrations the engine got):
lookups after their APIs, the servers' first rollout watched, what Cloud SQL / Memorystore / the group change by
themselves left alone, a destroy that completes and an ``up`` that takes the kept data back, names that let dev and
prod share a project, audit logs, the app only behind Cloud Armor, verified database TLS, the alerts that were
missing, certificates of the user's own, DNS in another project, and the ``logs`` output."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from pulumi.runtime.proto import resource_pb2

from mbops.components.gcp.alerts import THROTTLED_SHARE
from mbops.components.gcp.common import HEAL_AFTER_S
from mbops.components.gcp.database import SQL_IGNORED, database_url
from mbops.components.gcp.docdb import BACKUP_RETENTION_DAYS
from mbops.components.gcp.propagation import IAM_PROPAGATION_S
from mbops.engine.embedded import RecordingMonitor, Registration, from_struct, unwrap
from mbops.engine.permissions import deployer_policy, load_map
from mbops.engine.plan import Planner, graph_of, run_plan
from mbops.errors import ConfigError
from mbops.stacks.program import make_program
from tests.conftest import ENVIRONMENTS, PROFILES, one, resources
from tests.test_gcp_prod import (
    DOMAIN,
    ZONE,
    _alerts,
    _condition,
    _domain_plan,
    _plan,
    _recorded,
    _stack,
    registrations,
)

_INVOKE = importlib.import_module("pulumi.runtime.invoke")
assert sys.modules["pulumi.runtime.invoke"] is _INVOKE
ADOPT_ALL = json.dumps(["network.*", "database.*", "storage.*"])


def _named(graph: dict[str, Any], suffix: str) -> dict[str, Any]:
    found = [r for r in graph["resources"] if r["name"].endswith(suffix)]
    assert len(found) == 1, [r["name"] for r in found]
    return found[0]


def _apis(graph: dict[str, Any], component: str) -> set[str]:
    services = resources(graph, "gcp:projects/service:Service")
    return {s["inputs"]["service"] for s in services if s["component"] == component}


# --- F1: provider lookups wait for the APIs they call ---------------------------------------------------------


@contextmanager
def _invokes() -> Iterator[list[tuple[str, list[str], dict[str, Any]]]]:
    """(token, URNs the invoke depends on, its args) of every provider function the program calls: the engine is
    told it may gate invokes (the real engine does), so the SDK sends their dependencies."""
    seen: list[tuple[str, list[str], dict[str, Any]]] = []
    invoke, supports = RecordingMonitor.Invoke, _INVOKE.monitor_supports_feature

    def spy(self: RecordingMonitor, request: Any) -> Any:
        seen.append((request.tok, list(request.dependsOn), from_struct(request.args)))
        return invoke(self, request)

    gated = resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON
    with mock.patch.object(RecordingMonitor, "Invoke", spy), \
            mock.patch.object(_INVOKE, "monitor_supports_feature", lambda f: f == gated or supports(f)):  # fmt: skip
        yield seen


# Which API each lookup calls: a fresh project answers 403 until it is enabled.
LOOKUP_API = {
    "gcp:compute/getZones:getZones": "compute.googleapis.com",
    "gcp:compute/getImage:getImage": "compute.googleapis.com",
    "gcp:organizations/getProject:getProject": "cloudresourcemanager.googleapis.com",
}
ZONES, IMAGE, PROJECT = list(LOOKUP_API)
LOOKUP_CASES = [  # (profile, stack file, the lookups it makes): each lookup of the GCP components, at least once
    ("custom", {"components": {"monitoring": {"budget_usd": 100, "billing_account": "0123AB-CDEF01-234567"}}},
     {ZONES, IMAGE, PROJECT}),  # the servers' zones and pinned image, the budget's project number
    ("custom", {"components": {"database": {"self_hosted": True}}}, {ZONES, IMAGE}),  # + the database VM's image
    ("saas", {}, {PROJECT}),  # the CDN fill agent's project number
]  # fmt: skip


@pytest.mark.parametrize(("profile", "stack_file", "lookups"), LOOKUP_CASES,
                         ids=["servers-budget", "self-hosted", "cdn"])  # fmt: skip
def test_lookups_wait_for_the_apis_they_call(profile: str, stack_file: dict[str, Any], lookups: set[str]) -> None:
    with _invokes() as seen:
        graph = _plan(profile, "prod", **stack_file)
    by_urn = {r["urn"]: r for r in graph["resources"]}
    checked = set()
    for token, depends, _ in seen:
        if token not in LOOKUP_API:
            continue
        services = [by_urn[u] for u in depends if by_urn[u]["type"] == "gcp:projects/service:Service"]
        enabled = {s["inputs"]["service"] for s in services}
        assert LOOKUP_API[token] in enabled, (token, enabled)
        checked.add(token)
    assert checked == lookups
    assert graph["placeholders"]  # the planner still answers them: zones, image, project number


def test_the_planner_still_answers_the_gated_lookups(planned) -> None:
    graph = planned("custom", "gcp", "prod")
    group = one(graph, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")["inputs"]
    assert group["distributionPolicyZones"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    image = one(graph, "gcp:compute/instanceTemplate:InstanceTemplate")["inputs"]["disks"][0]["sourceImage"]
    assert "/images/cos-stable-" in image


def test_bootstrap_enables_compute_and_reads_the_project_number_after_its_api() -> None:
    from mbops.engine.bootstrap import StackPolicies, plan_bootstrap
    from mbops.stacks.bootstrap import resolve_spec

    spec = resolve_spec(cloud="gcp", repository="acme/notes", gcp_project="acme-notes", cmek=True)
    stacks = StackPolicies([_plan("managed", "dev", name="notes-dev", gcp_project="acme-notes")])
    with _invokes() as seen:
        graph = plan_bootstrap(spec, stacks).graph
    assert "compute.googleapis.com" in _apis(graph, "bootstrap")
    by_urn = {r["urn"]: r for r in graph["resources"]}
    project = [deps for token, deps, _ in seen if token == "gcp:organizations/getProject:getProject"]
    assert project and "cloudresourcemanager.googleapis.com" in {by_urn[u]["inputs"]["service"] for u in project[0]}


# --- F2: the group's first rollout is watched ----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_group_is_created_with_its_minimum_and_up_waits_for_it(env: str) -> None:
    graph, seen = registrations("custom", env)
    group = one(graph, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    inputs, stack = group["inputs"], _stack("custom", env)
    assert inputs["targetSize"] == stack.app.min_replicas > 0
    assert (inputs["waitForInstances"], inputs["waitForInstancesStatus"]) == (True, "UPDATED")
    assert "targetSize" in seen[group["name"]].ignoreChanges  # then the autoscaler owns the size


# --- F3, F4, F5: what the cloud changes by itself is not undone ----------------------------------------------


@pytest.mark.parametrize("profile", ["managed", "custom"])
def test_cloud_sql_keeps_its_autoresized_disk_and_failover_zones(profile: str) -> None:
    graph, seen = registrations(profile, "prod")
    sql = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")
    assert sql["inputs"]["settings"]["diskAutoresize"] is True
    assert list(seen[sql["name"]].ignoreChanges) == SQL_IGNORED == ["settings.diskSize", "settings.locationPreference"]


def test_zone_placements_are_kept_once_created() -> None:
    graph, seen = registrations("managed", "prod")
    redis = one(graph, "gcp:redis/instance:Instance")
    assert set(seen[redis["name"]].ignoreChanges) == {"locationId", "alternativeLocationId"}
    graph, seen = registrations("custom", "prod")
    group = one(graph, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert "distributionPolicyZones" in seen[group["name"]].ignoreChanges


def test_zones_are_listed_whatever_their_status() -> None:
    with _invokes() as seen:
        _plan("managed", "prod")
    zones = [args for token, _, args in seen if token == "gcp:compute/getZones:getZones"]
    assert zones and all("status" not in args for args in zones)  # a zone that is DOWN does not shift the list


# --- F6, F7, M1: a destroy completes, the next up takes the kept data back ------------------------------------


def _retained(graph: dict[str, Any]) -> set[str]:
    return {r["name"] for r in graph["resources"] if r["custom"] and r["retainOnDelete"]}


@pytest.mark.parametrize("profile", ["managed", "custom"])
def test_the_vpc_is_kept_with_the_cloud_sql_instance_it_holds(planned, profile: str) -> None:
    graph = planned(profile, "gcp", "dev")
    kept = _retained(graph)
    held = {"vpc", "subnet", "psa-range", "psa"}  # the subnet: Cloud Run's addresses outlive it by 1-2 hours
    assert {r.removeprefix(f"{profile}-dev-net-") for r in kept if "-net-" in r} == held
    connection = one(graph, "gcp:servicenetworking/connection:Connection")["inputs"]
    assert connection["deletionPolicy"] == "REMOVE_PEERING" and connection["updateOnCreationFail"] is True
    released, _ = registrations(profile, "dev", release_data=True)
    assert not _retained(released)  # released: the VPC is deleted, its peering removed first


def test_kept_data_has_fixed_names_and_is_adopted_by_kind() -> None:
    stack = _stack("managed", "dev")
    _, seen = registrations("managed", "dev", config={"mbops:adopt": ADOPT_ALL})
    p, base = stack.project, stack.name
    assert seen[f"{base}-net-vpc"].importId == f"projects/{p}/global/networks/{base}-vpc"
    assert seen[f"{base}-net-psa-range"].importId == f"projects/{p}/global/addresses/{base}-psa"
    assert seen[f"{base}-net-subnet"].importId == f"projects/{p}/regions/{stack.region}/subnetworks/{base}-subnet"
    connection = f"/projects/{p}/global/networks/{base}-vpc:servicenetworking.googleapis.com"
    assert seen[f"{base}-net-psa"].importId == connection
    assert seen[f"{base}-db-pg"].importId == f"projects/{p}/instances/{base}-pg"
    assert seen[f"{base}-db-db"].importId == f"projects/{p}/instances/{base}-pg/databases/app"
    assert seen[f"{base}-db-admin"].importId == f"{p}/{base}-pg/mbops_admin"
    assert seen[f"{base}-db-database-url"].importId == f"projects/{p}/secrets/{base}-DATABASE_URL"
    assert seen[f"{base}-db-database-admin-url"].importId == f"projects/{p}/secrets/{base}-DATABASE_ADMIN_URL"
    assert seen[f"{base}-files-bucket"].importId == f"{p}/{p}-{base}-files"
    assert not seen[f"{base}-db-setup"].importId and not seen[f"{base}-net-allow-lb"].importId  # only what was kept
    _, plain = registrations("managed", "dev")
    assert not plain[f"{base}-db-pg"].importId
    graph = _plan("managed", "dev")
    assert one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]["name"] == f"{base}-pg"


def test_the_self_hosted_data_disk_is_attached_again_by_name() -> None:
    stack = _stack("custom", "prod")
    adopt = {"mbops:adopt": json.dumps(["database.data_disk"])}
    graph, seen = registrations("custom", "prod", config=adopt, components={"database": {"self_hosted": True}})
    disk = one(graph, "gcp:compute/disk:Disk")["inputs"]
    assert disk["name"] == f"{stack.name}-pgdata"
    assert seen[f"{stack.name}-db-data"].importId == (
        f"projects/{stack.project}/zones/{disk['zone']}/disks/{stack.name}-pgdata")


def test_a_malformed_adopt_list_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"Pulumi config mbops:adopt: adopt: 'database' is not <kind>\.<child>"):
        registrations("managed", "dev", config={"mbops:adopt": json.dumps(["database"])})


def test_the_stack_files_adopt_takes_kept_data_back(planned) -> None:
    from mbops.engine.plan import plan
    from mbops.stacks.config import resolve

    graph = plan(resolve(profile="managed", cloud="gcp", gcp_project="acme-shop", adopt=["storage.*"]))
    adopted = {r["name"]: r["importId"] for r in graph["resources"] if "importId" in r}
    assert adopted == {"managed-dev-files-bucket": "acme-shop/acme-shop-managed-dev-files"}, adopted
    assert not any("importId" in r for r in planned("managed", "gcp", "dev")["resources"])


@pytest.mark.parametrize("profile", ["saas", "managed"])
def test_the_log_bucket_id_gets_a_random_suffix(planned, profile: str) -> None:
    """A deleted log bucket keeps its id for 7 days: a fixed id would fail the up after a destroy."""
    graph = planned(profile, "gcp", "dev")
    bucket = one(graph, "gcp:logging/projectBucketConfig:ProjectBucketConfig")
    suffix = next(r for r in resources(graph, "random:index/randomString:RandomString") if r["name"].endswith("suffix"))
    assert bucket["inputs"]["bucketId"] == "[computed]" and suffix["urn"] in bucket["dependencies"]
    sink = one(graph, "gcp:logging/projectSink:ProjectSink")
    assert sink["inputs"]["destination"] == "[computed]" and bucket["urn"] in sink["dependencies"]


# --- F8: dev and prod named alike share a project ------------------------------------------------------------


def test_a_stack_name_without_its_environment_gets_it_in_every_name() -> None:
    graph = _plan("saas", "prod", name="shop", gcp_project="acme-shop")
    assert one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["name"] == "shop-prod-app"
    secrets = {s["inputs"]["secretId"] for s in resources(graph, "gcp:secretmanager/secret:Secret")}
    assert secrets and all(s.startswith("shop-prod-") for s in secrets)
    assert one(graph, "gcp:storage/bucket:Bucket")["inputs"]["name"] == "acme-shop-shop-prod-files"
    assert one(graph, "gcp:firestore/database:Database")["inputs"]["name"] == "shop-prod-docs"
    assert one(graph, "gcp:projects/iAMCustomRole:IAMCustomRole")["inputs"]["roleId"] == "mbops_shop_prod_fcm_sender"
    assert one(graph, "gcp:artifactregistry/repository:Repository")["inputs"]["repositoryId"] == "shop-prod-images"
    maps = {m["component"]: m["inputs"]["name"] for m in resources(graph, "gcp:compute/uRLMap:URLMap")}
    assert maps == {"edge": "shop-prod-edge", "cdn": "shop-prod-cdn"}
    accounts = {a["inputs"]["accountId"] for a in resources(graph, "gcp:serviceaccount/account:Account")}
    assert accounts == {"shop-prod-run"}
    dev = _plan("saas", "dev", name="shop", gcp_project="acme-shop")
    dev_names = {r["inputs"].get("name") for r in dev["resources"]} - {None}
    prod_names = {r["inputs"].get("name") for r in graph["resources"]} - {None}
    assert not (dev_names & prod_names) - {"[computed]"}  # nothing named alike in the shared project
    assert one(_plan("managed", "prod"), "gcp:cloudrunv2/service:Service")["inputs"]["name"] == "managed-prod-app"


# --- F9: how long grants are given to propagate --------------------------------------------------------------


def test_grants_get_two_minutes_and_a_stack_may_give_more(planned) -> None:
    waits = resources(planned("saas", "gcp", "prod"), "pulumi-python:dynamic/mbops:IamPropagation")
    assert {w["inputs"]["seconds"] for w in waits} == {IAM_PROPAGATION_S} == {120}
    graph = _plan("saas", "prod", components={"serverless": {"overrides": {"iam_propagation": {"seconds": 420}}}})
    wait = one(graph, "pulumi-python:dynamic/mbops:IamPropagation")
    assert wait["inputs"]["seconds"] == 420
    with pytest.raises(ConfigError, match=r"components.serverless.overrides.iam_propagation.seconds: .*0 to 900"):
        _plan("saas", "prod", components={"serverless": {"overrides": {"iam_propagation": {"seconds": "7m"}}}})


# --- S1, S7, M6: the alerts that were missing ----------------------------------------------------------------


def test_throttled_requests_alert_when_the_waf_limits_rates() -> None:
    graph, stack = _domain_plan("managed"), _stack("managed", "prod")
    throttled = _condition(_alerts(graph)["entry-throttled"])
    assert "metric.labels.response_code=429" in throttled["filter"]
    assert "response_code" not in throttled["denominatorFilter"] and throttled["thresholdValue"] == THROTTLED_SHARE
    todo = _alerts(graph)["entry-throttled"]["inputs"]["documentation"]["content"]
    assert str(stack.spec("edge").rate_limit) in todo and "rate_limit" in todo
    no_waf = _plan("managed", "prod", domain=DOMAIN, components={"edge": {"waf": False}})
    assert "entry-throttled" not in _alerts(no_waf) and "edge-attack" not in _alerts(no_waf)


def test_adaptive_protection_alerts_reach_the_channels() -> None:
    graph = _domain_plan("saas")
    attack = _alerts(graph)["edge-attack"]["inputs"]
    condition = attack["conditions"][0]["conditionMatchedLog"]
    assert 'resource.type="network_security_policy"' in condition["filter"]
    assert attack["alertStrategy"]["notificationRateLimit"] == {"period": "300s"}  # log alerts need a rate limit
    armor = next(p for p in resources(graph, "gcp:compute/securityPolicy:SecurityPolicy") if p["component"] == "edge")
    assert f'resource.labels.policy_name="{armor["inputs"]["name"]}"' in condition["filter"]
    assert len(attack["notificationChannels"]) == 2


def test_cloud_sql_down_and_cache_evictions_alert() -> None:
    alerts = _alerts(_domain_plan("managed"))
    down = _condition(alerts["db-up"])
    assert 'metric.type="cloudsql.googleapis.com/database/up"' in down["filter"]
    assert (down["comparison"], down["thresholdValue"]) == ("COMPARISON_LT", 1)
    assert down["evaluationMissingData"] == "EVALUATION_MISSING_DATA_ACTIVE"  # a down instance may report nothing
    assert alerts["db-up"]["inputs"]["severity"] == "CRITICAL"
    evictions = _condition(alerts["cache-evictions"])
    assert 'metric.type="redis.googleapis.com/stats/evicted_keys"' in evictions["filter"]
    assert evictions["aggregations"][0]["perSeriesAligner"] == "ALIGN_RATE"


def test_dashboard_ratio_charts_plot_the_share() -> None:
    graph = _domain_plan("managed")
    tiles = json.loads(one(graph, "gcp:monitoring/dashboard:Dashboard")["inputs"]["dashboardJson"])["mosaicLayout"]
    by_title = {t["widget"]["title"]: t["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"] for t in tiles["tiles"]}
    errors = next(q for title, q in by_title.items() if title.startswith("Load balancer 5xx"))
    ratio = errors["timeSeriesFilterRatio"]
    assert "response_code_class=500" in ratio["numerator"]["filter"]
    assert "response_code_class" not in ratio["denominator"]["filter"]
    latency = next(q for title, q in by_title.items() if "latency" in title)
    assert "timeSeriesFilter" in latency  # a plain series stays one


# --- S2: data access audit logs --------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_prod_audits_secret_reads_and_cloud_sql_admin_reads(planned, profile: str) -> None:
    graph = planned(profile, "gcp", "prod")
    audits = {a["inputs"]["service"]: a for a in resources(graph, "gcp:projects/iAMAuditConfig:IAMAuditConfig")}
    expected = {"secretmanager.googleapis.com": "DATA_READ"}
    if profile != "saas":
        expected["sqladmin.googleapis.com"] = "ADMIN_READ"
    assert {s: a["inputs"]["auditLogConfigs"][0]["logType"] for s, a in audits.items()} == expected
    by_urn = {r["urn"]: r for r in graph["resources"]}
    for audit in audits.values():  # project IAM policy: through the Cloud Resource Manager API
        enabled = {by_urn[d]["inputs"].get("service") for d in audit["dependencies"]}
        assert "cloudresourcemanager.googleapis.com" in enabled
    assert not resources(planned(profile, "gcp", "dev"), "gcp:projects/iAMAuditConfig:IAMAuditConfig")


# --- S3: Cloud Run only behind Cloud Armor ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["saas", "managed"])
def test_the_run_app_url_is_off_behind_the_load_balancer(planned, profile: str) -> None:
    prod = one(planned(profile, "gcp", "prod"), "gcp:cloudrunv2/service:Service")["inputs"]
    assert prod["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" and prod["defaultUriDisabled"] is True
    dev = one(planned(profile, "gcp", "dev"), "gcp:cloudrunv2/service:Service")["inputs"]
    assert dev["defaultUriDisabled"] is False  # dev is reached at its run.app URL


# --- S5: the sign-in key is limited to the apps --------------------------------------------------------------


def test_the_sign_in_keys_are_limited_to_the_registered_apps() -> None:
    sha1 = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"
    push = {"overrides": {"android_app": {"package_name": "com.example.notes", "sha1_hashes": [sha1]},
                          "apple_app": {"bundle_id": "com.example.notes.ios"}}}  # fmt: skip
    graph = _plan("saas", "dev", components={"push": push})
    keys = {k["name"]: k["inputs"]["restrictions"] for k in resources(graph, "gcp:projects/apiKey:ApiKey")}
    android, ios = keys["saas-dev-auth-client-key"], keys["saas-dev-auth-ios-client-key"]
    assert android["androidKeyRestrictions"]["allowedApplications"] == [
        {"packageName": "com.example.notes", "sha1Fingerprint": sha1}]
    assert ios["iosKeyRestrictions"]["allowedBundleIds"] == ["com.example.notes.ios"]
    assert {t["service"] for t in ios["apiTargets"]} == {t["service"] for t in android["apiTargets"]}
    assert "auth_ios_client_id" in graph["outputs"]
    plain = one(_plan("saas", "dev"), "gcp:projects/apiKey:ApiKey")["inputs"]["restrictions"]
    assert set(plain) == {"apiTargets"}  # no app known: the sign-in APIs only


# --- S6: database TLS is verified -----------------------------------------------------------------------------


class _Answering(Planner):
    """A planner that also answers what Cloud SQL and the passwords would give, so the URL is planned in full."""

    CA = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----"

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        rid, outputs = super().new_resource(reg)
        if reg.type == "random:index/randomPassword:RandomPassword":
            outputs = {**outputs, "result": "pw"}
        if reg.type == "gcp:sql/database:Database":
            outputs = {**outputs, "name": reg.inputs["name"]}
        if reg.type == "gcp:sql/databaseInstance:DatabaseInstance":
            outputs = {**outputs, "name": reg.inputs["name"], "privateIpAddress": "10.20.128.3",
                       "serverCaCerts": [{"cert": self.CA}]}  # fmt: skip
        return rid, outputs


def test_the_database_url_verifies_the_server_against_its_ca() -> None:
    stack = _stack("managed", "prod")
    program, planner = make_program(stack), _Answering(stack.region)
    with _recorded() as seen:
        record = run_plan(stack, planner, program=program)
    graph = graph_of(stack, record, gaps=program.result.gaps, invented=planner.invented)
    url = unwrap(from_struct(seen[f"{stack.name}-db-database-url-v"].object)["secretData"])
    assert url == "postgresql://app:pw@10.20.128.3:5432/app?sslmode=verify-ca"
    sql = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]["settings"]["ipConfiguration"]
    assert sql["serverCaMode"] == "GOOGLE_MANAGED_INTERNAL_CA" and sql["sslMode"] == "ENCRYPTED_ONLY"
    envs = {e["name"]: e.get("value") for e in one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["template"][
        "containers"][0]["envs"]}
    assert envs["DATABASE_CA_CERT"] == _Answering.CA
    job = one(graph, "gcp:cloudrunv2/job:Job")["inputs"]["template"]["template"]["containers"][0]
    assert {"name": "DATABASE_CA_CERT", "value": _Answering.CA} in job["envs"]
    assert "PGSSLROOTCERT" in job["args"][0]


def test_a_self_hosted_database_is_encrypted_without_a_ca_to_verify() -> None:
    async def resolved() -> str:
        return await database_url("app", "pw", "10.0.0.2", "app", "require").future()

    assert asyncio.run(resolved()).endswith("?sslmode=require")  # its server certificate is self-signed
    graph = _plan("managed", "prod", components={"database": {"self_hosted": True}})
    envs = {e["name"] for e in one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["template"]["containers"][0][
        "envs"]}
    assert "DATABASE_URL" in envs and "DATABASE_CA_CERT" not in envs


# --- M2: Firestore backups ----------------------------------------------------------------------------------


def test_prod_firestore_has_daily_backups(planned) -> None:
    schedule = one(planned("saas", "gcp", "prod"), "gcp:firestore/backupSchedule:BackupSchedule")["inputs"]
    assert schedule["dailyRecurrence"] == {} and schedule["retention"] == f"{BACKUP_RETENTION_DAYS * 86400}s"
    assert BACKUP_RETENTION_DAYS == 14
    assert not resources(planned("saas", "gcp", "dev"), "gcp:firestore/backupSchedule:BackupSchedule")


# --- M4: NAT only where something egresses through it --------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_nat_only_for_stacks_with_vms(planned, env: str) -> None:
    assert not resources(planned("managed", "gcp", env), "gcp:compute/routerNat:RouterNat")
    assert not resources(planned("managed", "gcp", env), "gcp:compute/router:Router")
    assert len(resources(planned("custom", "gcp", env), "gcp:compute/routerNat:RouterNat")) == 1
    self_hosted = _plan("managed", env, components={"database": {"self_hosted": True}})
    assert len(resources(self_hosted, "gcp:compute/routerNat:RouterNat")) == 1  # the VM installs PostgreSQL


# --- M5: the app's logs are stored once ----------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["saas", "managed"])
def test_the_app_logs_are_excluded_from_default(planned, profile: str) -> None:
    graph = planned(profile, "gcp", "prod")
    sink = one(graph, "gcp:logging/projectSink:ProjectSink")
    exclusion = one(graph, "gcp:logging/projectExclusion:ProjectExclusion")
    assert exclusion["inputs"]["filter"] == sink["inputs"]["filter"]
    assert sink["urn"] in exclusion["dependencies"]  # routed to the stack's bucket before they leave _Default


# --- M7: certificates of the user's own -----------------------------------------------------------------------

CM_CERT = "projects/acme/locations/global/certificates/api"


def test_servers_serve_a_given_certificate_on_their_own_front() -> None:
    ssl = "projects/acme/global/sslCertificates/api"
    graph = _plan("custom", "dev", components={"servers": {"https_certificate": ssl}})
    proxy = one(graph, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")["inputs"]
    assert proxy["sslCertificates"] == [ssl] and "certificateMap" not in proxy
    assert not resources(graph, "gcp:certificatemanager/certificate:Certificate")
    redirect = next(m for m in resources(graph, "gcp:compute/uRLMap:URLMap") if m["inputs"].get("defaultUrlRedirect"))
    assert redirect["inputs"]["defaultUrlRedirect"]["httpsRedirect"] is True
    assert graph["outputs"]["endpoint"] == "[computed]"  # https://<address>


def test_the_edge_serves_the_app_kinds_certificate() -> None:
    graph = _plan("managed", "prod", domain=DOMAIN, components={"containers": {"https_certificate": CM_CERT}})
    proxy = one(graph, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")["inputs"]
    assert proxy["certificateManagerCertificates"] == [f"//certificatemanager.googleapis.com/{CM_CERT}"]
    assert not resources(graph, "gcp:certificatemanager/dnsAuthorization:DnsAuthorization")
    assert [r["type"] for r in graph["outputs"]["dns_records"]] == ["A"]  # no validation record for it
    assert "containers" not in {g["kind"] for g in graph["limitations"]}


def test_a_certificate_without_a_load_balancer_is_reported() -> None:
    graph = _plan("managed", "dev", components={"containers": {"https_certificate": CM_CERT}})
    gap = next(g for g in graph["limitations"] if g["kind"] == "containers")
    assert "https_certificate" in gap["reason"] and "edge" in gap["alternative"]


def test_a_certificate_gcp_cannot_serve_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"components.servers.https_certificate: .*sslCertificates"):
        _plan("custom", "dev", components={"servers": {"https_certificate": "arn:aws:acm:us-east-1:1:certificate/x"}})


# --- M8: DNS records in another project ---------------------------------------------------------------------


def test_records_go_into_the_zone_s_own_project() -> None:
    zone = {**ZONE, "project": "acme-dns"}
    graph = _plan("managed", "prod", domain=DOMAIN, dns_zone=zone)
    records = resources(graph, "gcp:dns/recordSet:RecordSet")
    assert {r["inputs"]["type"] for r in records} == {"A", "CNAME"}
    assert {r["inputs"]["project"] for r in records} == {"acme-dns"}
    assert "dns.googleapis.com" not in _apis(graph, "edge")  # enabled where the zone lives, not here
    same = _plan("managed", "prod", domain=DOMAIN, dns_zone=ZONE)
    assert {r["inputs"]["project"] for r in resources(same, "gcp:dns/recordSet:RecordSet")} == {"managed-prod"}


# --- the logs output ---------------------------------------------------------------------------------------------

LOG_KINDS = {"saas": {"app", "edge"}, "managed": {"app", "database", "database-setup", "edge"},
             "custom": {"app", "database", "database-setup", "edge"}}  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_logs_output_says_how_to_read_each_part(planned, profile: str) -> None:
    graph, stack = planned(profile, "gcp", "prod"), _stack(profile, "prod")
    logs = graph["outputs"]["logs"]
    assert logs == "[computed]" or set(logs) == LOG_KINDS[profile]
    hints = _logs(profile, "prod")
    assert set(hints) == LOG_KINDS[profile]
    for kind, hint in hints.items():
        assert hint["command"].startswith("gcloud logging read ") and f"--project={stack.project}" in hint["command"]
        assert hint["follow"].startswith("gcloud beta logging tail ")
        assert hint["console"].startswith("https://console.cloud.google.com/logs/query;query=")
        assert hint["console"].endswith(f"?project={stack.project}"), kind
    if profile != "custom":  # Cloud Run's logs are in the stack's own bucket, not in _Default
        app = hints["app"]
        bucket = f"--bucket={stack.name}-app-logs-x7k2"  # the random suffix's result
        assert bucket in app["command"] and f"--location={stack.region}" in app["command"]
        assert bucket in app["follow"] and "--view=_AllLogs" in app["follow"]
        assert "storageScope=storage" in app["console"]
    else:
        app = hints["app"]["command"]
        assert 'log_id("gcplogs-docker-driver")' in app and "--bucket" not in app
    assert 'resource.type="http_load_balancer"' in hints["edge"]["command"]


def _logs(profile: str, env: str) -> dict[str, dict[str, str]]:
    """The ``logs`` output resolved: a planner that answers the names Pulumi would know once deployed."""

    class Named(Planner):
        def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
            rid, outputs = super().new_resource(reg)
            known = {k: reg.inputs[k] for k in ("name", "bucketId") if isinstance(reg.inputs.get(k), str)}
            if reg.type == "random:index/randomString:RandomString":
                known["result"] = "x7k2"
            return rid, {**outputs, **known}

    stack = _stack(profile, env)
    program, planner = make_program(stack), Named(stack.region)
    record = run_plan(stack, planner, program=program)
    return unwrap(record.outputs["logs"])


# --- final review: what the app waits for, and what restarts it -------------------------------------------------

# A Cloud SQL HA failover or maintenance takes about a minute; the health path reads the database meanwhile.
SQL_FAILOVER_S = 120


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize(
    "named",
    [
        "gcp:firestore/database:Database",  # DOCUMENT_TABLE: the health path reads it
        "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey",  # CDN_SIGNING_KEY: signs CDN URLs
        "gcp:firebase/project:Project",  # PUSH_PLATFORM_APP: FCM sends through it
    ],
)
def test_the_app_starts_after_what_its_env_names_exists(planned, env: str, named: str) -> None:
    """These env values are planned names, not outputs: without the dependency the revision could start (and its
    startup probe run) before the resource exists."""
    graph = planned("saas", "gcp", env)
    assert one(graph, named)["urn"] in one(graph, "gcp:cloudrunv2/service:Service")["dependencies"]


def test_serverless_keeps_the_minimum_of_warm_instances_the_stack_asks_for() -> None:
    """The saas profile scales to zero; app.min_replicas is how a stack keeps instances warm (no cold starts)."""
    assert _stack("saas", "prod").app.min_replicas == 0
    for wanted in (0, 2):
        service = one(_plan("saas", "prod", app={"min_replicas": wanted}), "gcp:cloudrunv2/service:Service")
        assert service["inputs"]["template"]["scaling"]["minInstanceCount"] == wanted


@pytest.mark.parametrize("profile", ["saas", "managed"])
def test_cloud_run_restarts_an_instance_only_after_a_sustained_health_failure(planned, profile: str) -> None:
    probe = one(planned(profile, "gcp", "prod"), "gcp:cloudrunv2/service:Service")["inputs"]["template"][
        "containers"][0]["livenessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= HEAL_AFTER_S > SQL_FAILOVER_S
    assert probe["timeoutSeconds"] < probe["periodSeconds"]  # Cloud Run rejects a timeout not below the period


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_vms_are_replaced_only_after_a_sustained_health_failure(planned, env: str) -> None:
    """The load balancer's check takes a failing VM out of rotation fast; autohealing, which recreates VMs, has
    its own check that outlasts a database failover (one check for both would recreate every VM during it)."""
    graph = planned("custom", "gcp", env)
    checks = {r["urn"]: r["inputs"] for r in resources(graph, "gcp:compute/healthCheck:HealthCheck")}
    backend = one(graph, "gcp:compute/backendService:BackendService")["dependencies"]
    group = one(graph, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")["dependencies"]
    (balancing,) = [urn for urn in checks if urn in backend]
    (healing,) = [urn for urn in checks if urn in group]
    assert healing != balancing
    fast, slow = checks[balancing], checks[healing]
    assert fast["checkIntervalSec"] * fast["unhealthyThreshold"] <= 30
    assert slow["checkIntervalSec"] * slow["unhealthyThreshold"] >= HEAL_AFTER_S > SQL_FAILOVER_S
    assert slow["unhealthyThreshold"] <= 10 and slow["timeoutSec"] <= slow["checkIntervalSec"]  # API limits
    assert slow["httpHealthCheck"] == fast["httpHealthCheck"]  # the same health path, judged more patiently


def test_the_self_hosted_database_vm_is_not_replaced_when_its_boot_script_changes() -> None:
    """``metadata_startup_script`` forces a new VM on any change (deletion protection then fails the ``up``); the
    ``startup-script`` key is updated in place. A replacement deletes first: the data disk attaches to one VM."""
    graph, seen = registrations("custom", "prod", components={"database": {"self_hosted": True}})
    vm = one(graph, "gcp:compute/instance:Instance")
    assert "metadataStartupScript" not in vm["inputs"]
    assert "pg_createcluster" in vm["inputs"]["metadata"]["startup-script"]
    assert vm["inputs"]["deletionProtection"] is True
    assert seen[vm["name"]].deleteBeforeReplace is True


def test_a_bigger_self_hosted_database_keeps_its_data_disk() -> None:
    """small -> medium moves the planned disk type from pd-balanced to pd-ssd; a disk's type cannot change in place,
    so following it would replace the kept, fixed-name disk (an "already exists" failure, or an empty database)."""
    types = {}
    for size in ("small", "medium"):
        graph, seen = registrations("custom", "prod", components={"database": {"self_hosted": True, "size": size}})
        disk = one(graph, "gcp:compute/disk:Disk")
        types[size] = disk["inputs"]["type"]
        assert "type" in seen[disk["name"]].ignoreChanges
    assert types == {"small": "pd-balanced", "medium": "pd-ssd"}


# --- permissions for what the prod plans hold --------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_the_deployer_role_covers_prod_plans_with_a_domain_and_zone(profile: str) -> None:
    graph = _domain_plan(profile, zone=True)
    mapping = load_map("gcp")
    types = {r["type"] for r in graph["resources"] if r["custom"]}
    assert not [t for t in types if not mapping.knows(t)]
    role = deployer_policy([graph]).document["includedPermissions"]
    for needed in ("certificatemanager.certs.create", "dns.changes.create", "compute.securityPolicies.use",
                   "monitoring.alertPolicies.create", "artifactregistry.repositories.uploadArtifacts"):
        assert needed in role, needed
