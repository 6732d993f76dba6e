"""The bootstrap program: what CI needs in a cloud before it can deploy any stack (``mbops bootstrap``).

A state bucket (container on Azure), a key for the stacks' secrets, the OIDC trust of one repository's CI and a
deploy role bound to that repository and branch, whose permissions are the least-privilege deployer policy of
the stacks the repository deploys. The program is small and runs on the same engines as every stack: planned
offline by the embedded engine, deployed by the Pulumi CLI with its own local state (it creates the shared
backend, so it cannot live in it).

``BootstrapSpec`` is the validated input (``resolve_spec``: a bad value is a ConfigError naming the flag).
``BootstrapProgram`` resolves the deploying account / project / subscription (a provider function), derives
every name, asks its ``PolicySource`` for the role's documents and builds ``components/<cloud>/bootstrap.py``.
Its stack outputs are the CI settings, named exactly as the generated pipelines read them.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from mbops.components.spec import ComponentSpec
from mbops.errors import ConfigError
from mbops.stacks.regions import DEFAULT_REGION, region_problem

CLOUDS = ("aws", "gcp", "azure")
PROVIDERS = ("github", "gitlab")
PROJECT = "mbops-bootstrap"  # the Pulumi project of bootstrap stacks (not ``mbops``: a different program)
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
# The audience each cloud's token exchange expects (the generated pipelines request these).
AUDIENCE = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange"}
SECRETS_KEY = "pulumi-secrets"
AZURE_CONTAINER = "mbops-state"
CI_OUTPUT = "ciSettings"  # the stack output holding the CI variables, by the names the pipelines read

_GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_GITLAB_REPO = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
_BRANCH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~/-]*)?$")
BUCKET_NAME = {
    "aws": (re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"), "3-63 lowercase letters, digits and hyphens"),
    "gcp": (re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$"), "3-63 lowercase letters, digits, '-' and '_'"),
    "azure": (re.compile(r"^[a-z0-9]{3,24}$"), "a storage account name: 3-24 lowercase letters and digits"),
}


@dataclass(frozen=True, kw_only=True)
class BootstrapSpec:
    """What ``mbops bootstrap`` makes, validated (see ``resolve_spec``)."""

    cloud: str
    repository: str  # OWNER/NAME (GitLab: GROUP[/SUBGROUP...]/PROJECT)
    branch: str = "main"
    environments: tuple[str, ...] = ("dev", "prod")  # the GitHub environments the deploy jobs name
    provider: str = "github"
    issuer: str = GITHUB_ISSUER  # the CI's OIDC issuer URL
    region: str = ""
    state_bucket: str | None = None  # None: derived from the account/project/subscription and repository
    gcp_project: str | None = None
    subscription_id: str | None = None  # Azure; None: the provider's (az login / ARM_SUBSCRIPTION_ID)
    existing_oidc_provider: bool = False  # AWS: the account already trusts the issuer (one provider per URL)
    cmek: bool = False  # GCP: the state bucket encrypted with the secrets key too (not Google-managed keys)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # raw args per child resource

    @property
    def slug(self) -> str:
        """The repository as a name part: ``Acme/Notes.Backend`` -> ``acme-notes-backend``."""
        return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", self.repository.lower())).strip("-")

    @property
    def stack_name(self) -> str:
        """The Pulumi stack of this bootstrap: one per repository and cloud."""
        return f"{self.slug}.{self.cloud}"

    @property
    def owner(self) -> str:
        return self.repository.rsplit("/", 1)[0]

    @property
    def tags(self) -> dict[str, str]:
        return {"app": "mbops-ci", "env": "prod", "owner": self.owner, "managed-by": "mbops",
                "repository": self.repository}  # fmt: skip

    @property
    def subjects(self) -> list[str]:
        """The OIDC subjects of the repository's deploy jobs: on GitHub a job that names an environment gets
        ``repo:OWNER/NAME:environment:ENV``; on GitLab ``project_path:PATH:ref_type:branch:ref:BRANCH``."""
        if self.provider == "github":
            return [f"repo:{self.repository}:environment:{env}" for env in self.environments]
        return [f"project_path:{self.repository}:ref_type:branch:ref:{self.branch}"]

    @property
    def issuer_host(self) -> str:
        """The issuer without ``https://`` (AWS names the provider and its condition keys with it)."""
        return self.issuer.removeprefix("https://")


def resolve_spec(
    *, cloud: str, repository: str, branch: str = "main", provider: str = "github", gitlab_url: str | None = None,
    environments: tuple[str, ...] = ("dev", "prod"), region: str | None = None, state_bucket: str | None = None,
    gcp_project: str | None = None, subscription_id: str | None = None, existing_oidc_provider: bool = False,
    cmek: bool = False, overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> BootstrapSpec:  # fmt: skip
    """A validated BootstrapSpec; a ConfigError names the flag, the value and what is allowed."""
    if cloud not in CLOUDS:
        raise ConfigError(f"--cloud: '{cloud}' cannot be bootstrapped; allowed: {', '.join(CLOUDS)}")
    if provider not in PROVIDERS:
        raise ConfigError(f"--provider: '{provider}' is not a CI provider; allowed: {', '.join(PROVIDERS)}")
    repository = (repository or "").strip()
    pattern = _GITHUB_REPO if provider == "github" else _GITLAB_REPO
    if not pattern.match(repository) or any(part in (".", "..") for part in repository.split("/")):
        shape = "OWNER/NAME" if provider == "github" else "GROUP/PROJECT (subgroups allowed: GROUP/SUB/PROJECT)"
        raise ConfigError(f"--repository: '{repository}' is not {shape} on {provider}, e.g. acme/notes-backend")
    if not _BRANCH.match(branch) or ".." in branch or branch.endswith(("/", ".lock", ".")) or "//" in branch:
        raise ConfigError(f"--branch: '{branch}' is not a branch name (letters, digits, '.', '_', '-', '/'; "
                          "no wildcards: the trust names one branch)")  # fmt: skip
    bad = [e for e in environments if not _ENVIRONMENT.match(e)]
    if bad or not environments:
        raise ConfigError(f"environments: '{bad[0] if bad else ''}' is not a GitHub environment name")
    issuer = GITHUB_ISSUER
    if provider == "gitlab":
        issuer = (gitlab_url or GITLAB_ISSUER).rstrip("/")
        if not _HTTPS_URL.match(issuer):
            raise ConfigError(f"--gitlab-url: '{gitlab_url}' is not an https:// URL of a GitLab instance "
                              "(its OIDC issuer), e.g. https://gitlab.example.com")  # fmt: skip
    elif gitlab_url:
        raise ConfigError("--gitlab-url: only with --provider gitlab")
    region = region or DEFAULT_REGION[cloud]
    problem = region_problem(cloud, region)
    if problem:
        raise ConfigError(f"--region: {problem}")
    if state_bucket is not None:
        rule, allowed = BUCKET_NAME[cloud]
        if not rule.match(state_bucket) or ".." in state_bucket:
            raise ConfigError(f"--state-bucket: '{state_bucket}' is not a {cloud} bucket name; allowed: {allowed}")
    if cloud == "gcp":
        if not gcp_project:
            raise ConfigError("--gcp-project: needed for --cloud gcp: the project CI deploys to (the stack files' "
                              "gcp_project, or GOOGLE_CLOUD_PROJECT)")  # fmt: skip
        if not _GCP_PROJECT.match(gcp_project):
            raise ConfigError(f"--gcp-project: '{gcp_project}' is not a GCP project id (6-30 lowercase letters, "
                              "digits and hyphens, starting with a letter)")  # fmt: skip
    elif gcp_project:
        raise ConfigError(f"--gcp-project: only with --cloud gcp (this bootstrap is for {cloud})")
    if subscription_id is not None and (cloud != "azure" or not _GUID.match(subscription_id)):
        raise ConfigError(
            f"--subscription-id: '{subscription_id}' is not an Azure subscription id (a GUID)"
            if cloud == "azure"
            else f"--subscription-id: only with --cloud azure (not {cloud})"
        )
    if cmek and cloud != "gcp":
        raise ConfigError(
            f"--cmek: only with --cloud gcp (the {cloud} state bucket is encrypted with "
            f"{'the AWS managed KMS key' if cloud == 'aws' else 'Microsoft-managed keys'})"
        )
    if existing_oidc_provider and cloud != "aws":
        raise ConfigError("--existing-oidc-provider: only with --cloud aws (GCP and Azure trust the issuer per pool "
                          "or identity, not once per account)")  # fmt: skip
    return BootstrapSpec(
        cloud=cloud, repository=repository, branch=branch, environments=tuple(environments), provider=provider,
        issuer=issuer, region=region, state_bucket=state_bucket, gcp_project=gcp_project,
        subscription_id=subscription_id, existing_oidc_provider=existing_oidc_provider, cmek=cmek,
        overrides=overrides or {},
    )  # fmt: skip


# --- names ----------------------------------------------------------------------------------------------------


def short_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:6]


def fit(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` characters; a cut name ends with a short hash of the whole (stable, unique)."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 7].rstrip('-_')}-{short_hash(name)}"


# --- the deploy role's documents ------------------------------------------------------------------------------


class PolicySource(Protocol):
    """The deploy role's permission documents for the repository's stacks, given where they are applied.

    ``scope``: the AWS account id, the GCP project or the Azure subscription id; ``backend`` and
    ``secrets_provider`` are the URLs CI uses. Returns the documents to attach: AWS IAM policy documents (several
    when one managed policy cannot hold them), one GCP custom role, one Azure role definition.
    """

    def __call__(self, *, scope: str, backend: str, secrets_provider: str) -> list[dict[str, Any]]: ...

    def assignable_roles(self) -> tuple[str, ...] | None:
        """Azure: the role definition GUIDs the stacks assign (the deploy identity may assign those only);
        None when some are not known before deploy (then no such condition can be written)."""
        ...


# --- the program ----------------------------------------------------------------------------------------------


@dataclass
class BootstrapProgram:
    """The Pulumi program of one bootstrap: builds ``components/<cloud>/bootstrap.py`` and exports the CI
    settings (output ``ciSettings``: ``MBOPS_BACKEND``, ``MBOPS_SECRETS_PROVIDER`` and the cloud's identity
    variables) and the names of what it made."""

    spec: BootstrapSpec
    policy: PolicySource
    documents: list[dict[str, Any]] = field(default_factory=list)  # what the last run attached
    scope: str = ""  # the account / project / subscription the last run resolved

    def __call__(self) -> None:
        build = {"aws": self._aws, "gcp": self._gcp, "azure": self._azure}[self.spec.cloud]
        settings, extra = build(importlib.import_module(f"mbops.components.{self.spec.cloud}.bootstrap"))
        pulumi.export(CI_OUTPUT, settings)
        for key, value in extra.items():
            pulumi.export(key, value)

    def _spec(self) -> ComponentSpec:
        return ComponentSpec(overrides={k: dict(v) for k, v in self.spec.overrides.items()})

    def _aws(self, module: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = self.spec
        account, partition = module.deploying_account()
        self.scope = account
        bucket = spec.state_bucket or fit(f"mbops-state-{account}-{spec.slug}", 63)
        alias = f"alias/{fit(f'mbops-{spec.slug}', 200)}"
        backend = f"s3://{bucket}?region={spec.region}"
        secrets = f"awskms://{alias}?region={spec.region}"
        self.documents = self.policy(scope=account, backend=backend, secrets_provider=secrets)
        claims = {"aud": [AUDIENCE["aws"]], "sub": spec.subjects}
        if spec.provider == "github":  # STS reads GitHub's ref claim too: the environments' jobs on BRANCH only
            claims["ref"] = [f"refs/heads/{spec.branch}"]
        component = module.Bootstrap(
            f"mbops-{spec.slug}",
            module.BootstrapArgs(
                spec=self._spec(), tags=spec.tags, account_id=account, partition=partition, region=spec.region,
                state_bucket=bucket, key_alias=alias, role_name=fit(f"mbops-deploy-{spec.slug}", 64),
                issuer_url=spec.issuer, audience=AUDIENCE["aws"], claims=claims,
                existing_oidc_provider=spec.existing_oidc_provider, policies=self.documents,
            ),
        )  # fmt: skip
        return (
            {"MBOPS_BACKEND": backend, "MBOPS_SECRETS_PROVIDER": secrets, "AWS_DEPLOY_ROLE_ARN": component.role_arn},
            {"stateBucket": bucket, "kmsKeyArn": component.key_arn, "oidcProviderArn": component.oidc_provider_arn},
        )

    def _gcp(self, module: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = self.spec
        project = spec.gcp_project or ""
        self.scope = project
        bucket = spec.state_bucket or fit(f"mbops-state-{project}-{spec.slug}", 63)
        ring = fit(f"mbops-{spec.slug}", 63)
        key_id = f"projects/{project}/locations/{spec.region}/keyRings/{ring}/cryptoKeys/{SECRETS_KEY}"
        backend, secrets = f"gs://{bucket}", f"gcpkms://{key_id}"
        self.documents = self.policy(scope=project, backend=backend, secrets_provider=secrets)
        if spec.provider == "github":
            attribute, mapping = "repository", {"attribute.repository": "assertion.repository"}
            condition = f"assertion.repository == '{spec.repository}' && assertion.ref == 'refs/heads/{spec.branch}'"
        else:
            attribute = "project_path"
            mapping = {"attribute.project_path": "assertion.project_path", "attribute.ref_type": "assertion.ref_type"}
            condition = (f"assertion.project_path == '{spec.repository}' && assertion.ref_type == 'branch' && "
                         f"assertion.ref == '{spec.branch}'")  # fmt: skip
        account_id = fit(f"mbops-deploy-{spec.slug}", 30).rstrip("-")
        component = module.Bootstrap(
            f"mbops-{spec.slug}",
            module.BootstrapArgs(
                spec=self._spec(), tags=spec.tags, project=project, region=spec.region, state_bucket=bucket,
                key_ring=ring, key_name=SECRETS_KEY, pool_id=fit(f"mbops-{spec.slug}", 32).rstrip("-"),
                provider_id=spec.provider, issuer_url=spec.issuer,
                attribute_mapping={"google.subject": "assertion.sub", "attribute.ref": "assertion.ref", **mapping},
                attribute_condition=condition, principal_attribute=attribute, principal_value=spec.repository,
                service_account_id=account_id,
                role_id=fit("mbopsDeployer_" + re.sub(r"[^A-Za-z0-9]", "_", spec.slug), 64).replace("-", "_"),
                role=self.documents[0], cmek=spec.cmek,
            ),
        )  # fmt: skip
        return (
            {
                "MBOPS_BACKEND": backend,
                "MBOPS_SECRETS_PROVIDER": secrets,
                "GCP_WORKLOAD_IDENTITY_PROVIDER": component.provider_name,
                "GCP_DEPLOY_SERVICE_ACCOUNT": component.service_account_email,
            },
            {"stateBucket": bucket, "customRole": component.role_name},
        )

    def _azure(self, module: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = self.spec
        subscription, tenant = module.deploying_subscription(spec.subscription_id)
        self.scope = subscription
        unique = short_hash(subscription, spec.repository)
        alnum = re.sub(r"[^a-z0-9]", "", spec.slug)
        account = spec.state_bucket or f"mbops{alnum[:13]}{unique}"
        vault = f"kv-{alnum[:12]}-{unique}"
        backend = f"azblob://{AZURE_CONTAINER}"
        secrets = f"azurekeyvault://{vault}.vault.azure.net/keys/{SECRETS_KEY}"
        self.documents = self.policy(scope=subscription, backend=backend, secrets_provider=secrets)
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"mbops-bootstrap/{subscription}/{spec.repository}")
        component = module.Bootstrap(
            f"mbops-{spec.slug}",
            module.BootstrapArgs(
                spec=self._spec(), tags=spec.tags, subscription_id=subscription, tenant_id=tenant,
                location=spec.region, resource_group=fit(f"rg-mbops-ci-{spec.slug}", 90), storage_account=account,
                container=AZURE_CONTAINER, vault_name=vault, key_name=SECRETS_KEY,
                identity_name=fit(f"id-mbops-deploy-{spec.slug}", 128), issuer_url=spec.issuer,
                audience=AUDIENCE["azure"], subjects=spec.subjects, role_definition=self.documents[0],
                role_name=f"mbops deployer {spec.repository} ({subscription[:8]})", guid_namespace=str(namespace),
                assignable_roles=self.policy.assignable_roles(),
            ),
        )  # fmt: skip
        return (
            {
                "MBOPS_BACKEND": backend,
                "AZURE_STORAGE_ACCOUNT": account,
                "MBOPS_SECRETS_PROVIDER": secrets,
                "AZURE_CLIENT_ID": component.client_id,
                "AZURE_TENANT_ID": tenant,
                "AZURE_SUBSCRIPTION_ID": subscription,
            },
            {"resourceGroup": component.resource_group_name, "customRole": component.role_definition_id},
        )
