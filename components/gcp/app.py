"""The app's least-privilege identity on GCP, shared by servers, containers and serverless.

The app's wiring (``components.wiring.AppWiring``) holds its plain env, its secrets as
``NAME -> SecretRef`` (Secret Manager, never a value) and grants: ``bucket`` (objectAdmin on that bucket),
``document_db`` (datastore.user conditioned on that Firestore database), ``registry`` (artifactregistry.reader
on that repository: pull only) and ``role`` (a project-level role such as the FCM sender role, granted after
the resources in ``Grant.after``).

IAM changes take a while to reach every Google service: the app's compute (Cloud Run revision, VMs) waits
after its grants (``propagated``, see ``propagation.py``) so its first start can read its secrets and image.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpComponent, gcp_name
from mbops.components.gcp.propagation import IamPropagation, propagation_seconds
from mbops.components.wiring import AppWiring

# Project-level roles every app identity gets: write its own logs and metrics. Nothing broader.
BASE_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
# The grants (``Grant.what``) the app identity turns into IAM on GCP.
GRANTS = frozenset({"bucket", "document_db", "registry", "role"})


@dataclass
class AppIdentity:
    """The app's service account, its ``serviceAccount:`` member, the grants, and ``propagated``: the wait after
    them that the app's compute depends on."""

    account: gcp.serviceaccount.Account
    email: str
    member: str
    grants: list[pulumi.Resource]
    propagated: pulumi.Resource


def app_identity(c: GcpComponent, stack: str, purpose: str, wiring: AppWiring) -> AppIdentity:
    """A dedicated service account with only what ``wiring`` needs, granted at the narrowest level.

    Children: ``service_account``, ``project_role`` (logWriter, metricWriter and each ``role`` grant),
    ``secret_access`` (secretAccessor on each secret), ``bucket_access``, ``datastore_access``,
    ``registry_access`` (artifactregistry.reader on the stack's repository). Never a primitive role
    (owner/editor/viewer).
    """
    unknown = sorted({grant.what for grant in wiring.grants} - GRANTS)
    if unknown:
        raise NotImplementedError(f"the GCP app identity has no IAM for the grant(s) {', '.join(unknown)}")
    name = c.resource_name
    account_id = gcp_name(stack, purpose, limit=30)
    account = gcp.serviceaccount.Account(
        f"{name}-sa",
        **c.args(
            "service_account",
            project=c.project,
            account_id=account_id,
            display_name=f"mbops {stack} {purpose}",
            description=f"Identity of the {stack} app ({purpose})",
        ),
        opts=c.opts(),
    )
    email = f"{account_id}@{c.project}.iam.gserviceaccount.com"
    member = f"serviceAccount:{email}"
    after_account = c.opts(depends_on=[account])
    grants: list[pulumi.Resource] = []
    roles = wiring.granted("role")
    role_after = [r for grant in roles for r in grant.after]
    for role in [*BASE_ROLES, *(grant.target for grant in roles)]:
        suffix = role.rsplit("/", 1)[-1].rsplit(".", 1)[-1].lower().replace("_", "-")
        grants.append(
            gcp.projects.IAMMember(
                f"{name}-{suffix}",
                **c.args("project_role", project=c.project, role=role, member=member),
                opts=c.opts(depends_on=[account, *role_after]),
            )
        )
    for env_name, ref in sorted(wiring.secrets.items()):
        grants.append(
            gcp.secretmanager.SecretIamMember(
                f"{name}-reads-{env_name.lower().replace('_', '-')}",
                **c.args(
                    "secret_access",
                    project=c.project,
                    secret_id=ref.secret.id,
                    role="roles/secretmanager.secretAccessor",
                    member=member,
                ),
                opts=after_account,
            )
        )
    for i, grant in enumerate(wiring.granted("bucket")):
        grants.append(
            gcp.storage.BucketIAMMember(
                f"{name}-bucket-access{_nth(i)}",
                **c.args(
                    "bucket_access", bucket=grant.target, role="roles/storage.objectAdmin", member=member
                ),
                opts=after_account,
            )
        )
    for i, grant in enumerate(wiring.granted("document_db")):
        condition = {
            "title": "only-app-database",
            "description": "Firestore access limited to the stack's database",
            "expression": f'resource.name == "projects/{c.project}/databases/{grant.target}"',
        }
        grants.append(
            gcp.projects.IAMMember(
                f"{name}-datastore-user{_nth(i)}",
                **c.args(
                    "datastore_access",
                    project=c.project,
                    role="roles/datastore.user",
                    member=member,
                    condition=condition,
                ),
                opts=after_account,
            )
        )
    for i, grant in enumerate(wiring.granted("registry")):
        grants.append(
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-registry-access{_nth(i)}",
                **c.args(
                    "registry_access", project=c.project, location=c.region, repository=grant.target,
                    role="roles/artifactregistry.reader", member=member,
                ),
                opts=after_account,
            )  # fmt: skip
        )
    propagated = IamPropagation(
        f"{name}-iam-propagation", seconds=propagation_seconds(c), member=member, grants=grants, opts=c.opts()
    )
    return AppIdentity(account=account, email=email, member=member, grants=grants, propagated=propagated)


def _nth(i: int) -> str:
    """The resource-name suffix of the i-th grant of one sort: none for the first (a stack has one)."""
    return f"-{i + 1}" if i else ""
