"""Least privilege: no wildcard actions in Allow statements, no owner/editor/admin roles handed out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mbops.policies.model import Context, Resource, Rule, unreadable, unverified
from mbops.policies.values import as_list, document, get, items, known, word

AWS_ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
GCP_PRIMITIVE_ROLES = ("roles/owner", "roles/editor")
# Built-in Azure role definition GUIDs (the same in every tenant).
AZURE_PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}
WILDCARD_ACTION = re.compile(r"^(\*|[a-z0-9-]+:\*)$", re.IGNORECASE)
GCP_IAM = r"re:(?i)^gcp:[^:]+/[a-z]*iam(member|binding|policy):"


def _inputs(res: Resource) -> dict:
    return res.get("inputs") or {}


# --- iam-no-wildcard-actions --------------------------------------------------------------------------------
def wildcard_statements(policy: Any) -> Iterator[str]:
    """A message for each Allow statement of an IAM policy granting ``*`` / ``service:*`` actions."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    for index, statement in enumerate(as_list(statements)):
        if not isinstance(statement, dict) or word(statement.get("Effect")) != "allow":
            continue
        label = statement.get("Sid") or f"#{index + 1}"
        if "NotAction" in statement:
            yield f"statement {label} allows everything except {statement['NotAction']} (NotAction)"
        wild = [
            a for a in as_list(statement.get("Action")) if isinstance(a, str) and WILDCARD_ACTION.match(a)
        ]
        if wild:
            yield f"statement {label} allows wildcard actions {', '.join(wild)}"


def _policy(value: Any, label: str) -> Iterator[str]:
    """The wildcard statements of a policy document; a document computed at deploy time cannot be verified."""
    doc = document(value)
    if doc is None and value is not None:
        yield unreadable(value, label)
    else:
        yield from wildcard_statements(doc)


def _aws_policy_document(res: Resource, ctx: Context) -> Iterator[str]:
    yield from _policy(get(_inputs(res), "policy"), "policy")


def _aws_role_inline(res: Resource, ctx: Context) -> Iterator[str]:
    inline = get(_inputs(res), "inlinePolicies")
    if not known(inline):
        yield unverified("inlinePolicies")
    for policy in items(inline):
        for message in _policy(get(policy, "policy"), "policy"):
            yield f"inline policy {get(policy, 'name', '?')}: {message}"


def _azure_role_definition(res: Resource, ctx: Context) -> Iterator[str]:
    permissions = get(_inputs(res), "permissions")
    if not known(permissions):
        yield unverified("permissions")
    for permission in items(permissions):
        for key in ("actions", "dataActions"):
            if "*" in [str(a).strip() for a in items(get(permission, key))]:
                yield f"the custom role allows every action ({key}: '*')"


WILDCARD_ACTIONS = Rule(
    id="iam-no-wildcard-actions",
    title="No wildcard actions in IAM policies",
    severity="high",
    enforcement="mandatory",
    description="Allow statements name the actions they need: no '*', no 'service:*', no NotAction. Policies "
                "arrive "
    "as JSON strings (IAM policies, role policies, a role's inline policies); Azure custom roles list "
    "actions.",
    remediation={
        "aws": "List the exact actions (e.g. s3:GetObject, s3:PutObject) and scope Resource to the stack's "
               "ARNs.",
        "azure": "Give the custom role the specific Microsoft.* actions it needs, or use a built-in data "
                 "role.",
    },
    clouds=("aws", "azure"),
    controls={"aws": "CIS AWS 1.16; AWS FSBP IAM.21", "azure": "CIS Azure 1.23"},
    checks={
        "aws:iam/policy:Policy": _aws_policy_document,
        "aws:iam/rolePolicy:RolePolicy": _aws_policy_document,
        "aws:iam/userPolicy:UserPolicy": _aws_policy_document,
        "aws:iam/groupPolicy:GroupPolicy": _aws_policy_document,
        "aws:iam/role:Role": _aws_role_inline,
        "azure-native:authorization:RoleDefinition": _azure_role_definition,
    },
)


# --- iam-no-privileged-roles --------------------------------------------------------------------------------
def _aws_admin_arn(arn: Any) -> str | None:
    if isinstance(arn, str):
        for name in AWS_ADMIN_POLICIES:
            if arn.endswith(f":policy/{name}"):
                return name
    return None


def _aws_attachment(res: Resource, ctx: Context) -> Iterator[str]:
    name = _aws_admin_arn(get(_inputs(res), "policyArn"))
    if name:
        yield f"attaches the AWS managed policy {name}"


def _aws_role_managed(res: Resource, ctx: Context) -> Iterator[str]:
    for arn in items(get(_inputs(res), "managedPolicyArns")):
        name = _aws_admin_arn(arn)
        if name:
            yield f"the role has the AWS managed policy {name}"


def _gcp_iam(res: Resource, ctx: Context) -> Iterator[str]:
    inputs = _inputs(res)
    roles = as_list(get(inputs, "role"))
    policy = document(get(inputs, "policyData"))
    roles += [b.get("role") for b in as_list(policy.get("bindings") if isinstance(policy, dict) else None)
              if isinstance(b, dict)]  # fmt: skip
    for role in roles:
        if role in GCP_PRIMITIVE_ROLES:
            yield f"grants the primitive role {role}"


def _azure_assignment(res: Resource, ctx: Context) -> Iterator[str]:
    role_id = str(get(_inputs(res), "roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
    if role_id in AZURE_PRIVILEGED_ROLES:
        yield f"assigns the built-in {AZURE_PRIVILEGED_ROLES[role_id]} role"


PRIVILEGED_ROLES = Rule(
    id="iam-no-privileged-roles",
    title="No owner, editor or administrator roles",
    severity="high",
    enforcement="mandatory",
    description="Workloads never get broad administrative roles: no AdministratorAccess / PowerUserAccess / "
    "IAMFullAccess on AWS, no primitive roles/owner or roles/editor on GCP, no Owner, Contributor or User "
    "Access "
    "Administrator assignments on Azure.",
    remediation={
        "aws": "Attach a policy with the specific actions the workload needs instead of an AWS admin policy.",
        "gcp": "Grant predefined roles scoped to the resource (roles/storage.objectAdmin on the bucket, "
        "roles/cloudsql.client, roles/secretmanager.secretAccessor) instead of owner/editor.",
        "azure": "Assign a narrow built-in role at the resource's scope (Storage Blob Data Contributor, Key "
                 "Vault "
        "Secrets User, AcrPull) instead of Owner/Contributor.",
    },
    clouds=("aws", "gcp", "azure"),
    controls={"aws": "CIS AWS 1.16", "gcp": "CIS GCP 1.5", "azure": "MCSB PA-7"},
    checks={
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _aws_attachment,
        "aws:iam/userPolicyAttachment:UserPolicyAttachment": _aws_attachment,
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": _aws_attachment,
        "aws:iam/policyAttachment:PolicyAttachment": _aws_attachment,
        "aws:iam/role:Role": _aws_role_managed,
        GCP_IAM: _gcp_iam,
        "azure-native:authorization:RoleAssignment": _azure_assignment,
    },
)

RULES = [WILDCARD_ACTIONS, PRIVILEGED_ROLES]
