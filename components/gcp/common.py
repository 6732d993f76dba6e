"""What every GCP component shares: project/region args, labels, RFC 1035 names, API enablement, secrets,
and the data guard.

Every resource that takes ``project`` or ``region`` gets them explicitly (no reliance on provider config),
labels are the stack's tags made valid GCP labels, and each component enables the Google APIs it calls
(``disable_on_destroy=False``: destroying a stack never turns an API off for other users of the project).
Project IAM bindings and log sinks go through the Cloud Resource Manager API, which a new project does not
have enabled: components that create them list ``CRM_API``.

Data resources (databases, buckets, Firestore, data disks) are created with ``retain_on_delete`` unless the
stack releases its data (``release_data``, the ``up`` before ``destroy --delete-data``): a plain ``destroy``
leaves them in the project, under fixed names, and the next ``up`` takes them back when the stack file's
``adopt`` (or the Pulumi config ``mbops:adopt``) names them (``<kind>.<child>``, or ``<kind>.*`` for everything of
a kind that was kept).

Physical names carry the stack's name and its environment (``StackInfo.physical_name``), so a dev and a prod stack named
alike can share a project. Provider functions that call a Google API run after the component enabled it
(``invoke_opts``): a fresh project answers 403 to a call on an API that is not enabled yet.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mbops.components.base import MbopsComponent
from mbops.components.spec import ComponentSpec
from mbops.components.wiring import RESOURCE_SUFFIX, Built, Gap, StackInfo

# Compute Engine machine types per spec size (shielded-VM capable, general purpose).
MACHINE_TYPES = {"small": "e2-medium", "medium": "e2-standard-2", "large": "e2-standard-4"}
# How long the app's health path may fail before the app is restarted (Cloud Run's liveness probe) or its VM
# replaced (the group's autohealing): longer than a Cloud SQL HA failover or maintenance (about a minute), since the
# health path reads the database and a restart does not bring it back; meanwhile the load balancer stops sending
# requests to a failing VM after 30 s. Restarting every instance at once would turn a short failover into an outage.
HEAL_AFTER_S = 300
# Project IAM members (projects.IAMMember) and log sinks call the Cloud Resource Manager API.
CRM_API = "cloudresourcemanager.googleapis.com"
_LABEL_CHARS = re.compile(r"[^a-z0-9_-]")
_NAME_CHARS = re.compile(r"[^a-z0-9-]")


def gcp_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags as GCP labels: lowercase, ``[a-z0-9_-]``, at most 63 characters, keys starting with a letter."""
    labels: dict[str, str] = {}
    for key, value in tags.items():
        label_key = _LABEL_CHARS.sub("_", key.lower())[:63]
        if not label_key[:1].isalpha():
            label_key = f"k{label_key}"[:63]
        labels[label_key] = _LABEL_CHARS.sub("_", str(value).lower())[:63]
    return labels


def gcp_name(*parts: str, limit: int = 63) -> str:
    """An RFC 1035 name (lowercase letters, digits, hyphens; letter first) of at most ``limit`` characters.

    Too-long names keep their start and get a short hash of the whole, so they stay unique and stable.
    """
    raw = _NAME_CHARS.sub("-", "-".join(parts).lower()).strip("-")
    if not raw[:1].isalpha():
        raw = f"x{raw}"
    if len(raw) <= limit:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
    return f"{raw[: limit - 7].rstrip('-')}-{digest}"


def secret_id(stack: str, env_name: str) -> str:
    """The Secret Manager id of an app secret: ``<stack>-<ENV_NAME>`` (ids allow ``[A-Za-z0-9_-]``)."""
    return f"{stack}-{env_name}"


def stack_args(stack: StackInfo) -> dict[str, Any]:
    """The ``GcpArgs`` fields every component of ``stack`` gets: project, region, tags, how long destroyed
    secret versions stay recoverable (the secrets kind's ``recovery_days``) and whether data is released."""
    secrets = stack.specs.get("secrets")
    return {
        "project": stack.project, "region": stack.region, "tags": stack.tags, "stack": stack.physical_name,
        "secret_recovery_days": getattr(secrets, "recovery_days", None), "release_data": stack.release_data,
    }  # fmt: skip


def built(component: GcpComponent, **fields: Any) -> Built:
    """A factory's result for ``component``, carrying the gap it declared (if any)."""
    return Built(component=component, gap=component.gap, **fields)


@dataclass(kw_only=True)
class GcpArgs:
    """Fields every GCP component's args share."""

    project: str
    region: str
    stack: str = "mbops"  # StackInfo.physical_name: every name the component gives starts with it
    spec: ComponentSpec = field(default_factory=ComponentSpec)
    tags: Mapping[str, str] = field(default_factory=dict)
    secret_recovery_days: int | None = None  # destroyed secret versions stay recoverable this long
    release_data: bool = False  # data resources are deletable (not retained, no deletion protection)


@dataclass(kw_only=True)
class SecretRef:
    """A Secret Manager secret (its id known at plan time) and the version the app reads (pinned, so a new
    value rolls the app)."""

    secret_id: str
    secret: gcp.secretmanager.Secret
    version: gcp.secretmanager.SecretVersion


class GcpComponent(MbopsComponent):
    """Base of the GCP components: ``project``, ``region``, ``labels``, enabled APIs, declared gaps.

    Subclasses list the Google APIs they call in ``apis``; each becomes a ``gcp.projects.Service`` child
    (override key ``api``) that every later child depends on. A component that cannot honour part of its
    spec calls ``declare_gap``; its kind's factory returns ``self.gap`` in its ``Built``.
    """

    apis: tuple[str, ...] = ()

    def __init__(self, name: str, args: GcpArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gcp", name, args.spec, args.tags, opts)
        self.resource_name = name
        self.stack_name = args.stack
        self.project = args.project
        self.region = args.region
        self.labels = gcp_labels(self.tags)
        self.secret_recovery_days = args.secret_recovery_days
        self.release_data = args.release_data
        self.gap: Gap | None = None
        self._api_services: list[pulumi.Resource] = [
            gcp.projects.Service(
                f"{name}-api-{api.split('.')[0]}",
                **self.args(
                    "api",
                    project=self.project,
                    service=api,
                    disable_on_destroy=False,
                    disable_dependent_services=False,
                ),
                opts=MbopsComponent.opts(self),
            )
            for api in self.apis
        ]

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Child options: parented to the component and created after the APIs it needs are enabled."""
        depends_on = [*(kwargs.pop("depends_on", None) or []), *self._api_services]
        return super().opts(depends_on=depends_on, **kwargs)

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        """Options for a provider function the component calls: run once the APIs it enables are on (a fresh
        project answers 403 before), parented to the component."""
        return pulumi.InvokeOutputOptions(parent=self, depends_on=list(self._api_services))

    @property
    def physical(self) -> str:
        """The component's own physical name, ``<stack>-<kind suffix>`` (``shop-prod-edge``)."""
        return gcp_name(self.stack_name, RESOURCE_SUFFIX.get(self.kind, self.kind))

    def data_opts(
        self, child: str | None = None, import_id: str | None = None, **kwargs: Any
    ) -> pulumi.ResourceOptions:
        """Child options for a data resource: kept in the project on ``destroy`` unless the data is released, and
        taken back (``import_id``) when the stack's ``adopt`` names ``child`` (``MbopsComponent.adopted``)."""
        adopt = self.adopted(child, import_id) if child is not None and import_id is not None else None
        return self.opts(retain_on_delete=not self.release_data, import_=adopt, **kwargs)

    def declare_gap(self, reason: str, alternative: str) -> None:
        """Record the part of its spec this component cannot provide on GCP (partial: the rest is deployed)."""
        self.gap = Gap(reason=reason, alternative=alternative, partial=True)

    def secret(
        self,
        child: str,
        env_name: str,
        stack: str,
        value: pulumi.Input[str],
        *,
        keep: bool = False,
    ) -> SecretRef:
        """A Secret Manager secret replicated in the stack's region only, and one version holding ``value``.

        Children ``<child>`` (the secret) and ``<child>_version``; ``value`` is always a Pulumi secret. A version
        replaced by a new value is destroyed ``secret_recovery_days`` later (disabled, recoverable until then).
        ``keep``: the secret holds the credentials of data a ``destroy`` keeps, so it is kept with it (and
        adopted with it: ``<kind>.<child>``).
        """
        days = self.secret_recovery_days
        ttl = {"version_destroy_ttl": f"{days * 86400}s"} if days else {}
        secret_args = self.args(
            child,
            project=self.project,
            secret_id=secret_id(stack, env_name),
            replication={"user_managed": {"replicas": [{"location": self.region}]}},
            labels={**self.labels, "env-name": env_name.lower()},
            **ttl,
        )
        import_id = f"projects/{self.project}/secrets/{secret_args['secret_id']}"
        secret = gcp.secretmanager.Secret(
            f"{self.resource_name}-{env_name.lower().replace('_', '-')}", **secret_args,
            opts=self.data_opts(child, import_id) if keep else self.opts(),
        )  # fmt: skip
        version = gcp.secretmanager.SecretVersion(
            f"{self.resource_name}-{env_name.lower().replace('_', '-')}-v",
            **self.args(
                f"{child}_version",
                project=self.project,
                secret=secret.id,
                secret_data=pulumi.Output.secret(value),
            ),
            opts=self.data_opts() if keep else self.opts(),
        )
        return SecretRef(secret_id=secret_args["secret_id"], secret=secret, version=version)
