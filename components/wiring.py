"""The contract between the stack wiring (``stacks/wiring.py``) and each cloud's kind factories.

Every cloud registers one factory per component kind in ``components/<cloud>/__init__.py``
(``FACTORIES = {"database": "mbops.components.aws.database", ...}``: each module has
``build(ctx: BuildContext) -> Built``). A factory gets the stack as a ``StackInfo`` (components never import
``stacks``), its kind's spec, what the kinds before it built and, for the kind that runs the app, the
``AppWiring`` collected from all of them. It returns one ``Built``: the component, the app's plain env and
secret references, the grants the app's identity needs, the stack outputs, and a ``Gap`` when the cloud
cannot provide the kind (or part of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from mbops.components.spec import AppSpec, ComponentSpec
from mbops.errors import ConfigError

# The kinds that run the app: a stack has exactly one of them, built after every other kind it uses.
APP_KINDS: tuple[str, ...] = ("servers", "containers", "serverless")


@dataclass(frozen=True, kw_only=True)
class Gap:
    """What a cloud cannot provide for a kind, and what to use instead.

    ``partial``: the kind is deployed, but without part of its spec (``reason`` says which part).
    """

    reason: str
    alternative: str = ""
    partial: bool = False

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "alternative": self.alternative}


@dataclass(frozen=True, kw_only=True)
class Grant:
    """Something the app's identity may use; each cloud's app identity turns grants into least-privilege IAM.

    ``what`` is one of: ``bucket`` (read/write objects), ``document_db`` (read/write items), ``push_app``
    (register devices and send), ``push_topic`` (publish), ``role`` (a cloud role by name), ``registry``
    (pull images). ``target`` is the cloud's handle (ARN, name, id); ``after``: resources the grant must wait
    for (e.g. the custom role it names).
    """

    what: str
    target: Any
    after: tuple[pulumi.Resource, ...] = ()


@dataclass(kw_only=True)
class Built:
    """What one kind's factory built, in the shape the stack wiring collects."""

    component: Any = None
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # plain env for the app
    secrets: dict[str, Any] = field(default_factory=dict)  # env name -> the cloud's secret reference
    grants: list[Grant] = field(default_factory=list)
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # the app starts after these
    outputs: dict[str, Any] = field(default_factory=dict)
    gap: Gap | None = None
    image: pulumi.Input[str] | None = None  # the registry kind: the image the app runs (repo@sha256:...)


@dataclass(kw_only=True)
class AppWiring:
    """What the app receives from the rest of the stack: plain env (``app.env`` included), secrets as the
    cloud's references (never values), grants for its identity, and what it must wait for."""

    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    image: pulumi.Input[str] | None = None  # built and pushed by the registry kind; else app.image

    def granted(self, what: str) -> list[Grant]:
        """The grants of one sort, in the order they were made."""
        return [g for g in self.grants if g.what == what]


@dataclass(frozen=True, kw_only=True)
class StackInfo:
    """What components may know about the stack they are part of."""

    name: str
    cloud: str
    profile: str
    environment: str
    region: str
    project: str | None  # GCP project id
    tags: Mapping[str, str]
    app: AppSpec
    specs: Mapping[str, ComponentSpec]
    source: str = "flags"  # the stack file, or "flags"
    domain: str | None = None  # the app's public name (api.example.com)
    dns_zone: Any = None  # stacks.config.DnsZone: name, managed_zone (GCP), resource_group (Azure)
    release_data: bool = False  # make data resources deletable (the step before `destroy --delete-data`)
    adopt: frozenset[str] = frozenset()  # <kind>.<child> / <kind>.*: taken over (Pulumi import), not created

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    @property
    def physical_name(self) -> str:
        """The stack's name in the names of its cloud resources: ``<name>`` when it already ends with its
        environment (``shop-prod``, the default ``managed-prod``), else ``<name>-<environment>``. Without the
        environment a dev and a prod stack both named ``shop`` would fight over the same names in one account or
        project (the second ``up`` fails, or quietly takes the other's resources over)."""
        suffix = f"-{self.environment}"
        return self.name if self.name.endswith(suffix) else f"{self.name}{suffix}"

    def has(self, kind: str) -> bool:
        return kind in self.specs

    def image(self, wiring: AppWiring) -> pulumi.Input[str]:
        """The image the app runs: the one the registry kind built and pushed, else ``app.image``."""
        image = wiring.image or self.app.image
        if image is None and self.app.build is not None:
            raise ConfigError(
                f"{self.source}: app.build needs components.registry (the image is pushed there); turn it back on "
                f"or give a prebuilt app.image"
            )
        if image is None:
            raise ConfigError(
                f"{self.source}: app: give app.image (a prebuilt image) or app.build (a Dockerfile to build) "
                f"for the {self.cloud} stack {self.name}"
            )
        return image

    @property
    def source_dir(self) -> Path | None:
        """The stack file's folder, when the stack came from a file."""
        path = Path(self.source)
        return path.resolve().parent if self.source not in ("flags", "") and path.is_file() else None


@dataclass(kw_only=True)
class BuildContext:
    """What a kind's factory receives."""

    stack: StackInfo
    kind: str
    spec: Any  # the kind's ComponentSpec subclass
    built: Mapping[str, Built]  # the kinds built before this one (and ``foundation`` when the cloud has one)
    app_secrets: Mapping[str, pulumi.Output[str]]  # app.secret_env values, as Pulumi secrets
    wiring: AppWiring | None = None  # for the app kind only

    @property
    def name(self) -> str:
        """The component's resource name: ``<stack>-<suffix>`` per kind (kept stable across releases)."""
        return f"{self.stack.name}-{RESOURCE_SUFFIX.get(self.kind, self.kind)}"

    @property
    def foundation(self) -> Any:
        """The cloud's shared context (built by its ``foundation`` factory), if it has one."""
        found = self.built.get("foundation")
        return found.component if found else None

    def component(self, kind: str) -> Any:
        """The component an earlier kind built (the stack wiring checked it exists)."""
        return self.built[kind].component


# Resource names of the components, ``<stack>-<suffix>``: part of every URN, so they never change.
RESOURCE_SUFFIX: dict[str, str] = {
    "network": "net", "storage": "files", "database": "db", "docdb": "docs", "servers": "app",
    "containers": "app", "serverless": "app",
}  # fmt: skip
