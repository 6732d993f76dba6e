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
)


ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Set by mbops from the stack's components; an app may not set them itself.
WIRED_ENV = frozenset(
    {"PORT", "DATABASE_URL", "DATABASE_HOST", "STORAGE_BUCKET", "STORAGE_URL", "REDIS_URL", "DOCUMENT_TABLE",
     "DOCUMENT_DB_URL", "CDN_URL", "AUTH_USER_POOL_ID", "AUTH_CLIENT_ID", "PUSH_PLATFORM_APP", "SECRETS_PREFIX"}
)  # fmt: skip


class AppSpec(BaseModel):
    """The app contract: a container image (clouds) or a command (local) listening on $PORT."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field("ghcr.io/mbops/notes-app:0.1.0", min_length=1, description="Container image for clouds.")
    command: str = Field("python -m examples.notes_app", min_length=1, description="Local target command.")
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
        return self


class ComponentSpec(BaseModel):
    """Fields every component kind accepts."""

    model_config = ConfigDict(extra="forbid")

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
}
assert set(SPECS) == set(KINDS)
