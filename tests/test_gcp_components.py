"""GCP components, checked on the planned graph of every profile x environment (the real program, planned).

Secure defaults are asserted on the inputs the provider would receive: private data stores, TLS, backups,
least-privilege IAM, secrets only through Secret Manager, and internet exposure only through the load
balancer or Cloud Run.
"""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import json
from functools import cache
from typing import Any

import jsonschema
import pytest
import yaml

from mbops.components.gcp.cache import redis_version
from mbops.components.gcp.common import gcp_labels, gcp_name
from mbops.components.gcp.network import GOOGLE_LB_RANGES, IAP_TCP_RANGE, plan_ranges
from mbops.components.gcp.run import cloud_run_limits, split_image
from mbops.components.gcp.servers import cloud_init
from mbops.components.spec import KINDS
from mbops.engine.fakes.gcp import ANSWERS
from mbops.engine.plan import plan, run_plan
from mbops.errors import ConfigError, MbopsError
from mbops.stacks.config import AppSpec, StackFile, resolve
from mbops.stacks.program import make_program
from tests.conftest import ENVIRONMENTS, PROFILES, one, resources

PAIRS = [(p, e) for p in PROFILES for e in ENVIRONMENTS]
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
IAM_TYPES = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
)
EXPECTED_OUTPUTS = {
    "saas": {
        "endpoint",
        "bucket",
        "document_table",
        "cdn_url",
        "auth_user_pool_id",
        "auth_client_id",
        "push_app",
        "secrets_store",
        "registry",
        "image",
    },
    "managed": {
        "endpoint", "database_host", "database_name", "bucket", "redis_host", "secrets_store", "registry", "image"
    },
    "custom": {"endpoint", "database_host", "database_name", "bucket", "secrets_store", "registry", "image"},
}  # fmt: skip


@cache
def _stack(profile: str, env: str) -> Any:
    return resolve(profile=profile, cloud="gcp", environment=env)


@cache
def _arg_names(type_token: str) -> frozenset[str]:
    """The argument names (snake_case) a pulumi-gcp resource type accepts; empty for non-gcp types."""
    package, module_path, cls = type_token.split(":")
    if package != "gcp":
        return frozenset()
    module = importlib.import_module(f"pulumi_gcp.{module_path.split('/')[0]}")
    args_cls = getattr(module, f"{cls}Args")
    return frozenset(inspect.signature(args_cls.__init__).parameters)


def _gcp(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in graph["resources"] if r["custom"] and r["type"].startswith("gcp:")]


def _app_envs(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["template"]["containers"][0]["envs"]


def _plan(profile: str, env: str, **stack_file: Any) -> dict[str, Any]:
    stack = resolve(StackFile.model_validate(stack_file), profile=profile, cloud="gcp", environment=env)
    return plan(stack, with_policy=False, with_cost=False)


# --- every pair plans, wired as the cross-cloud contract says ---------------------------------------------


@pytest.mark.parametrize("profile,env", PAIRS)
def test_plans_every_kind_of_the_profile(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    stack = _stack(profile, env)
    components = {
        r["type"].rsplit(":", 1)[1].lower() for r in graph["resources"] if r["type"].startswith("mbops:gcp:")
    }
    assert components == set(stack.components)
    for res in graph["resources"]:
        if res["custom"]:
            assert res["parent"], f"{res['name']} is not inside a component"
            assert res["component"] in KINDS, res["name"]
    prod_only = {"edge_address"} if env == "prod" else set()  # the edge (without a domain: no dns_records)
    assert set(graph["outputs"]) == EXPECTED_OUTPUTS[profile] | prod_only | {"logs"}
    assert graph["outputs"]["secrets_store"] == f"projects/{stack.project}/secrets/{stack.name}-"


@pytest.mark.parametrize("profile,env", PAIRS)
def test_graph_matches_the_contract_schema(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    schema = importlib.resources.files("mbops.engine").joinpath("planned-graph.schema.json")
    jsonschema.validate(graph, json.loads(schema.read_text()))
    text = json.dumps(graph)
    assert "1b47061264138c4ac30d75fd1eb44270" not in text  # no secret in wire form
    assert "04da6b54-80e4-46f7-96ec-b56ff0331ba9" not in text  # unknowns read as [computed]
    mandatory = {p["rule"] for p in graph["policy"] if p.get("enforcement") == "mandatory"}
    # The built-in prod profiles name no domain: prod must (HTTPS on it); test_gcp_prod plans prod with one.
    assert mandatory == ({"prod-domain", "load-balancer-https"} if env == "prod" else set()), graph["policy"]


@pytest.mark.parametrize("profile,env", PAIRS)
def test_project_region_and_labels_are_explicit(planned, profile: str, env: str) -> None:
    graph, stack = planned(profile, "gcp", env), _stack(profile, env)
    labels = gcp_labels(stack.tags)
    assert labels == {k.lower(): v.lower() for k, v in labels.items()}
    for res in _gcp(graph):
        args, inputs = _arg_names(res["type"]), res["inputs"]
        if "project" in args:
            assert inputs.get("project") == stack.project, res["name"]
        if "region" in args:
            assert inputs.get("region") == stack.region, res["name"]
        if "labels" in args:
            assert inputs.get("labels", {}).items() >= labels.items(), res["name"]
            assert all(k == k.lower() and v == v.lower() for k, v in inputs["labels"].items()), res["name"]
        if res["type"] in (
            "gcp:cloudrunv2/service:Service",
            "gcp:artifactregistry/repository:Repository",
            "gcp:logging/projectBucketConfig:ProjectBucketConfig",
        ):
            assert inputs["location"] == stack.region, res["name"]
    for bucket in resources(graph, "gcp:storage/bucket:Bucket"):
        assert bucket["inputs"]["location"] == stack.region.upper()


@pytest.mark.parametrize("profile,env", PAIRS)
def test_apis_are_enabled_and_never_disabled_on_destroy(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    services = resources(graph, "gcp:projects/service:Service")
    assert services and all(s["inputs"]["disableOnDestroy"] is False for s in services)
    enabled = {s["inputs"]["service"] for s in services}
    assert "secretmanager.googleapis.com" in enabled
    assert ("sqladmin.googleapis.com" in enabled) == (profile != "saas")
    by_urn = {r["urn"]: r for r in graph["resources"]}
    for res in _gcp(graph):
        if res["type"] != "gcp:projects/service:Service":
            api_deps = [d for d in res["dependencies"] if by_urn[d]["type"] == "gcp:projects/service:Service"]
            assert api_deps, f"{res['name']} does not wait for its APIs"


# --- data stores --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile,env", [p for p in PAIRS if p[0] != "saas"])
def test_cloud_sql_is_private_encrypted_backed_up(planned, profile: str, env: str) -> None:
    graph, stack = planned(profile, "gcp", env), _stack(profile, env)
    spec = stack.spec("database")
    sql = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")["inputs"]
    settings = sql["settings"]
    ip = settings["ipConfiguration"]
    assert ip["ipv4Enabled"] is False and "authorizedNetworks" not in ip
    assert ip["privateNetwork"] == "[computed]"  # the stack's VPC network id
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
    backup = settings["backupConfiguration"]
    assert backup["enabled"] is True and backup["pointInTimeRecoveryEnabled"] is True
    assert backup["backupRetentionSettings"] == {
        "retainedBackups": spec.backup_retention_days,
        "retentionUnit": "COUNT",
    }
    assert settings["edition"] == "ENTERPRISE" and settings["tier"].startswith("db-custom-")
    assert settings["diskAutoresize"] is True and settings["diskAutoresizeLimit"] == spec.max_storage_gb
    assert settings["insightsConfig"]["queryInsightsEnabled"] is True
    assert sql["databaseVersion"] == f"POSTGRES_{spec.engine_version}"
    prod = env == "prod"
    assert settings["availabilityType"] == ("REGIONAL" if prod else "ZONAL")
    assert sql["deletionProtection"] is prod and settings["deletionProtectionEnabled"] is prod
    by_urn = {r["urn"]: r for r in graph["resources"]}
    sql_res = one(graph, "gcp:sql/databaseInstance:DatabaseInstance")
    assert any(
        by_urn[d]["type"] == "gcp:servicenetworking/connection:Connection" for d in sql_res["dependencies"]
    )
    user = one(graph, "gcp:sql/user:User")["inputs"]
    assert user["password"] == "[secret]"


@pytest.mark.parametrize("profile,env", PAIRS)
def test_buckets_are_private_and_versioned(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    bucket = one(graph, "gcp:storage/bucket:Bucket")["inputs"]
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    actions = {rule["action"]["type"] for rule in bucket["lifecycleRules"]}
    assert actions == {"Delete", "AbortIncompleteMultipartUpload"}
    assert "cors" not in bucket  # no cors_origins in the profiles
    for member in resources(graph, "gcp:storage/bucketIAMMember:BucketIAMMember"):
        assert member["inputs"]["member"] not in ("allUsers", "allAuthenticatedUsers")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_memorystore_is_private_with_auth_and_tls(planned, env: str) -> None:
    graph = planned("managed", "gcp", env)
    redis = one(graph, "gcp:redis/instance:Instance")["inputs"]
    assert redis["authEnabled"] is True
    assert redis["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert redis["connectMode"] == "PRIVATE_SERVICE_ACCESS" and redis["authorizedNetwork"] == "[computed]"
    assert redis["tier"] == ("STANDARD_HA" if env == "prod" else "BASIC")
    assert redis["redisVersion"] == "REDIS_7_2"
    assert redis["deletionProtection"] is (env == "prod")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_firestore_native_in_region_with_pitr(planned, env: str) -> None:
    graph, stack = planned("saas", "gcp", env), _stack("saas", env)
    db = one(graph, "gcp:firestore/database:Database")["inputs"]
    assert db["type"] == "FIRESTORE_NATIVE" and db["locationId"] == stack.region
    assert db["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    prod = env == "prod"
    assert db["deleteProtectionState"] == (
        "DELETE_PROTECTION_ENABLED" if prod else "DELETE_PROTECTION_DISABLED"
    )
    assert graph["outputs"]["document_table"] == db["name"] == f"{stack.name}-docs"
    grant = next(
        r
        for r in resources(graph, "gcp:projects/iAMMember:IAMMember")
        if r["inputs"]["role"] == "roles/datastore.user"
    )
    assert grant["inputs"]["condition"]["expression"] == (
        f'resource.name == "projects/{stack.project}/databases/{db["name"]}"'
    )


# --- network exposure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile,env", PAIRS)
def test_firewall_never_opens_admin_or_data_ports_to_the_internet(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    rules = resources(graph, "gcp:compute/firewall:Firewall")
    assert bool(rules) == (profile != "saas")
    for rule in rules:
        inputs = rule["inputs"]
        if not inputs.get("allows"):
            assert inputs["denies"] == [{"protocol": "all"}] and inputs["priority"] == 65534
            continue
        sources = set(inputs.get("sourceRanges", []))
        assert "0.0.0.0/0" not in sources, rule["name"]
        assert sources <= {*GOOGLE_LB_RANGES, IAP_TCP_RANGE}, rule["name"]
        assert inputs.get("targetTags"), f"{rule['name']} applies to every instance"
        ports = {p for allow in inputs["allows"] for p in allow.get("ports", [])}
        if IAP_TCP_RANGE in sources:
            assert ports == {"22"}
        if sources & set(GOOGLE_LB_RANGES):
            assert ports == {str(_stack(profile, env).app.port)}
        assert not ports & {"3389", "5432", "6379"} or inputs.get("sourceTags"), rule["name"]


@pytest.mark.parametrize("profile,env", PAIRS)
def test_only_the_load_balancer_or_cloud_run_faces_the_internet(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    rules = resources(graph, "gcp:compute/globalForwardingRule:GlobalForwardingRule")
    fronts = {"saas": {"cdn"}, "managed": set(), "custom": {"servers"}}[profile]
    if env == "prod":  # the edge fronts the app; the CDN keeps its own front without a domain to share
        fronts = {"cdn", "edge"} if profile == "saas" else {"edge"}
    assert {r["component"] for r in rules} == fronts
    for rule in rules:
        assert rule["inputs"]["loadBalancingScheme"] == "EXTERNAL_MANAGED"
        assert rule["inputs"]["portRange"] in ("80", "443")
    services = resources(graph, "gcp:cloudrunv2/service:Service")
    assert [s["component"] for s in services] == ([] if profile == "custom" else [_app_kind(profile)])
    for template in resources(graph, "gcp:compute/instanceTemplate:InstanceTemplate"):
        assert all("accessConfigs" not in nic for nic in template["inputs"]["networkInterfaces"])
        shielded = template["inputs"]["shieldedInstanceConfig"]
        assert shielded == {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}
        assert template["inputs"]["metadata"]["enable-oslogin"] == "TRUE"
    for instance in resources(graph, "gcp:compute/instance:Instance"):
        assert all("accessConfigs" not in nic for nic in instance["inputs"]["networkInterfaces"])


def _app_kind(profile: str) -> str:
    return {"saas": "serverless", "managed": "containers", "custom": "servers"}[profile]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_network_has_private_service_access_nat_and_flow_logs(planned, env: str) -> None:
    graph = planned("managed", "gcp", env)
    assert one(graph, "gcp:compute/network:Network")["inputs"]["autoCreateSubnetworks"] is False
    subnet = one(graph, "gcp:compute/subnetwork:Subnetwork")["inputs"]
    assert (
        subnet["privateIpGoogleAccess"] is True and subnet["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"
    )
    assert subnet["ipCidrRange"] == "10.20.0.0/17"
    psa = next(a for a in resources(graph, "gcp:compute/globalAddress:GlobalAddress") if a["component"] == "network")
    psa = psa["inputs"]
    assert psa["purpose"] == "VPC_PEERING" and (psa["address"], psa["prefixLength"]) == ("10.20.128.0", 17)
    connection = one(graph, "gcp:servicenetworking/connection:Connection")["inputs"]
    assert connection["service"] == "servicenetworking.googleapis.com"
    run = one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["template"]
    assert run["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY" and "connector" not in run["vpcAccess"]


# --- identity and secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile,env", PAIRS)
def test_service_accounts_hold_no_primitive_or_broad_roles(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    grants = [r for t in IAM_TYPES for r in resources(graph, t)]
    assert grants
    for grant in grants:
        assert grant["inputs"]["role"] not in PRIMITIVE_ROLES, grant["name"]
    project_roles = {r["inputs"]["role"] for r in resources(graph, "gcp:projects/iAMMember:IAMMember")}
    stack = _stack(profile, env)
    fcm_sender = f"projects/{stack.project}/roles/mbops_{stack.name.replace('-', '_')}_fcm_sender"
    allowed = {"roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/datastore.user", fcm_sender}
    assert project_roles <= allowed
    for grant in resources(graph, "gcp:secretmanager/secretIamMember:SecretIamMember"):
        assert grant["inputs"]["role"] == "roles/secretmanager.secretAccessor"
    for grant in resources(graph, "gcp:storage/bucketIAMMember:BucketIAMMember"):
        assert grant["inputs"]["role"] in ("roles/storage.objectAdmin", "roles/storage.objectViewer")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_app_gets_the_push_sender_role_once_the_role_exists(planned, env: str) -> None:
    graph, stack = planned("saas", "gcp", env), _stack("saas", env)
    role = one(graph, "gcp:projects/iAMCustomRole:IAMCustomRole")
    sender = f"projects/{stack.project}/roles/mbops_{stack.name.replace('-', '_')}_fcm_sender"
    members = [r for r in resources(graph, "gcp:projects/iAMMember:IAMMember") if r["component"] == "serverless"]
    granted = next(m for m in members if m["inputs"]["role"] == sender)
    assert role["urn"] in granted["dependencies"]


@pytest.mark.parametrize("profile,env", PAIRS)
def test_secrets_are_never_plaintext(planned, profile: str, env: str) -> None:
    graph = planned(profile, "gcp", env)
    for version in resources(graph, "gcp:secretmanager/secretVersion:SecretVersion"):
        assert version["inputs"]["secretData"] == "[secret]"
    for secret in resources(graph, "gcp:secretmanager/secret:Secret"):
        replicas = secret["inputs"]["replication"]["userManaged"]["replicas"]
        assert replicas == [{"location": _stack(profile, env).region}]
    text = json.dumps(graph)
    assert "postgresql://" not in text and "rediss://" not in text


@pytest.mark.parametrize("profile,env", [p for p in PAIRS if p[0] != "custom"])
def test_wired_secrets_reach_cloud_run_only_via_secret_key_ref(planned, profile: str, env: str) -> None:
    graph, stack = planned(profile, "gcp", env), _stack(profile, env)
    envs = {e["name"]: e for e in _app_envs(graph)}
    secret_names = {"managed": {"DATABASE_URL", "REDIS_URL"}, "saas": {"CDN_SIGNING_KEY"}}[profile]
    for name in secret_names:
        assert "value" not in envs[name]
        assert envs[name]["valueSource"]["secretKeyRef"]["secret"] == f"{stack.name}-{name}"
    readers = {
        r["name"].rsplit("-reads-", 1)[1]
        for r in resources(graph, "gcp:secretmanager/secretIamMember:SecretIamMember")
        if r["component"] == _app_kind(profile)
    }
    assert readers == {n.lower().replace("_", "-") for n in secret_names}
    plain = {
        "managed": {"STORAGE_BUCKET", "REDIS_CA_CERT", "DATABASE_CA_CERT"},
        "saas": {
            "STORAGE_BUCKET",
            "DOCUMENT_TABLE",
            "CDN_URL",
            "CDN_SIGNING_KEY_NAME",
            "AUTH_USER_POOL_ID",
            "AUTH_CLIENT_ID",
            "PUSH_PLATFORM_APP",
        },
    }[profile]
    assert {n for n, e in envs.items() if "value" in e} == plain
    assert "PORT" not in envs  # Cloud Run sets it from the container port
    assert (
        _app_envs(graph)
        and one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["template"]["containers"][0]["ports"][
            "containerPort"
        ]
        == stack.app.port
    )


@pytest.mark.parametrize("profile,env", [p for p in PAIRS if p[0] != "custom"])
def test_cloud_run_scaling_probes_invoker_and_protection(planned, profile: str, env: str) -> None:
    graph, stack = planned(profile, "gcp", env), _stack(profile, env)
    service = one(graph, "gcp:cloudrunv2/service:Service")
    inputs = service["inputs"]
    template = inputs["template"]
    # prod: only the edge's load balancer (Cloud Armor) reaches it; dev: its own run.app URL
    assert inputs["ingress"] == ("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" if env == "prod" else "INGRESS_TRAFFIC_ALL")
    assert inputs["deletionProtection"] is (env == "prod")
    assert template["scaling"] == {
        "minInstanceCount": stack.app.min_replicas,  # the saas profile's is 0: it scales to zero
        "maxInstanceCount": stack.app.max_replicas,
    }
    assert ("vpcAccess" in template) == (profile == "managed")
    container = template["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == stack.app.health_path
    assert container["livenessProbe"]["httpGet"]["path"] == stack.app.health_path
    assert template["serviceAccount"].endswith(f"@{stack.project}.iam.gserviceaccount.com")
    # public without an allUsers binding (refused by the iam.allowedPolicyMemberDomains org policy)
    assert inputs["invokerIamDisabled"] is True
    assert not resources(graph, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    log_bucket = one(graph, "gcp:logging/projectBucketConfig:ProjectBucketConfig")["inputs"]
    spec = stack.spec(_app_kind(profile))
    assert log_bucket["retentionDays"] == spec.log_retention_days


def test_invoker_member_is_overridable() -> None:
    graph = _plan(
        "managed",
        "dev",
        components={"containers": {"overrides": {"invoker": {"member": "group:ops@example.com"}}}},
    )
    assert (
        one(graph, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember")["inputs"]["member"]
        == "group:ops@example.com"
    )
    assert one(graph, "gcp:cloudrunv2/service:Service")["inputs"]["invokerIamDisabled"] is False


def test_unknown_override_child_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no child resource named bogus"):
        _plan("managed", "dev", components={"cache": {"overrides": {"bogus": {}}}})


# --- servers (custom) --------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_servers_group_autoscaler_health_and_lb(planned, env: str) -> None:
    graph, stack = planned("custom", "gcp", env), _stack("custom", env)
    group = one(graph, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")["inputs"]
    zones = stack.spec("network").zones
    assert len(group["distributionPolicyZones"]) == zones == group["updatePolicy"]["maxSurgeFixed"]
    assert group["namedPorts"] == [{"name": "http", "port": stack.app.port}]
    # `up` waits until every VM runs the current template and is stable: a broken deploy fails
    assert group["waitForInstances"] is True and group["waitForInstancesStatus"] == "UPDATED"
    policy = one(graph, "gcp:compute/regionAutoscaler:RegionAutoscaler")["inputs"]["autoscalingPolicy"]
    assert (policy["minReplicas"], policy["maxReplicas"]) == (stack.app.min_replicas, stack.app.max_replicas)
    backend = one(graph, "gcp:compute/backendService:BackendService")
    checks = {r["urn"]: r["inputs"] for r in resources(graph, "gcp:compute/healthCheck:HealthCheck")}
    lb_checks = [urn for urn in checks if urn.endswith(f"::{stack.name}-app-health")]
    assert len(lb_checks) == 1 and lb_checks[0] in backend["dependencies"]  # the load balancer probes it
    assert checks[lb_checks[0]]["httpHealthCheck"] == {"port": stack.app.port, "requestPath": stack.app.health_path}
    assert backend["inputs"]["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert backend["component"] == ("edge" if env == "prod" else "servers")  # prod: the edge owns the front
    assert not resources(graph, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")  # no domain configured
    template = one(graph, "gcp:compute/instanceTemplate:InstanceTemplate")["inputs"]
    assert template["serviceAccount"]["email"] == f"{stack.name}-vm@{stack.project}.iam.gserviceaccount.com"


def test_servers_without_an_edge_serve_https_on_the_stack_domain() -> None:
    graph = _plan("custom", "dev", domain="api.example.com")
    certificate = one(graph, "gcp:certificatemanager/certificate:Certificate")
    assert certificate["component"] == "servers"
    assert certificate["inputs"]["managed"]["domains"] == ["api.example.com"]
    assert one(graph, "gcp:compute/sSLPolicy:SSLPolicy")["inputs"]["minTlsVersion"] == "TLS_1_2"
    ports = {
        r["inputs"]["portRange"]
        for r in resources(graph, "gcp:compute/globalForwardingRule:GlobalForwardingRule")
    }
    assert ports == {"80", "443"}
    redirect = next(
        m for m in resources(graph, "gcp:compute/uRLMap:URLMap") if "defaultUrlRedirect" in m["inputs"]
    )
    assert redirect["inputs"]["defaultUrlRedirect"]["httpsRedirect"] is True
    assert graph["outputs"]["endpoint"] == "https://api.example.com"


def test_cloud_init_reads_secrets_from_secret_manager_at_start() -> None:
    app = AppSpec(env={"GREETING": "it's $HOME"})
    image = "us-central1-docker.pkg.dev/p/s-images/app@sha256:" + "a" * 64
    text = cloud_init(
        app,
        image,
        {"GREETING": "it's $HOME", "STORAGE_BUCKET": "b"},
        {"DATABASE_URL": "projects/1/secrets/s-DATABASE_URL/versions/3"},
        "europe-west1",
    )
    config = yaml.safe_load(text.removeprefix("#cloud-config\n"))
    script = next(f["content"] for f in config["write_files"] if f["path"] == "/etc/mbops/app.sh")
    assert (
        'DATABASE_URL="$(secret projects/1/secrets/s-DATABASE_URL/versions/3)"; export DATABASE_URL' in script
    )
    assert "export GREETING='it'\"'\"'s $HOME'" in script  # single-quoted: no expansion
    assert f"-e PORT -e GREETING -e STORAGE_BUCKET -e DATABASE_URL {image}" in script  # by digest
    assert "docker-credential-gcr configure-docker --registries=europe-west1-docker.pkg.dev" in text
    assert config["runcmd"] == ["systemctl daemon-reload", "systemctl restart app.service"]


# --- self-hosted database ----------------------------------------------------------------------------------


def test_self_hosted_postgres_is_private_with_its_own_disk() -> None:
    graph = _plan("custom", "prod", components={"database": {"self_hosted": True}})
    assert not resources(graph, "gcp:sql/databaseInstance:DatabaseInstance")
    vm = one(graph, "gcp:compute/instance:Instance")
    assert all("accessConfigs" not in nic for nic in vm["inputs"]["networkInterfaces"])
    assert (
        vm["inputs"]["attachedDisks"][0]["deviceName"] == "pgdata"
        and vm["inputs"]["deletionProtection"] is True
    )
    assert vm["inputs"]["zone"] == "us-central1-a"  # from the planned zones of the region
    script = vm["inputs"]["metadata"]["startup-script"]
    assert (
        "hostssl app app 10.20.0.0/17 scram-sha-256" in script and "gcloud secrets versions access" in script
    )
    disk = one(graph, "gcp:compute/disk:Disk")
    assert disk["inputs"]["resourcePolicies"] == ["[computed]"]  # kept on destroy: see test_gcp_prod
    retention = one(graph, "gcp:compute/resourcePolicy:ResourcePolicy")["inputs"]["snapshotSchedulePolicy"]
    assert retention["retentionPolicy"]["maxRetentionDays"] == 14
    allow = next(
        r for r in resources(graph, "gcp:compute/firewall:Firewall") if r["name"].endswith("allow-postgres")
    )
    assert allow["inputs"]["sourceTags"] == ["custom-prod-app"] and allow["inputs"]["targetTags"] == [
        "custom-prod-db"
    ]
    assert "sourceRanges" not in allow["inputs"]
    # ha: true cannot be honoured on one VM; prod without a domain is HTTP (nat: per_zone is met by one NAT)
    assert [u["kind"] for u in graph["limitations"]] == ["database", "edge"]


# --- saas: auth, push, cdn ---------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_auth_push_cdn_and_declared_gaps(planned, env: str) -> None:
    graph, stack = planned("saas", "gcp", env), _stack("saas", env)
    config = one(graph, "gcp:identityplatform/config:Config")["inputs"]
    assert config["signIn"]["email"] == {"enabled": True, "passwordRequired": True}
    assert config["mfa"]["state"] == ("MANDATORY" if env == "prod" else "ENABLED")
    assert ("localhost" in config["authorizedDomains"]) == (env == "dev")
    key = one(graph, "gcp:projects/apiKey:ApiKey")["inputs"]["restrictions"]["apiTargets"]
    assert {t["service"] for t in key} == {"identitytoolkit.googleapis.com", "securetoken.googleapis.com"}
    assert graph["outputs"]["auth_user_pool_id"] == stack.project
    gaps = {u["kind"]: u for u in graph["limitations"]}
    assert set(gaps) == {"auth"} | ({"edge"} if env == "prod" else set())  # prod: no domain set
    assert "passwordPolicyConfig" in gaps["auth"]["reason"]

    one(graph, "gcp:firebase/project:Project")
    role = one(graph, "gcp:projects/iAMCustomRole:IAMCustomRole")["inputs"]
    assert role["permissions"] == ["cloudmessaging.messages.create"]
    assert graph["outputs"]["push_app"] == stack.project

    backend = one(graph, "gcp:compute/backendBucket:BackendBucket")["inputs"]
    assert (
        backend["enableCdn"] is True and backend["cdnPolicy"]["defaultTtl"] == stack.spec("cdn").default_ttl_s
    )
    assert (
        one(graph, "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey")["inputs"]["keyValue"]
        == "[secret]"
    )
    fill = next(
        r for r in resources(graph, "gcp:storage/bucketIAMMember:BucketIAMMember") if r["component"] == "cdn"
    )
    assert fill["inputs"]["role"] == "roles/storage.objectViewer"
    number = ANSWERS["gcp:organizations/getProject:getProject"]({"projectId": stack.project}, stack.region)[
        "number"
    ]
    assert (
        fill["inputs"]["member"] == f"serviceAccount:service-{number}@cloud-cdn-fill.iam.gserviceaccount.com"
    )


def test_gaps_are_typed_and_partial() -> None:
    stack = _stack("saas", "dev")
    program = make_program(stack)
    run_plan(stack, program=program)
    gap = program.result.gaps["auth"]
    assert set(program.result.gaps) == {"auth"} and gap.partial
    assert "passwordPolicyConfig" in gap.reason and "identitytoolkit.googleapis.com" in gap.alternative


@pytest.mark.parametrize("profile,kind", [("custom", "servers"), ("managed", "containers")])
def test_apps_in_the_vpc_need_the_network(profile: str, kind: str) -> None:
    stack = _stack(profile, "dev")
    kept = {k: v for k, v in stack.components.items() if k not in ("network", "database", "cache")}
    with pytest.raises(ConfigError, match=f"components.{kind}: needs components.network"):
        plan(stack.model_copy(update={"components": kept}), with_policy=False, with_cost=False)


def test_push_registers_apps_and_reports_apns_upload() -> None:
    push = {
        "platform": "apns",
        "overrides": {
            "android_app": {"package_name": "com.example.notes"},
            "apple_app": {"bundle_id": "com.example.notes"},
        },
    }
    graph = _plan("saas", "dev", components={"push": push})
    assert one(graph, "gcp:firebase/androidApp:AndroidApp")["inputs"]["packageName"] == "com.example.notes"
    assert one(graph, "gcp:firebase/appleApp:AppleApp")["inputs"]["bundleId"] == "com.example.notes"
    gaps = {u["kind"]: u for u in graph["limitations"]}
    assert set(gaps) == {"auth", "push"} and "APNs auth key" in gaps["push"]["reason"]
    with pytest.raises(ConfigError, match="package_name"):
        _plan("saas", "dev", components={"push": {"overrides": {"android_app": {}}}})


# --- app secrets (app.secret_env) -------------------------------------------------------------------------


def test_app_secrets_are_stored_and_read_by_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBOPS_TEST_API_KEY", "s3cr3t-value-never-in-the-graph")
    graph = _plan("managed", "dev", app={"secret_env": {"API_KEY": "env:MBOPS_TEST_API_KEY"}})
    secret = next(
        s for s in resources(graph, "gcp:secretmanager/secret:Secret") if s["component"] == "secrets"
    )
    assert secret["inputs"]["secretId"] == "managed-dev-API_KEY"
    assert secret["inputs"]["versionDestroyTtl"] == f"{7 * 86400}s"
    assert "s3cr3t-value-never-in-the-graph" not in json.dumps(graph)
    envs = {e["name"]: e for e in _app_envs(graph)}
    assert envs["API_KEY"]["valueSource"]["secretKeyRef"]["secret"] == "managed-dev-API_KEY"


def test_unset_secret_variable_plans_with_a_placeholder_but_never_deploys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MBOPS_TEST_UNSET", raising=False)
    graph = _plan("saas", "dev", app={"secret_env": {"API_KEY": "env:MBOPS_TEST_UNSET"}})
    version = next(
        v
        for v in resources(graph, "gcp:secretmanager/secretVersion:SecretVersion")
        if v["component"] == "secrets"
    )
    assert version["inputs"]["secretData"] == "[secret]"


def test_gcp_wired_env_names_are_reserved() -> None:
    with pytest.raises(MbopsError, match="REDIS_CA_CERT is set by mbops on gcp"):
        _plan("managed", "dev", app={"env": {"REDIS_CA_CERT": "x"}})


# --- pure helpers ------------------------------------------------------------------------------------------


def test_labels_and_names_are_valid_for_gcp() -> None:
    assert gcp_labels({"Team": "Platform Ops", "managed-by": "mbops"}) == {
        "team": "platform_ops",
        "managed-by": "mbops",
    }
    assert gcp_labels({"1st": "x" * 70}) == {"k1st": "x" * 63}
    name = gcp_name("a-very-long-stack-name-that-goes-on", "postgres", limit=30)
    assert (
        len(name) <= 30
        and name[0].isalpha()
        and name == gcp_name("a-very-long-stack-name-that-goes-on", "postgres", limit=30)
    )
    assert gcp_name("9lives", "app") == "x9lives-app"


def test_cloud_run_limits_round_to_allowed_shapes() -> None:
    assert cloud_run_limits(0.25, 512) == {"cpu": "1", "memory": "512Mi"}
    assert cloud_run_limits(1, 6144) == {"cpu": "2", "memory": "6144Mi"}
    assert cloud_run_limits(3, 1024) == {"cpu": "4", "memory": "2048Mi"}
    with pytest.raises(ConfigError, match="at most 8 vCPU"):
        cloud_run_limits(16, 1024)


def test_images_and_ranges_and_versions() -> None:
    assert split_image("ghcr.io/org/app:1") == ("ghcr.io", "org/app:1")
    assert split_image("nginx:1.27") == ("docker.io", "nginx:1.27")
    assert split_image("library/nginx") == ("docker.io", "library/nginx")
    assert split_image("localhost:5000/app") == ("localhost:5000", "app")
    assert plan_ranges("10.20.0.0/16") == ("10.20.0.0/17", "10.20.128.0/17")
    assert plan_ranges("10.20.0.0/24") == ("10.20.0.0/24", None)
    assert redis_version("7.1") == "REDIS_7_2"
    with pytest.raises(ConfigError, match="allowed:"):
        redis_version("8.0")


def test_zone_answers_follow_the_region() -> None:
    zones = ANSWERS["gcp:compute/getZones:getZones"]
    assert zones({"region": "europe-west1"}, "us-central1")["names"] == [
        "europe-west1-b",
        "europe-west1-c",
        "europe-west1-d",
    ]
    assert zones({}, "asia-east1")["names"][0] == "asia-east1-a"
