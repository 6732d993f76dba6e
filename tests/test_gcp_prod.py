"""GCP production stacks, read from the planned graph: the registry and the app's image by digest (issue 13), the
HTTPS edge with Cloud Armor (issue 10), a first deploy that succeeds (issue 10), monitoring (issue 11) and the
data guard (issue 9).

Resource options the planned graph does not carry (``importId``, ``ignoreChanges``) are read from the registrations
the engine received (``registrations``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any
from unittest import mock

import pytest

from mbops.components.gcp.armor import WAF_RULES
from mbops.components.gcp.cache import MAINTENANCE_DAY as REDIS_DAY
from mbops.components.gcp.cache import MAINTENANCE_HOUR as REDIS_HOUR
from mbops.components.gcp.database import MAINTENANCE_DAY as SQL_DAY
from mbops.components.gcp.database import MAINTENANCE_HOUR as SQL_HOUR
from mbops.engine.embedded import RecordingMonitor
from mbops.engine.plan import Planner, graph_of, plan, run_plan
from mbops.errors import ConfigError
from mbops.stacks.config import StackFile, resolve
from mbops.stacks.program import make_program
from tests.conftest import ENVIRONMENTS, PROFILES, one, resources

DOMAIN = "api.example.com"
ZONE = {"name": "example.com", "managed_zone": "example-com"}
APP_KIND = {"saas": "serverless", "managed": "containers", "custom": "servers"}
ISO_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
NOTIFY = ["email:ops@example.com", "webhook:https://hooks.example.com/alerts?token=s3cr3t"]


def _stack(profile: str, env: str, **stack_file: Any) -> Any:
    return resolve(StackFile.model_validate(stack_file), profile=profile, cloud="gcp", environment=env)


@cache
def _domain_plan(profile: str, zone: bool = False) -> dict[str, Any]:
    """The prod plan with a domain (and its Cloud DNS zone), notifications, a budget and a billing account."""
    monitoring = {"notify": NOTIFY, "budget_usd": 500, "billing_account": "0123AB-CDEF01-234567"}
    stack = _stack(profile, "prod", domain=DOMAIN, **({"dns_zone": ZONE} if zone else {}),
                   components={"monitoring": monitoring})  # fmt: skip
    return plan(stack, with_policy=False, with_cost=False)


def _plan(profile: str, env: str, **stack_file: Any) -> dict[str, Any]:
    return plan(_stack(profile, env, **stack_file), with_policy=False, with_cost=False)


@contextmanager
def _recorded() -> Iterator[dict[str, Any]]:
    """name -> the RegisterResourceRequest the engine received, for the runs inside the block."""
    seen: dict[str, Any] = {}
    register = RecordingMonitor.RegisterResource

    def spy(self: RecordingMonitor, request: Any) -> Any:
        seen[request.name] = request
        return register(self, request)

    with mock.patch.object(RecordingMonitor, "RegisterResource", spy):
        yield seen


def registrations(
    profile: str, env: str, *, release_data: bool = False, config: dict[str, str] | None = None, **stack_file: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the planned graph, name -> registration request) of a stack, optionally releasing its data."""
    stack = _stack(profile, env, **stack_file)
    program, planner = make_program(stack, release_data=release_data), Planner(stack.region)
    with _recorded() as seen:
        record = run_plan(stack, planner, program=program, config=config)
    return graph_of(stack, record, gaps=program.result.gaps, invented=planner.invented), seen


def _by_urn(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in graph["resources"]}


def _named(graph: dict[str, Any], suffix: str) -> dict[str, Any]:
    found = [r for r in graph["resources"] if r["name"].endswith(suffix)]
    assert len(found) == 1, [r["name"] for r in found]
    return found[0]


def _depends(graph: dict[str, Any], resource: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether ``resource`` waits for ``other``, directly or through its dependencies."""
    by_urn, todo, seen = _by_urn(graph), list(resource["dependencies"]), set()
    while todo:
        urn = todo.pop()
        if urn == other["urn"]:
            return True
        if urn not in seen:
            seen.add(urn)
            todo.extend(by_urn[urn]["dependencies"])
    return False


def _app_compute(graph: dict[str, Any]) -> dict[str, Any]:
    """The resource that runs the app: the Cloud Run service or the instance template."""
    found = resources(graph, "gcp:cloudrunv2/service:Service") or resources(
        graph, "gcp:compute/instanceTemplate:InstanceTemplate"
    )
    assert len(found) == 1
    return found[0]


def _alerts(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policies = resources(graph, "gcp:monitoring/alertPolicy:AlertPolicy")
    return {r["name"].rsplit("-monitoring-", 1)[1]: r for r in policies}


def _apis(graph: dict[str, Any], component: str) -> set[str]:
    """The Google APIs a component enables."""
    services = resources(graph, "gcp:projects/service:Service")
    return {s["inputs"]["service"] for s in services if s["component"] == component}


# --- registry and the app's image (issue 13) ------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_registry_is_a_standard_docker_repository_with_immutable_tags_and_cleanup(planned, profile: str) -> None:
    graph, stack = planned(profile, "gcp", "prod"), _stack(profile, "prod")
    repo = one(graph, "gcp:artifactregistry/repository:Repository")["inputs"]
    assert (repo["format"], repo["mode"], repo["location"]) == ("DOCKER", "STANDARD_REPOSITORY", stack.region)
    assert repo["dockerConfig"] == {"immutableTags": True}
    assert repo["cleanupPolicyDryRun"] is False
    policies = {p["action"]: p for p in repo["cleanupPolicies"]}
    assert policies["KEEP"]["mostRecentVersions"]["keepCount"] == stack.spec("registry").keep_images
    assert policies["DELETE"]["condition"]["tagState"] == "ANY"
    assert repo["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    assert "containerscanning.googleapis.com" in _apis(graph, "registry")  # scan on push


@pytest.mark.parametrize("profile", PROFILES)
def test_the_app_runs_the_image_pushed_to_the_stack_registry(planned, profile: str) -> None:
    graph, stack = planned(profile, "gcp", "dev"), _stack(profile, "dev")
    image = next(i for i in resources(graph, "pulumi-python:dynamic/mbops:Image") if i["component"] == "registry")
    inputs = image["inputs"]
    assert inputs["repository"] == f"{stack.region}-docker.pkg.dev/{stack.project}/{stack.name}-images/app"
    assert inputs["registry_auth"] == "[secret]"  # the deployer's access token, never in the graph
    assert inputs["context"] == stack.app.build.context and inputs["context_digest"].startswith("sha256:")
    app = _app_compute(graph)
    assert image["urn"] in app["dependencies"]  # runs its ref (repo@sha256:...), known once pushed
    if profile != "custom":
        assert app["inputs"]["template"]["containers"][0]["image"] == "[computed]"
    assert graph["outputs"]["image"] == "[computed]"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_app_identity_may_only_pull_from_the_stack_repository(planned, profile: str) -> None:
    graph, stack = planned(profile, "gcp", "dev"), _stack(profile, "dev")
    reader = one(graph, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert reader["inputs"]["role"] == "roles/artifactregistry.reader"
    assert reader["inputs"]["location"] == stack.region and reader["component"] == APP_KIND[profile]
    repo = one(graph, "gcp:artifactregistry/repository:Repository")
    assert repo["urn"] in reader["dependencies"]
    project_roles = {r["inputs"]["role"] for r in resources(graph, "gcp:projects/iAMMember:IAMMember")}
    assert not [role for role in project_roles if "artifactregistry" in role]


def test_a_prebuilt_image_is_run_as_given_without_a_build() -> None:
    image = "us-docker.pkg.dev/acme/apps/notes@sha256:" + "b" * 64
    graph = _plan("managed", "dev", app={"image": image})
    assert not [i for i in resources(graph, "pulumi-python:dynamic/mbops:Image") if i["component"] == "registry"]
    assert _app_compute(graph)["inputs"]["template"]["containers"][0]["image"] == image


def test_cloud_run_refuses_an_image_it_cannot_pull() -> None:
    with pytest.raises(ConfigError, match="app.image: Cloud Run pulls only from .* app.build"):
        _plan("saas", "dev", app={"image": "ghcr.io/acme/notes:1.0"})


# --- the HTTPS edge with Cloud Armor (issue 10) ---------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_prod_serves_only_https_on_the_domain_and_redirects_http(profile: str) -> None:
    graph = _domain_plan(profile)
    forwarding = resources(graph, "gcp:compute/globalForwardingRule:GlobalForwardingRule")
    rules = {r["inputs"]["portRange"]: r for r in forwarding}
    assert set(rules) == {"80", "443"} and {r["component"] for r in rules.values()} == {"edge"}
    https = one(graph, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")
    assert https["urn"] in rules["443"]["dependencies"]
    assert https["inputs"]["certificateMap"].startswith("//certificatemanager.googleapis.com/")
    tls = one(graph, "gcp:compute/sSLPolicy:SSLPolicy")
    assert tls["inputs"] == {**tls["inputs"], "profile": "RESTRICTED", "minTlsVersion": "TLS_1_2"}
    assert tls["urn"] in https["dependencies"]
    http = one(graph, "gcp:compute/targetHttpProxy:TargetHttpProxy")
    redirect = next(m for m in resources(graph, "gcp:compute/uRLMap:URLMap") if m["urn"] in http["dependencies"])
    assert redirect["inputs"]["defaultUrlRedirect"]["httpsRedirect"] is True  # port 80 only redirects
    assert graph["outputs"]["endpoint"] == f"https://{DOMAIN}"
    assert not graph["limitations"] or "edge" not in {g["kind"] for g in graph["limitations"]}


@pytest.mark.parametrize("profile", PROFILES)
def test_the_certificate_is_google_managed_and_dns_authorized(profile: str) -> None:
    graph = _domain_plan(profile)
    authorization = one(graph, "gcp:certificatemanager/dnsAuthorization:DnsAuthorization")
    assert authorization["inputs"]["domain"] == DOMAIN
    certificate = one(graph, "gcp:certificatemanager/certificate:Certificate")
    assert certificate["inputs"]["managed"]["domains"] == [DOMAIN]
    assert authorization["urn"] in certificate["dependencies"]
    entry = one(graph, "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry")
    assert entry["inputs"]["hostname"] == DOMAIN and certificate["urn"] in entry["dependencies"]


def test_without_a_zone_the_plan_lists_the_dns_records_to_create() -> None:
    graph = _domain_plan("managed")
    assert not resources(graph, "gcp:dns/recordSet:RecordSet")
    records = {r["type"]: r for r in graph["outputs"]["dns_records"]}
    assert set(records) == {"A", "CNAME"}
    assert records["A"]["name"] == f"{DOMAIN}." and records["A"]["value"] == "[computed]"  # the reserved address
    assert all(r["purpose"] for r in records.values())


def test_with_a_zone_the_records_are_created_in_it() -> None:
    graph = _domain_plan("managed", zone=True)
    records = {r["inputs"]["type"]: r for r in resources(graph, "gcp:dns/recordSet:RecordSet")}
    assert set(records) == {"A", "CNAME"}
    assert {r["inputs"]["managedZone"] for r in records.values()} == {ZONE["managed_zone"]}
    assert records["A"]["inputs"]["name"] == f"{DOMAIN}."
    assert "dns_records" not in graph["outputs"]
    assert {"dns.googleapis.com", "certificatemanager.googleapis.com"} <= _apis(graph, "edge")


def test_a_zone_without_its_cloud_dns_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dns_zone.managed_zone"):
        _plan("managed", "prod", domain=DOMAIN, dns_zone={"name": "example.com"})


@pytest.mark.parametrize("profile", PROFILES)
def test_cloud_armor_guards_the_app_backend(profile: str) -> None:
    graph, stack = _domain_plan(profile), _stack(profile, "prod")
    edge = stack.spec("edge")
    armor = next(p for p in resources(graph, "gcp:compute/securityPolicy:SecurityPolicy") if p["component"] == "edge")
    backend = next(b for b in resources(graph, "gcp:compute/backendService:BackendService") if b["component"] == "edge")
    assert armor["urn"] in backend["dependencies"] and backend["inputs"]["securityPolicy"] == "[computed]"
    rules = sorted(armor["inputs"]["rules"], key=lambda r: r["priority"])
    waf = [r for r in rules if "evaluatePreconfiguredWaf" in r["match"].get("expr", {}).get("expression", "")]
    assert len(waf) == len(WAF_RULES) and {r["action"] for r in waf} == {"deny(403)"}
    assert any("sqli-v33-stable" in r["match"]["expr"]["expression"] for r in waf)
    throttle = next(r for r in rules if r["action"] == "throttle")
    limit = throttle["rateLimitOptions"]
    assert limit["enforceOnKey"] == "IP" and limit["exceedAction"] == "deny(429)"
    assert limit["rateLimitThreshold"] == {"count": edge.rate_limit, "intervalSec": 300}
    assert max(r["priority"] for r in waf) < throttle["priority"]  # attacks are denied before counting
    assert rules[-1]["priority"] == 2147483647 and rules[-1]["action"] == "allow"
    assert armor["inputs"]["adaptiveProtectionConfig"]["layer7DdosDefenseConfig"]["enable"] is True


def test_edge_settings_shape_the_policy() -> None:
    edge = {"managed_rules": False, "rate_limit": 5000, "min_tls": "1.3"}
    graph = _plan("managed", "prod", domain=DOMAIN, components={"edge": edge})
    rules = one(graph, "gcp:compute/securityPolicy:SecurityPolicy")["inputs"]["rules"]
    assert [r["action"] for r in sorted(rules, key=lambda r: r["priority"])] == ["throttle", "allow"]
    throttle = next(r for r in rules if r["action"] == "throttle")
    assert throttle["rateLimitOptions"]["rateLimitThreshold"]["count"] == 5000
    assert one(graph, "gcp:compute/sSLPolicy:SSLPolicy")["inputs"]["minTlsVersion"] == "TLS_1_3"
    no_waf = _plan("managed", "prod", domain=DOMAIN, components={"edge": {"waf": False}})
    assert not resources(no_waf, "gcp:compute/securityPolicy:SecurityPolicy")
    assert "securityPolicy" not in one(no_waf, "gcp:compute/backendService:BackendService")["inputs"]


@pytest.mark.parametrize("profile", ["saas", "managed"])
def test_cloud_run_is_reached_only_through_the_edge(profile: str) -> None:
    graph = _domain_plan(profile)
    service = one(graph, "gcp:cloudrunv2/service:Service")
    assert service["inputs"]["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    neg = one(graph, "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup")["inputs"]
    assert neg["networkEndpointType"] == "SERVERLESS"
    assert neg["cloudRun"]["service"] == service["inputs"]["name"]


def test_the_cdn_serves_only_the_public_prefix() -> None:
    graph, stack = _domain_plan("saas"), _stack("saas", "prod")
    prefix = stack.spec("storage").public_prefix
    fill = next(r for r in resources(graph, "gcp:storage/bucketIAMMember:BucketIAMMember") if r["component"] == "cdn")
    assert fill["inputs"]["condition"]["title"] == "public-prefix-only"  # user uploads are never readable by it
    url_map = next(m for m in resources(graph, "gcp:compute/uRLMap:URLMap") if m["inputs"].get("pathMatchers"))
    bucket = one(graph, "gcp:compute/backendBucket:BackendBucket")
    assert url_map["component"] == "edge" and bucket["urn"] in url_map["dependencies"]
    assert url_map["inputs"]["pathMatchers"][0]["pathRules"][0]["paths"] == [f"/{prefix}*"]
    envs = {e["name"]: e.get("value") for e in _app_compute(graph)["inputs"]["template"]["containers"][0]["envs"]}
    assert envs["CDN_URL"] == f"https://{DOMAIN}"  # on the edge's domain: no plain-HTTP front of its own
    assert bucket["inputs"]["cdnPolicy"]["defaultTtl"] == stack.spec("cdn").default_ttl_s


def test_the_fill_condition_names_the_bucket_prefix() -> None:
    graph, stack = _plan("saas", "dev", components={"storage": {"public_prefix": "assets/"}}), _stack("saas", "dev")
    bucket = one(graph, "gcp:storage/bucket:Bucket")["inputs"]["name"]
    assert bucket == f"{stack.project}-{stack.name}-files"  # known when planned: the condition can name it
    fill = next(r for r in resources(graph, "gcp:storage/bucketIAMMember:BucketIAMMember") if r["component"] == "cdn")
    assert fill["inputs"]["condition"]["expression"] == (
        f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/assets/")'
    )


def test_the_cdn_bucket_gets_an_edge_policy_with_the_edge() -> None:
    graph = _domain_plan("saas")
    bucket = one(graph, "gcp:compute/backendBucket:BackendBucket")
    policies = {p["inputs"]["type"]: p for p in resources(graph, "gcp:compute/securityPolicy:SecurityPolicy")}
    assert set(policies) == {"CLOUD_ARMOR", "CLOUD_ARMOR_EDGE"}  # the app's WAF, the CDN's edge filter
    assert policies["CLOUD_ARMOR_EDGE"]["urn"] in bucket["dependencies"]
    assert bucket["inputs"]["edgeSecurityPolicy"] == "[computed]"
    assert "edgeSecurityPolicy" not in one(_plan("saas", "dev"), "gcp:compute/backendBucket:BackendBucket")["inputs"]


def test_prod_without_a_domain_is_a_declared_limitation(planned) -> None:
    graph = planned("managed", "gcp", "prod")
    gaps = {g["kind"]: g for g in graph["limitations"]}
    assert "no domain" in gaps["edge"]["reason"] and "domain:" in gaps["edge"]["alternative"]
    assert not resources(graph, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")
    assert one(graph, "gcp:compute/securityPolicy:SecurityPolicy")  # Cloud Armor still fronts the app


# --- a first deploy that succeeds (issue 10) ------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_project_iam_and_log_sinks_wait_for_the_resource_manager_api(planned, profile: str) -> None:
    graph = planned(profile, "gcp", "prod")
    by_urn = _by_urn(graph)
    needing = [r for t in ("gcp:projects/iAMMember:IAMMember", "gcp:logging/projectSink:ProjectSink")
               for r in resources(graph, t)]  # fmt: skip
    assert needing
    for res in needing:
        waits_for = [by_urn[d] for d in res["dependencies"]]
        apis = {w["inputs"]["service"] for w in waits_for if w["type"] == "gcp:projects/service:Service"}
        assert "cloudresourcemanager.googleapis.com" in apis, res["name"]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_app_starts_after_its_grants_have_propagated(planned, profile: str) -> None:
    graph = planned(profile, "gcp", "prod")
    waits = resources(graph, "pulumi-python:dynamic/mbops:IamPropagation")
    wait = next(r for r in waits if r["component"] == APP_KIND[profile])
    assert wait["inputs"]["seconds"] >= 60
    grants = [r for t in ("gcp:secretmanager/secretIamMember:SecretIamMember", "gcp:projects/iAMMember:IAMMember",
                          "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
              for r in resources(graph, t) if r["component"] == APP_KIND[profile]]  # fmt: skip
    assert grants and all(g["urn"] in wait["dependencies"] for g in grants)
    assert wait["urn"] in _app_compute(graph)["dependencies"]


@pytest.mark.parametrize("profile", ["managed", "custom"])
def test_the_app_connects_as_its_own_role_never_the_admin(planned, profile: str) -> None:
    graph, stack = planned(profile, "gcp", "prod"), _stack(profile, "prod")
    users = resources(graph, "gcp:sql/user:User")
    assert [u["inputs"]["name"] for u in users] == ["mbops_admin"]  # the only API user: cloudsqlsuperuser
    job = one(graph, "gcp:cloudrunv2/job:Job")
    template = job["inputs"]["template"]["template"]
    container = template["containers"][0]
    script = container["args"][0]
    assert "WITH LOGIN NOCREATEDB NOCREATEROLE" in script and "GRANT USAGE, CREATE ON SCHEMA public TO app" in script
    client = next(i for i in resources(graph, "pulumi-python:dynamic/mbops:Image") if i["component"] == "database")
    repository = f"{stack.region}-docker.pkg.dev/{stack.project}/{stack.name}-images"
    assert client["inputs"]["repository"] == f"{repository}/db-setup"
    assert client["inputs"]["args"] == {"PG_MAJOR": stack.spec("database").engine_version}
    assert container["image"] == "[computed]" and client["urn"] in job["dependencies"]  # run by digest
    refs = {e["name"]: e["valueSource"]["secretKeyRef"]["secret"] for e in container["envs"] if "valueSource" in e}
    assert refs == {"ADMIN_URL": f"{stack.name}-DATABASE_ADMIN_URL", "APP_URL": f"{stack.name}-DATABASE_URL"}
    assert template["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"  # the instance has a private IP only
    assert job["inputs"]["runExecutionToken"] == "[computed]"  # up waits for a successful run
    assert _depends(graph, _app_compute(graph), job)
    readers = resources(graph, "gcp:secretmanager/secretIamMember:SecretIamMember")
    app_reads = {r["name"].rsplit("-reads-", 1)[1] for r in readers if r["component"] == APP_KIND[profile]}
    assert "database-admin-url" not in app_reads and "database-url" in app_reads


def test_cache_and_database_maintenance_windows_never_coincide(planned) -> None:
    graph = planned("managed", "gcp", "prod")
    sql = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]["settings"]["maintenanceWindow"]
    redis = one(graph, "gcp:redis/instance:Instance")["inputs"]["maintenancePolicy"]["weeklyMaintenanceWindows"][0]
    assert (sql["day"], sql["hour"]) == (SQL_DAY, SQL_HOUR)
    assert (redis["day"], redis["startTime"]["hours"]) == (REDIS_DAY, REDIS_HOUR)
    assert ISO_DAYS[sql["day"] - 1] != redis["day"]


def test_the_data_tier_is_placed_in_the_network_zones(planned) -> None:
    graph = planned("managed", "gcp", "prod")
    placement = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]["settings"]["locationPreference"]
    redis = one(graph, "gcp:redis/instance:Instance")["inputs"]
    zones = [p["value"] for p in graph["placeholders"] if p["stands_for"] == "a zone of the region"]
    assert placement["zone"] == redis["locationId"] == "us-central1-a" and placement["zone"] in zones
    assert placement["secondaryZone"] == redis["alternativeLocationId"] != placement["zone"]  # HA across zones


@pytest.mark.parametrize("profile", PROFILES)
def test_recovery_days_apply_to_every_secret_of_the_stack(planned, profile: str) -> None:
    graph, stack = planned(profile, "gcp", "prod"), _stack(profile, "prod")
    ttl = f"{stack.spec('secrets').recovery_days * 86400}s"
    secrets = resources(graph, "gcp:secretmanager/secret:Secret")
    assert secrets and {s["inputs"]["versionDestroyTtl"] for s in secrets} == {ttl}


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_defaults_that_mean_nothing_on_gcp_are_not_reported(planned, profile: str) -> None:
    """nat: per_zone (Cloud NAT is zone-redundant: the intent is met) and cdn.price_class (Cloud CDN always
    serves from every edge location) are the prod profiles' own settings: no prod plan warns about them."""
    for env in ENVIRONMENTS:
        kinds = {g["kind"] for g in planned(profile, "gcp", env)["limitations"]}
        assert not kinds & {"network", "cdn"}, (env, kinds)
    assert len(resources(planned("custom", "gcp", "prod"), "gcp:compute/routerNat:RouterNat")) == 1  # per_zone


def test_prod_servers_boot_a_pinned_image_dev_the_family() -> None:
    graph, seen = registrations("custom", "prod")
    image = one(graph, "gcp:compute/instanceTemplate:InstanceTemplate")["inputs"]["disks"][0]["sourceImage"]
    assert "/family/" not in image and "/images/cos-stable-" in image
    assert image in {p["value"] for p in graph["placeholders"]}  # resolved when deploying, then kept
    assert list(seen["custom-prod-app-template"].ignoreChanges) == ["disks[0].sourceImage"]
    dev = _plan("custom", "dev")
    assert one(dev, "gcp:compute/instanceTemplate:InstanceTemplate")["inputs"]["disks"][0]["sourceImage"] == (
        "projects/cos-cloud/global/images/family/cos-stable"
    )


def test_an_explicit_os_image_is_followed() -> None:
    image = "projects/cos-cloud/global/images/cos-121-18867-199-28"
    graph, seen = registrations("custom", "prod", components={"servers": {"os_image": image}})
    assert one(graph, "gcp:compute/instanceTemplate:InstanceTemplate")["inputs"]["disks"][0]["sourceImage"] == image
    assert not list(seen["custom-prod-app-template"].ignoreChanges)


def test_project_singletons_are_adopted_when_the_stack_says_so() -> None:
    adopt = {"mbops:adopt": json.dumps(["auth.config", "push.firebase", "docdb.database"])}
    _, seen = registrations("saas", "dev", config=adopt)
    assert seen["saas-dev-auth-config"].importId == "projects/saas-dev/config"
    assert seen["saas-dev-push-firebase"].importId == "projects/saas-dev"
    assert seen["saas-dev-docs-firestore"].importId == "projects/saas-dev/databases/saas-dev-docs"
    _, plain = registrations("saas", "dev")
    assert not plain["saas-dev-auth-config"].importId and not plain["saas-dev-push-firebase"].importId
    with pytest.raises(ConfigError, match="mbops:adopt"):
        registrations("saas", "dev", config={"mbops:adopt": json.dumps("auth")})


# --- monitoring (issue 11) -----------------------------------------------------------------------------------

ENTRY = {"entry-5xx", "entry-throttled", "entry-latency", "edge-attack", "uptime"}
EXPECTED_ALERTS = {
    "saas": ENTRY | {"app-cpu", "app-memory", "app-instances", "docdb-throttled"},
    "managed": ENTRY | {"app-cpu", "app-memory", "app-instances", "db-up", "db-cpu", "db-disk", "db-connections",
                        "cache-memory", "cache-evictions"},
    "custom": ENTRY | {"app-cpu", "app-memory", "app-instances", "db-up", "db-cpu", "db-disk", "db-connections"},
}  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_prod_alerts_cover_the_kinds_the_stack_has(profile: str) -> None:
    graph = _domain_plan(profile)
    alerts = _alerts(graph)
    assert set(alerts) == EXPECTED_ALERTS[profile]
    channels = [c["urn"] for c in resources(graph, "gcp:monitoring/notificationChannel:NotificationChannel")]
    for key, alert in alerts.items():
        assert len(alert["inputs"]["notificationChannels"]) == len(NOTIFY), key
        assert set(channels) <= set(alert["dependencies"]), key  # sent to every notify target
        assert len(alert["inputs"]["documentation"]["content"]) > 40, key  # says what to do


def test_notify_targets_become_channels_with_the_webhook_url_secret() -> None:
    graph = _domain_plan("managed")
    found = resources(graph, "gcp:monitoring/notificationChannel:NotificationChannel")
    channels = {c["inputs"]["type"]: c["inputs"] for c in found}
    assert channels["email"]["labels"] == {"email_address": "ops@example.com"}
    assert channels["webhook_tokenauth"]["labels"] == "[secret]"
    assert "s3cr3t" not in json.dumps(graph)


def _condition(alert: dict[str, Any]) -> dict[str, Any]:
    return alert["inputs"]["conditions"][0]["conditionThreshold"]


def test_entry_alerts_read_the_edge_load_balancer() -> None:
    graph, stack = _domain_plan("managed"), _stack("managed", "prod")
    t = stack.spec("monitoring").thresholds
    errors = _condition(_alerts(graph)["entry-5xx"])
    assert 'metric.type="loadbalancing.googleapis.com/https/request_count"' in errors["filter"]
    assert f'resource.labels.url_map_name="{stack.name}-edge"' in errors["filter"]
    assert "response_code_class=500" in errors["filter"] and "response_code_class" not in errors["denominatorFilter"]
    assert errors["thresholdValue"] == t.error_rate_pct / 100 and errors["duration"] == f"{t.period_s}s"
    latency = _condition(_alerts(graph)["entry-latency"])
    assert latency["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_95"
    assert latency["thresholdValue"] == t.latency_p95_ms


def test_thresholds_come_from_the_stack_file() -> None:
    thresholds = {"error_rate_pct": 2, "latency_p95_ms": 800, "cpu_pct": 70, "db_cpu_pct": 60,
                  "db_free_storage_pct": 20, "db_connections_pct": 50, "cache_memory_pct": 90, "period_s": 600}
    graph = _plan("managed", "prod", domain=DOMAIN, components={"monitoring": {"thresholds": thresholds}})
    values = {key: _condition(alert)["thresholdValue"] for key, alert in _alerts(graph).items() if key != "edge-attack"}
    assert values["entry-5xx"] == 0.02 and values["entry-latency"] == 800 and values["app-cpu"] == 0.7
    assert values["db-cpu"] == 0.6 and values["db-disk"] == 0.8 and values["cache-memory"] == 0.9
    assert values["db-connections"] == 200  # half of the medium size's 400 connections (set on the instance)
    flags = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]["settings"]["databaseFlags"]
    assert {"name": "max_connections", "value": "400"} in flags
    assert _condition(_alerts(graph)["db-cpu"])["duration"] == "600s"


def test_servers_alert_on_fewer_instances_than_the_minimum() -> None:
    graph, stack = _domain_plan("custom"), _stack("custom", "prod")
    running = _condition(_alerts(graph)["app-instances"])
    assert 'metric.type="compute.googleapis.com/instance_group/size"' in running["filter"]
    assert f'instance_group_name="{stack.name}-app"' in running["filter"]
    assert running["comparison"] == "COMPARISON_LT" and running["thresholdValue"] == stack.app.min_replicas
    assert running["evaluationMissingData"] == "EVALUATION_MISSING_DATA_ACTIVE"  # nothing running reports nothing
    group = one(graph, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")["inputs"]
    assert group["name"] == f"{stack.name}-app"


def test_the_uptime_check_probes_the_public_health_path() -> None:
    graph, stack = _domain_plan("saas"), _stack("saas", "prod")
    check = one(graph, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig")["inputs"]
    assert check["monitoredResource"] == {"type": "uptime_url", "labels": {"host": DOMAIN, "project_id": stack.project}}
    assert check["httpCheck"]["path"] == stack.app.health_path
    http = check["httpCheck"]
    assert (http["port"], http["useSsl"], http["validateSsl"]) == (443, True, True)
    uptime = _alerts(graph)["uptime"]
    assert uptime["inputs"]["severity"] == "CRITICAL"
    assert _condition(uptime)["aggregations"][0]["crossSeriesReducer"] == "REDUCE_COUNT_FALSE"


def test_the_budget_watches_the_project_and_notifies_the_channels() -> None:
    graph = _domain_plan("managed")
    budget = one(graph, "gcp:billing/budget:Budget")["inputs"]
    assert budget["billingAccount"] == "0123AB-CDEF01-234567"
    assert budget["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "500"}}
    assert {(r["thresholdPercent"], r["spendBasis"]) for r in budget["thresholdRules"]} == {
        (0.8, "CURRENT_SPEND"), (1, "FORECASTED_SPEND")}
    assert budget["budgetFilter"]["projects"][0].startswith("projects/")
    assert len(budget["allUpdatesRule"]["monitoringNotificationChannels"]) == len(NOTIFY)


def test_a_budget_without_a_billing_account_is_a_declared_limitation() -> None:
    graph = _plan("managed", "prod", components={"monitoring": {"budget_usd": 200}})
    assert not resources(graph, "gcp:billing/budget:Budget")
    gap = next(g for g in graph["limitations"] if g["kind"] == "monitoring")
    assert "billing account" in gap["reason"] and "billing_account" in gap["alternative"]


def test_monitoring_is_off_in_dev_and_watches_cloud_run_when_turned_on(planned) -> None:
    assert not resources(planned("saas", "gcp", "dev"), "gcp:monitoring/alertPolicy:AlertPolicy")
    graph = _plan("saas", "dev", components={"monitoring": True})
    alerts = _alerts(graph)
    assert {"run-5xx", "run-latency"} <= set(alerts) and "entry-5xx" not in alerts  # no edge: Cloud Run is the entry
    assert 'metric.type="run.googleapis.com/request_count"' in _condition(alerts["run-5xx"])["filter"]
    charts = json.loads(one(graph, "gcp:monitoring/dashboard:Dashboard")["inputs"]["dashboardJson"])
    titles = {tile["widget"]["title"] for tile in charts["mosaicLayout"]["tiles"]}
    assert {a["inputs"]["conditions"][0]["displayName"] for k, a in alerts.items() if k != "uptime"} <= titles


# --- data guard (issue 9) -------------------------------------------------------------------------------------

# What a plain destroy keeps: the data, the credentials of the kept database (the URL secrets and their versions),
# and the VPC, subnet, peering range and connection the kept Cloud SQL instance (and Cloud Run's addresses) hold.
SQL_KEPT = ("db-pg", "db-db", "db-database-url", "db-database-url-v", "db-database-admin-url",
            "db-database-admin-url-v", "net-vpc", "net-subnet", "net-psa-range", "net-psa")  # fmt: skip
DATA = {
    "saas": ("saas-prod-files-bucket", "saas-prod-docs-firestore"),
    "managed": ("managed-prod-files-bucket", *(f"managed-prod-{n}" for n in SQL_KEPT)),
    "custom": ("custom-prod-files-bucket", *(f"custom-prod-{n}" for n in SQL_KEPT)),
}


def _retained(graph: dict[str, Any]) -> dict[str, bool]:
    return {r["name"]: r["retainOnDelete"] for r in graph["resources"] if r["custom"]}


@pytest.mark.parametrize("profile", PROFILES)
def test_data_is_kept_on_destroy(planned, profile: str) -> None:
    graph = planned(profile, "gcp", "prod")
    retained = _retained(graph)
    assert {name for name, kept in retained.items() if kept} == set(DATA[profile])  # the data, nothing else
    if profile != "saas":
        sql = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]
        assert sql["deletionProtection"] is True and sql["settings"]["deletionProtectionEnabled"] is True
        assert sql["settings"]["finalBackupConfig"] == {"enabled": True, "retentionDays": 30}
        assert sql["settings"]["retainBackupsOnDelete"] is True


@pytest.mark.parametrize("profile", PROFILES)
def test_released_data_is_deletable(profile: str) -> None:
    graph, _ = registrations(profile, "prod", release_data=True)
    assert not any(_retained(graph).values())
    assert one(graph, "gcp:storage/bucket:Bucket")["inputs"]["forceDestroy"] is True
    for kind in ("gcp:sql/databaseInstance:DatabaseInstance", "gcp:redis/instance:Instance",
                 "gcp:cloudrunv2/service:Service"):  # fmt: skip
        for res in resources(graph, kind):
            assert res["inputs"]["deletionProtection"] is False, res["name"]
    for res in resources(graph, "gcp:sql/databaseInstance:DatabaseInstance"):
        assert res["inputs"]["settings"]["deletionProtectionEnabled"] is False
        assert res["inputs"]["settings"]["finalBackupConfig"]["enabled"] is True  # a last backup still
    for res in resources(graph, "gcp:firestore/database:Database"):
        assert res["inputs"]["deleteProtectionState"] == "DELETE_PROTECTION_DISABLED"
        assert res["inputs"]["deletionPolicy"] == "DELETE"


def test_the_self_hosted_data_disk_is_kept_on_destroy() -> None:
    graph, seen = registrations("custom", "prod", components={"database": {"self_hosted": True}})
    assert _retained(graph)["custom-prod-db-data"] is True
    assert list(seen["custom-prod-db-vm"].ignoreChanges) == ["bootDisk.initializeParams.image", "zone"]
    # never replaced: not by a new image, zone or (a size across small and larger) disk type
    assert list(seen["custom-prod-db-data"].ignoreChanges) == ["zone", "type"]
    retained = {name for name, kept in _retained(graph).items() if kept}
    assert retained == {"custom-prod-files-bucket", "custom-prod-db-data"}  # no Cloud SQL: the VPC is not kept
    released, _ = registrations("custom", "prod", release_data=True, components={"database": {"self_hosted": True}})
    assert _retained(released)["custom-prod-db-data"] is False
