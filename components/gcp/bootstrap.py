"""GCP side of ``mbops bootstrap``: the state bucket, the secrets key, workload identity federation for one
repository's CI, and the deploy service account with the deployer custom role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent

ROTATION_SECONDS = 90 * 86400


@dataclass(kw_only=True)
class BootstrapArgs(GcpArgs):
    """What the bootstrap makes on GCP; names are decided by the program (``stacks/bootstrap.py``)."""

    state_bucket: str
    key_ring: str
    key_name: str
    pool_id: str
    provider_id: str
    issuer_url: str
    attribute_mapping: Mapping[str, str]
    attribute_condition: str  # CEL over the token's claims: the repository and branch
    principal_attribute: str  # the mapped attribute that names the repository (``repository``, ``project_path``)
    principal_value: str
    service_account_id: str
    role_id: str
    role: Mapping[str, Any]  # the custom role document (title, description, includedPermissions, stage)
    # Encrypt the state bucket with the secrets key too: grants the project's Cloud Storage service agent (which
    # must exist: `gcloud storage service-agent` makes it) the key's encrypter/decrypter role.
    cmek: bool = False
    noncurrent_version_days: int = 90


class Bootstrap(GcpComponent):
    """State bucket, KMS key, workload identity pool and provider, deploy service account and its roles.

    - ``bucket``: Cloud Storage in the region, uniform bucket-level access, public access prevention enforced,
      versioned (old versions deleted after ``noncurrent_version_days``), Google-managed encryption or, with
      ``cmek``, the secrets key. Cloud Storage is strongly consistent: Pulumi's lock files in the bucket are the
      locking. Kept when the bootstrap is destroyed.
    - ``key_ring`` / ``key``: a symmetric Cloud KMS key rotated every 90 days (old versions stay enabled, so state
      encrypted before a rotation still decrypts), for ``gcpkms://``. Key rings cannot be deleted, and the key is
      kept when the bootstrap is destroyed.
    - ``pool`` / ``provider``: workload identity federation for the CI's issuer; the provider's attribute
      condition admits only tokens of the repository's branch.
    - ``service_account``: what CI impersonates: ``roles/iam.workloadIdentityUser`` for the pool's principals of
      that repository only (``impersonation``), the deployer custom role on the project (``role``,
      ``project_role``), ``roles/storage.objectUser`` on the state bucket and
      ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on the key, nothing else.

    APIs: besides the ones the bootstrap's own resources call, Compute Engine is enabled here, once, by whoever
    bootstraps the project: every stack's network, load balancers and zone/image lookups call it, and its first
    enablement on a fresh project takes minutes and creates the project's Compute Engine service agents, which a
    first deploy should not race. (Each stack still enables what it uses, and its lookups wait for that.)

    Children: ``api``, ``bucket``, ``key_ring``, ``key``, ``storage_agent_key`` (with ``cmek``), ``pool``,
    ``provider``, ``service_account``, ``impersonation``, ``role``, ``project_role``, ``state_access``,
    ``key_access``.
    """

    kind = "bootstrap"
    apis = ("iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com", "cloudkms.googleapis.com",
            "storage.googleapis.com", "cloudresourcemanager.googleapis.com", "compute.googleapis.com")  # fmt: skip

    def __init__(self, name: str, args: BootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        project = self.project
        ring = gcp.kms.KeyRing(
            f"{name}-key-ring",
            **self.args("key_ring", name=args.key_ring, location=self.region, project=project),
            opts=self.opts(retain_on_delete=True),
        )
        self.key = gcp.kms.CryptoKey(
            f"{name}-key",
            **self.args("key", name=args.key_name, key_ring=ring.id, purpose="ENCRYPT_DECRYPT",
                        rotation_period=f"{ROTATION_SECONDS}s",
                        version_template={"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protection_level": "SOFTWARE"},
                        labels=self.labels),
            opts=self.opts(retain_on_delete=True),
        )  # fmt: skip
        self.key_id = f"projects/{project}/locations/{self.region}/keyRings/{args.key_ring}/cryptoKeys/{args.key_name}"
        encryption: dict[str, Any] = {}
        bucket_deps: list[pulumi.Resource] = []
        if args.cmek:
            # Through the Cloud Resource Manager API, once it is on (a fresh project answers 403 before).
            number = gcp.organizations.get_project_output(project_id=project, opts=self.invoke_opts()).number
            bucket_deps.append(gcp.kms.CryptoKeyIAMMember(
                f"{name}-storage-agent-key",
                **self.args("storage_agent_key", crypto_key_id=self.key_id,
                            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                            member=number.apply(
                                lambda n: f"serviceAccount:service-{n}@gs-project-accounts.iam.gserviceaccount.com")),
                opts=self.opts(depends_on=[self.key]),
            ))  # fmt: skip
            encryption = {"encryption": {"default_kms_key_name": self.key_id}}
        self.bucket = gcp.storage.Bucket(
            f"{name}-state",
            **self.args(
                "bucket", name=args.state_bucket, project=project, location=self.region.upper(),
                storage_class="STANDARD", uniform_bucket_level_access=True, public_access_prevention="enforced",
                versioning={"enabled": True}, force_destroy=False, labels=self.labels,
                lifecycle_rules=[
                    {"action": {"type": "Delete"}, "condition": {
                        "days_since_noncurrent_time": args.noncurrent_version_days, "with_state": "ARCHIVED"}},
                    {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
                ],
                **encryption,
            ),
            opts=self.opts(retain_on_delete=True, depends_on=bucket_deps),
        )  # fmt: skip
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            **self.args("pool", project=project, workload_identity_pool_id=args.pool_id,
                        display_name=f"mbops CI ({args.provider_id})"[:32],
                        description=f"mbops: CI of {args.principal_value}"),
            opts=self.opts(),
        )  # fmt: skip
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            **self.args("provider", project=project, workload_identity_pool_id=pool.workload_identity_pool_id,
                        workload_identity_pool_provider_id=args.provider_id, display_name=args.provider_id,
                        attribute_mapping=dict(args.attribute_mapping), attribute_condition=args.attribute_condition,
                        oidc={"issuer_uri": args.issuer_url}),
            opts=self.opts(),
        )  # fmt: skip
        email = f"{args.service_account_id}@{project}.iam.gserviceaccount.com"
        member = f"serviceAccount:{email}"
        account = gcp.serviceaccount.Account(
            f"{name}-deployer",
            **self.args("service_account", project=project, account_id=args.service_account_id,
                        display_name="mbops CI deployer", description=f"mbops: CI deploys of {args.principal_value}"),
            opts=self.opts(),
        )  # fmt: skip
        principals = pool.name.apply(
            lambda pool_name: (
                f"principalSet://iam.googleapis.com/{pool_name}/attribute.{args.principal_attribute}/"
                f"{args.principal_value}"
            )
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-impersonation",
            **self.args("impersonation", service_account_id=account.name, role="roles/iam.workloadIdentityUser",
                        member=principals),
            opts=self.opts(),
        )  # fmt: skip
        role = gcp.projects.IAMCustomRole(
            f"{name}-role",
            **self.args("role", project=project, role_id=args.role_id, title=args.role["title"][:100],
                        description=args.role["description"][:256], stage=args.role.get("stage", "GA"),
                        permissions=list(args.role["includedPermissions"])),
            opts=self.opts(),
        )  # fmt: skip
        self.role_name = f"projects/{project}/roles/{args.role_id}"
        gcp.projects.IAMMember(
            f"{name}-project-role",
            **self.args("project_role", project=project, role=self.role_name, member=member),
            opts=self.opts(depends_on=[role, account]),
        )
        # Bucket and key by name (they are names), so the plan shows exactly what is granted.
        gcp.storage.BucketIAMMember(
            f"{name}-state-access",
            **self.args("state_access", bucket=args.state_bucket, role="roles/storage.objectUser", member=member),
            opts=self.opts(depends_on=[self.bucket, account]),
        )
        gcp.kms.CryptoKeyIAMMember(
            f"{name}-key-access",
            **self.args("key_access", crypto_key_id=self.key_id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                        member=member),
            opts=self.opts(depends_on=[self.key, account]),
        )  # fmt: skip
        self.provider_name = self.provider.name
        self.service_account_email = email
        self.finish({"bucket": self.bucket.name, "key_id": self.key_id, "provider": self.provider.name,
                     "service_account": email, "role": self.role_name})  # fmt: skip
