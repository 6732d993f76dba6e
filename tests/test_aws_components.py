"""The AWS components, read from planned graphs of the real program (embedded engine, no cloud).

Most tests read the preview graph (``planned``), where values computed by AWS are ``[computed]``. Policy
documents, container definitions and user data embed ARNs, so they are only known after a deployment: the
``deployed`` fixture runs the same program as an update on the embedded engine with a fake cloud that echoes
inputs and gives every resource an ARN, and those tests read the resolved inputs.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import os
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
import yaml

from mbops.components.aws.containers import fargate_size
from mbops.engine import fakes
from mbops.engine.embedded import Registration, run_program
from mbops.engine.plan import PROJECT, graph_of, plan
from mbops.errors import ConfigError
from mbops.stacks.config import resolve
from mbops.stacks.program import make_program
from tests.conftest import ENVIRONMENTS, PROFILES, one, resources

ALL = [(p, e) for p in PROFILES for e in ENVIRONMENTS]
WITH_NETWORK = [(p, e) for p in ("managed", "custom") for e in ENVIRONMENTS]

RDS = "aws:rds/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LISTENER = "aws:lb/listener:Listener"

EXPECTED_TYPES = {
    "saas": {
        "aws:lambda/function:Function",
        "aws:lambda/permission:Permission",
        "aws:apigatewayv2/api:Api",
        "aws:apigatewayv2/integration:Integration",
        "aws:apigatewayv2/route:Route",
        "aws:apigatewayv2/stage:Stage",
        "aws:dynamodb/table:Table",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:cognito/userPool:UserPool",
        "aws:cognito/userPoolClient:UserPoolClient",
        "aws:cognito/userPoolDomain:UserPoolDomain",
        "aws:sns/platformApplication:PlatformApplication",
        "aws:sns/topic:Topic",
        "aws:cloudfront/distribution:Distribution",
        "aws:cloudfront/originAccessControl:OriginAccessControl",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role",
        ROLE_POLICY,
    },
    "managed": {
        "aws:ec2/vpc:Vpc",
        SUBNET,
        "aws:ec2/natGateway:NatGateway",
        "aws:ecs/cluster:Cluster",
        TASK_DEF,
        "aws:ecs/service:Service",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        LISTENER,
        "aws:appautoscaling/target:Target",
        "aws:appautoscaling/policy:Policy",
        RDS,
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:secretsmanager/secret:Secret",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "random:index/randomPassword:RandomPassword",
        "aws:s3/bucket:Bucket",
    },
    "custom": {
        "aws:ec2/vpc:Vpc",
        SUBNET,
        LAUNCH_TEMPLATE,
        "aws:autoscaling/group:Group",
        "aws:autoscaling/policy:Policy",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:lb/loadBalancer:LoadBalancer",
        LISTENER,
        RDS,
        "aws:secretsmanager/secret:Secret",
        "aws:s3/bucket:Bucket",
    },
}
NOT_EXPECTED = {
    "saas": {"aws:ec2/vpc:Vpc", RDS, "aws:ecs/service:Service", LAUNCH_TEMPLATE},
    "managed": {LAUNCH_TEMPLATE, "aws:dynamodb/table:Table", "aws:apigatewayv2/api:Api"},
    "custom": {
        "aws:ecs/service:Service",
        "aws:apigatewayv2/api:Api",
        "aws:elasticache/replicationGroup:ReplicationGroup",
    },
}
OUTPUTS = {
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
        "logs",
    },
    "managed": {"endpoint", "database_host", "database_name", "bucket", "redis_host", "secrets_store", "registry",
                "logs"},
    "custom": {"endpoint", "database_host", "database_name", "bucket", "secrets_store", "registry", "logs"},
}
PROD_OUTPUTS = {"alerts_topic"}  # monitoring is on in prod
ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/notes-app:0.1.0"


@cache
def _variant(profile: str, environment: str, components_json: str, app_json: str = "{}") -> dict[str, Any]:
    stack = resolve(
        profile=profile,
        cloud="aws",
        environment=environment,
        components=json.loads(components_json),
        app=json.loads(app_json),
    )
    return plan(stack, with_policy=False, with_cost=False)


def variant(profile: str, environment: str, components: dict[str, Any]) -> dict[str, Any]:
    """A plan of a built-in profile with component settings changed (cached)."""
    return _variant(profile, environment, json.dumps(components, sort_keys=True))


def stack_tags(profile: str, environment: str) -> dict[str, str]:
    return resolve(profile=profile, cloud="aws", environment=environment).tags


def by_name(graph: dict[str, Any], type_token: str, suffix: str) -> dict[str, Any]:
    found = [r for r in resources(graph, type_token) if r["name"].endswith(suffix)]
    assert len(found) == 1, f"{type_token} *{suffix}: {[r['name'] for r in resources(graph, type_token)]}"
    return found[0]


def urns(graph: dict[str, Any], type_token: str, suffix: str = "") -> set[str]:
    return {r["urn"] for r in resources(graph, type_token) if r["name"].endswith(suffix)}


# ---- deployed graphs: the program run as an update against a fake cloud that echoes ------------------


class EchoCloud:
    """Answers registrations like a minimal cloud: inputs echoed, plus an id, an ARN and addresses."""

    ACCOUNT = "123456789012"

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        name, service = reg.name, reg.type.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:{self.region}:{self.ACCOUNT}:{name}"
        if reg.type == "aws:sns/platformApplication:PlatformApplication":
            arn = f"arn:aws:sns:{self.region}:{self.ACCOUNT}:app/GCM/{name}"
        outputs = dict(reg.deserialized)
        outputs.update(
            {
                "id": f"{name}-id",
                "arn": arn,
                "name": reg.deserialized.get("name") or name,
                "bucket": name,
                "address": f"{name}.rds.example",
                "primaryEndpointAddress": f"{name}.cache.example",
                "privateIp": "10.20.3.4",
                "dnsName": f"{name}.elb.example",
                "domainName": f"{name}.cloudfront.example",
                "apiEndpoint": f"https://{name}.execute-api.example",
                "executionArn": arn,
                "result": f"generated-{name}",
                "bucketRegionalDomainName": f"{name}.s3.example",
                "latestVersion": 3,
                "cidrBlock": "10.20.0.0/16",
                "availabilityZone": f"{self.region}a",
            }
        )
        return f"{name}-id", outputs

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        return fakes.answer(token, args, self.region)


SECRET_ENV = {"API_KEY": "env:MBOPS_TEST_API_KEY", "PUSH_CREDENTIAL": "env:MBOPS_TEST_PUSH_CREDENTIAL"}
SECRET_VALUES = {
    "MBOPS_TEST_API_KEY": "api-key-value-7f3a",
    "MBOPS_TEST_PUSH_CREDENTIAL": "fcm-json-value-91c2",
}


@pytest.fixture(scope="session")
def deployed() -> Iterator[Callable[[str, str], dict[str, Any]]]:
    """deployed(profile, env) -> graph of an update on the echo cloud, with app secrets and an ECR image."""
    saved = {k: os.environ.get(k) for k in SECRET_VALUES}
    os.environ.update(SECRET_VALUES)

    @cache
    def run(profile: str, environment: str) -> dict[str, Any]:
        stack = resolve(
            profile=profile,
            cloud="aws",
            environment=environment,
            app={"image": ECR_IMAGE, "secret_env": SECRET_ENV},
            components={"auth": {"callback_urls": ["com.example.notes://callback"]}} if profile == "saas" else {},
        )
        record = run_program(
            make_program(stack), EchoCloud(stack.region), project=PROJECT, stack=stack.name, dry_run=False
        )
        return graph_of(stack, record)

    yield run
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def policy_documents(graph: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    docs = [(r["name"], json.loads(r["inputs"]["policy"])) for r in resources(graph, ROLE_POLICY)]
    docs += [(r["name"], json.loads(r["inputs"]["assumeRolePolicy"])) for r in resources(graph, "aws:iam/role:Role")]
    return docs


def container(graph: dict[str, Any], name: str = "app") -> dict[str, Any]:
    (definition,) = [d for d in json.loads(one(graph, TASK_DEF)["inputs"]["containerDefinitions"]) if d["name"] == name]
    return definition


# ---- every profile and environment ---------------------------------------------------------------


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_every_profile_plans_with_its_resource_types(planned, profile: str, env: str) -> None:
    types = {r["type"] for r in planned(profile, "aws", env)["resources"]}
    assert EXPECTED_TYPES[profile] <= types, sorted(EXPECTED_TYPES[profile] - types)
    assert not NOT_EXPECTED[profile] & types


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_stack_outputs_are_the_cross_cloud_contract(planned, profile: str, env: str) -> None:
    graph = planned(profile, "aws", env)
    assert set(graph["outputs"]) == OUTPUTS[profile] | (PROD_OUTPUTS if env == "prod" else set())
    assert graph["unavailable"] == []  # AWS provides every kind


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_every_child_is_parented_to_a_component_of_its_kind(planned, profile: str, env: str) -> None:
    graph = planned(profile, "aws", env)
    components = {r["urn"] for r in graph["resources"] if r["type"].startswith("mbops:aws:")}
    for r in graph["resources"]:
        if r["custom"]:
            assert r["parent"] in components, r["urn"]
            assert r["component"], r["urn"]


def _args_class(type_token: str) -> type | None:
    package, module, name = (
        type_token.split(":")[0],
        type_token.split(":")[1].split("/")[0],
        type_token.split(":")[2],
    )
    if package != "aws":
        return None
    try:
        mod = importlib.import_module(f"pulumi_aws.{module}")
    except ModuleNotFoundError:
        mod = importlib.import_module(f"pulumi_aws.{module}_")
    return getattr(mod, f"{name}Args")


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_every_taggable_resource_carries_the_stack_tags(planned, profile: str, env: str) -> None:
    tags = stack_tags(profile, env)
    untagged = []
    for r in planned(profile, "aws", env)["resources"]:
        args = _args_class(r["type"]) if r["custom"] else None
        if args is None or "tags" not in inspect.signature(args.__init__).parameters:
            continue
        got = r["inputs"].get("tags")
        if isinstance(got, list):  # auto scaling groups: [{key, value, propagateAtLaunch}]
            got = {t["key"]: t["value"] for t in got}
        if not got or any(got.get(k) != v for k, v in tags.items()):
            untagged.append(r["name"])
    assert untagged == []


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_every_log_group_has_a_retention(planned, profile: str, env: str) -> None:
    groups = resources(planned(profile, "aws", env), "aws:cloudwatch/logGroup:LogGroup")
    assert groups
    assert all(isinstance(g["inputs"].get("retentionInDays"), int) for g in groups), [g["name"] for g in groups]


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_bucket_is_private_encrypted_and_versioned(planned, profile: str, env: str) -> None:
    graph = planned(profile, "aws", env)
    block = by_name(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "-files-public-access-block")[
        "inputs"
    ]
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[f] is True for f in flags)
    (rule,) = by_name(
        graph,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "-files-encryption",
    )["inputs"]["rules"]
    # OAC cannot decrypt objects under the AWS managed aws/s3 key: a CDN origin uses SSE-S3.
    expected = "AES256" if profile == "saas" else "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == expected
    versioning = one(graph, "aws:s3/bucketVersioning:BucketVersioning")["inputs"]
    assert versioning["versioningConfiguration"]["status"] == "Enabled"


@pytest.mark.parametrize(("profile", "env"), WITH_NETWORK)
def test_only_the_load_balancer_group_is_open_to_the_internet_on_80_and_443(planned, profile: str, env: str) -> None:
    open_rules = [
        (g["name"], rule["fromPort"], rule["toPort"])
        for g in resources(planned(profile, "aws", env), SG)
        for rule in g["inputs"].get("ingress", [])
        if "0.0.0.0/0" in rule.get("cidrBlocks", []) or "::/0" in rule.get("ipv6CidrBlocks", [])
    ]
    assert {n for n, _, _ in open_rules} == {f"{profile}-{env}-net-lb-sg"}
    assert sorted((f, t) for _, f, t in open_rules) == [(80, 80), (443, 443)]


# ---- database -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "env"), WITH_NETWORK)
def test_rds_is_encrypted_private_and_tls_only(planned, profile: str, env: str) -> None:
    graph = planned(profile, "aws", env)
    db = one(graph, RDS)["inputs"]
    assert db["storageEncrypted"] is True and db["publiclyAccessible"] is False
    assert db["storageType"] == "gp3" and db["maxAllocatedStorage"] >= db["allocatedStorage"]
    assert db["iamDatabaseAuthenticationEnabled"] and db["performanceInsightsEnabled"]
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    params = one(graph, "aws:rds/parameterGroup:ParameterGroup")["inputs"]["parameters"]
    assert {"name": "rds.force_ssl", "value": "1"} in params


@pytest.mark.parametrize(("profile", "env"), WITH_NETWORK)
def test_rds_master_password_is_a_secret(planned, profile: str, env: str) -> None:
    assert one(planned(profile, "aws", env), RDS)["inputs"]["password"] == "[secret]"


@pytest.mark.parametrize(("profile", "env"), WITH_NETWORK)
def test_rds_subnet_group_holds_exactly_the_private_subnets(planned, profile: str, env: str) -> None:
    graph = planned(profile, "aws", env)
    group = one(graph, "aws:rds/subnetGroup:SubnetGroup")
    assert set(group["dependencies"]) == urns(graph, SUBNET) - {u for u in urns(graph, SUBNET) if "-public-" in u}
    assert group["urn"] in one(graph, RDS)["dependencies"]


@pytest.mark.parametrize(("profile", "env"), WITH_NETWORK)
def test_database_group_admits_5432_from_the_app_group_only(planned, profile: str, env: str) -> None:
    """The app tier and the database's own role bootstrap function: no address range."""
    graph = planned(profile, "aws", env)
    db_sg = by_name(graph, SG, "-db-sg")
    rules = db_sg["inputs"]["ingress"]
    assert [r["description"] for r in rules] == ["app to PostgreSQL", "role bootstrap function to PostgreSQL"]
    for rule in rules:
        assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (5432, 5432, "tcp")
        assert "cidrBlocks" not in rule and len(rule["securityGroups"]) == 1
    assert {by_name(graph, SG, "-net-app-sg")["urn"], by_name(graph, SG, "-db-role-fn-sg")["urn"]} <= set(
        db_sg["dependencies"])  # fmt: skip
    assert db_sg["inputs"]["egress"] == []


@pytest.mark.parametrize("profile", ["managed", "custom"])
def test_prod_database_is_highly_available_protected_and_snapshotted(planned, profile: str) -> None:
    db = one(planned(profile, "aws", "prod"), RDS)
    inputs = db["inputs"]
    assert inputs["multiAz"] is True and inputs["deletionProtection"] is True
    assert inputs["backupRetentionPeriod"] >= 7
    assert inputs["skipFinalSnapshot"] is False and inputs["finalSnapshotIdentifier"]
    assert db["protect"] is True


@pytest.mark.parametrize("profile", ["managed", "custom"])
def test_dev_database_is_small_and_leaves_no_final_snapshot(planned, profile: str) -> None:
    db = one(planned(profile, "aws", "dev"), RDS)
    assert db["inputs"]["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db["inputs"]
    assert db["inputs"]["multiAz"] is False and db["inputs"]["deletionProtection"] is False


def test_database_size_maps_to_instance_classes(planned) -> None:
    assert one(planned("managed", "aws", "dev"), RDS)["inputs"]["instanceClass"] == "db.t4g.micro"
    assert one(planned("managed", "aws", "prod"), RDS)["inputs"]["instanceClass"] == "db.t4g.medium"
    assert one(variant("managed", "dev", {"database": {"size": "large"}}), RDS)["inputs"]["instanceClass"] == (
        "db.r6g.large"
    )


def test_override_changes_the_planned_instance_input() -> None:
    graph = variant("managed", "dev", {"database": {"overrides": {"instance": {"instance_class": "db.m7g.large"}}}})
    assert one(graph, RDS)["inputs"]["instanceClass"] == "db.m7g.large"


def test_misspelt_override_child_is_a_config_error_listing_the_children() -> None:
    with pytest.raises(ConfigError) as err:
        variant("managed", "dev", {"database": {"overrides": {"instnace": {"instance_class": "db.m7g.large"}}}})
    message = str(err.value)
    assert "components.database.overrides: no child resource named instnace" in message
    for child in ("instance", "parameter_group", "security_group", "subnet_group", "url_secret"):
        assert child in message


def test_self_hosted_database_runs_on_a_hardened_vm_with_an_encrypted_data_volume() -> None:
    graph = variant("custom", "prod", {"database": {"self_hosted": True}})
    assert not resources(graph, RDS)
    vm = one(graph, "aws:ec2/instance:Instance")
    assert vm["inputs"]["metadataOptions"]["httpTokens"] == "required"
    assert vm["inputs"]["rootBlockDevice"]["encrypted"] is True
    assert vm["inputs"]["associatePublicIpAddress"] is False
    volume = one(graph, "aws:ebs/volume:Volume")
    assert volume["inputs"]["encrypted"] is True and volume["inputs"]["type"] == "gp3" and volume["protect"]
    attachment = one(graph, "aws:ec2/volumeAttachment:VolumeAttachment")
    assert {vm["urn"], volume["urn"]} <= set(attachment["dependencies"])
    (rule,) = by_name(graph, SG, "-db-sg")["inputs"]["ingress"]
    assert rule["fromPort"] == 5432 and "cidrBlocks" not in rule
    backups = one(graph, "aws:dlm/lifecyclePolicy:LifecyclePolicy")["inputs"]["policyDetails"]
    assert backups["schedules"][0]["retainRule"]["count"] == 14
    assert one(graph, "aws:secretsmanager/secretVersion:SecretVersion")["inputs"]["secretString"] == "[secret]"


# ---- cache, document table, auth, push, CDN ---------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_redis_is_encrypted_in_transit_and_at_rest_with_a_secret_token(planned, env: str) -> None:
    redis = one(planned("managed", "aws", env), "aws:elasticache/replicationGroup:ReplicationGroup")["inputs"]
    assert redis["transitEncryptionEnabled"] is True and redis["atRestEncryptionEnabled"] is True
    assert redis["authToken"] == "[secret]"


def test_prod_redis_fails_over_across_zones_and_keeps_snapshots(planned) -> None:
    prod = one(planned("managed", "aws", "prod"), "aws:elasticache/replicationGroup:ReplicationGroup")["inputs"]
    dev = one(planned("managed", "aws", "dev"), "aws:elasticache/replicationGroup:ReplicationGroup")["inputs"]
    assert (prod["numCacheClusters"], prod["automaticFailoverEnabled"], prod["multiAzEnabled"]) == (
        2,
        True,
        True,
    )
    assert prod["snapshotRetentionLimit"] >= 1
    assert (dev["numCacheClusters"], dev["automaticFailoverEnabled"]) == (1, False)


def test_redis_group_admits_6379_from_the_app_group_only(planned) -> None:
    graph = planned("managed", "aws", "dev")
    sg = by_name(graph, SG, "-cache-sg")
    (rule,) = sg["inputs"]["ingress"]
    assert (rule["fromPort"], rule["toPort"]) == (6379, 6379) and "cidrBlocks" not in rule
    assert by_name(graph, SG, "-net-app-sg")["urn"] in sg["dependencies"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_document_table_is_on_demand_encrypted_and_recoverable(planned, env: str) -> None:
    table = one(planned("saas", "aws", env), "aws:dynamodb/table:Table")
    inputs = table["inputs"]
    assert inputs["billingMode"] == "PAY_PER_REQUEST"
    assert inputs["pointInTimeRecovery"]["enabled"] is True and inputs["serverSideEncryption"]["enabled"] is True
    assert (inputs["hashKey"], inputs["rangeKey"]) == ("pk", "sk")
    assert inputs["deletionProtectionEnabled"] is (env == "prod") and table["protect"] is (env == "prod")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cdn_redirects_to_https_and_reads_the_bucket_through_oac(planned, env: str) -> None:
    graph = planned("saas", "aws", env)
    distribution = by_name(graph, "aws:cloudfront/distribution:Distribution", "-cdn-distribution")
    dist = distribution["inputs"]
    assert dist["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    # The *.cloudfront.net certificate takes no minimum: any other value than TLSv1 would drift.
    assert dist["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert dist["priceClass"] == {"dev": "PriceClass_100", "prod": "PriceClass_200"}[env]
    oac = one(graph, "aws:cloudfront/originAccessControl:OriginAccessControl")
    assert (oac["inputs"]["signingBehavior"], oac["inputs"]["signingProtocol"]) == ("always", "sigv4")
    assert oac["urn"] in distribution["dependencies"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_user_pool_enforces_passwords_and_mfa_and_the_client_has_no_secret(planned, env: str) -> None:
    graph = planned("saas", "aws", env)
    pool = one(graph, "aws:cognito/userPool:UserPool")["inputs"]
    assert pool["passwordPolicy"]["minimumLength"] == 12 and pool["usernameAttributes"] == ["email"]
    assert pool["mfaConfiguration"] == {"dev": "OPTIONAL", "prod": "ON"}[env]
    assert pool["softwareTokenMfaConfiguration"]["enabled"] is True
    assert pool["deletionProtection"] == {"dev": "INACTIVE", "prod": "ACTIVE"}[env]
    client = one(graph, "aws:cognito/userPoolClient:UserPoolClient")["inputs"]
    assert client["generateSecret"] is False and client["allowedOauthFlows"] == ["code"]
    assert client["callbackUrls"] == ["myapp://callback"]


def test_push_credential_is_a_secret_and_the_topic_is_encrypted(planned) -> None:
    graph = planned("saas", "aws", "dev")
    app = one(graph, "aws:sns/platformApplication:PlatformApplication")["inputs"]
    assert app["platform"] == "GCM" and app["platformCredential"] == "[secret]"
    assert one(graph, "aws:sns/topic:Topic")["inputs"]["kmsMasterKeyId"] == "alias/aws/sns"


# ---- the app: servers, containers, serverless --------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume(planned, env: str) -> None:
    lt = one(planned("custom", "aws", env), LAUNCH_TEMPLATE)["inputs"]
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (root,) = lt["blockDeviceMappings"]
    # The provider declares ebs.encrypted as a string (a tri-state: "true", "false", unset).
    assert root["ebs"]["encrypted"] == "true" and root["ebs"]["volumeType"] == "gp3"
    assert lt["instanceType"] == {"dev": "t3.small", "prod": "t3.medium"}[env]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_auto_scaling_group_follows_replicas_with_elb_health_checks(planned, env: str) -> None:
    graph = planned("custom", "aws", env)
    asg = one(graph, "aws:autoscaling/group:Group")["inputs"]
    app = resolve(profile="custom", cloud="aws", environment=env).app
    assert (asg["minSize"], asg["maxSize"]) == (app.min_replicas, app.max_replicas)
    assert asg["healthCheckType"] == "ELB"
    policy = one(graph, "aws:autoscaling/policy:Policy")["inputs"]
    metric = policy["targetTrackingConfiguration"]["predefinedMetricSpecification"]["predefinedMetricType"]
    assert metric == "ASGAverageCPUUtilization"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_fargate_service_runs_private_and_autoscales(planned, env: str) -> None:
    graph = planned("managed", "aws", env)
    service = one(graph, "aws:ecs/service:Service")["inputs"]
    assert service["launchType"] == "FARGATE"
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["waitForSteadyState"] is True  # `pulumi up` fails when the tasks do
    app = resolve(profile="managed", cloud="aws", environment=env).app
    target = one(graph, "aws:appautoscaling/target:Target")["inputs"]
    assert (target["minCapacity"], target["maxCapacity"]) == (app.min_replicas, app.max_replicas)
    assert one(graph, "aws:ecs/cluster:Cluster")["inputs"]["settings"] == [
        {"name": "containerInsights", "value": "enabled"}
    ]


def test_load_balancer_without_a_certificate_serves_http_only(planned) -> None:
    graph = planned("managed", "aws", "dev")
    (listener,) = resources(graph, LISTENER)
    assert listener["inputs"]["port"] == 80 and listener["inputs"]["defaultActions"][0]["type"] == "forward"


def test_load_balancer_with_a_certificate_arn_serves_https_and_redirects_http() -> None:
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    graph = variant("managed", "dev", {"containers": {"https_certificate": cert}})
    listeners = {r["inputs"]["port"]: r["inputs"] for r in resources(graph, LISTENER)}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["certificateArn"] == cert
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_lambda_runs_the_image_behind_a_logged_http_api(planned, env: str) -> None:
    graph = planned("saas", "aws", env)
    fn = by_name(graph, "aws:lambda/function:Function", "-app-fn")["inputs"]
    assert fn["packageType"] == "Image"
    # Reserved concurrency needs an account quota of the reservation + 100: opt-in (overrides), not a default.
    assert "reservedConcurrentExecutions" not in fn
    stage = one(graph, "aws:apigatewayv2/stage:Stage")["inputs"]
    assert stage["name"] == "$default" and stage["accessLogSettings"]["format"]
    permission = by_name(graph, "aws:lambda/permission:Permission", "-app-invoke")["inputs"]
    assert permission["principal"] == "apigateway.amazonaws.com"


def test_fargate_sizes_are_checked() -> None:
    assert fargate_size(0.5, 1024) == (512, 1024)
    with pytest.raises(ConfigError, match=r"app\.cpu: Fargate runs .*got 0.3"):
        fargate_size(0.3, 1024)
    with pytest.raises(ConfigError, match=r"app\.memory_mb: with app\.cpu 0.25, Fargate allows 512\.\.2048"):
        fargate_size(0.25, 4096)


def test_an_impossible_fargate_size_fails_the_plan_with_a_config_error() -> None:
    stack = resolve(profile="managed", cloud="aws", environment="dev", app={"cpu": 0.25, "memory_mb": 8192})
    with pytest.raises(ConfigError, match="app.memory_mb"):
        plan(stack, with_policy=False, with_cost=False)


# ---- deployed: documents that embed ARNs ----------------------------------------------------------------


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_no_policy_allows_every_action(deployed, profile: str, env: str) -> None:
    docs = policy_documents(deployed(profile, env))
    assert docs
    for name, doc in docs:
        for statement in doc["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(a != "*" and not a.endswith(":*") for a in actions), (name, actions)


@pytest.mark.parametrize("profile", PROFILES)
def test_app_role_may_read_exactly_the_stack_secrets(deployed, profile: str) -> None:
    graph = deployed(profile, "dev")
    secret_arns = {
        r["name"]: f"arn:aws:secretsmanager:us-east-1:123456789012:{r['name']}"
        for r in resources(graph, "aws:secretsmanager/secret:Secret")
    }
    # The app's own identity: the task role, the instance role, the function role (not ECS's execution role,
    # which injects the secrets, nor the origin authorizer's).
    app_policies = [
        json.loads(r["inputs"]["policy"])
        for r in resources(graph, ROLE_POLICY)
        if r["component"] in ("containers", "servers", "serverless") and "-execution-role" not in r["name"]
    ]
    readable = {
        arn
        for doc in app_policies
        for st in doc["Statement"]
        if "secretsmanager:GetSecretValue" in st["Action"]
        for arn in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    }
    admin = {arn for name, arn in secret_arns.items() if "-admin-url" in name}
    # The database admin URL is read by the database's role bootstrap function alone (tests/test_aws_prod.py).
    assert readable == set(secret_arns.values()) - admin


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_container_gets_wiring_as_env_and_secrets_by_reference(deployed, env: str) -> None:
    graph = deployed("managed", env)
    definition = container(graph)
    env_names = {e["name"]: e["value"] for e in definition["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in definition["secrets"]}
    assert {"DATABASE_URL", "REDIS_URL", "API_KEY"} <= set(secrets) and not {
        "DATABASE_URL",
        "REDIS_URL",
    } & set(env_names)
    assert all(v.startswith("arn:aws:secretsmanager:") for v in secrets.values())
    assert env_names["PORT"] == "8080" and env_names["STORAGE_BUCKET"] == "managed-" + env + "-files-bucket"
    assert definition["readonlyRootFilesystem"] is True
    assert SECRET_VALUES["MBOPS_TEST_API_KEY"] not in json.dumps(definition)


def test_task_execution_role_may_inject_only_the_stack_secrets(deployed) -> None:
    graph = deployed("managed", "dev")
    policy = json.loads(by_name(graph, ROLE_POLICY, "-execution-role-policy")["inputs"]["policy"])
    statement = {st["Sid"]: st for st in policy["Statement"]}["InjectSecrets"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    injected = {s["valueFrom"] for s in container(graph)["secrets"]}
    assert set(statement["Resource"]) == injected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_server_user_data_fetches_secrets_at_boot_and_holds_no_values(deployed, env: str) -> None:
    graph = deployed("custom", env)
    user_data = base64.b64decode(one(graph, LAUNCH_TEMPLATE)["inputs"]["userData"]).decode()
    assert user_data.startswith("#cloud-config\n")
    document = yaml.safe_load(user_data)
    assert ["dnf", "install", "-y", "docker"] in document["runcmd"]
    assert ["systemctl", "enable", "--now", "mbops-app.service"] in document["runcmd"]
    files = {f["path"]: f for f in document["write_files"]}
    assert files["/etc/mbops/secrets"]["permissions"] == "0600"
    assert "aws secretsmanager get-secret-value" in files["/usr/local/sbin/mbops-app-env"]["content"]
    assert "DATABASE_URL arn:aws:secretsmanager:" in user_data and "API_KEY arn:aws:secretsmanager:" in user_data
    assert "generated-" not in user_data  # no generated password
    assert all(value not in user_data for value in SECRET_VALUES.values())
    assert (
        f"IMAGE={ECR_IMAGE}" in user_data and "ECR_REGISTRY=123456789012.dkr.ecr.us-east-1.amazonaws.com" in user_data
    )


def test_server_role_pulls_only_its_ecr_repository(deployed) -> None:
    graph = deployed("custom", "dev")
    policy = json.loads(by_name(graph, ROLE_POLICY, "-app-role-policy")["inputs"]["policy"])
    pull = next(s for s in policy["Statement"] if s["Sid"] == "PullAppImage")
    assert pull["Resource"] == ["arn:aws:ecr:us-east-1:123456789012:repository/notes-app"]


def test_lambda_gets_secret_arns_never_secret_values(deployed) -> None:
    variables = by_name(deployed("saas", "dev"), "aws:lambda/function:Function", "-app-fn")["inputs"]["environment"][
        "variables"
    ]
    assert variables["API_KEY_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    assert "API_KEY" not in variables
    assert all(value not in json.dumps(variables) for value in SECRET_VALUES.values())
    for key in (
        "STORAGE_BUCKET",
        "DOCUMENT_TABLE",
        "CDN_URL",
        "AUTH_USER_POOL_ID",
        "AUTH_CLIENT_ID",
        "PUSH_PLATFORM_APP",
    ):
        assert variables[key], key


def test_cdn_bucket_policy_keeps_tls_only_and_lets_just_the_distribution_read(deployed) -> None:
    graph = deployed("saas", "dev")
    policy = json.loads(one(graph, "aws:s3/bucketPolicy:BucketPolicy")["inputs"]["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    read = statements["AllowCloudFrontRead"]
    distribution_arn = "arn:aws:cloudfront:us-east-1:123456789012:saas-dev-cdn-distribution"
    assert read["Action"] == "s3:GetObject" and read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution_arn}}


def test_app_secret_values_are_stored_under_the_stack_prefix(deployed) -> None:
    graph = deployed("managed", "dev")
    names = {r["inputs"]["namePrefix"] for r in resources(graph, "aws:secretsmanager/secret:Secret")}
    assert names == {
        f"mbops/managed-dev/{n}-"
        for n in ("API_KEY", "PUSH_CREDENTIAL", "DATABASE_URL", "DATABASE_ADMIN_URL", "REDIS_URL")
    }
    assert graph["outputs"]["secrets_store"] == "mbops/managed-dev/"


@pytest.mark.parametrize(("profile", "env"), ALL)
def test_secret_store_groups_every_secret_of_the_stack(planned, profile: str, env: str) -> None:
    graph = planned(profile, "aws", env)
    query = json.loads(one(graph, "aws:resourcegroups/group:Group")["inputs"]["resourceQuery"]["query"])
    assert query["ResourceTypeFilters"] == ["AWS::SecretsManager::Secret"]
    (tag_filter,) = query["TagFilters"]
    prefix = f"mbops/{profile}-{env}/"
    assert tag_filter == {"Key": "mbops-secrets-store", "Values": [prefix]}
    for secret in resources(graph, "aws:secretsmanager/secret:Secret"):
        assert secret["inputs"]["tags"]["mbops-secrets-store"] == prefix
        assert secret["inputs"]["namePrefix"].startswith(prefix)
        assert secret["inputs"]["kmsKeyId"] == "alias/aws/secretsmanager"


def test_a_missing_secret_value_warns_in_a_plan_and_stops_a_deployment(monkeypatch) -> None:
    monkeypatch.delenv("MBOPS_TEST_MISSING", raising=False)
    stack = resolve(
        profile="managed", cloud="aws", environment="dev", app={"secret_env": {"X": "env:MBOPS_TEST_MISSING"}}
    )
    graph = plan(stack, with_policy=False, with_cost=False)
    version = by_name(graph, "aws:secretsmanager/secretVersion:SecretVersion", "-x-version")
    assert version["inputs"]["secretString"] == "[secret]"
    with pytest.raises(Exception, match="MBOPS_TEST_MISSING is not set") as err:
        run_program(make_program(stack), EchoCloud(stack.region), project=PROJECT, stack=stack.name, dry_run=False)
    assert isinstance(getattr(err.value, "cause", err.value), ConfigError)
