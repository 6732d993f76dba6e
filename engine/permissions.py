"""The least-privilege deployer policy for the resource types a stack plans: an AWS IAM policy, a GCP custom
role or an Azure custom role definition.

Which actions each resource type needs to be created, read (preview, refresh), updated, deleted and tagged is
data: ``permission_maps/<cloud>.yaml`` (per type, plus the provider functions the components call and what the
provider itself calls) and ``permission_maps/common.yaml`` (types that call no cloud API). ``requirements``
collects them for one or more planned graphs and lists the types the maps do not know; ``deployer_policy``
refuses to render a document while any is unknown (a policy without their permissions would fail the deploy
half-way). It renders the cloud's document:

- AWS: statements per set of resources, each regional one limited to the regions the stack deploys to
  (``aws:RequestedRegion``: the stack's, and every region a planned resource names, e.g. us-east-1 for
  CloudFront's certificate and web ACL); IAM limited to the stack's own roles and instance profiles (names
  start with the stack name); ``iam:PassRole`` only on the stack's roles and only to the services their trust
  policies name; ``iam:AttachRolePolicy`` only for the managed policies the stack attaches; service-linked
  roles only for the services that need one; optional access to the state bucket and the secrets key.
- GCP: a custom role (``gcloud iam roles create --file``); bucket and key access are bindings on those resources.
- Azure: a custom role definition (``az role definition create --role-definition``) for the subscription.

``mbops bootstrap`` reuses ``deployer_policy`` for the CI deploy role's policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mbops.errors import ConfigError, MbopsError

MAP_DIR = Path(__file__).parent / "permission_maps"
CLOUDS = ("aws", "gcp", "azure")
VERBS = ("create", "read", "update", "delete", "tag")
AWS_MANAGED_POLICY_LIMIT = 6144  # characters, not counting white space
_AWS_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_GCP_PERMISSION = re.compile(r"^[a-zA-Z0-9]+(\.[a-zA-Z0-9]+){2,}$")
_AZURE_ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z0-9]+)+$")
FORMATS = {"aws": _AWS_ACTION, "gcp": _GCP_PERMISSION, "azure": _AZURE_ACTION}
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


# --- the maps -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PermissionMap:
    """One cloud's map: per resource type the actions per verb, plus functions, provider and no-API types."""

    cloud: str
    path: Path
    resources: dict[str, dict[str, Any]]
    functions: dict[str, list[str]]
    provider: list[str]
    no_cloud_api: dict[str, str]
    global_services: frozenset[str] = frozenset()

    def actions(self, type_token: str) -> dict[str, list[str]]:
        """The actions per verb for ``type_token`` (KeyError when the map does not know it)."""
        entry = self.resources[type_token]
        return {verb: list(entry.get(verb) or []) for verb in VERBS}

    def knows(self, type_token: str) -> bool:
        return type_token in self.resources or type_token in self.no_cloud_api


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MbopsError(f"{path}: cannot read the permission map: {exc}") from None
    if not isinstance(data, dict):
        raise MbopsError(f"{path}: expected a mapping at the top level")
    return data


@cache
def load_map(cloud: str) -> PermissionMap:
    """The permission map of ``cloud`` (with the common no-API types); MbopsError names a malformed entry."""
    if cloud not in CLOUDS:
        raise ConfigError(f"--cloud: '{cloud}' has no deployer permissions; allowed: {', '.join(CLOUDS)}")
    path = MAP_DIR / f"{cloud}.yaml"
    data, common = _read(path), _read(MAP_DIR / "common.yaml")
    pattern = FORMATS[cloud]
    resources = data.get("resources") or {}
    for type_token, entry in resources.items():
        if not isinstance(entry, dict) or set(VERBS) - set(entry):
            raise MbopsError(f"{path}: resources.{type_token}: needs {', '.join(VERBS)} (lists of actions)")
        for verb in VERBS:
            bad = [a for a in entry[verb] or [] if not isinstance(a, str) or not pattern.match(a)]
            if bad:
                raise MbopsError(f"{path}: resources.{type_token}.{verb}: not a {cloud} action: {bad[0]}")
    return PermissionMap(
        cloud=cloud, path=path, resources=resources, functions=data.get("functions") or {},
        provider=list(data.get("provider") or []),
        no_cloud_api={**(common.get("no_cloud_api") or {}), **(data.get("no_cloud_api") or {})},
        global_services=frozenset(data.get("global_services") or ()),
    )  # fmt: skip


# --- what a set of plans needs --------------------------------------------------------------------------------


@dataclass
class Requirements:
    """The actions a set of planned graphs (one cloud) needs, per resource type, and what the map lacks."""

    cloud: str
    stacks: list[str]
    regions: list[str]
    by_type: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    no_cloud_api: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    base: list[str] = field(default_factory=list)  # the provider's own calls and the components' functions

    def actions(self, *, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Every action, sorted and unique, except those of the types in ``exclude``."""
        found = set(self.base)
        for type_token, verbs in self.by_type.items():
            if type_token not in exclude:
                for actions in verbs.values():
                    found.update(actions)
        return sorted(found)


def requirements(graphs: list[dict[str, Any]]) -> Requirements:
    """What deploying (and refreshing, updating, destroying) every custom resource of ``graphs`` needs."""
    if not graphs:
        raise ConfigError("no planned graph to derive permissions from")
    clouds = sorted({g["cloud"] for g in graphs})
    if len(clouds) != 1:
        raise ConfigError(f"plans of one cloud only; got {', '.join(clouds)}")
    mapping = load_map(clouds[0])
    req = Requirements(cloud=clouds[0], stacks=sorted({g["stack"] for g in graphs}), regions=regions(graphs))
    req.base = sorted({*mapping.provider, *(a for acts in mapping.functions.values() for a in acts)})
    unknown = set()
    for graph in graphs:
        for res in graph["resources"]:
            if not res.get("custom"):
                continue
            token = res["type"]
            if token in mapping.resources:
                req.by_type[token] = mapping.actions(token)
            elif token in mapping.no_cloud_api:
                req.no_cloud_api[token] = mapping.no_cloud_api[token]
            else:
                unknown.add(token)
    req.by_type = dict(sorted(req.by_type.items()))
    req.unknown = sorted(unknown)
    return req


def regions(graphs: list[dict[str, Any]]) -> list[str]:
    """The regions the plans deploy to: each stack's, and any a resource names in its ``region`` input."""
    found = {g["region"] for g in graphs}
    for graph in graphs:
        for res in graph["resources"]:
            region = res.get("inputs", {}).get("region") if res.get("custom") else None
            if isinstance(region, str) and region and region != "[computed]":
                found.add(region)
    return sorted(found)


def unknown_error(req: Requirements) -> str | None:
    """Why no policy can be given when some planned types have no mapping (the deploy would fail on them)."""
    if not req.unknown:
        return None
    return (
        f"{len(req.unknown)} resource type(s) the stack plans have no entry in the {req.cloud} permission map, so "
        f"a deployer policy would lack their permissions: {', '.join(req.unknown)}. Add them to "
        f"{load_map(req.cloud).path} (create/read/update/delete/tag)."
    )


# --- AWS ------------------------------------------------------------------------------------------------------


def _service(action: str) -> str:
    return action.split(":", 1)[0]


def _sid(regional: bool, resources: tuple[str, ...]) -> str:
    """``InStackRegion`` / ``GlobalServices`` for unscoped statements, ``StackRoles``-like names for scoped ones."""
    if resources == ("*",):
        return "InStackRegion" if regional else "GlobalServices"
    kinds = {r.split(":")[5].split("/")[0] if r.count(":") >= 5 else "resource" for r in resources}
    return "Stack" + "".join(k.replace("-", " ").title().replace(" ", "") + "s" for k in sorted(kinds))


def _trusted_services(role: dict[str, Any]) -> set[str]:
    try:
        doc = json.loads(role["inputs"].get("assumeRolePolicy") or "{}")
    except (TypeError, ValueError):
        return set()
    statements = doc.get("Statement") or []
    found: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        service = ((statement or {}).get("Principal") or {}).get("Service")
        found.update([service] if isinstance(service, str) else (service or []))
    return found


def _fill(template: str, stack: str, account: str, partition: str) -> str:
    return template.format(stack=stack, account=account, partition=partition)


def aws_policy(
    graphs: list[dict[str, Any]], req: Requirements, *, account: str = "*", partition: str = "aws",
    backend: str | None = None, secrets_provider: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The IAM policy document a deploy role needs for ``graphs`` (see the module docstring)."""
    mapping = load_map("aws")
    region_condition = {"StringEquals": {"aws:RequestedRegion": req.regions}}
    # (regional, resources) -> actions
    groups: dict[tuple[bool, tuple[str, ...]], set[str]] = {}

    def add(actions: list[str], resources: tuple[str, ...] = ("*",)) -> None:
        for action in actions:
            regional = _service(action) not in mapping.global_services
            groups.setdefault((regional, resources), set()).add(action)

    add(req.base)
    linked: set[str] = set()
    for type_token, verbs in req.by_type.items():
        entry = mapping.resources[type_token]
        if entry.get("service_linked_role"):
            linked.add(entry["service_linked_role"])
        templates = entry.get("arn") or []
        scoped = tuple(sorted({_fill(t, s, account, partition) for t in templates for s in req.stacks}))
        actions = [a for acts in verbs.values() for a in acts]
        if type_token == ATTACHMENT:  # attach/detach below: limited to the managed policies the stack attaches
            actions = verbs["read"]
        add(actions, scoped or ("*",))
    wildcard = {a for (_, res), acts in groups.items() if res == ("*",) for a in acts}
    statements = []
    for (regional, resources), actions in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        actions = actions if resources == ("*",) else actions - wildcard
        if not actions:
            continue
        statement: dict[str, Any] = {
            "Sid": _sid(regional, resources),
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": list(resources) if len(resources) > 1 else resources[0],
        }
        if regional:
            statement["Condition"] = region_condition
        statements.append(statement)
    statements += _iam_statements(graphs, req, account, partition, linked)
    statements += _state_statements(backend, secrets_provider, account, partition)
    return {"Version": "2012-10-17", "Statement": _unique_sids(statements)}


def _unique_sids(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    for statement in statements:
        sid = statement["Sid"]
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 1:
            statement["Sid"] = f"{sid}{seen[sid]}"
    return statements


def _iam_statements(
    graphs: list[dict[str, Any]], req: Requirements, account: str, partition: str, linked: set[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    roles = [r for g in graphs for r in g["resources"] if r["type"] == "aws:iam/role:Role"]
    if roles:
        names = sorted({r["inputs"].get("name") or f"{r['name']}-*" for r in roles})
        services = sorted({s for r in roles for s in _trusted_services(r)})
        statement: dict[str, Any] = {
            "Sid": "PassStackRolesToTheirServices", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": [f"arn:{partition}:iam::{account}:role/{n}" for n in names],
        }  # fmt: skip
        if services:
            statement["Condition"] = {"StringEquals": {"iam:PassedToService": services}}
        out.append(statement)
    attachment = ATTACHMENT
    if attachment in req.by_type:
        arns = sorted({
            r["inputs"].get("policyArn") for g in graphs for r in g["resources"]
            if r["type"] == attachment and isinstance(r["inputs"].get("policyArn"), str)
        })  # fmt: skip
        known = [a for a in arns if a.startswith("arn:")]
        if len(known) < len(arns):  # a policy the stack creates: its name starts with the stack name
            known += [f"arn:{partition}:iam::{account}:policy/{s}-*" for s in req.stacks]
        out.append({
            "Sid": "AttachOnlyTheStacksManagedPolicies", "Effect": "Allow",
            "Action": sorted({a for verb, acts in req.by_type[attachment].items() if verb != "read" for a in acts}),
            "Resource": [f"arn:{partition}:iam::{account}:role/{s}-*" for s in req.stacks],
            "Condition": {"ArnEquals": {"iam:PolicyARN": sorted(known)}},
        })  # fmt: skip
    if linked:
        out.append({
            "Sid": "CreateServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:{partition}:iam::{account}:role/aws-service-role/*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": sorted(linked)}},
        })  # fmt: skip
    return out


def _state_statements(
    backend: str | None, secrets_provider: str | None, account: str, partition: str
) -> list[dict[str, Any]]:
    """Read/write the Pulumi state under an ``s3://`` backend; encrypt/decrypt with an ``awskms://`` key."""
    out: list[dict[str, Any]] = []
    if backend and backend.startswith("s3://"):
        location = backend.removeprefix("s3://").split("?", 1)[0].strip("/")
        bucket, _, prefix = location.partition("/")
        objects = f"arn:{partition}:s3:::{bucket}/{prefix + '/' if prefix else ''}*"
        out += [
            {"Sid": "StateBucketList", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": f"arn:{partition}:s3:::{bucket}"},
            {"Sid": "StateObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": objects},
        ]  # fmt: skip
    if secrets_provider and secrets_provider.startswith("awskms://"):
        key = secrets_provider.removeprefix("awskms://").split("?", 1)[0].strip("/")
        statement: dict[str, Any] = {"Sid": "SecretsKey", "Effect": "Allow",
                                     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]}  # fmt: skip
        if key.startswith("arn:"):
            statement["Resource"] = key
        elif key.startswith("alias/"):
            statement["Resource"] = f"arn:{partition}:kms:*:{account}:key/*"
            statement["Condition"] = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": key}}
        else:
            statement["Resource"] = f"arn:{partition}:kms:*:{account}:key/{key}"
        out.append(statement)
    return out


def aws_policy_size(policy: dict[str, Any]) -> int:
    """Characters IAM counts against its limits (white space excluded)."""
    return len(re.sub(r"\s", "", json.dumps(policy)))


def split_policy(policy: dict[str, Any], limit: int = AWS_MANAGED_POLICY_LIMIT) -> list[dict[str, Any]]:
    """The statements of ``policy`` packed into as few documents of at most ``limit`` characters as they fit
    (a statement too large alone is cut into parts by its actions): one managed policy each."""
    pieces: list[dict[str, Any]] = []
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        part: list[str] = []
        for action in actions:
            trial = {**statement, "Action": [*part, action], "Sid": f"{statement['Sid']}{len(pieces)}"}
            if part and aws_policy_size({"Version": policy["Version"], "Statement": [trial]}) > limit:
                pieces.append({**statement, "Action": part})
                part = []
            part.append(action)
        pieces.append({**statement, "Action": part if len(part) > 1 else part[0]})
    documents: list[list[dict[str, Any]]] = [[]]
    for piece in _unique_sids(pieces):
        if documents[-1] and aws_policy_size({"Version": policy["Version"],
                                              "Statement": [*documents[-1], piece]}) > limit:  # fmt: skip
            documents.append([])
        documents[-1].append(piece)
    return [{"Version": policy["Version"], "Statement": statements} for statements in documents]


# --- GCP and Azure --------------------------------------------------------------------------------------------


# Permissions a project-level custom role cannot hold: they are checked on the billing account, not the project.
GCP_BILLING_ACCOUNT_PREFIX = "billing."


def gcp_role(req: Requirements, *, role_id: str = "mbopsDeployer") -> dict[str, Any]:
    """A custom role for ``gcloud iam roles create ROLE_ID --project P --file role.json`` (without the billing
    account's permissions: see ``gcp_billing_permissions``)."""
    return {
        "title": f"mbops deployer ({', '.join(req.stacks)})",
        "description": f"What mbops needs to deploy {', '.join(req.stacks)}: {len(req.by_type)} resource types. "
        f"Generated by `mbops permissions --cloud gcp`; role id {role_id}.",
        "stage": "GA",
        "includedPermissions": [a for a in req.actions() if not a.startswith(GCP_BILLING_ACCOUNT_PREFIX)],
    }


def gcp_billing_permissions(req: Requirements) -> list[str]:
    """The planned permissions that GCP checks on the billing account (budgets), which a project role cannot grant."""
    return [a for a in req.actions() if a.startswith(GCP_BILLING_ACCOUNT_PREFIX)]


def azure_role(req: Requirements, *, subscription: str) -> dict[str, Any]:
    """A custom role definition for ``az role definition create --role-definition role.json``."""
    return {
        "Name": f"mbops deployer ({', '.join(req.stacks)})",
        "IsCustom": True,
        "Description": f"What mbops needs to deploy {', '.join(req.stacks)}: {len(req.by_type)} resource types. "
        "Generated by `mbops permissions --cloud azure`.",
        "Actions": req.actions(),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [f"/subscriptions/{subscription}"],
    }


def resource_providers(req: Requirements) -> list[str]:
    """The Azure resource provider namespaces the subscription must have registered."""
    return sorted({a.split("/", 1)[0] for a in req.actions()} - {"Microsoft.Resources", "Microsoft.Authorization"})


# --- one entry point ------------------------------------------------------------------------------------------


@dataclass
class DeployerPolicy:
    """A cloud's policy document, the requirements behind it, and notes for whoever applies it."""

    cloud: str
    document: dict[str, Any]
    requirements: Requirements
    notes: list[str]


def deployer_policy(
    graphs: list[dict[str, Any]], *, account: str = "*", subscription: str = "{subscription-id}",
    backend: str | None = None, secrets_provider: str | None = None,
) -> DeployerPolicy:  # fmt: skip
    """The least-privilege deployer policy of ``graphs`` (plans of one cloud), with notes on applying it.
    MbopsError when a planned resource type has no permission mapping."""
    req = requirements(graphs)
    problem = unknown_error(req)
    if problem:
        raise MbopsError(problem)
    notes: list[str] = []
    if req.cloud == "aws":
        document = aws_policy(graphs, req, account=account, backend=backend, secrets_provider=secrets_provider)
        size = aws_policy_size(document)
        notes.append(f"{size} of the {AWS_MANAGED_POLICY_LIMIT} characters a managed policy may hold.")
        if size > AWS_MANAGED_POLICY_LIMIT:
            parts = len(split_policy(document))
            notes.append(f"Too large for one managed policy: attach it as the role's inline policy (10,240 "
                         f"characters) or as {parts} managed policies (`--split`).")  # fmt: skip
        notes.append("Roles are created with the stack's names; a permissions boundary on the deploy role's "
                     "iam:CreateRole (iam:PermissionsBoundary condition) caps what those roles may do.")  # fmt: skip
    elif req.cloud == "gcp":
        document = gcp_role(req)
        notes.append("Create it with `gcloud iam roles create mbopsDeployer --project PROJECT --file role.json` "
                     "and bind it to the deploy service account on the project.")  # fmt: skip
        if billing := gcp_billing_permissions(req):
            notes.append(f"The budget lives on the billing account ({', '.join(billing)} are checked there, and a "
                         "project role cannot hold them): grant the deploy service account "
                         "roles/billing.costsManager on that billing account.")  # fmt: skip
        if backend and backend.startswith("gs://"):
            bucket = backend.removeprefix("gs://").split("/", 1)[0].split("?", 1)[0]
            notes.append(f"State: grant roles/storage.objectUser on gs://{bucket} only (a bucket binding).")
        if secrets_provider and secrets_provider.startswith("gcpkms://"):
            notes.append("Secrets: grant roles/cloudkms.cryptoKeyEncrypterDecrypter on the key only.")
    else:
        document = azure_role(req, subscription=subscription)
        notes.append("Register the resource providers once per subscription: "
                     + ", ".join(resource_providers(req)) + " (`az provider register --namespace NAME`).")
        if backend and backend.startswith("azblob://"):
            notes.append("State: assign Storage Blob Data Contributor on the state container only.")
        if secrets_provider and secrets_provider.startswith("azurekeyvault://"):
            notes.append("Secrets: assign Key Vault Crypto User on the key only.")
        if "azure-native:authorization:RoleAssignment" in req.by_type:
            notes.append("The stack assigns roles (Microsoft.Authorization/roleAssignments/write): add a condition to "
                         "the deploy role's assignment that limits the roles it may assign.")  # fmt: skip
    if req.no_cloud_api:
        notes.append("No cloud permission needed for: " + ", ".join(sorted(req.no_cloud_api)) + ".")
    return DeployerPolicy(cloud=req.cloud, document=document, requirements=req, notes=notes)
