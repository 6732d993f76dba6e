"""The stack config model: what a stack file or CLI flags may say, validated with pydantic.

A stack is resolved from three layers, later ones winning: the profile's defaults (``stacks/profiles/*.yaml``)
with its environment's changes, the user's stack file, then CLI flags. Every validation failure becomes a
``ConfigError`` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
)

from mbops.components.spec import KINDS, SPECS, AppSpec, ComponentSpec
from mbops.errors import ConfigError
from mbops.stacks.regions import DEFAULT_REGION, region_problem

Profile = Literal["saas", "managed", "custom"]
Cloud = Literal["local", "aws", "gcp", "azure"]
Environment = Literal["dev", "prod"]
PROFILES: tuple[str, ...] = ("saas", "managed", "custom")
CLOUDS: tuple[str, ...] = ("local", "aws", "gcp", "azure")
ENVIRONMENTS: tuple[str, ...] = ("dev", "prod")

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySettings(_Strict):
    advisory: dict[str, str] = Field(
        default_factory=dict, description="rule id -> written reason for lowering the rule to advisory."
    )

    @field_validator("advisory")
    @classmethod
    def _reasons(cls, value: dict[str, str]) -> dict[str, str]:
        """A lowering reason needs 10 visible characters (letters, digits, punctuation, symbols): spaces,
        zero-width, format, control and combining characters, and the fillers that render blank, do not count."""
        import unicodedata

        blank = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}  # Hangul fillers, braille blank
        for rule, reason in value.items():
            visible = sum(1 for ch in reason if ch not in blank and unicodedata.category(ch)[0] in "LNPS")
            if visible < 10:
                raise ValueError(
                    f"{rule}: give a written reason (at least 10 visible characters) for lowering the rule"
                )
        return value


class StackFile(_Strict):
    """What a stack file may contain; every field is optional so flags can complete it."""

    name: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
    profile: Profile | None = None
    cloud: Cloud | None = None
    environment: Environment | None = None
    region: str | None = None
    gcp_project: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    app: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    components: dict[str, dict[str, Any] | bool] = Field(default_factory=dict)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    usage: dict[str, float] = Field(default_factory=dict, description="Cost model usage assumptions.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", key):
                raise ValueError(f"tag key '{key}': use lowercase letters, digits, '_' or '-' (valid on every cloud)")
        return value


class Stack(_Strict):
    """A fully resolved stack: what the program deploys."""

    name: str
    profile: Profile
    cloud: Cloud
    environment: Environment
    region: str
    gcp_project: str | None = None
    app: AppSpec
    tags: dict[str, str]
    components: dict[str, SerializeAsAny[ComponentSpec]]
    policy: PolicySettings = Field(default_factory=PolicySettings)
    usage: dict[str, float] = Field(default_factory=dict)
    source: str = "flags"

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    def spec(self, kind: str) -> Any:
        """The resolved spec of ``kind``; a KeyError means the profile does not use it."""
        return self.components[kind]

    def has(self, kind: str) -> bool:
        return kind in self.components

    @property
    def project(self) -> str:
        """The GCP project id the stack deploys to (GCP only)."""
        return self.gcp_project or f"{self.name}-{self.environment}"[:30]


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Merge ``top`` over ``base`` recursively (dicts merge, everything else is replaced)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def describe_errors(source: str, error: ValidationError, prefix: str = "") -> str:
    """One readable line per pydantic error: ``file: field.path: problem``."""
    lines = []
    for err in error.errors():
        loc = ".".join(str(p) for p in (*([prefix] if prefix else []), *err["loc"]) if p != "__root__")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
            allowed = _allowed_fields(error.title, err["loc"])
            if allowed:
                msg += f"; allowed: {', '.join(allowed)}"
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"{source}: {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def _allowed_fields(model_name: str, loc: tuple) -> list[str]:
    models = {m.__name__: m for m in (StackFile, AppSpec, PolicySettings, *SPECS.values())}
    model = models.get(model_name)
    if model is None:
        return []
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return sorted(model.model_fields)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every problem into a ConfigError naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such stack file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}malformed YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping of fields, got {type(data).__name__}")
    return data


def read_stack_file(path: Path) -> StackFile:
    data = load_yaml(path)
    try:
        return StackFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(str(path), exc)) from None


def resolve(
    stack_file: StackFile | None = None, source: str = "flags", labels: Mapping[str, str] | None = None,
    **flags: Any,
) -> Stack:  # fmt: skip
    """Resolve profile defaults + environment + stack file + flags (non-None flags win) into a Stack.

    ``labels`` say how each flag was given (``--region``, or ``MBOPS_REGION`` when it came from the
    environment), for error messages.
    """
    from mbops.stacks.profiles import load_profile

    labels = labels or {}
    base = stack_file or StackFile()
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        top = StackFile.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        raise ConfigError(_flag_errors(exc, labels)) from None
    profile_name = top.profile or "managed"
    cloud = top.cloud or "local"
    environment = top.environment or "dev"
    name = top.name or f"{profile_name}-{environment}"
    region = top.region or DEFAULT_REGION[cloud]
    problem = region_problem(cloud, region)
    if problem:
        where = labels.get("region", "--region") if flags.get("region") else f"{source}: region"
        raise ConfigError(f"{where}: {problem}")

    profile = load_profile(profile_name)
    app = deep_merge(profile.app, profile.environments.get(environment, {}).get("app", {}))
    app = deep_merge(app, top.app)
    try:
        app_spec = AppSpec.model_validate(app)
    except ValidationError as exc:
        raise ConfigError(describe_errors(source, exc, prefix="app")) from None

    components = _resolve_components(profile, environment, top.components, source)
    tags = {"app": name, "env": environment, "owner": "unassigned", "managed-by": "mbops", **top.tags}
    return Stack(
        name=name, profile=profile_name, cloud=cloud, environment=environment, region=region,
        gcp_project=top.gcp_project, app=app_spec, tags=tags, components=components, policy=top.policy,
        usage=top.usage, source=source,
    )  # fmt: skip


def _flag_errors(error: ValidationError, labels: Mapping[str, str]) -> str:
    """One line per bad flag, named as the user gave it (``--name`` or ``MBOPS_STACK``)."""
    lines = []
    for err in error.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        label = labels.get(field) or ("--env" if field == "environment" else f"--{field.replace('_', '-')}")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error":
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"{label}: {msg}")
    return "\n".join(lines)


def _resolve_components(profile: Any, environment: str, user: dict[str, Any], source: str) -> dict[str, Any]:
    layers = deep_merge(profile.components, profile.environments.get(environment, {}).get("components", {}))
    resolved: dict[str, ComponentSpec] = {}
    for kind, value in user.items():
        if kind not in KINDS:
            raise ConfigError(f"{source}: components.{kind}: unknown component kind; allowed: {', '.join(KINDS)}")
        if kind not in profile.components:
            raise ConfigError(
                f"{source}: components.{kind}: the '{profile.name}' profile has no {kind}; "
                f"its components: {', '.join(profile.components)}"
            )
        if value is False and kind not in profile.optional:
            raise ConfigError(
                f"{source}: components.{kind}: cannot be disabled in the '{profile.name}' profile; "
                f"optional: {', '.join(profile.optional) or 'none'}"
            )
    for kind, defaults in layers.items():
        value = user.get(kind, {})
        if value is False:
            continue
        merged = deep_merge(defaults or {}, value if isinstance(value, dict) else {})
        try:
            resolved[kind] = SPECS[kind].model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(describe_errors(source, exc, prefix=f"components.{kind}")) from None
    return resolved
