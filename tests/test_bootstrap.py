"""``mbops bootstrap``: the CI bootstrap planned offline on each cloud — a private, encrypted, versioned state
store, a rotated secrets key, an OIDC trust pinned to one repository and branch, a deploy role whose policy is
``deployer_policy``'s for the repository's stacks — the policy rules on it, bad input, and the CI settings it
prints, which must be the ones the generated pipelines read and ``mbops up`` accepts."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mbops.cli.ci import VARIABLES, CiStack, pipeline
from mbops.cli.main import cli
from mbops.engine import automation
from mbops.engine.bootstrap import CI_SETTINGS, StackPolicies, ci_settings, plan_bootstrap, plan_stacks
from mbops.engine.fakes import PLAN_ACCOUNT_ID
from mbops.engine.fakes.azure import PLAN_SUBSCRIPTION_ID
from mbops.engine.permissions import AWS_MANAGED_POLICY_LIMIT, aws_policy_size, deployer_policy, split_policy
from mbops.errors import ConfigError
from mbops.policies.check import evaluate, mandatory
from mbops.stacks.bootstrap import resolve_spec
from mbops.stacks.config import Stack, resolve
from tests.conftest import one, resources

CLOUDS = ("aws", "gcp", "azure")
REPO = "acme/notes-backend"
PROJECT = "acme-notes"
STACKS = (("managed", "dev"), ("saas", "prod"))  # two environments: the GitHub trust names both


@cache
def _stacks(cloud: str) -> tuple[Stack, ...]:
    project = PROJECT if cloud == "gcp" else None
    return tuple(resolve(name=f"notes-{env}", profile=profile, cloud=cloud, environment=env, gcp_project=project)
                 for profile, env in STACKS)  # fmt: skip


@cache
def _graphs(cloud: str) -> tuple[dict[str, Any], ...]:
    return tuple(plan_stacks(_stacks(cloud)))


@cache
def _plan(cloud: str, provider: str = "github", **options: Any) -> Any:
    """The bootstrap's plan for the two stacks of ``cloud`` (cached; do not mutate)."""
    spec = resolve_spec(cloud=cloud, repository=REPO, provider=provider, environments=("dev", "prod"),
                        gcp_project=PROJECT if cloud == "gcp" else None, **options)  # fmt: skip
    return plan_bootstrap(spec, StackPolicies(list(_graphs(cloud))))


def _settings(planned: Any, cloud: str) -> dict[str, Any]:
    return ci_settings(cloud, planned.graph["outputs"])


def _doc(resource: dict[str, Any], key: str) -> dict[str, Any]:
    return json.loads(resource["inputs"][key])


# --- the state store ------------------------------------------------------------------------------------------


def test_aws_state_bucket_is_private_encrypted_versioned() -> None:
    graph = _plan("aws").graph
    bucket = one(graph, "aws:s3/bucket:Bucket")
    assert bucket["inputs"]["forceDestroy"] is False and bucket["retainOnDelete"] is True
    assert _settings(_plan("aws"), "aws")["MBOPS_BACKEND"] == f"s3://{bucket['inputs']['bucket']}?region=us-east-1"
    block = one(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))  # fmt: skip
    assert one(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")["inputs"]["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"}  # fmt: skip
    sse = one(graph, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["inputs"]["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                                       "bucketKeyEnabled": True}]  # fmt: skip
    versioning = one(graph, "aws:s3/bucketVersioning:BucketVersioning")["inputs"]
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    rules = one(graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["inputs"]["rules"]
    assert {"noncurrentDays": 90} in [r.get("noncurrentVersionExpiration") for r in rules]
    policy = _doc(one(graph, "aws:s3/bucketPolicy:BucketPolicy"), "policy")
    [deny] = policy["Statement"]
    arn = f"arn:aws:s3:::{bucket['inputs']['bucket']}"
    assert deny["Effect"] == "Deny" and deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert not resources(graph, "aws:dynamodb/table:Table")  # Pulumi's S3 backend locks with files in the bucket


def test_gcp_state_bucket_is_private_and_versioned() -> None:
    planned = _plan("gcp")
    bucket = one(planned.graph, "gcp:storage/bucket:Bucket")
    inputs = bucket["inputs"]
    assert inputs["uniformBucketLevelAccess"] is True and inputs["publicAccessPrevention"] == "enforced"
    assert inputs["versioning"] == {"enabled": True} and inputs["forceDestroy"] is False
    assert bucket["retainOnDelete"] is True and inputs["location"] == "US-CENTRAL1"
    assert _settings(planned, "gcp")["MBOPS_BACKEND"] == f"gs://{inputs['name']}"
    assert "encryption" not in inputs  # Google-managed keys unless cmek


def test_gcp_state_bucket_with_cmek_uses_the_key_once_the_storage_agent_may() -> None:
    graph = _plan("gcp", cmek=True).graph
    bucket = one(graph, "gcp:storage/bucket:Bucket")
    key_id = _settings(_plan("gcp", cmek=True), "gcp")["MBOPS_SECRETS_PROVIDER"].removeprefix("gcpkms://")
    assert bucket["inputs"]["encryption"] == {"defaultKmsKeyName": key_id}
    agent = next(m for m in resources(graph, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
                 if "gs-project-accounts" in m["inputs"]["member"])  # fmt: skip
    assert agent["urn"] in bucket["dependencies"]  # granted before the bucket uses the key
    assert agent["inputs"]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    with pytest.raises(ConfigError, match="--cmek: only with --cloud gcp"):
        resolve_spec(cloud="aws", repository=REPO, cmek=True)


def test_azure_state_account_is_private_tls_only_versioned() -> None:
    planned = _plan("azure")
    account = one(planned.graph, "azure-native:storage:StorageAccount")
    inputs = account["inputs"]
    assert inputs["minimumTlsVersion"] == "TLS1_2" and inputs["enableHttpsTrafficOnly"] is True
    assert inputs["allowBlobPublicAccess"] is False and inputs["allowSharedKeyAccess"] is False
    assert inputs["encryption"]["requireInfrastructureEncryption"] is True
    assert account["retainOnDelete"] is True
    service = one(planned.graph, "azure-native:storage:BlobServiceProperties")["inputs"]
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    container = one(planned.graph, "azure-native:storage:BlobContainer")["inputs"]
    assert container["publicAccess"] == "None"
    settings = _settings(planned, "azure")
    assert settings["MBOPS_BACKEND"] == f"azblob://{container['containerName']}"
    assert settings["AZURE_STORAGE_ACCOUNT"] == inputs["accountName"] == container["accountName"]


# --- the secrets key ------------------------------------------------------------------------------------------


def test_aws_key_rotates_and_is_the_secrets_provider() -> None:
    planned = _plan("aws")
    key = one(planned.graph, "aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True and key["inputs"]["rotationPeriodInDays"] <= 365
    assert key["retainOnDelete"] is True and "policy" not in key["inputs"]  # the default policy: IAM decides
    alias = one(planned.graph, "aws:kms/alias:Alias")["inputs"]["name"]
    assert _settings(planned, "aws")["MBOPS_SECRETS_PROVIDER"] == f"awskms://{alias}?region=us-east-1"


def test_gcp_key_rotates_and_is_the_secrets_provider() -> None:
    planned = _plan("gcp")
    key = one(planned.graph, "gcp:kms/cryptoKey:CryptoKey")
    assert int(key["inputs"]["rotationPeriod"].removesuffix("s")) <= 90 * 86400
    assert key["inputs"]["purpose"] == "ENCRYPT_DECRYPT" and key["retainOnDelete"] is True
    ring = one(planned.graph, "gcp:kms/keyRing:KeyRing")["inputs"]
    expected = f"gcpkms://projects/{PROJECT}/locations/{ring['location']}/keyRings/{ring['name']}/cryptoKeys/" \
               f"{key['inputs']['name']}"  # fmt: skip
    assert _settings(planned, "gcp")["MBOPS_SECRETS_PROVIDER"] == expected


def test_azure_key_vault_is_rbac_and_purge_protected_and_the_key_never_rotates_away() -> None:
    planned = _plan("azure")
    vault = one(planned.graph, "azure-native:keyvault:Vault")["inputs"]
    props = vault["properties"]
    assert props["enableRbacAuthorization"] is True and props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True and props["softDeleteRetentionInDays"] == 90
    key = one(planned.graph, "azure-native:keyvault:Key")["inputs"]
    assert key["properties"]["kty"] == "RSA" and key["properties"]["keySize"] >= 3072
    # Pulumi's azurekeyvault provider decrypts with the latest version: an automatic rotation strands the state.
    assert "rotationPolicy" not in key["properties"]
    expected = f"azurekeyvault://{vault['vaultName']}.vault.azure.net/keys/{key['keyName']}"
    assert _settings(planned, "azure")["MBOPS_SECRETS_PROVIDER"] == expected


# --- the trust: one repository, one branch ---------------------------------------------------------------------


def _trust(planned: Any) -> dict[str, Any]:
    [statement] = _doc(one(planned.graph, "aws:iam/role:Role"), "assumeRolePolicy")["Statement"]
    return statement


def test_aws_github_trust_pins_audience_environments_and_branch() -> None:
    planned = _plan("aws")
    provider = one(planned.graph, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")["inputs"]
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]
    statement = _trust(planned)
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Principal"]) == {"Federated"}  # the provider's ARN ([computed] in a plan), never "*"
    host = "token.actions.githubusercontent.com"
    assert statement["Condition"] == {"StringEquals": {
        f"{host}:aud": ["sts.amazonaws.com"],
        f"{host}:sub": [f"repo:{REPO}:environment:dev", f"repo:{REPO}:environment:prod"],
        f"{host}:ref": ["refs/heads/main"],
    }}  # fmt: skip


def test_aws_gitlab_trust_pins_project_and_branch_and_a_self_managed_issuer() -> None:
    statement = _trust(_plan("aws", "gitlab", branch="release"))
    assert statement["Condition"] == {"StringEquals": {
        "gitlab.com:aud": ["sts.amazonaws.com"],
        "gitlab.com:sub": [f"project_path:{REPO}:ref_type:branch:ref:release"],
    }}  # fmt: skip
    planned = _plan("aws", "gitlab", gitlab_url="https://gitlab.example.com/")
    provider = one(planned.graph, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")["inputs"]
    assert provider["url"] == "https://gitlab.example.com"
    assert set(_trust(planned)["Condition"]["StringEquals"]) == {"gitlab.example.com:aud", "gitlab.example.com:sub"}


def test_aws_existing_oidc_provider_is_referenced_not_created() -> None:
    planned = _plan("aws", existing_oidc_provider=True)
    assert not resources(planned.graph, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    arn = f"arn:aws:iam::{PLAN_ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
    assert _trust(planned)["Principal"] == {"Federated": arn}


def test_gcp_workload_identity_admits_only_the_repository_branch() -> None:
    planned = _plan("gcp")
    provider = one(planned.graph, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")["inputs"]
    assert provider["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider["attributeCondition"] == f"assertion.repository == '{REPO}' && assertion.ref == 'refs/heads/main'"
    assert provider["attributeMapping"]["attribute.repository"] == "assertion.repository"
    [binding] = resources(planned.graph, "gcp:serviceaccount/iAMMember:IAMMember")
    assert binding["inputs"]["role"] == "roles/iam.workloadIdentityUser"
    account = one(planned.graph, "gcp:serviceaccount/account:Account")
    assert account["urn"] in binding["dependencies"]  # on the deploy service account, not the project
    gitlab = one(_plan("gcp", "gitlab").graph, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    assert gitlab["inputs"]["attributeCondition"] == (
        f"assertion.project_path == '{REPO}' && assertion.ref_type == 'branch' && assertion.ref == 'main'"
    )
    assert gitlab["inputs"]["oidc"] == {"issuerUri": "https://gitlab.com"}


def test_gcp_service_account_gets_the_role_the_bucket_and_the_key_only() -> None:
    planned = _plan("gcp")
    email = _settings(planned, "gcp")["GCP_DEPLOY_SERVICE_ACCOUNT"]
    member = f"serviceAccount:{email}"
    role = one(planned.graph, "gcp:projects/iAMCustomRole:IAMCustomRole")["inputs"]
    project_binding = one(planned.graph, "gcp:projects/iAMMember:IAMMember")["inputs"]
    assert project_binding == {"project": PROJECT, "role": f"projects/{PROJECT}/roles/{role['roleId']}",
                               "member": member}  # fmt: skip
    bucket = one(planned.graph, "gcp:storage/bucket:Bucket")["inputs"]["name"]
    assert one(planned.graph, "gcp:storage/bucketIAMMember:BucketIAMMember")["inputs"] == {
        "bucket": bucket, "role": "roles/storage.objectUser", "member": member}  # fmt: skip
    key_binding = one(planned.graph, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")["inputs"]
    assert key_binding["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter" and key_binding["member"] == member
    assert "gcpkms://" + key_binding["cryptoKeyId"] == _settings(planned, "gcp")["MBOPS_SECRETS_PROVIDER"]


def test_azure_federated_credentials_name_each_subject_exactly() -> None:
    planned = _plan("azure")
    credentials = resources(planned.graph, "azure-native:managedidentity:FederatedIdentityCredential")
    assert sorted(c["inputs"]["subject"] for c in credentials) == [f"repo:{REPO}:environment:dev",
                                                                   f"repo:{REPO}:environment:prod"]  # fmt: skip
    for credential in credentials:
        assert credential["inputs"]["issuer"] == "https://token.actions.githubusercontent.com"
        assert credential["inputs"]["audiences"] == ["api://AzureADTokenExchange"]
    first, second = sorted(credentials, key=lambda c: c["inputs"]["subject"])
    assert first["urn"] in second["dependencies"] or second["urn"] in first["dependencies"]  # written one at a time
    gitlab = resources(_plan("azure", "gitlab").graph, "azure-native:managedidentity:FederatedIdentityCredential")
    assert [c["inputs"]["subject"] for c in gitlab] == [f"project_path:{REPO}:ref_type:branch:ref:main"]


def test_azure_identity_roles_are_the_custom_role_the_container_and_the_key() -> None:
    planned = _plan("azure")
    sub = f"/subscriptions/{PLAN_SUBSCRIPTION_ID}"
    group = one(planned.graph, "azure-native:resources:ResourceGroup")["inputs"]["resourceGroupName"]
    account = _settings(planned, "azure")["AZURE_STORAGE_ACCOUNT"]
    vault = one(planned.graph, "azure-native:keyvault:Vault")["inputs"]["vaultName"]
    definition = one(planned.graph, "azure-native:authorization:RoleDefinition")["inputs"]
    roles = f"{sub}/providers/Microsoft.Authorization/roleDefinitions"
    assignments = {(a["inputs"]["scope"], a["inputs"]["roleDefinitionId"])
                   for a in resources(planned.graph, "azure-native:authorization:RoleAssignment")}  # fmt: skip
    assert assignments == {
        (sub, f"{roles}/{definition['roleDefinitionId']}"),
        (f"{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/"
         "containers/mbops-state", f"{roles}/ba92f5b4-2d11-453d-a403-e96b0029c9fe"),  # Storage Blob Data Contributor
        (f"{sub}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{vault}/keys/pulumi-secrets",
         f"{roles}/12338af0-0e69-4776-bea7-57ae8d297424"),  # Key Vault Crypto User
    }  # fmt: skip


def _deployer_assignment(graph: dict[str, Any]) -> dict[str, Any]:
    sub = f"/subscriptions/{PLAN_SUBSCRIPTION_ID}"
    [found] = [a for a in resources(graph, "azure-native:authorization:RoleAssignment") if a["inputs"]["scope"] == sub]
    return found["inputs"]


def test_azure_deploy_identity_may_assign_only_the_roles_the_stacks_assign() -> None:
    graph = _plan("azure").graph
    stack_roles = {r["inputs"]["roleDefinitionId"].rsplit("/", 1)[-1] for g in _graphs("azure")
                   for r in resources(g, "azure-native:authorization:RoleAssignment")}  # fmt: skip
    assert stack_roles  # the stacks assign roles (the app identity's), so the deployer role may too ...
    definition = one(graph, "azure-native:authorization:RoleDefinition")["inputs"]
    assert "Microsoft.Authorization/roleAssignments/write" in definition["permissions"][0]["actions"]
    assignment = _deployer_assignment(graph)  # ... but only those roles, on add and on remove
    assert assignment["conditionVersion"] == "2.0"
    write, delete = assignment["condition"].split(" AND ")
    for clause, source in ((write, "@Request"), (delete, "@Resource")):
        assert f"{source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals" \
               in clause  # fmt: skip
        listed = clause.rsplit("{", 1)[1].split("}", 1)[0]
        assert set(listed.split(", ")) == stack_roles
    assert "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" not in assignment["condition"]  # Owner is not among them


def test_azure_role_condition_is_left_out_when_a_stack_role_is_computed() -> None:
    graphs = json.loads(json.dumps(list(_graphs("azure"))))
    next(r for r in graphs[0]["resources"] if r["type"] == "azure-native:authorization:RoleAssignment")[
        "inputs"]["roleDefinitionId"] = "[computed]"  # fmt: skip
    source = StackPolicies(graphs)
    assert source.assignable_roles() is None
    planned = plan_bootstrap(resolve_spec(cloud="azure", repository=REPO), source)
    assert "condition" not in _deployer_assignment(planned.graph)
    assert any("add a condition" in note for note in planned.policy.notes)  # said to the user instead


# --- the deploy role's policy is deployer_policy's ------------------------------------------------------------


def _expected(cloud: str) -> Any:
    settings = _settings(_plan(cloud), cloud)
    scope = {"aws": PLAN_ACCOUNT_ID, "gcp": PROJECT, "azure": PLAN_SUBSCRIPTION_ID}[cloud]
    return deployer_policy(
        list(_graphs(cloud)),
        account=scope if cloud == "aws" else "*",
        subscription=scope,
        backend=settings["MBOPS_BACKEND"],
        secrets_provider=settings["MBOPS_SECRETS_PROVIDER"],
    )


def test_aws_role_policy_is_the_deployer_policy_split_to_fit() -> None:
    planned, expected = _plan("aws"), _expected("aws").document
    policies = sorted(resources(planned.graph, "aws:iam/policy:Policy"), key=lambda r: r["name"])
    documents = [_doc(p, "policy") for p in policies]
    whole = aws_policy_size(expected) <= AWS_MANAGED_POLICY_LIMIT
    assert documents == ([expected] if whole else split_policy(expected))
    assert all(aws_policy_size(d) <= AWS_MANAGED_POLICY_LIMIT for d in documents)
    every = {a for s in expected["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    got = {a for d in documents for s in d["Statement"]
           for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}  # fmt: skip
    assert got == every
    # The state bucket and the secrets key are in it, scoped to what the bootstrap made.
    bucket = one(planned.graph, "aws:s3/bucket:Bucket")["inputs"]["bucket"]
    statements = {s["Sid"]: s for d in documents for s in d["Statement"]}
    assert statements["StateObjects"]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    alias = one(planned.graph, "aws:kms/alias:Alias")["inputs"]["name"]
    assert statements["SecretsKey"]["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}
    attachments = resources(planned.graph, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert len(attachments) == len(policies)
    role = one(planned.graph, "aws:iam/role:Role")
    assert all(role["urn"] in a["dependencies"] for a in attachments)


def test_gcp_custom_role_is_the_deployer_role() -> None:
    role = one(_plan("gcp").graph, "gcp:projects/iAMCustomRole:IAMCustomRole")["inputs"]
    expected = _expected("gcp").document
    assert role["permissions"] == expected["includedPermissions"] and role["stage"] == "GA"


def test_azure_role_definition_is_the_deployer_role() -> None:
    definition = one(_plan("azure").graph, "azure-native:authorization:RoleDefinition")["inputs"]
    expected = _expected("azure").document
    assert definition["permissions"] == [{"actions": expected["Actions"], "notActions": [], "dataActions": [],
                                          "notDataActions": []}]  # fmt: skip
    assert definition["assignableScopes"] == expected["AssignableScopes"] == [f"/subscriptions/{PLAN_SUBSCRIPTION_ID}"]
    assert definition["roleType"] == "CustomRole" and REPO in definition["roleName"]  # unique in the tenant


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_wildcard_principals_or_actions_are_granted(cloud: str) -> None:
    graph = _plan(cloud).graph
    for res in graph["resources"]:
        for key in ("policy", "assumeRolePolicy"):
            value = res["inputs"].get(key)
            if not isinstance(value, str):
                continue
            for statement in json.loads(value)["Statement"]:
                if statement["Effect"] != "Allow":
                    continue
                principal = statement.get("Principal")
                assert principal != "*" and "*" not in json.dumps(principal or {}), (res["name"], statement)
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not [a for a in actions if a == "*" or a.endswith(":*")], (res["name"], statement["Sid"])
        member = res["inputs"].get("member")
        assert member not in ("allUsers", "allAuthenticatedUsers"), res["name"]
        for permission in res["inputs"].get("permissions") or []:
            if isinstance(permission, dict):
                assert "*" not in permission["actions"] and "*" not in permission["dataActions"]


# --- the policy rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_bootstrap_passes_the_security_rules(cloud: str) -> None:
    findings = _plan(cloud).graph["policy"]
    assert not mandatory(findings), [(f["rule"], f["name"], f["message"]) for f in mandatory(findings)]
    lowered = {f["rule"] for f in findings if f.get("reason")}
    assert lowered <= {"monitoring-on"}  # an app rule, lowered with its reason; no security rule is


@pytest.mark.parametrize(("cloud", "drop", "rule"), [
    ("aws", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "storage-no-public-access"),
    ("aws", "aws:s3/bucketPolicy:BucketPolicy", "storage-https-only"),
])  # fmt: skip
def test_the_rules_judge_the_bootstrap_resources(cloud: str, drop: str, rule: str) -> None:
    """The rules really read these resources: without the public access block / TLS-only policy they fail."""
    graph = json.loads(json.dumps(_plan(cloud).graph))
    graph["resources"] = [r for r in graph["resources"] if r["type"] != drop]
    assert rule in {f["rule"] for f in mandatory(evaluate(graph))}


def test_azure_rules_judge_the_state_account() -> None:
    graph = json.loads(json.dumps(_plan("azure").graph))
    account = one(graph, "azure-native:storage:StorageAccount")
    account["inputs"]["allowBlobPublicAccess"] = True
    account["inputs"]["minimumTlsVersion"] = "TLS1_0"
    rules = {f["rule"] for f in mandatory(evaluate(graph))}
    assert {"storage-no-public-access", "storage-https-only"} <= rules


# --- overrides, names ------------------------------------------------------------------------------------------


def test_raw_overrides_reach_the_child_and_unknown_children_are_refused() -> None:
    spec = resolve_spec(cloud="aws", repository=REPO, overrides={"role": {"max_session_duration": 3600}})
    graph = plan_bootstrap(spec, StackPolicies(list(_graphs("aws")))).graph
    assert one(graph, "aws:iam/role:Role")["inputs"]["maxSessionDuration"] == 3600
    bad = resolve_spec(cloud="aws", repository=REPO, overrides={"rolle": {"name": "x"}})
    with pytest.raises(ConfigError, match=r"no child resource named rolle; .*children are: .*role"):
        plan_bootstrap(bad, StackPolicies(list(_graphs("aws"))))


def test_names_fit_each_clouds_limits() -> None:
    long = "a-very-long-organisation-name-for-tests/" + "n" * 90  # GitHub: owner <= 39, name <= 100
    spec = resolve_spec(cloud="aws", repository=long)
    graph = plan_bootstrap(spec, StackPolicies(list(_graphs("aws")))).graph
    assert len(one(graph, "aws:s3/bucket:Bucket")["inputs"]["bucket"]) <= 63
    assert len(one(graph, "aws:iam/role:Role")["inputs"]["name"]) <= 64
    azure = plan_bootstrap(resolve_spec(cloud="azure", repository=long), StackPolicies(list(_graphs("azure"))))
    settings = _settings(azure, "azure")
    assert len(settings["AZURE_STORAGE_ACCOUNT"]) <= 24 and settings["AZURE_STORAGE_ACCOUNT"].isalnum()
    assert len(one(azure.graph, "azure-native:keyvault:Vault")["inputs"]["vaultName"]) <= 24


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--cloud", "aws", "--repository", "acme"], "--repository: 'acme' is not OWNER/NAME"),
    (["--cloud", "aws", "--repository", "acme/notes/extra"], "is not OWNER/NAME on github"),
    (["--cloud", "aws", "--repository", "acme/.."], "is not OWNER/NAME"),
    (["--cloud", "aws", "--repository", REPO, "--branch", "release/*"], "--branch: 'release/*' is not a branch"),
    (["--cloud", "gcp", "--repository", REPO], "--gcp-project: needed for --cloud gcp"),
    (["--cloud", "azure", "--repository", REPO, "--subscription-id", "nope"], "not an Azure subscription id"),
    (["--cloud", "aws", "--repository", REPO, "--state-bucket", "Bad_Name"], "--state-bucket: 'Bad_Name'"),
    (["--cloud", "aws", "--repository", REPO, "--gitlab-url", "https://gitlab.example.com"],
     "--gitlab-url: only with --provider gitlab"),
    (["--cloud", "aws", "--repository", REPO, "--provider", "gitlab", "--gitlab-url", "http://gitlab.example.com"],
     "is not an https:// URL"),
    (["--cloud", "aws", "--repository", REPO, "--region", "eu-west-9"], "--region: 'eu-west-9' is not a region"),
    (["--cloud", "gcp", "--repository", REPO, "--gcp-project", PROJECT, "--existing-oidc-provider"],
     "--existing-oidc-provider: only with --cloud aws"),
])  # fmt: skip
def test_bad_input_exits_2_with_the_flag_named(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["bootstrap", *args, "--preview"], env={"GOOGLE_CLOUD_PROJECT": ""})
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_gitlab_subgroups_are_repositories_and_name_the_subject() -> None:
    spec = resolve_spec(cloud="aws", repository="acme/mobile/notes", provider="gitlab", branch="release/2.x")
    assert spec.subjects == ["project_path:acme/mobile/notes:ref_type:branch:ref:release/2.x"]
    assert spec.owner == "acme/mobile" and spec.issuer == "https://gitlab.com"
    with pytest.raises(ConfigError, match="is not OWNER/NAME on github"):
        resolve_spec(cloud="aws", repository="acme/mobile/notes")


def test_unknown_cloud_exits_2() -> None:
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", "local", "--repository", REPO, "--preview"])
    assert result.exit_code == 2
    assert "Invalid value for '--cloud'" in result.output and "'aws', 'gcp', 'azure'" in result.output


def test_a_stack_file_of_another_cloud_exits_2(tmp_path: Path) -> None:
    stack = _stack_file(tmp_path, "notes-dev", "managed", "gcp", "dev")
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", "aws", "--repository", REPO, "-f", str(stack),
                                      "--preview"])  # fmt: skip
    assert result.exit_code == 2
    assert f"{stack}: cloud: the stack file says 'gcp', --cloud says 'aws'" in result.output


# --- the CLI and the CI settings ------------------------------------------------------------------------------


def _stack_file(folder: Path, name: str, profile: str, cloud: str, env: str) -> Path:
    path = folder / f"{name}.yaml"
    data = {"name": name, "profile": profile, "cloud": cloud, "environment": env, "tags": {"owner": "team-mobile"}}
    if cloud == "gcp":
        data["gcp_project"] = PROJECT
    path.write_text(yaml.safe_dump(data))
    return path


def _files(tmp_path: Path, cloud: str) -> list[str]:
    return [arg for profile, env in STACKS
            for arg in ("-f", str(_stack_file(tmp_path, f"notes-{env}", profile, cloud, env)))]  # fmt: skip


@pytest.mark.parametrize("cloud", CLOUDS)
def test_preview_json_prints_the_settings_the_pipelines_read(cloud: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", cloud, "--repository", REPO, *_files(tmp_path, cloud),
                                      "--preview", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    settings = report["ci_settings"]
    assert list(settings) == [name for name, _ in VARIABLES[cloud]] == list(CI_SETTINGS[cloud])
    assert report["stacks"] == ["notes-dev", "notes-prod"] and report["environments"] == ["dev", "prod"]
    assert report["deploy_policy"]["documents"] and report["plan"]["resources"]
    # Every setting is one the generated pipelines read: GitHub passes each `vars.NAME` to the deploy job; GitLab
    # hands every CI variable to the job's environment, and its header lists the ones to set.
    stacks = [
        CiStack("notes-dev", "dev", "us-east-1", "stacks/dev.yaml", ()),
        CiStack("notes-prod", "prod", "us-east-1", "stacks/prod.yaml", ()),
    ]
    for provider, reference in (("github", "${{{{ vars.{} }}}}"), ("gitlab", "#   {} ")):
        _, text = pipeline(provider, cloud, stacks, branch="main", pip_spec="mbops", command="mbops ci init")
        missing = [n for n in settings if reference.format(n) not in text]
        assert not missing, f"{provider} pipeline does not read {missing}"
    # ... and the backend and secrets provider are what `mbops up` accepts.
    env = {"MBOPS_SECRETS_PROVIDER": settings["MBOPS_SECRETS_PROVIDER"]}
    assert automation.resolve_backend(settings["MBOPS_BACKEND"], {}) == settings["MBOPS_BACKEND"]
    assert automation.secrets_provider(settings["MBOPS_BACKEND"], env) == settings["MBOPS_SECRETS_PROVIDER"]


def test_preview_text_shows_the_plan_the_policy_and_the_settings(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", "aws", "--repository", REPO, *_files(tmp_path, "aws"),
                                      "--preview"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "aws:iam/role:Role" in out and "aws:kms/key:Key" in out
    assert "The deploy role's policy (`mbops permissions` of notes-dev, notes-prod)" in out
    assert "StateObjects: 3 actions on arn:aws:s3:::mbops-state-" in out
    for name, _ in VARIABLES["aws"]:
        assert f"  {name}" in out
    assert "AWS_DEPLOY_ROLE_ARN     (known after deploy)" in out
    assert f"placeholder: {PLAN_ACCOUNT_ID} stands for the deploying AWS account id" in out
    assert "Nothing was created" in out


def test_without_the_pulumi_cli_it_plans_and_exits_4(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty-bin"), "MBOPS_TOOLS_DIR": str(tmp_path / "no-tools"),
           "MBOPS_HOME": str(tmp_path / "home")}  # fmt: skip
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", "azure", "--repository", REPO, "--yes"], env=env)
    assert result.exit_code == 4, result.output
    assert "MBOPS_BACKEND" in result.stdout and "azure-native:keyvault:Vault" in result.stdout
    assert "nothing was created: deploying the bootstrap needs the Pulumi CLI" in result.output
    assert not (tmp_path / "home").exists()


# --- the Pulumi engine ----------------------------------------------------------------------------------------

CLI_FOUND = automation.find_pulumi()


@pytest.mark.skipif(CLI_FOUND is None, reason="no Pulumi CLI on PATH or in .tools/bin")
def test_deploy_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", "aws", "--repository", REPO],
                                env={"CI": "true", "MBOPS_HOME": str(tmp_path / "home")})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--yes: `mbops bootstrap --cloud aws` creates real resources" in result.output


@pytest.mark.pulumi_cli
@pytest.mark.skipif(CLI_FOUND is None, reason="no Pulumi CLI on PATH or in .tools/bin")
def test_deploy_runs_the_program_on_the_real_engine_with_local_state(tmp_path: Path) -> None:
    """The Automation API path for real: the program runs in the Pulumi engine with its state under
    $MBOPS_HOME/bootstrap. Here no AWS provider plugin can be installed (no network to get.pulumi.com) or no
    credentials exist, so the deploy stops at the first provider call: exit 1 with the provider's error."""
    env = {**os.environ, "MBOPS_HOME": str(tmp_path / "home"), "PULUMI_HOME": str(tmp_path / "pulumi-home"),
           "PULUMI_CONFIG_PASSPHRASE": "bootstrap test", "MBOPS_SECRETS_PROVIDER": "awskms://alias/not-yet",
           "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "CI": "true"}  # fmt: skip
    result = CliRunner().invoke(cli, ["bootstrap", "--cloud", "aws", "--repository", REPO, "--yes"], env=env)
    assert result.exit_code == 1, result.output
    assert "`pulumi up` failed for stack acme-notes-backend.aws" in result.output
    state = tmp_path / "home" / "bootstrap" / "state" / ".pulumi" / "stacks" / "mbops-bootstrap"
    assert (state / "acme-notes-backend.aws.json").is_file()  # passphrase-encrypted local state, not the KMS key
    config = yaml.safe_load((tmp_path / "home" / "bootstrap" / "work" / "acme-notes-backend.aws" /
                             "Pulumi.acme-notes-backend.aws.yaml").read_text())  # fmt: skip
    assert config["config"]["aws:region"] == "us-east-1" and "encryptionsalt" in config
