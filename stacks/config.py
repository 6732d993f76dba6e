"""The stack config model: what a stack file or CLI flags may say, validated with pydantic.

A stack is resolved from three layers, later ones winning: the profile's defaults (``stacks/profiles/*.yaml``)
with its environment's changes, the user's stack file, then CLI flags. Every validation failure becomes a
``ConfigError`` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from mbops.components.spec import KINDS, SPECS, AppSpec, BuildSpec, ComponentSpec
from mbops.errors import ConfigError
from mbops.stacks.regions import DEFAULT_REGION, region_problem

GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
ADOPT_CHILD = re.compile(r"^([a-z][a-z0-9_]*|\*)$")  # a component's child (its override key), or * for all
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Profile = Literal["saas", "managed", "custom"]
Cloud = Literal["local", "aws", "gcp", "azure"]
Environment = Literal["dev", "prod"]
PROFILES: tuple[str, ...] = ("saas", "managed", "custom")
CLOUDS: tuple[str, ...] = ("local", "aws", "gcp", "azure")
ENVIRONMENTS: tuple[str, ...] = ("dev", "prod")

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: a plan uses few specs


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


# The example notes app of this checkout: what a stack without app.image or app.build runs.
EXAMPLE_APP = Path(__file__).resolve().parent.parent / "examples" / "notes_app"
DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"  # lowercase, one label per dot


class DnsZone(_Strict):
    """The DNS zone that holds ``domain`` (Route 53 / Cloud DNS / Azure DNS). mbops creates the certificate's
    validation records and the domain's record in it; without a zone the plan outputs them to create elsewhere."""

    name: str = Field(pattern=DOMAIN, description="The zone's DNS name, e.g. example.com.")
    managed_zone: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9-]{0,62}$", description="GCP: the Cloud DNS managed zone's resource name."
    )
    resource_group: str | None = Field(
        None, pattern=r"^[\w.()-]{1,90}$", description="Azure: the resource group of the DNS zone."
    )
    project: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="GCP: the zone's project (default: the stack's)."
    )
    subscription: str | None = Field(
        None, pattern=r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$",
        description="Azure: the zone's subscription (default: the stack's).",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class StackFile(_Strict):
    """What a stack file may contain; every field is optional so flags can complete it."""

    name: str | None = None
    profile: Profile | None = None
    cloud: Cloud | None = None
    environment: Environment | None = None
    region: str | None = None
    gcp_project: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")  # GCP_PROJECT
    domain: str | None = Field(
        None, pattern=DOMAIN, max_length=253, description="The app's public name, e.g. api.example.com."
    )
    dns_zone: DnsZone | None = None
    adopt: list[str] = Field(
        default_factory=list,
        description="What a destroy kept (or what predates the stack) that up takes over instead of creating: "
        "<kind>.<child> or <kind>.* (e.g. database.*, storage.bucket).",
    )
    app: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    components: dict[str, dict[str, Any] | bool] = Field(default_factory=dict)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    usage: dict[str, FiniteFloat] = Field(default_factory=dict, description="Cost model usage assumptions.")
    usage_preset: Literal["small", "medium", "large"] | None = Field(
        None, description="Traffic and data volumes the cost model assumes (usage: overrides single values)."
    )

    @field_validator("adopt")
    @classmethod
    def _adopt(cls, value: list[str]) -> list[str]:
        for entry in value:
            kind, _, child = entry.partition(".")
            if kind not in KINDS or not ADOPT_CHILD.match(child):
                raise ValueError(
                    f"'{entry}' is not <kind>.<child> or <kind>.*; kinds: {', '.join(KINDS)} (a kind's children "
                    f"are the keys its overrides take)"
                )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not STACK_NAME.match(value):
            raise ValueError(
                f"'{value}' is not a stack name: use 3 to 32 lowercase letters, digits and hyphens, starting with "
                f"a letter and not ending with a hyphen (it names cloud resources, which allow no more)"
            )
        return value

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
    domain: str | None = None
    dns_zone: DnsZone | None = None
    adopt: list[str] = Field(default_factory=list)
    app: AppSpec
    tags: dict[str, str]
    components: dict[str, SerializeAsAny[ComponentSpec]]
    policy: PolicySettings = Field(default_factory=PolicySettings)
    usage: dict[str, FiniteFloat] = Field(default_factory=dict)
    usage_preset: Literal["small", "medium", "large"] | None = None
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
        """The GCP project id the stack deploys to (GCP only): ``gcp_project`` (stack file, ``--gcp-project``,
        ``GOOGLE_CLOUD_PROJECT``), else ``<name>-<env>`` — a guess the plan warns about."""
        if self.gcp_project:
            return self.gcp_project
        suffix = "" if self.name.endswith(f"-{self.environment}") else f"-{self.environment}"
        return f"{self.name}{suffix}"[:30].rstrip("-")


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


MAX_STACK_FILE_BYTES = 1024 * 1024  # a stack file is a page of settings, not data
MAX_YAML_NODES = 100_000  # what a stack file may expand to (aliases included): no "billion laughs"


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every problem into a ConfigError naming the file.

    Refused: files over 1 MiB, text that is not UTF-8 (the byte offset is named), and documents whose
    aliases expand beyond ``MAX_YAML_NODES`` values.
    """
    try:
        size = path.stat().st_size
        if size > MAX_STACK_FILE_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes; a stack file may have at most {MAX_STACK_FILE_BYTES:,}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such stack file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a stack file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} cannot be decoded"
        ) from None
    if not text.strip():
        raise ConfigError(f"{path}: the stack file is empty; see the README's 'Stack files' for its fields")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}malformed YAML: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: the stack file has no fields (only comments?)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping of fields, got {type(data).__name__}")
    _check_expansion(path, data)
    return data


def _check_expansion(path: Path, data: Any) -> None:
    """Count the values ``data`` expands to, each alias as often as it is used; stop past the bound."""
    budget = MAX_YAML_NODES
    stack = [data]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError(
                f"{path}: the YAML expands to more than {MAX_YAML_NODES:,} values (anchors and aliases reused "
                f"too often); write the settings out"
            )
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


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

    gcp_project = top.gcp_project or (os.environ.get("GOOGLE_CLOUD_PROJECT") or None if cloud == "gcp" else None)
    if gcp_project is not None and not GCP_PROJECT.match(gcp_project):
        raise ConfigError(f"GOOGLE_CLOUD_PROJECT: '{gcp_project}' is not a GCP project id (6-30 lowercase letters, "
                          f"digits and hyphens, starting with a letter)")  # fmt: skip
    profile = load_profile(profile_name)
    app = deep_merge(profile.app, profile.environments.get(environment, {}).get("app", {}))
    app = deep_merge(app, top.app)
    try:
        app_spec = _with_workdir(_with_build_context(AppSpec.model_validate(app), source, cloud), source)
    except ValidationError as exc:
        raise ConfigError(describe_errors(source, exc, prefix="app")) from None
    if top.dns_zone is not None:
        zone = top.dns_zone.name
        if top.domain is None or not (top.domain == zone or top.domain.endswith(f".{zone}")):
            raise ConfigError(f"{source}: dns_zone: {zone} must hold the stack's domain ({top.domain or 'not set'})")

    components = _resolve_components(profile, environment, top.components, source)
    tags = {"app": name, "env": environment, "owner": "unassigned", "managed-by": "mbops", **top.tags}
    return Stack(
        name=name, profile=profile_name, cloud=cloud, environment=environment, region=region,
        gcp_project=gcp_project, domain=top.domain, dns_zone=top.dns_zone, adopt=top.adopt, app=app_spec, tags=tags,
        components=components, policy=top.policy, usage=top.usage, usage_preset=top.usage_preset, source=source,
    )  # fmt: skip


def _with_workdir(app: AppSpec, source: str) -> AppSpec:
    """``app.workdir`` made absolute (relative to the stack file's folder); it must exist. The example app's
    default command runs from this checkout, wherever the stack file is."""
    if app.workdir is None:
        default = AppSpec.model_fields["command"].default
        if app.command == default and EXAMPLE_APP.is_dir():
            return app.model_copy(update={"workdir": str(EXAMPLE_APP.parent.parent)})
        return app
    base = Path(source).resolve().parent if source not in ("flags", "") and Path(source).is_file() else Path.cwd()
    workdir = (base / app.workdir).resolve()
    if not workdir.is_dir():
        raise ConfigError(f"{source}: app.workdir: {workdir} is not a folder")
    return app.model_copy(update={"workdir": str(workdir)})


def _with_build_context(app: AppSpec, source: str, cloud: str) -> AppSpec:
    """``app.build.context`` made absolute (relative to the stack file's folder, or the current directory);
    on a cloud, without an image or a build, the example app (when this checkout has it) is built. (The local
    cloud runs ``app.command`` unless the stack file asks for a build.)"""
    if app.image is not None:
        return app
    if app.build is None:
        if cloud == "local" or not EXAMPLE_APP.is_dir():
            return app
        return app.model_copy(update={"build": BuildSpec(context=str(EXAMPLE_APP))})
    base = Path(source).resolve().parent if source not in ("flags", "") and Path(source).is_file() else Path.cwd()
    context = (base / app.build.context).resolve()
    if not context.is_dir():
        raise ConfigError(f"{source}: app.build.context: {context} is not a folder")
    if not (context / app.build.dockerfile).is_file():
        raise ConfigError(f"{source}: app.build.dockerfile: no {app.build.dockerfile} in {context}")
    return app.model_copy(update={"build": app.build.model_copy(update={"context": str(context)})})


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
    """The profile's kinds with their defaults, the environment's changes and the user's settings on top.

    An environment may turn a kind off (``monitoring: false`` in dev); the user turns it back on with ``true``
    or settings. The user may turn off only the profile's ``optional`` kinds.
    """
    env_layer = profile.environments.get(environment, {}).get("components", {})
    off_here = {kind for kind, value in env_layer.items() if value is False}
    layers = deep_merge(profile.components, {k: v for k, v in env_layer.items() if v is not False})
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
        if value is False or (kind in off_here and kind not in user):
            continue
        merged = deep_merge(defaults or {}, value if isinstance(value, dict) else {})
        try:
            resolved[kind] = SPECS[kind].model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(describe_errors(source, exc, prefix=f"components.{kind}")) from None
    return resolved
