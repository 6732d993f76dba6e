"""Policies: built-in stacks pass, each rule catches its misconfiguration, lowering works, the pack loads.

Misconfigurations go through the real paths: a stack file's component overrides or fields, planned on the
embedded engine; rules about resource types no profile builds get crafted planned-graph resources.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine.plan import plan
from mbops.errors import ConfigError, PolicyViolationError
from mbops.policies.check import enforce, evaluate, report
from mbops.policies.registry import BY_ID, RULES, rules_table
from mbops.stacks.config import StackFile, resolve

REPO = Path(__file__).resolve().parents[1]
CLOUDS = ("aws", "gcp", "azure", "local")
PROFILES = ("saas", "managed", "custom")
ENVIRONMENTS = ("dev", "prod")
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@cache
def cloud_available(cloud: str) -> bool:
    try:
        importlib.import_module(f"mbops.components.{cloud}")
    except ImportError:
        return False
    return True


def needs(cloud: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not cloud_available(cloud), reason=f"mbops.components.{cloud} is not there yet"
    )


@cache
def _plan(cloud: str, profile: str, env: str, stack_json: str) -> dict[str, Any]:
    stack = resolve(StackFile.model_validate(json.loads(stack_json)), source="test.yaml",
                    profile=profile, cloud=cloud, environment=env)  # fmt: skip
    return plan(stack, with_cost=False)


def planned_with(cloud: str, profile: str, env: str = "dev", **stack: Any) -> dict[str, Any]:
    """The planned graph of a built-in profile with stack-file fields on top (cached per arguments)."""
    return _plan(cloud, profile, env, json.dumps(stack, sort_keys=True))


def res(type_token: str, inputs: dict[str, Any], name: str = "r", *, deps: tuple[str, ...] = (),
        protect: bool = False) -> dict[str, Any]:  # fmt: skip
    """A crafted planned-graph resource."""
    return {"urn": f"urn:pulumi:test::mbops::{type_token}::{name}", "type": type_token, "name": name,
            "parent": None, "custom": True, "component": None, "inputs": inputs, "dependencies": list(deps),
            "protect": protect, "op": "create"}  # fmt: skip


def crafted(resources: list[dict[str, Any]], env: str = "dev", outputs: dict[str, Any] | None = None) -> dict:
    return {"stack": "test", "environment": env, "resources": resources, "outputs": outputs or {}}


def mandatory_lines(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {f['rule']}: {f['name']} ({f['type']}): {f['message']}"
                     for f in findings if f["enforcement"] == "mandatory")  # fmt: skip


# --- every built-in stack passes every mandatory rule -------------------------------------------------------
@pytest.mark.parametrize(
    "cloud,profile,env",
    [
        pytest.param(c, p, e, marks=needs(c), id=f"{c}-{p}-{e}")
        for c in CLOUDS
        for p in PROFILES
        for e in ENVIRONMENTS
    ],
)
def test_builtin_stack_passes_every_mandatory_rule(planned, cloud: str, profile: str, env: str) -> None:
    """Prod stacks name their domain (without one, prod-domain fails them: tests/test_policy_prod.py) and, with
    auth, the app's own sign-in links (the profile's placeholder fails auth-callbacks)."""
    fields: dict[str, Any] = {}
    if env == "prod" and cloud != "local":
        fields["domain"] = "api.example.com"
        if profile == "saas":
            fields["components"] = {"auth": {"callback_urls": ["https://app.example.com/auth/callback"]}}
    graph = planned_with(cloud, profile, env, **fields) if fields else planned(profile, cloud, env)
    stack = resolve(StackFile.model_validate(fields), source="test.yaml", profile=profile, cloud=cloud,
                    environment=env)  # fmt: skip
    findings = evaluate(graph, stack)
    assert findings == graph["policy"], "plan() reports what evaluate() finds"
    blocking = [f for f in findings if f["enforcement"] == "mandatory"]
    assert not blocking, f"{cloud}/{profile}/{env} violates mandatory rules:\n{mandatory_lines(findings)}"


# --- each rule catches its misconfiguration -----------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A misconfiguration and the finding it must produce: a stack (cloud, profile, env, stack-file fields)
    planned for real, or crafted resources for types no profile builds."""

    rule: str
    why: str
    contains: str
    cloud: str = ""
    profile: str = ""
    env: str = "dev"
    stack: dict[str, Any] = field(default_factory=dict)
    resources: tuple[dict[str, Any], ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)


def over(kind: str, child: str, **args: Any) -> dict[str, Any]:
    """Stack-file fields that override one child's raw args."""
    return {"components": {kind: {"overrides": {child: args}}}}


def spec(kind: str, **fields: Any) -> dict[str, Any]:
    """Stack-file fields that set a component's spec fields."""
    return {"components": {kind: fields}}


def P(rule: str, why: str, contains: str, where: str, stack: dict[str, Any] | None = None) -> Case:  # noqa: N802
    """A case planned for real: ``where`` is ``cloud/profile[/env]``."""
    cloud, profile, env = (where.split("/") + ["dev"])[:3]
    return Case(rule, why, contains, cloud, profile, env, stack or {})


def C(rule: str, why: str, contains: str, *resources: dict[str, Any], **outputs: Any) -> Case:  # noqa: N802
    """A case on crafted resources (and stack outputs)."""
    return Case(rule, why, contains, resources=resources, outputs=outputs)


WILDCARD_POLICY = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
USER_DATA = base64.b64encode(b"#!/bin/sh\nexport DATABASE_URL=postgres://app:hunter2@db:5432/app\n").decode()
OPEN_SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}
OWNER_ROLE = "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
S3 = "aws:s3/bucket:Bucket"
ALL_IPS = "255.255.255.255"
GCS_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
PLAINTEXT_SQL = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
S3_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
NSG_RULE = {"name": "db", "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
            "sourceAddressPrefix": "Internet", "destinationPortRange": "5000-6000"}  # fmt: skip
ECS_ENV = json.dumps([{"name": "app", "environment": [{"name": "DATABASE_URL", "value": "[computed]"}]}])
PLAIN_EBS = [{"device_name": "/dev/xvda", "ebs": {"volume_size": 20, "encrypted": "false"}}]
EXTERNAL_NIC = [{"subnetwork": "default", "access_configs": [{}]}]

CASES = [
    # encryption at rest
    P("storage-encrypted-at-rest", "azure-infra-encryption-off", "requireInfrastructureEncryption",
      "azure/managed", over("storage", "account", encryption={"require_infrastructure_encryption": False})),
    C("storage-encrypted-at-rest", "s3-unknown-algorithm", "sseAlgorithm",
      res(S3_SSE, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}]})),
    P("database-encrypted-at-rest", "rds-unencrypted", "storageEncrypted", "aws/managed",
      over("database", "instance", storage_encrypted=False)),
    P("database-encrypted-at-rest", "dynamodb-owned-key", "serverSideEncryption", "aws/saas",
      over("docdb", "table", server_side_encryption={"enabled": False})),
    P("disk-encrypted-at-rest", "launch-template-plain-ebs", "not encrypted", "aws/custom",
      over("servers", "launch_template", block_device_mappings=PLAIN_EBS)),
    P("cache-encrypted-at-rest", "elasticache-at-rest-off", "atRestEncryptionEnabled", "aws/managed",
      over("cache", "replication_group", at_rest_encryption_enabled=False)),
    # TLS in transit
    P("storage-https-only", "azure-tls10", "minimumTlsVersion", "azure/managed",
      over("storage", "account", minimum_tls_version="TLS1_0")),
    C("storage-https-only", "s3-without-deny-policy", "aws:SecureTransport", res(S3, {}, "b")),
    C("storage-https-only", "s3-policy-without-deny", "no Deny statement", res(S3, {}, "b"),
      res("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps({"Statement": []})}, "p",
          deps=(f"urn:pulumi:test::mbops::{S3}::b",))),
    P("database-tls-required", "rds-force-ssl-0", "rds.force_ssl is 0", "aws/managed",
      over("database", "parameter_group", parameters=[{"name": "rds.force_ssl", "value": "0"}])),
    P("database-tls-required", "cloud-sql-unencrypted", "ssl_mode", "gcp/managed",
      over("database", "instance", settings={"ip_configuration": {"ssl_mode": PLAINTEXT_SQL}})),
    P("database-tls-required", "azure-secure-transport-off", "require_secure_transport", "azure/managed",
      over("database", "require_tls", value="off")),
    P("cache-tls-required", "elasticache-plaintext", "transitEncryptionEnabled", "aws/managed",
      over("cache", "replication_group", transit_encryption_enabled=False)),
    P("cache-tls-required", "memorystore-plaintext", "transitEncryptionMode", "gcp/managed",
      over("cache", "instance", transit_encryption_mode="DISABLED")),
    C("cache-tls-required", "azure-redis-non-ssl-port", "enableNonSslPort",
      res("azure-native:redis:Redis", {"enableNonSslPort": True, "minimumTlsVersion": "1.2"})),
    P("endpoint-https-only", "cloudfront-allow-all", "viewerProtocolPolicy", "aws/saas",
      over("cdn", "distribution", default_cache_behavior={"viewer_protocol_policy": "allow-all"})),
    P("endpoint-https-only", "container-app-insecure", "allowInsecure", "azure/managed",
      over("containers", "app", configuration={"ingress": {"allow_insecure": True}})),
    # public access
    P("storage-no-public-access", "s3-public-policy-allowed", "blockPublicPolicy", "aws/managed",
      over("storage", "public_access_block", block_public_policy=False)),
    P("storage-no-public-access", "gcs-prevention-inherited", "publicAccessPrevention", "gcp/managed",
      over("storage", "bucket", public_access_prevention="inherited")),
    P("storage-no-public-access", "azure-blob-public", "allowBlobPublicAccess", "azure/managed",
      over("storage", "account", allow_blob_public_access=True)),
    C("storage-no-public-access", "gcs-all-users", "allUsers",
      res(GCS_IAM, {"member": "allUsers", "role": "roles/storage.objectViewer"})),
    C("storage-no-public-access", "s3-without-access-block", "no public access block", res(S3, {}, "b")),
    P("database-not-public", "rds-public", "publiclyAccessible", "aws/managed",
      over("database", "instance", publicly_accessible=True)),
    P("database-not-public", "cloud-sql-public-ip", "ipv4_enabled", "gcp/custom",
      over("database", "instance", settings={"ip_configuration": {"ipv4_enabled": True}})),
    C("database-not-public", "azure-pg-allow-all", "every IPv4 address", res(
        "azure-native:dbforpostgresql:FirewallRule", {"startIpAddress": "0.0.0.0", "endIpAddress": ALL_IPS})),
    P("cache-not-public", "azure-redis-public", "publicNetworkAccess", "azure/managed",
      over("cache", "cluster", public_network_access="Enabled")),
    # network
    P("network-no-open-admin-ports", "aws-ssh-open", "22 (SSH)", "aws/managed",
      over("network", "app_security_group", ingress=[OPEN_SSH])),
    C("network-no-open-admin-ports", "gcp-firewall-all-ports", "3389 (RDP)", res(
        "gcp:compute/firewall:Firewall", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp"}]})),
    C("network-no-open-admin-ports", "azure-nsg-postgres-internet", "5432 (PostgreSQL)",
      res("azure-native:network:NetworkSecurityGroup", {"securityRules": [NSG_RULE]})),
    C("network-no-open-admin-ports", "aws-ingress-rule-resource", "6379 (Redis)", res(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"cidrIpv6": "::/0", "ipProtocol": "-1"}
    )),
    P("imdsv2-required", "launch-template-imdsv1", "httpTokens", "aws/custom",
      over("servers", "launch_template", metadata_options={"http_tokens": "optional"})),
    P("servers-no-public-ip", "gcp-vm-external-ip", "external IP", "gcp/custom",
      over("servers", "template", network_interfaces=EXTERNAL_NIC)),
    P("load-balancer-https", "alb-without-certificate", "plain HTTP", "aws/managed"),
    P("load-balancer-https", "azure-public-layer-4-lb", "layer-4", "azure/custom"),
    # production edge (more cases, per cloud: tests/test_policy_prod.py)
    P("prod-domain", "prod-without-domain", "set `domain: api.example.com`", "aws/saas/prod"),
    Case("edge-waf", "alb-without-web-acl", "no WAF web ACL", env="prod", resources=(
        res("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "application"}, "alb"),)),
    Case("edge-rate-limit", "web-acl-without-rate-rule", "rate-based", env="prod", resources=(
        res("aws:wafv2/webAcl:WebAcl", {"rules": [{"name": "common", "statement": {}}]}),)),
    P("cdn-private-files", "cloudfront-origin-at-bucket-root", "root of the app's bucket", "aws/saas",
      over("cdn", "distribution", origins=[{
          "origin_id": "bucket", "domain_name": "files.s3.amazonaws.com", "origin_path": "",
          "s3_origin_config": {"origin_access_identity": "origin-access-identity/cloudfront/E2QWRUHEXAMPLE"}}])),
    P("monitoring-on", "prod-monitoring-off", "monitoring is off", "aws/managed/prod",
      {"domain": "api.example.com", "components": {"monitoring": False}}),
    P("monitoring-notify", "prod-without-notify", "components.monitoring.notify", "azure/managed/prod",
      {"domain": "api.example.com"}),
    # the user pool (saas on AWS)
    P("auth-callbacks", "placeholder-callback-in-prod", "myapp://callback", "aws/saas/prod",
      {"domain": "api.example.com"}),
    Case("auth-email-sender", "cognito-default-sender", "built-in sender", env="prod", resources=(
        res("aws:cognito/userPool:UserPool", {"emailConfiguration": {"emailSendingAccount": "COGNITO_DEFAULT"}}),
    )),
    P("image-pinned", "app-image-tag", "is a tag", "azure/managed", {"app": {"image": "mcr.microsoft.com/app:1.0"}}),
    Case("os-image-pinned", "ssm-resolved-ami", "resolve:ssm:", env="prod", resources=(
        res("aws:ec2/launchTemplate:LaunchTemplate", {"imageId": "resolve:ssm:/aws/service/ami"}),)),
    P("registry-access", "acr-admin-user", "adminUserEnabled", "azure/managed",
      over("registry", "registry", admin_user_enabled=True)),
    P("registry-hardened", "ecr-mutable-tags", "MUTABLE", "aws/managed",
      over("registry", "repository", image_tag_mutability="MUTABLE")),
    # IAM
    P("iam-no-wildcard-actions", "inline-policy-star", "wildcard actions *", "aws/managed",
      over("network", "flow_log_role", inline_policies=[{"name": "all", "policy": WILDCARD_POLICY}])),
    C("iam-no-wildcard-actions", "azure-custom-role-star", "every action",
      res("azure-native:authorization:RoleDefinition", {"permissions": [{"actions": ["*"]}]})),
    P("iam-no-privileged-roles", "gcp-editor", "roles/editor", "gcp/managed",
      over("containers", "project_role", role="roles/editor")),
    C("iam-no-privileged-roles", "aws-admin-attachment", "AdministratorAccess", res(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})),
    C("iam-no-privileged-roles", "azure-owner", "Owner",
      res("azure-native:authorization:RoleAssignment", {"roleDefinitionId": OWNER_ROLE})),
    # prod safety
    P("database-backup-retention", "rds-3-days-prod", "prod keeps at least 7", "aws/managed/prod",
      spec("database", backup_retention_days=3)),
    P("database-backup-retention", "cloud-sql-backups-off", "no automated backups", "gcp/managed",
      over("database", "instance", settings={"backup_configuration": {"enabled": False}})),
    P("database-deletion-protection", "rds-unprotected-prod", "deletionProtection", "aws/managed/prod",
      spec("database", deletion_protection=False)),
    P("database-deletion-protection", "azure-no-lock-prod", "management lock", "azure/managed/prod",
      spec("database", deletion_protection=False)),
    P("database-ha", "rds-single-az-prod", "multiAz", "aws/custom/prod", spec("database", ha=False)),
    P("database-ha", "cloud-sql-zonal-prod", "REGIONAL", "gcp/managed/prod", spec("database", ha=False)),
    P("cache-ha", "elasticache-single-node-prod", "automatic failover", "aws/managed/prod",
      spec("cache", ha=False)),
    # hygiene
    P("logs-retention", "three-day-logs", "at least 7 days", "aws/managed",
      spec("containers", log_retention_days=3)),
    P("logs-retention", "log-group-forever", "logs are kept forever", "aws/managed",
      over("network", "flow_log_group", retention_in_days=None)),
    P("required-tags", "bucket-without-tags", "missing tags app, env, owner", "aws/managed",
      over("storage", "bucket", tags=None)),
    P("required-tags", "gcs-with-empty-owner-label", "missing labels owner", "gcp/managed",
      over("storage", "bucket", labels={"owner": ""})),
    P("owner-assigned", "default-owner", "owner is 'unassigned'", "aws/saas"),
    # secrets
    P("secrets-not-in-plaintext", "secret-in-app-env-lambda", "STRIPE_SECRET_KEY", "aws/saas",
      {"app": {"env": {"STRIPE_SECRET_KEY": "sk_live_123"}}}),
    P("secrets-not-in-plaintext", "secret-in-app-env-cloud-run", "API_TOKEN", "gcp/managed",
      {"app": {"env": {"API_TOKEN": "t0ken"}}}),
    P("secrets-not-in-plaintext", "secret-in-app-env-container-apps", "DB_PASSWORD", "azure/managed",
      {"app": {"env": {"DB_PASSWORD": "hunter2"}}}),
    P("secrets-not-in-plaintext", "secret-in-app-env-local", "SESSION_SECRET", "local/managed",
      {"app": {"env": {"SESSION_SECRET": "abc"}}}),
    C("secrets-not-in-plaintext", "credentials-url-in-user-data", "embedded password",
      res("aws:ec2/launchTemplate:LaunchTemplate", {"userData": USER_DATA})),
    C("secrets-not-in-plaintext", "ecs-environment", "DATABASE_URL",
      res("aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": ECS_ENV})),
    C("secret-outputs-marked", "plaintext-password-output", "db_password",
      db_password="hunter2", secrets_store="arn:aws:secretsmanager:x"),
    # local
    P("local-secrets-file-private", "secrets-file-under-tmp", "every user can write", "local/managed",
      over("secrets", "file", path="/tmp/mbops-policy-test/secrets.json")),
    P("local-secrets-file-private", "plaintext-values", "not a Pulumi secret", "local/managed",
      over("secrets", "file", values={"API_TOKEN": "abc"})),
    C("local-services-loopback", "postgres-on-all-interfaces", "0.0.0.0",
      res("pulumi-python:dynamic/mbops:PostgresCluster", {"cluster_dir": "/x", "host": "0.0.0.0"})),
]  # fmt: skip


def findings_of(case: Case) -> list[dict[str, Any]]:
    if case.cloud:
        if not cloud_available(case.cloud):
            pytest.skip(f"mbops.components.{case.cloud} is not there yet")
        return planned_with(case.cloud, case.profile, case.env, **case.stack)["policy"]
    return evaluate(crafted(list(case.resources), case.env, case.outputs))


def test_every_rule_has_a_misconfiguration_case() -> None:
    assert {c.rule for c in CASES} == set(BY_ID)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.why}" for c in CASES])
def test_misconfiguration_is_caught(case: Case) -> None:
    findings = findings_of(case)
    hits = [f for f in findings if f["rule"] == case.rule]
    assert hits, f"{case.rule} did not fire; findings: {[(f['rule'], f['message']) for f in findings]}"
    assert any(case.contains in f["message"] for f in hits), [f["message"] for f in hits]
    rule = BY_ID[case.rule]
    for f in hits:
        assert f["enforcement"] == rule.enforcement_for(case.env == "prod") and f["severity"] == rule.severity
        assert f["remediation"] and f["resource"]


CLEAN = [
    res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
    res("azure-native:redis:Redis", {"enableNonSslPort": False, "minimumTlsVersion": "1.2",
                                     "publicNetworkAccess": "Disabled"}),
    res("gcp:compute/firewall:Firewall",
        {"sourceRanges": ["35.235.240.0/20"], "allows": [{"protocol": "tcp", "ports": ["22"]}]}),
    res("gcp:compute/firewall:Firewall", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp",
                                                                                      "ports": ["443"]}]}),
    res("azure-native:network:SecurityRule", {"direction": "Inbound", "access": "Deny", "protocol": "*",
        "sourceAddressPrefix": "Internet", "destinationPortRange": "*"}),
    res("aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*"}]})}),
    res("gcp:projects/iAMMember:IAMMember", {"role": "roles/cloudsql.client", "member": "serviceAccount:a"}),
    res(RUN_IAM, {"role": "roles/run.invoker", "member": "allUsers"}, "public-api"),
    res("aws:lambda/function:Function", {"environment": {"variables": {
        "SECRETS_PREFIX": "mbops/x/", "DB_SECRET_ARN": "[computed]", "API_KEY": "arn:aws:secretsmanager:x",
        "REDIS_URL": "[computed]", "PORT": "8080"}}}),
    res("gcp:cloudrunv2/service:Service", {"ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "template": {
        "containers": [{"envs": [
            {"name": "DATABASE_URL", "valueSource": {"secretKeyRef": {"secret": "s", "version": "1"}}}]}]}}),
    res("aws:cloudwatch/metricAlarm:MetricAlarm", {"alarmActions": ["[computed]"]}, "alarm"),
    res("aws:sns/topicSubscription:TopicSubscription", {"protocol": "email", "endpoint": "ops@example.com"}, "ops"),
    res("aws:ec2/launchTemplate:LaunchTemplate", {
        "userData": base64.b64encode(b"DATABASE_URL=$(aws secretsmanager get-secret-value --id x)").decode(),
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}],
        "metadataOptions": {"httpTokens": "required"}}),
    res("pulumi-python:dynamic/mbops:RedisServer", {"run_dir": "/x", "host": "127.0.0.1"}),
    res(S3, {}, "guarded"),
    res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True), "pab",
        deps=(f"urn:pulumi:test::mbops::{S3}::guarded",)),
    res("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps({"Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})}, "tls-only",
        deps=(f"urn:pulumi:test::mbops::{S3}::guarded",)),
]  # fmt: skip


def test_well_configured_resources_pass() -> None:
    """The rules do not over-fire: secret references, narrow ranges, scoped roles and denies are fine."""
    findings = [f for f in evaluate(crafted(CLEAN, "prod")) if f["rule"] != "required-tags"]
    assert not findings, [(f["rule"], f["name"], f["message"]) for f in findings]


def test_unknown_ids_pass_but_unknown_security_settings_are_findings() -> None:
    """A value known only after deploy: an id or reference (subnet group, security groups, tags) is fine; a
    security setting (encryption, public access, an IAM policy, log retention) is a finding that says the plan
    cannot verify it. (This test used to assert that every unknown passes.)"""
    graph = crafted([
        res("aws:rds/instance:Instance", {"storageEncrypted": "[computed]",
                                          "publiclyAccessible": "[computed]",
                                          "dbSubnetGroupName": "[computed]",
                                          "vpcSecurityGroupIds": ["[computed]"],
                                          "tags": "[computed]"}),
        res("aws:iam/rolePolicy:RolePolicy", {"policy": "[computed]", "role": "[computed]"}),
        res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": "[computed]", "tags": "[computed]"}),
    ])  # fmt: skip
    found = {(f["rule"], f["message"].split(" is computed")[0]) for f in evaluate(graph)}
    assert found == {
        ("database-encrypted-at-rest", "storageEncrypted"), ("database-not-public", "publiclyAccessible"),
        ("iam-no-wildcard-actions", "policy"), ("logs-retention", "retentionInDays"),
    }  # fmt: skip
    assert all("the plan cannot verify it" in f["message"] for f in evaluate(graph))


def test_prod_rules_only_bind_prod() -> None:
    rds = res("aws:rds/instance:Instance", {"storageEncrypted": True, "multiAz": False,
                                           "deletionProtection": False,
                                           "backupRetentionPeriod": 3})  # fmt: skip
    assert {f["rule"] for f in evaluate(crafted([rds], "dev"))} <= {"required-tags"}
    assert {"database-ha", "database-deletion-protection", "database-backup-retention"} <= {
        f["rule"] for f in evaluate(crafted([rds], "prod"))
    }


def test_owner_assigned_is_quiet_with_an_owner() -> None:
    graph = planned_with("aws", "saas", tags={"owner": "team-mobile"})
    assert not [f for f in graph["policy"] if f["rule"] == "owner-assigned"]


@needs("aws")
def test_advisory_rules_do_not_fire_on_prod_defaults() -> None:
    assert not [f for f in planned_with("aws", "managed", "prod")["policy"] if f["rule"] == "cache-ha"]


# --- lowering, unknown rule ids, enforcement ----------------------------------------------------------------
PUBLIC_DB = {"components": {"database": {"overrides": {"instance": {"publicly_accessible": True}}}}}
REASON = "reachable from the office VPN only, ticket SEC-142"


def write_stack(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(json.dumps({"cloud": "aws", "profile": "managed", **fields}))  # JSON is YAML
    return path


@needs("aws")
def test_mandatory_violation_exits_3_with_a_readable_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["policy", "check", "-f", str(write_stack(tmp_path, **PUBLIC_DB))])
    assert result.exit_code == 3, result.output
    assert "database-not-public" in result.output and "publicly_accessible=False" in result.output
    assert "1 mandatory policy violation" in result.output


@needs("aws")
def test_lowering_to_advisory_shows_the_reason_and_exits_0(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, **PUBLIC_DB, policy={"advisory": {"database-not-public": REASON}})
    text = CliRunner().invoke(cli, ["policy", "check", "-f", str(stack)])
    assert text.exit_code == 0, text.output
    assert REASON.split(",")[0] in " ".join(text.output.split()) and "lowered" in text.output
    as_json = CliRunner().invoke(cli, ["policy", "check", "-f", str(stack), "--json"])
    assert as_json.exit_code == 0, as_json.output
    result = json.loads(as_json.output)
    hit = next(f for f in result["findings"] if f["rule"] == "database-not-public")
    assert hit["enforcement"] == "advisory" and hit["reason"] == REASON and hit["severity"] == "high"
    assert result["passed"] is True and result["lowered"] == [
        {"rule": "database-not-public", "reason": REASON, "findings": 1}
    ]


@needs("aws")
def test_json_check_reports_and_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["policy", "check", "-f", str(write_stack(tmp_path, **PUBLIC_DB)), "--json"]
    )
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["passed"] is False and doc["summary"]["mandatory"] == 1
    assert set(doc["findings"][0]) >= {"rule", "severity", "enforcement", "resource", "type", "message",
                                       "remediation", "control", "reason"}  # fmt: skip


def test_a_clean_check_says_so_once(tmp_path: Path) -> None:
    """Issue: `no findings.` then `Policy passed: ...`: two lines for one verdict."""
    result = CliRunner().invoke(cli, ["policy", "check", "-f", str(write_stack(tmp_path, cloud="local"))])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "passed, no findings" in lines[0] and "rules on" in lines[0], result.output


def test_unknown_rule_id_is_a_config_error(tmp_path: Path) -> None:
    stack = write_stack(
        tmp_path, cloud="local", policy={"advisory": {"no-such-rule": "a reason long enough"}}
    )
    result = CliRunner().invoke(cli, ["policy", "check", "-f", str(stack)])
    assert result.exit_code == 2
    assert "no-such-rule" in result.output and "database-not-public" in result.output
    with pytest.raises(ConfigError, match="unknown rule 'no-such-rule'"):
        evaluate(
            crafted([]),
            resolve(
                StackFile.model_validate({"policy": {"advisory": {"no-such-rule": "a reason long enough"}}})
            ),
        )


def test_enforce_raises_a_report_naming_resource_rule_and_fix() -> None:
    findings = evaluate(
        crafted(
            [
                res(
                    "aws:rds/instance:Instance",
                    {"storageEncrypted": True, "publiclyAccessible": True},
                    "orders-db",
                )
            ]
        )
    )
    with pytest.raises(PolicyViolationError) as err:
        enforce(findings)
    assert err.value.exit_code == 3
    text = str(err.value)
    assert (
        "database-not-public" in text and "orders-db" in text and "fix: Set publicly_accessible=False" in text
    )
    assert "[CIS AWS 2.3.3]" in text
    enforce([f for f in findings if f["enforcement"] == "advisory"])  # advisory alone never blocks
    assert report(findings).startswith(f"{sum(f['enforcement'] == 'mandatory' for f in findings)} mandatory")


def test_policy_list_json_and_readme_table() -> None:
    result = CliRunner().invoke(cli, ["policy", "list", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == [r.id for r in RULES]
    assert all(r["severity"] in ("high", "medium", "low") and r["description"] for r in listed)
    local = json.loads(CliRunner().invoke(cli, ["policy", "list", "--cloud", "local", "--json"]).output)
    assert {r["id"] for r in local} == {r.id for r in RULES if "local" in r.clouds}
    assert rules_table() in (REPO / "policies" / "README.md").read_text(), (
        "regenerate the table in policies/README.md"
    )


def test_pack_config_carries_environment_and_lowering() -> None:
    from mbops.policies.pack import pack_config

    stack = resolve(StackFile.model_validate({"policy": {"advisory": {"required-tags": REASON}}}),
                    cloud="aws", environment="prod")  # fmt: skip
    config = pack_config(stack)
    assert set(config) == set(BY_ID)
    assert config["required-tags"] == {"environment": "prod", "enforcementLevel": "advisory", "reason": REASON}
    assert config["database-ha"] == {"environment": "prod"}


def test_policy_check_as_a_subprocess() -> None:
    command = [sys.executable, "-m", "mbops.cli", "policy", "check", "--cloud", "local", "--json"]
    proc = subprocess.run(command,
                          capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["passed"] is True


# --- the CrossGuard pack ------------------------------------------------------------------------------------
def build_pack(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Construct the PolicyPack exactly as __main__.py does, with pulumi-policy's gRPC serving stubbed out,
    and
    return the analyzer servicer it built (what the Pulumi engine talks to)."""
    import pulumi_policy.policy as pp
    from pulumi_policy import PolicyPack

    from mbops.policies.pack import pack_args

    made: dict[str, Any] = {}

    class Server:
        def add_insecure_port(self, address: str) -> int:
            return 0

        def start(self) -> None:
            made["started"] = True

        def stop(self, grace: float) -> None:
            made["stopped"] = True

    def stop_serving(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pp, "grpc", SimpleNamespace(server=lambda *a, **k: Server()))
    monkeypatch.setattr(
        pp,
        "analyzer_pb2_grpc",
        SimpleNamespace(
            add_AnalyzerServicer_to_server=lambda servicer, server: made.setdefault("servicer", servicer)
        ),
    )
    monkeypatch.setattr(pp, "time", SimpleNamespace(sleep=stop_serving))
    monkeypatch.setattr(pp, "sys", SimpleNamespace(stdout=SimpleNamespace(buffer=io.BytesIO())))
    PolicyPack(**pack_args())
    assert made.get("started") and made.get("stopped")
    return made["servicer"]


def struct(data: dict[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    out = struct_pb2.Struct()
    out.update(data)
    return out


def test_pack_loads_through_pulumi_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi.runtime import proto

    servicer = build_pack(monkeypatch)
    info = servicer.GetAnalyzerInfo(None, None)
    assert info.name == "mbops"
    policies = {p.name: p for p in info.policies}
    assert list(policies) == [r.id for r in RULES]
    assert policies["database-not-public"].enforcementLevel == proto.MANDATORY
    assert policies["owner-assigned"].enforcementLevel == proto.ADVISORY
    assert policies["database-not-public"].severity == proto.POLICY_SEVERITY_HIGH
    assert policies["storage-no-public-access"].policy_type == proto.PolicyType.POLICY_TYPE_STACK
    assert policies["imdsv2-required"].policy_type == proto.PolicyType.POLICY_TYPE_RESOURCE
    assert "CIS AWS 2.3.3" in policies["database-not-public"].framework.reference
    manifest = yaml.safe_load((REPO / "policies" / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == "python" and manifest["version"]

    urn = "urn:pulumi:prod::mbops::mbops:aws:Database$aws:rds/instance:Instance::db"
    request = proto.AnalyzeRequest(type="aws:rds/instance:Instance", urn=urn, name="db", properties=struct({
        "publiclyAccessible": True, "storageEncrypted": True, "multiAz": False, "backupRetentionPeriod": 14,
        "deletionProtection": True, "vpcSecurityGroupIds": [UNKNOWN_SENTINEL],
        "tags": {"app": "a", "env": "prod", "owner": "o"}}))  # fmt: skip
    diagnostics = {d.policyName: d for d in servicer.Analyze(request, None).diagnostics}
    assert set(diagnostics) == {"database-not-public", "database-ha"}, diagnostics
    assert diagnostics["database-not-public"].enforcementLevel == proto.MANDATORY
    assert "publicly_accessible=False" in diagnostics["database-not-public"].message

    config = proto.PolicyConfig(enforcementLevel=proto.ADVISORY, properties=struct({"reason": REASON}))
    servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={"database-not-public": config}), None)
    lowered = {d.policyName: d for d in servicer.Analyze(request, None).diagnostics}["database-not-public"]
    assert lowered.enforcementLevel == proto.ADVISORY and REASON in lowered.message


def test_pack_stack_policies_link_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi.runtime import proto

    servicer = build_pack(monkeypatch)
    bucket = "urn:pulumi:dev::mbops::mbops:aws:Storage$aws:s3/bucket:Bucket::files"
    guarded = "urn:pulumi:dev::mbops::mbops:aws:Storage$aws:s3/bucket:Bucket::guarded"
    pab = (
        "urn:pulumi:dev::mbops::mbops:aws:Storage$aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::pab"
    )
    resources = [
        proto.AnalyzerResource(type=S3, urn=bucket, name="files", properties=struct({})),
        proto.AnalyzerResource(type=S3, urn=guarded, name="guarded", properties=struct({})),
        proto.AnalyzerResource(
            type="aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", urn=pab, name="pab",
            dependencies=[guarded], properties=struct({
                "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
                "restrictPublicBuckets": True, "bucket": UNKNOWN_SENTINEL})),
    ]  # fmt: skip
    response = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    public = [d for d in response.diagnostics if d.policyName == "storage-no-public-access"]
    assert [d.urn for d in public] == [bucket]


def test_resource_policy_adapter_reads_policy_sdk_args() -> None:
    """The adapter takes pulumi-policy's own ResourceValidationArgs (proxied props with unknowns)."""
    from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    from mbops.policies.pack import plain, policies

    props = unknown_checking_proxy(deserialize_properties({
        "metadataOptions": {"httpTokens": "optional"}, "vpcSecurityGroupIds": [UNKNOWN_SENTINEL],
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}],
    }))  # fmt: skip
    assert plain(props)["vpcSecurityGroupIds"] == ["[computed]"]
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    lt = "aws:ec2/launchTemplate:LaunchTemplate"
    config = {"environment": "dev"}
    args = ResourceValidationArgs(lt, props, f"urn:pulumi:s::p::{lt}::lt", "lt", opts, None, config)
    by_name = {p.name: p for p in policies()}
    reported: list[str] = []
    by_name["imdsv2-required"].validate(args, lambda message, urn=None: reported.append(message))
    by_name["disk-encrypted-at-rest"].validate(args, lambda message, urn=None: reported.append(message))
    assert len(reported) == 1 and "httpTokens is optional" in reported[0] and "CIS AWS 5.6" in reported[0]


def test_pack_runs_the_way_pulumi_starts_it() -> None:
    """`pulumi up --policy-pack policies` runs `python -m pulumi.policy <engine> policies`: the analyzer must
    come up, print its port and answer over gRPC."""
    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc

    command = [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."]
    proc = subprocess.Popen(command, cwd=REPO / "policies", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = proc.stdout.readline().decode().strip()
        assert port.isdigit(), proc.stderr.read().decode() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        assert info.name == "mbops" and len(info.policies) == len(RULES)
    finally:
        proc.kill()
        proc.wait(timeout=10)
