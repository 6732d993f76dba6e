"""Cloud-agnostic specs of the component kinds: what a profile or stack file may set for each kind.

Every cloud's component for a kind takes the same spec, so one stack file deploys to any cloud by changing
``cloud:`` alone. ``overrides`` is the escape hatch: raw args for a named child resource, merged over the
component's defaults (keys are the Python argument names of the underlying Pulumi resource).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Size = Literal["small", "medium", "large"]

KINDS: tuple[str, ...] = (
    "network",
    "servers",
    "containers",
    "serverless",
    "database",
    "docdb",
    "storage",
    "cache",
    "auth",
    "push",
    "secrets",
    "cdn",
    "registry",
    "edge",
    "monitoring",
)


ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Set by mbops from the stack's components; an app may not set them itself.
WIRED_ENV = frozenset(
    {"PORT", "DATABASE_URL", "DATABASE_HOST", "STORAGE_BUCKET", "STORAGE_URL", "REDIS_URL", "DOCUMENT_TABLE",
     "DOCUMENT_DB_URL", "CDN_URL", "AUTH_USER_POOL_ID", "AUTH_CLIENT_ID", "PUSH_PLATFORM_APP", "SECRETS_PREFIX"}
)  # fmt: skip


class BuildSpec(BaseModel):
    """How to build the app's image with Docker: ``docker build --file DOCKERFILE --target T CONTEXT``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: a plan uses few specs

    context: str = Field(".", min_length=1, description="Build context folder (relative: to the stack file's folder).")
    dockerfile: str = Field("Dockerfile", min_length=1, description="Dockerfile, relative to the context.")
    target: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Build stage to build.")
    args: dict[str, str] = Field(default_factory=dict, description="Build arguments (--build-arg); not secrets.")
    platform: str = Field("linux/amd64", pattern=r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")


class AppSpec(BaseModel):
    """The app contract: a container image (clouds) or a command (local) listening on $PORT.

    The image is built from ``build`` (pushed to the stack's registry and deployed by digest) or is a prebuilt
    ``image`` (pin it by digest, ``repo@sha256:...``, for prod).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: a plan uses few specs

    image: str | None = Field(None, min_length=1, description="A prebuilt container image (clouds).")
    build: BuildSpec | None = Field(None, description="Build the image from a Dockerfile (clouds; local with Docker).")
    command: str = Field("python -m examples.notes_app", min_length=1, description="Local target command.")
    workdir: str | None = Field(
        None, min_length=1,
        description="Local: the folder app.command runs in (relative: to the stack file's folder). "
        "Default: the stack file's folder, or the current directory without one.",
    )  # fmt: skip
    port: int = Field(8080, ge=1, le=65535)
    health_path: str = Field("/healthz", pattern=r"^/[\w\-./]*$")
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, str] = Field(
        default_factory=dict,
        description="NAME -> source: 'env:VAR' reads the variable at deploy time; stored as a secret.",
    )
    cpu: float = Field(0.25, ge=0.125, le=16)
    memory_mb: int = Field(512, ge=128, le=65536)
    min_replicas: int = Field(1, ge=0, le=1000)
    max_replicas: int = Field(3, ge=1, le=1000)

    @field_validator("env", "secret_env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"'{name}' is not an environment variable name (A-Z, 0-9, _; not a digit first)")
            if name in WIRED_ENV:
                raise ValueError(f"'{name}' is set by mbops from the stack's components; choose another name")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_sources(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            if not source.startswith("env:") or not ENV_NAME.match(source[4:]):
                raise ValueError(f"{name}: source must be 'env:VARIABLE' (got '{source}'); never a plaintext value")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AppSpec:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) is below min_replicas ({self.min_replicas})")
        both = sorted(set(self.env) & set(self.secret_env))
        if both:
            raise ValueError(f"{', '.join(both)} is both in env and in secret_env; keep one")
        if self.image is not None and self.build is not None:
            raise ValueError("give either image (a prebuilt image) or build (a Dockerfile to build), not both")
        return self


class ComponentSpec(BaseModel):
    """Fields every component kind accepts."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: a plan uses few specs

    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Raw args per child resource, e.g. {instance: {instance_class: db.r6g.large}}.",
    )


class NetworkSpec(ComponentSpec):
    cidr: str = Field("10.20.0.0/16", pattern=r"^\d{1,3}(\.\d{1,3}){3}/(1[6-9]|2[0-4])$")
    zones: int = Field(2, ge=2, le=6, description="Availability zones to spread subnets over.")
    nat: Literal["single", "per_zone", "none"] = "single"


class ServersSpec(ComponentSpec):
    https_certificate: str | None = Field(
        None, description="Certificate id/ARN for HTTPS on the load balancer; HTTP only without one."
    )
    size: Size = "small"
    disk_gb: int = Field(20, ge=8, le=16384)
    os_image: str | None = Field(None, description="Machine image; defaults to the cloud's current LTS Linux.")


class ContainersSpec(ComponentSpec):
    https_certificate: str | None = Field(
        None, description="Certificate id/ARN for HTTPS on the load balancer; HTTP only without one."
    )
    log_retention_days: int = Field(30, ge=1, le=3653)


class ServerlessSpec(ComponentSpec):
    timeout_s: int = Field(30, ge=1, le=900)
    log_retention_days: int = Field(14, ge=1, le=3653)


class DatabaseSpec(ComponentSpec):
    engine_version: str = Field("16", pattern=r"^\d{2}$")
    size: Size = "small"
    storage_gb: int = Field(20, ge=10, le=65536)
    max_storage_gb: int = Field(100, ge=10, le=65536)
    ha: bool = False
    deletion_protection: bool = False
    backup_retention_days: int = Field(7, ge=1, le=35)
    self_hosted: bool = Field(False, description="custom profile: run PostgreSQL on a VM with a data disk.")
    database_name: str = Field("app", pattern=r"^[a-z][a-z0-9_]{0,62}$")


class DocDbSpec(ComponentSpec):
    point_in_time_recovery: bool = True
    deletion_protection: bool = False


class StorageSpec(ComponentSpec):
    public_prefix: str = Field(
        "public/", pattern=r"^[a-z0-9][a-z0-9._-]*/$",
        description="The only prefix the CDN serves; every other object (user uploads) stays private.",
    )  # fmt: skip
    versioning: bool = True
    noncurrent_version_days: int = Field(30, ge=1, le=3650)
    cors_origins: list[str] = Field(default_factory=list)
    force_destroy: bool = False


class CacheSpec(ComponentSpec):
    size: Size = "small"
    engine_version: str = Field("7.1", pattern=r"^\d+(\.\d+)?$")
    ha: bool = False


class AuthSpec(ComponentSpec):
    callback_urls: list[str] = Field(default_factory=lambda: ["myapp://callback"])
    mfa: Literal["off", "optional", "on"] = "optional"
    password_min_length: int = Field(12, ge=8, le=128)


class PushSpec(ComponentSpec):
    platform: Literal["fcm", "apns", "apns_sandbox"] = "fcm"
    credential_secret: str = Field(
        "PUSH_CREDENTIAL",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Name of the app secret (app.secret_env) that holds the platform credential.",
    )


class SecretsSpec(ComponentSpec):
    recovery_days: int = Field(7, ge=7, le=90)


class CdnSpec(ComponentSpec):
    default_ttl_s: int = Field(3600, ge=0, le=31536000)
    price_class: Literal["economy", "standard", "global"] = "economy"


class RegistrySpec(ComponentSpec):
    """The stack's container registry: the app's images, pushed by digest, pulled by the app only."""

    keep_images: int = Field(30, ge=1, le=1000, description="Images kept; older ones are cleaned up.")
    scan_on_push: bool = True


class EdgeSpec(ComponentSpec):
    """The public entry in front of the app: the stack's ``domain`` with a cloud-managed certificate, HTTPS
    only (HTTP redirects), TLS 1.2+, and a web application firewall."""

    waf: bool = True
    rate_limit: int = Field(
        10_000, ge=100, le=2_000_000_000,
        description="Requests per IP per 5 minutes (mobile users share IPs behind carrier NAT: keep it generous).",
    )  # fmt: skip
    managed_rules: bool = Field(True, description="The cloud's managed rule sets (OWASP core, known bad inputs).")
    min_tls: Literal["1.2", "1.3"] = "1.2"


class Thresholds(BaseModel):
    """Alert thresholds (each alert's description says what to do when it fires)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: a plan uses few specs

    error_rate_pct: float = Field(5, gt=0, le=100, description="5xx share of requests at the entry.")
    latency_p95_ms: float = Field(1500, gt=0, description="p95 latency at the entry.")
    cpu_pct: float = Field(80, gt=0, le=100, description="App CPU.")
    memory_pct: float = Field(85, gt=0, le=100, description="App memory.")
    db_cpu_pct: float = Field(80, gt=0, le=100)
    db_free_storage_pct: float = Field(10, gt=0, lt=100, description="Free database storage below this share.")
    db_connections_pct: float = Field(80, gt=0, le=100, description="Of the server's connection limit.")
    cache_memory_pct: float = Field(80, gt=0, le=100)
    period_s: int = Field(300, ge=60, le=3600, description="Evaluation window.")


NOTIFY = re.compile(r"^(email:[^@\s]+@[^@\s]+\.[^@\s]+|webhook:https://\S+)$")


class MonitoringSpec(ComponentSpec):
    """Alerts, an uptime check of the health path, a dashboard and a budget, sent to ``notify``."""

    notify: list[str] = Field(default_factory=list, description="email:ops@example.com or webhook:https://...")
    budget_usd: float | None = Field(None, gt=0, description="Monthly budget; alerts at 80% and 100% (forecast).")
    billing_account: str | None = Field(
        None, pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", description="GCP: the billing account a budget watches."
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            if not NOTIFY.match(target):
                raise ValueError(f"'{target}': use email:<address> or webhook:https://<url>")
        return value


SPECS: dict[str, type[ComponentSpec]] = {
    "network": NetworkSpec,
    "servers": ServersSpec,
    "containers": ContainersSpec,
    "serverless": ServerlessSpec,
    "database": DatabaseSpec,
    "docdb": DocDbSpec,
    "storage": StorageSpec,
    "cache": CacheSpec,
    "auth": AuthSpec,
    "push": PushSpec,
    "secrets": SecretsSpec,
    "cdn": CdnSpec,
    "registry": RegistrySpec,
    "edge": EdgeSpec,
    "monitoring": MonitoringSpec,
}
assert set(SPECS) == set(KINDS)
