"""The app's wiring on GCP and its least-privilege identity, shared by servers, containers and serverless."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpComponent, SecretRef, gcp_name

# Project-level roles every app identity gets: write its own logs and metrics. Nothing broader.
BASE_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")


@dataclass(kw_only=True)
class AppWiring:
    """What the stack's other components hand the app: env vars, secrets and the resources it may use.

    ``env`` are plain variables; ``secrets`` reach the app only through Secret Manager (never as plaintext
    inputs). ``bucket`` gets objectAdmin on that bucket only, ``firestore_database`` datastore.user
    conditioned on that database only, ``project_roles`` (e.g. a custom FCM sender role) project-level,
    granted after ``grant_after`` (the resources that define those roles).
    """

    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: dict[str, SecretRef] = field(default_factory=dict)
    bucket: pulumi.Input[str] | None = None
    firestore_database: str | None = None
    project_roles: list[str] = field(default_factory=list)
    grant_after: list[pulumi.Resource] = field(default_factory=list)


@dataclass
class AppIdentity:
    """The app's service account, its ``serviceAccount:`` member, and the grants the app must wait for."""

    account: gcp.serviceaccount.Account
    email: str
    member: str
    grants: list[pulumi.Resource]


def app_identity(c: GcpComponent, stack: str, purpose: str, wiring: AppWiring) -> AppIdentity:
    """A dedicated service account with only what ``wiring`` needs, granted at the narrowest level.

    Children: ``service_account``, ``project_role`` (logWriter, metricWriter and ``wiring.project_roles``),
    ``secret_access`` (secretAccessor on each secret), ``bucket_access``, ``datastore_access``.
    Never a primitive role (owner/editor/viewer).
    """
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
    for role in [*BASE_ROLES, *wiring.project_roles]:
        suffix = role.rsplit("/", 1)[-1].rsplit(".", 1)[-1].lower().replace("_", "-")
        grants.append(
            gcp.projects.IAMMember(
                f"{name}-{suffix}",
                **c.args("project_role", project=c.project, role=role, member=member),
                opts=c.opts(depends_on=[account, *wiring.grant_after]),
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
    if wiring.bucket is not None:
        grants.append(
            gcp.storage.BucketIAMMember(
                f"{name}-bucket-access",
                **c.args(
                    "bucket_access", bucket=wiring.bucket, role="roles/storage.objectAdmin", member=member
                ),
                opts=after_account,
            )
        )
    if wiring.firestore_database is not None:
        condition = {
            "title": "only-app-database",
            "description": "Firestore access limited to the stack's database",
            "expression": f'resource.name == "projects/{c.project}/databases/{wiring.firestore_database}"',
        }
        grants.append(
            gcp.projects.IAMMember(
                f"{name}-datastore-user",
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
    return AppIdentity(account=account, email=email, member=member, grants=grants)
