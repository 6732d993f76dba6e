"""Production-grade AWS stacks, read from planned graphs: the registry and the image by digest, HTTPS on the
stack's domain with a WAF in front of every public entry, a first deploy that cannot race its own secrets,
the app's database role, monitoring, and the data guard.

``planned``-style graphs come from the embedded planner; ``deployed`` graphs run the same program as an update
against a fake cloud that echoes inputs (so documents that embed ARNs and the pushed image's digest resolve).
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

import pytest

from mbops.engine.embedded import RecordingMonitor, Registration, run_program
from mbops.engine.plan import PROJECT, Planner, graph_of, plan
from mbops.stacks.config import resolve
from mbops.stacks.program import make_program
from tests.conftest import PROFILES, one, resources
from tests.test_aws_components import EchoCloud, by_name, container

ALB_PROFILES = ("managed", "custom")
APP_TYPES = {"managed": "aws:ecs/taskDefinition:TaskDefinition", "custom": "aws:ec2/launchTemplate:LaunchTemplate",
             "saas": "aws:lambda/function:Function"}  # fmt: skip
IMAGE = "pulumi-python:dynamic/mbops:Image"
LISTENER = "aws:lb/listener:Listener"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RECORD = "aws:route53/record:Record"
DIGEST = "sha256:" + "ab" * 32
DOMAIN = {"domain": "api.example.com", "dns_zone": {"name": "example.com"}}
CALLBACK = "com.example.notes://callback"


@cache
def _plan(profile: str, env: str, settings: str = "{}") -> dict[str, Any]:
    return plan(resolve(profile=profile, cloud="aws", environment=env, **json.loads(settings)),
                with_policy=False, with_cost=False)  # fmt: skip


def planned_with(profile: str, env: str, **settings: Any) -> dict[str, Any]:
    """The plan of a built-in profile with stack settings (domain, components, app) changed (cached)."""
    return _plan(profile, env, json.dumps(settings, sort_keys=True))


def prod(profile: str) -> dict[str, Any]:
    """A prod plan with a domain in a Route 53 zone."""
    return planned_with(profile, "prod", **DOMAIN)


class BuildingCloud(EchoCloud):
    """The echo cloud, plus what ECR, the image build and ACM answer."""

    def new_resource(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        rid, outputs = super().new_resource(reg)
        if reg.type == "aws:ecr/repository:Repository":
            outputs["repositoryUrl"] = f"{self.ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{reg.deserialized['name']}"
            outputs["registryId"] = self.ACCOUNT
            outputs["arn"] = f"arn:aws:ecr:{self.region}:{self.ACCOUNT}:repository/{reg.deserialized['name']}"
        if reg.type == IMAGE:
            outputs["ref"] = f"{reg.deserialized['repository']}@{DIGEST}"
        if reg.type == "aws:ses/domainIdentity:DomainIdentity":
            outputs["verificationToken"] = "ses-verification-token"
        if reg.type == "aws:ses/domainDkim:DomainDkim":
            outputs["dkimTokens"] = ["dkim1", "dkim2", "dkim3"]
        if reg.type == "aws:acm/certificate:Certificate":
            outputs["domainValidationOptions"] = [{
                "domainName": reg.deserialized["domainName"], "resourceRecordType": "CNAME",
                "resourceRecordName": f"_x1.{reg.deserialized['domainName']}.",
                "resourceRecordValue": "_x2.acm-validations.aws.",
            }]  # fmt: skip
        return rid, outputs


@cache
def deployed(profile: str, env: str, settings: str = "{}") -> dict[str, Any]:
    """An update of the stack (built from the example app) on the building cloud (saas: with its push
    credential, which a deployment requires)."""
    given = json.loads(settings)
    if profile == "saas":
        os.environ.setdefault("MBOPS_TEST_PUSH_CREDENTIAL", "fcm-json-value")
        given["app"] = {**given.get("app", {}), "secret_env": {"PUSH_CREDENTIAL": "env:MBOPS_TEST_PUSH_CREDENTIAL"}}
        given["components"] = {"auth": {"callback_urls": [CALLBACK]}, **given.get("components", {})}
    stack = resolve(profile=profile, cloud="aws", environment=env, **given)
    record = run_program(make_program(stack), BuildingCloud(stack.region), project=PROJECT, stack=stack.name,
                         dry_run=False)  # fmt: skip
    return graph_of(stack, record)


def options_of(stack: Any, *, release_data: bool = False) -> dict[str, dict[str, Any]]:
    """Per resource name: the options the engine receives that the graph does not show (retainOnDelete,
    ignoreChanges), read from the registration requests of a plan."""
    seen: dict[str, dict[str, Any]] = {}
    original = RecordingMonitor.RegisterResource

    def register(self: RecordingMonitor, request: Any) -> Any:
        seen[request.name] = {"retainOnDelete": bool(request.retainOnDelete), "protect": bool(request.protect),
                              "ignoreChanges": list(request.ignoreChanges)}  # fmt: skip
        return original(self, request)

    RecordingMonitor.RegisterResource = register  # type: ignore[method-assign]
    try:
        run_program(make_program(stack, release_data=release_data), Planner(stack.region), project=PROJECT,
                    stack=stack.name, dry_run=True)  # fmt: skip
    finally:
        RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
    return seen


def released(profile: str, env: str) -> dict[str, Any]:
    """The plan of the program built with release_data (the up before `destroy --delete-data`)."""
    stack = resolve(profile=profile, cloud="aws", environment=env)
    planner = Planner(stack.region)
    record = run_program(make_program(stack, release_data=True), planner, project=PROJECT, stack=stack.name,
                         dry_run=True)  # fmt: skip
    return graph_of(stack, record)


def deps(graph: dict[str, Any], resource: dict[str, Any]) -> set[str]:
    return set(resource["dependencies"])


# ---- registry: ECR, the image built and pushed, the app runs it by digest -------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_registry_is_an_immutable_scanned_encrypted_ecr_repository(profile: str) -> None:
    graph = _plan(profile, "dev")
    repo = one(graph, "aws:ecr/repository:Repository")["inputs"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    policy = json.loads(one(graph, "aws:ecr/lifecyclePolicy:LifecyclePolicy")["inputs"]["policy"])
    keep = policy["rules"][-1]["selection"]
    assert (keep["countType"], keep["countNumber"]) == ("imageCountMoreThan", 30)


def test_lifecycle_keeps_the_configured_number_of_images() -> None:
    graph = planned_with("managed", "dev", components={"registry": {"keep_images": 7}})
    policy = json.loads(one(graph, "aws:ecr/lifecyclePolicy:LifecyclePolicy")["inputs"]["policy"])
    assert policy["rules"][-1]["selection"]["countNumber"] == 7


@pytest.mark.parametrize("profile", PROFILES)
def test_the_image_is_built_from_app_build_and_pushed_with_a_secret_token(profile: str) -> None:
    graph = _plan(profile, "dev")
    image = one(graph, IMAGE)
    assert image["inputs"]["context"].endswith("examples/notes_app")
    assert image["inputs"]["context_digest"].startswith("sha256:")  # a new context means a new image
    assert image["inputs"]["registry_auth"] == "[secret]"
    repo = one(graph, "aws:ecr/repository:Repository")
    assert repo["urn"] in image["dependencies"]
    # The app waits for the pushed image (it runs its digest).
    assert image["urn"] in one(graph, APP_TYPES[profile])["dependencies"]


def test_the_lambda_image_is_built_with_the_web_adapter() -> None:
    args = one(_plan("saas", "dev"), IMAGE)["inputs"]["args"]
    assert args["LAMBDA_ADAPTER_IMAGE"].startswith("public.ecr.aws/awsguru/aws-lambda-adapter:")
    assert one(_plan("managed", "dev"), IMAGE)["inputs"]["args"] == {}


def test_a_prebuilt_image_builds_nothing() -> None:
    graph = planned_with("managed", "dev", app={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x@" + DIGEST})
    assert not resources(graph, IMAGE)
    assert resources(graph, "aws:ecr/repository:Repository")  # still there, for the team to push to


@pytest.mark.parametrize("profile", PROFILES)
def test_the_app_runs_the_pushed_digest(profile: str) -> None:
    graph = deployed(profile, "dev")
    ref = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{profile}-dev-registry@{DIGEST}"
    if profile == "managed":
        assert container(graph)["image"] == ref
    elif profile == "custom":
        user_data = base64.b64decode(one(graph, APP_TYPES["custom"])["inputs"]["userData"]).decode()
        assert f"IMAGE={ref}\n" in user_data
        assert "ECR_REGISTRY=123456789012.dkr.ecr.us-east-1.amazonaws.com\n" in user_data
    else:
        assert by_name(graph, APP_TYPES["saas"], "-app-fn")["inputs"]["imageUri"] == ref


@pytest.mark.parametrize(("profile", "role"), [("managed", "-execution-role-policy"), ("custom", "-app-role-policy")])
def test_the_app_identity_pulls_from_its_repository_only(profile: str, role: str) -> None:
    policy = json.loads(by_name(deployed(profile, "dev"), "aws:iam/rolePolicy:RolePolicy", role)["inputs"]["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["PullAppImage"]["Resource"] == [
        f"arn:aws:ecr:us-east-1:123456789012:repository/{profile}-dev-registry"
    ]
    assert set(statements["PullAppImage"]["Action"]) == {
        "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"
    }  # fmt: skip
    assert not any("ecr:Put" in a or "ecr:Upload" in a for s in policy["Statement"] for a in s["Action"])


def test_ecs_execution_role_has_no_managed_wildcard_policy() -> None:
    graph = _plan("managed", "dev")
    attached = [r["inputs"]["policyArn"] for r in resources(graph, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert not any("AmazonECSTaskExecutionRolePolicy" in a for a in attached)


def test_lambda_pulls_through_the_repository_policy_for_the_stack_functions_only() -> None:
    policy = json.loads(one(deployed("saas", "dev"), "aws:ecr/repositoryPolicy:RepositoryPolicy")["inputs"]["policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert statement["Condition"] == {
        "StringLike": {"aws:sourceArn": "arn:aws:lambda:us-east-1:123456789012:function:saas-dev-app-fn-*"}
    }


# ---- edge: HTTPS on the domain, WAF in front of every public entry -------------------------------------------


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_prod_load_balancer_serves_https_on_the_domain_certificate_and_redirects_http(profile: str) -> None:
    graph = prod(profile)
    listeners = {r["inputs"]["port"]: r for r in resources(graph, LISTENER)}
    https = listeners[443]["inputs"]
    assert https["protocol"] == "HTTPS" and https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    validation = one(graph, "aws:acm/certificateValidation:CertificateValidation")
    assert validation["urn"] in listeners[443]["dependencies"]  # the listener waits for the issued certificate
    cert = one(graph, "aws:acm/certificate:Certificate")["inputs"]
    assert (cert["domainName"], cert["validationMethod"]) == ("api.example.com", "DNS")
    (action,) = listeners[80]["inputs"]["defaultActions"]
    assert action == {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    assert graph["outputs"]["endpoint"] == "https://api.example.com"


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_a_regional_waf_with_a_rate_limit_and_managed_rules_guards_the_load_balancer(profile: str) -> None:
    graph = prod(profile)
    acl = one(graph, WEB_ACL)
    assert acl["inputs"]["scope"] == "REGIONAL"
    rules = {r["name"]: r for r in acl["inputs"]["rules"]}
    rate = rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]
    assert (rate["aggregateKeyType"], rate["limit"]) == ("IP", 10_000)
    assert "block" in rules["rate-limit-per-ip"]["action"]
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    association = one(graph, "aws:wafv2/webAclAssociation:WebAclAssociation")
    lb = one(graph, "aws:lb/loadBalancer:LoadBalancer")
    assert {acl["urn"], lb["urn"]} <= set(association["dependencies"])


def test_the_rate_limit_follows_the_edge_spec() -> None:
    graph = planned_with("managed", "prod", components={"edge": {"rate_limit": 300, "managed_rules": False}}, **DOMAIN)
    (rule,) = one(graph, WEB_ACL)["inputs"]["rules"]
    assert rule["statement"]["rateBasedStatement"]["limit"] == 300


@pytest.mark.parametrize("profile", PROFILES)
def test_with_a_route53_zone_the_domain_and_the_validation_records_are_created(profile: str) -> None:
    graph = prod(profile)
    records = {
        r["inputs"]["type"]: r["inputs"] for r in resources(graph, RECORD) if r["inputs"]["name"] == "api.example.com"
    }
    assert "A" in records and records["A"]["zoneId"] == "Z0PLANZONE00000000000"
    assert records["A"]["aliases"][0]["evaluateTargetHealth"] is (profile != "saas")
    assert "dns_records" not in graph["outputs"]
    validations = resources(graph, "aws:acm/certificateValidation:CertificateValidation")
    assert validations and all(v["inputs"]["validationRecordFqdns"] for v in validations)


@pytest.mark.parametrize("profile", PROFILES)
def test_without_a_zone_the_records_to_create_are_an_output(profile: str) -> None:
    graph = deployed(profile, "prod", json.dumps({"domain": "api.example.com"}))
    assert not resources(graph, RECORD)
    records = graph["outputs"]["dns_records"]
    (acm,) = [r for r in records if r["name"] == "_x1.api.example.com"]
    assert {"name": "_x1.api.example.com", "type": "CNAME", "value": "_x2.acm-validations.aws",
            "purpose": acm["purpose"]} == acm  # fmt: skip
    (target,) = [r for r in records if r["name"] == "api.example.com"]
    assert target["type"] == "CNAME" and target["value"].endswith(
        ".elb.example" if profile != "saas" else ".cloudfront.example"
    )


def test_prod_lambda_api_is_fronted_by_cloudfront_with_a_cloudfront_waf_and_a_us_east_1_certificate() -> None:
    graph = prod("saas")
    dist = by_name(graph, "aws:cloudfront/distribution:Distribution", "-edge-distribution")
    inputs = dist["inputs"]
    assert inputs["aliases"] == ["api.example.com"]
    assert inputs["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert inputs["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    assert by_name(graph, "aws:acm/certificate:Certificate", "-edge-cert")["inputs"]["region"] == "us-east-1"
    assert inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert inputs["defaultCacheBehavior"]["cachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # no caching
    (origin,) = inputs["origins"]
    assert origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert origin["customHeaders"] == [{"name": "x-origin-verify", "value": "[secret]"}]
    acl = by_name(graph, WEB_ACL, "-edge-waf")
    assert (acl["inputs"]["scope"], acl["inputs"]["region"]) == ("CLOUDFRONT", "us-east-1")
    assert acl["urn"] in dist["dependencies"]
    assert graph["outputs"]["endpoint"] == "https://api.example.com"


def test_the_api_admits_only_requests_that_came_through_cloudfront() -> None:
    graph = prod("saas")
    route = one(graph, "aws:apigatewayv2/route:Route")
    authorizer = one(graph, "aws:apigatewayv2/authorizer:Authorizer")
    assert route["inputs"]["authorizationType"] == "CUSTOM" and authorizer["urn"] in route["dependencies"]
    assert authorizer["inputs"]["identitySources"] == ["$request.header.x-origin-verify"]
    fn = by_name(graph, "aws:lambda/function:Function", "-app-authorizer")["inputs"]
    # The authorizer reads the value from Secrets Manager: never in its plaintext environment.
    assert set(fn["environment"]["variables"]) == {"ORIGIN_VERIFY_SECRET_ARN"}
    # Without the edge (dev) the API is the entry and takes every request.
    assert "authorizationType" not in one(_plan("saas", "dev"), "aws:apigatewayv2/route:Route")["inputs"]


def test_the_cdn_serves_only_the_public_prefix_and_has_a_waf_in_prod() -> None:
    dist = by_name(prod("saas"), "aws:cloudfront/distribution:Distribution", "-cdn-distribution")
    (origin,) = dist["inputs"]["origins"]
    assert origin["originPath"] == "/public"
    assert by_name(prod("saas"), WEB_ACL, "-cdn-waf")["urn"] in dist["dependencies"]
    assert "webAclId" not in by_name(_plan("saas", "dev"), "aws:cloudfront/distribution:Distribution",
                                     "-cdn-distribution")["inputs"]  # fmt: skip


def test_cloudfront_reads_only_the_public_prefix_of_the_bucket() -> None:
    policy = json.loads(by_name(deployed("saas", "dev"), "aws:s3/bucketPolicy:BucketPolicy", "-files-policy")[
        "inputs"]["policy"])  # fmt: skip
    read = {s["Sid"]: s for s in policy["Statement"]}["AllowCloudFrontRead"]
    assert read["Resource"] == "arn:aws:s3:us-east-1:123456789012:saas-dev-files-bucket/public/*"


@pytest.mark.parametrize("profile", PROFILES)
def test_dev_has_no_waf_and_no_certificate(profile: str) -> None:
    graph = _plan(profile, "dev")
    assert not resources(graph, WEB_ACL) and not resources(graph, "aws:acm/certificate:Certificate")


# ---- a first deploy that succeeds ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_the_app_starts_after_the_secret_values_and_its_role_policies(profile: str) -> None:
    graph = deployed(profile, "dev")  # with the app secrets (saas: its push credential)
    app = one(graph, APP_TYPES[profile]) if profile != "saas" else by_name(graph, APP_TYPES["saas"], "-app-fn")
    versions = {r["urn"] for r in resources(graph, "aws:secretsmanager/secretVersion:SecretVersion")}
    assert versions and versions <= deps(graph, app)
    policies = {
        r["urn"] for r in resources(graph, "aws:iam/rolePolicy:RolePolicy")
        if r["component"] == app["component"] and "-authorizer-" not in r["name"]
    }  # fmt: skip
    assert policies and policies <= deps(graph, app)


def test_ecs_and_the_auto_scaling_group_wait_for_healthy_tasks_and_instances() -> None:
    assert one(_plan("managed", "prod"), "aws:ecs/service:Service")["inputs"]["waitForSteadyState"] is True
    asg = one(_plan("custom", "prod"), "aws:autoscaling/group:Group")["inputs"]
    assert asg["waitForElbCapacity"] == resolve(profile="custom", cloud="aws", environment="prod").app.min_replicas


def test_prod_servers_run_an_ami_resolved_once_and_kept() -> None:
    graph = _plan("custom", "prod")
    lt = one(graph, APP_TYPES["custom"])
    assert lt["inputs"]["imageId"] == "ami-0a1b2c3d4e5f67890"
    assert {"value": "ami-0a1b2c3d4e5f67890", "stands_for": "the current Amazon Linux AMI id, resolved at deploy"} in (
        graph["placeholders"])  # fmt: skip
    stack = resolve(profile="custom", cloud="aws", environment="prod")
    assert options_of(stack)[lt["name"]]["ignoreChanges"] == ["imageId"]
    dev = one(_plan("custom", "dev"), APP_TYPES["custom"])["inputs"]["imageId"]
    assert dev.startswith("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023")


def test_an_os_image_given_replaces_the_pinned_one() -> None:
    graph = planned_with("custom", "prod", components={"servers": {"os_image": "ami-0123456789abcdef0"}})
    assert one(graph, APP_TYPES["custom"])["inputs"]["imageId"] == "ami-0123456789abcdef0"


def test_lambda_reserved_concurrency_is_opt_in() -> None:
    graph = planned_with("saas", "prod", components={
        "serverless": {"overrides": {"function": {"reserved_concurrent_executions": 50}}}})  # fmt: skip
    assert by_name(graph, APP_TYPES["saas"], "-app-fn")["inputs"]["reservedConcurrentExecutions"] == 50


# ---- the app connects to the database as an app role ------------------------------------------------------------


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_rds_master_is_an_admin_the_app_never_uses(profile: str) -> None:
    graph = deployed(profile, "dev")
    assert one(graph, "aws:rds/instance:Instance")["inputs"]["username"] == "dbadmin"
    secrets = {r["name"]: r for r in resources(graph, "aws:secretsmanager/secretVersion:SecretVersion")}
    app_url = secrets[f"{profile}-dev-db-url-version"]["inputs"]["secretString"]
    assert app_url == "[secret]"  # values stay secret; the URL names the app role (see database_url)


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_the_app_role_is_made_by_a_vpc_function_the_app_waits_for(profile: str) -> None:
    """H1: one bootstrap for ECS and EC2, outside the app's hosts: a function in the private subnets, invoked
    once the instance and both URLs exist; the task definition / launch template waits for the invocation."""
    graph = _plan(profile, "prod")
    fn = by_name(graph, "aws:lambda/function:Function", "-db-role-fn")
    invocation = one(graph, "aws:lambda/invocation:Invocation")
    assert fn["urn"] in invocation["dependencies"]
    assert one(graph, "aws:rds/instance:Instance")["urn"] in invocation["dependencies"]
    versions = {r["urn"] for r in resources(graph, "aws:secretsmanager/secretVersion:SecretVersion")
                if "-db-" in r["name"]}  # fmt: skip
    assert len(versions) == 2 and versions <= set(invocation["dependencies"])
    assert set(invocation["inputs"]["triggers"]) == {"instance", "code", "secret_version_0", "secret_version_1"}
    assert invocation["urn"] in one(graph, APP_TYPES[profile])["dependencies"]
    inputs = fn["inputs"]
    assert (inputs["runtime"], inputs["handler"]) == ("python3.12", "index.handler")
    assert inputs["vpcConfig"]["subnetIds"] and len(inputs["vpcConfig"]["securityGroupIds"]) == 1
    assert set(inputs["environment"]["variables"]) == {"ADMIN_URL_SECRET_ARN", "APP_URL_SECRET_ARN"}


def test_the_database_admits_the_bootstrap_function_and_the_app_only() -> None:
    graph = deployed("managed", "dev")
    db_sg = by_name(graph, "aws:ec2/securityGroup:SecurityGroup", "-db-sg")["inputs"]
    sources = {rule["description"]: rule["securityGroups"] for rule in db_sg["ingress"]}
    assert sources == {"app to PostgreSQL": ["managed-dev-net-app-sg-id"],
                       "role bootstrap function to PostgreSQL": ["managed-dev-db-role-fn-sg-id"]}  # fmt: skip
    fn_sg = by_name(graph, "aws:ec2/securityGroup:SecurityGroup", "-db-role-fn-sg")["inputs"]
    assert fn_sg["ingress"] == [] and {(e["fromPort"], e["toPort"]) for e in fn_sg["egress"]} == {(5432, 5432),
                                                                                                (443, 443)}


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_only_the_bootstrap_function_reads_the_admin_url(profile: str) -> None:
    """Nothing on the app's hosts (task roles, the instance role) may read the master user's URL."""
    graph = deployed(profile, "dev")
    admin = by_name(graph, "aws:secretsmanager/secret:Secret", "-db-admin-url")["inputs"]
    admin_arn = f"arn:aws:secretsmanager:us-east-1:123456789012:{profile}-dev-db-admin-url"
    assert admin["namePrefix"].startswith(f"mbops/{profile}-dev/DATABASE_ADMIN_URL-")
    readers = sorted(r["name"] for r in resources(graph, "aws:iam/rolePolicy:RolePolicy")
                     if admin_arn in r["inputs"]["policy"])  # fmt: skip
    assert readers == [f"{profile}-dev-db-role-fn-role-policy"]
    policy = json.loads(by_name(graph, "aws:iam/rolePolicy:RolePolicy", "-db-role-fn-role-policy")["inputs"]["policy"])
    read = {s["Sid"]: s for s in policy["Statement"]}["ReadDatabaseUrls"]
    assert read["Resource"] == [admin_arn, f"arn:aws:secretsmanager:us-east-1:123456789012:{profile}-dev-db-url"]
    if profile == "custom":
        user_data = base64.b64decode(one(graph, APP_TYPES["custom"])["inputs"]["userData"]).decode()
        assert "db-init" not in user_data and "DATABASE_ADMIN_URL" not in user_data
    else:
        assert [d["name"] for d in json.loads(one(graph, APP_TYPES["managed"])["inputs"]["containerDefinitions"])] == [
            "app"]  # no init container  # fmt: skip


def test_self_hosted_postgres_has_no_admin_url() -> None:
    graph = planned_with("custom", "dev", components={"database": {"self_hosted": True}})
    names = {r["name"] for r in resources(graph, "aws:secretsmanager/secret:Secret")}
    assert not any("admin" in n for n in names)


# ---- monitoring ----------------------------------------------------------------------------------------------

ALARMS = {
    "managed": {"entry-5xx", "entry-latency-p95", "entry-unhealthy-targets", "app-cpu", "app-memory",
                "app-running-below-desired", "db-cpu", "db-free-storage", "db-connections", "cache-1-memory",
                "cache-1-evictions", "cache-2-memory", "cache-2-evictions", "health-check"},
    "custom": {"entry-5xx", "entry-latency-p95", "entry-unhealthy-targets", "app-cpu", "app-in-service-below-desired",
               "db-cpu", "db-free-storage", "db-connections", "health-check"},
    "saas": {"entry-5xx", "entry-latency-p95", "app-errors", "app-throttles", "table-throttles", "api-5xx",
             "health-check"},
}  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_prod_alarms_cover_the_entry_the_app_and_the_data_tier(profile: str) -> None:
    alarms = resources(prod(profile), ALARM)
    assert {a["inputs"]["name"].removeprefix(f"{profile}-prod-monitoring-") for a in alarms} == ALARMS[profile]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_alarm_notifies_the_encrypted_topic_and_says_what_to_do(profile: str) -> None:
    graph = prod(profile)
    topic = by_name(graph, "aws:sns/topic:Topic", "-monitoring-alerts")
    key = one(graph, "aws:kms/key:Key")
    assert key["urn"] in topic["dependencies"] and key["inputs"]["enableKeyRotation"] is True
    for alarm in resources(graph, ALARM):
        assert topic["urn"] in alarm["dependencies"], alarm["name"]
        assert alarm["inputs"]["alarmActions"] == ["[computed]"]
        title, _, action = alarm["inputs"]["alarmDescription"].partition(". ")
        assert title and len(action) > 20, alarm["name"]


def test_the_alerts_key_admits_cloudwatch_and_budgets() -> None:
    policy = json.loads(one(deployed("managed", "prod", json.dumps(DOMAIN)), "aws:kms/key:Key")["inputs"]["policy"])
    publish = {s["Sid"]: s for s in policy["Statement"]}["AlarmsAndBudgetsPublish"]
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com",
                                                "events.rds.amazonaws.com"]}  # fmt: skip
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_thresholds_come_from_the_spec() -> None:
    graph = planned_with(
        "managed", "prod", components={"monitoring": {"thresholds": {"cpu_pct": 65, "db_cpu_pct": 70}}}
    )
    by_key = {a["inputs"]["name"].rsplit("-monitoring-", 1)[1]: a["inputs"] for a in resources(graph, ALARM)}
    assert by_key["app-cpu"]["threshold"] == 65 and by_key["db-cpu"]["threshold"] == 70
    assert by_key["app-cpu"]["metricName"] == "CPUUtilization" and by_key["app-cpu"]["namespace"] == "AWS/ECS"
    assert by_key["entry-latency-p95"]["extendedStatistic"] == "p95"
    assert by_key["entry-latency-p95"]["threshold"] == 1.5  # 1500 ms, in the metric's seconds


def test_notify_targets_subscribe_and_the_budget_alerts_them() -> None:
    graph = planned_with("managed", "prod", components={"monitoring": {
        "notify": ["email:ops@example.com", "webhook:https://hooks.example.com/x"], "budget_usd": 500}})  # fmt: skip
    subs = {
        (r["inputs"]["protocol"], r["inputs"]["endpoint"])
        for r in resources(graph, "aws:sns/topicSubscription:TopicSubscription")
    }
    # M6: a webhook is a function subscribed to the topic (Slack/Teams never confirm an SNS https subscription).
    assert subs == {("email", "ops@example.com"), ("lambda", "[computed]")}
    hook = by_name(graph, "aws:lambda/function:Function", "-monitoring-webhook-2")
    assert hook["inputs"]["environment"]["variables"] == {"WEBHOOK_URL": "https://hooks.example.com/x"}
    sub = [r for r in resources(graph, "aws:sns/topicSubscription:TopicSubscription")
           if r["inputs"]["protocol"] == "lambda"][0]  # fmt: skip
    assert hook["urn"] in sub["dependencies"]
    permission = by_name(graph, "aws:lambda/permission:Permission", "-monitoring-webhook-2-invoke")["inputs"]
    assert permission["principal"] == "sns.amazonaws.com" and permission["sourceArn"] == "[computed]"
    # Low: Budgets checks it may publish: the budget waits for the topic's policy.
    assert by_name(graph, "aws:sns/topicPolicy:TopicPolicy", "-monitoring-alerts-policy")["urn"] in one(
        graph, "aws:budgets/budget:Budget")["dependencies"]  # fmt: skip
    budget = one(graph, "aws:budgets/budget:Budget")["inputs"]
    assert (budget["limitAmount"], budget["limitUnit"], budget["timeUnit"]) == ("500.00", "USD", "MONTHLY")
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:app$managed-prod"]}]
    assert {(n["notificationType"], n["threshold"]) for n in budget["notifications"]} == {
        ("ACTUAL", 80),
        ("FORECASTED", 100),
    }
    assert all(n["subscriberEmailAddresses"] == ["ops@example.com"] for n in budget["notifications"])


@pytest.mark.parametrize("profile", PROFILES)
def test_route53_checks_the_public_health_path(profile: str) -> None:
    graph = deployed(profile, "prod", json.dumps(DOMAIN))
    check = one(graph, "aws:route53/healthCheck:HealthCheck")["inputs"]
    assert (check["type"], check["fqdn"], check["port"], check["resourcePath"]) == (
        "HTTPS",
        "api.example.com",
        443,
        "/healthz",
    )


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_load_balancer_access_logs_go_to_a_bucket_elb_may_write(profile: str) -> None:
    graph = deployed(profile, "prod", json.dumps(DOMAIN))
    lb = one(graph, "aws:lb/loadBalancer:LoadBalancer")["inputs"]
    assert lb["accessLogs"]["enabled"] is True and lb["accessLogs"]["prefix"] == "alb"
    policy = json.loads(by_name(graph, "aws:s3/bucketPolicy:BucketPolicy", "-alb-logs-policy")["inputs"]["policy"])
    delivery = {s["Sid"]: s for s in policy["Statement"]}["ElbLogDelivery"]
    assert delivery["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}  # us-east-1's ELB account
    assert delivery["Resource"].endswith("/alb/AWSLogs/123456789012/*")


def test_dev_has_no_monitoring_but_container_insights_stays_on() -> None:
    graph = _plan("managed", "dev")
    assert not resources(graph, ALARM)
    assert one(graph, "aws:ecs/cluster:Cluster")["inputs"]["settings"] == [
        {"name": "containerInsights", "value": "enabled"}
    ]


# ---- data guard ----------------------------------------------------------------------------------------------

DATA = {"managed": ("-db-postgres", "-files-bucket"), "custom": ("-db-postgres", "-files-bucket"),
        "saas": ("-docs-table", "-files-bucket")}  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_data_is_retained_when_the_stack_is_destroyed(profile: str) -> None:
    stack = resolve(profile=profile, cloud="aws", environment="prod")
    options = options_of(stack)
    for suffix in DATA[profile]:
        (name,) = [n for n in options if n.endswith(suffix)]
        assert options[name]["retainOnDelete"] is True, name


@pytest.mark.parametrize("profile", PROFILES)
def test_release_data_makes_the_data_deletable(profile: str) -> None:
    stack = resolve(profile=profile, cloud="aws", environment="prod")
    options = options_of(stack, release_data=True)
    for suffix in DATA[profile]:
        (name,) = [n for n in options if n.endswith(suffix)]
        assert options[name]["retainOnDelete"] is False and options[name]["protect"] is False, name
    graph = released(profile, "prod")
    assert by_name(graph, "aws:s3/bucket:Bucket", "-files-bucket")["inputs"]["forceDestroy"] is True
    if profile == "saas":
        assert one(graph, "aws:dynamodb/table:Table")["inputs"]["deletionProtectionEnabled"] is False
    else:
        db = one(graph, "aws:rds/instance:Instance")["inputs"]
        assert db["deletionProtection"] is False
        assert db["skipFinalSnapshot"] is False  # prod still leaves a final snapshot


@pytest.mark.parametrize("profile", ALB_PROFILES)
def test_the_database_is_protected_in_every_environment(profile: str) -> None:
    for env in ("dev", "prod"):
        assert one(_plan(profile, env), "aws:rds/instance:Instance")["protect"] is True
