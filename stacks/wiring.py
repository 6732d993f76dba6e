"""The one cloud-neutral stack wiring: a resolved stack becomes its cloud's components, wired together.

It orders the kinds, checks what one kind needs of another once (before anything is created), hands each
kind's factory (``components/<cloud>/__init__.py``) what it needs, collects the app's wiring (plain env,
secret references, grants) and the stack outputs, and reports kinds a cloud cannot provide as typed gaps.
Only the modules of the kinds a stack has are imported, so a one-cloud run imports one cloud's SDK.
"""

from __future__ import annotations

import importlib
import inspect
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pulumi
from pydantic import ValidationError

from mbops.components.base import set_adopted
from mbops.components.secret_values import secret_env_value
from mbops.components.wiring import APP_KINDS, AppWiring, BuildContext, Built, Gap, StackInfo
from mbops.errors import ConfigError
from mbops.stacks.config import Stack, StackFile, describe_errors

# Build order: what others use comes first; the app after everything it is wired to.
ORDER: tuple[str, ...] = (
    "network", "secrets", "registry", "storage", "database", "cache", "docdb", "auth", "push", "cdn", *APP_KINDS,
    "edge", "monitoring",
)  # fmt: skip

# What a kind needs of another kind, on every cloud (a cloud's registry may add its own in ``NEEDS``).
NEEDS: dict[str, dict[str, str]] = {
    "database": {"network": "the database lives in the stack's private network"},
    "cache": {"network": "the cache lives in the stack's private network"},
    "cdn": {"storage": "the CDN serves the stack's bucket"},
}

Factory = Callable[[BuildContext], Built]


@dataclass(kw_only=True)
class BuildResult:
    """A built stack: its outputs (to export), the gaps (kind -> Gap) and what each kind built."""

    outputs: dict[str, Any] = field(default_factory=dict)
    gaps: dict[str, Gap] = field(default_factory=dict)
    built: dict[str, Built] = field(default_factory=dict)


def registry(cloud: str) -> ModuleType:
    """The cloud's registry: ``FACTORIES`` (kind -> module); optional ``FOUNDATION``, ``NEEDS``, ``LATE``,
    ``WIRED_ENV``."""
    return importlib.import_module(f"mbops.components.{cloud}")


def factory(cloud: str, kind: str) -> Factory:
    """The ``build`` function of ``kind`` on ``cloud`` (imports only that kind's module)."""
    return importlib.import_module(registry(cloud).FACTORIES[kind]).build


def order(stack: Stack, late: tuple[str, ...] = ()) -> list[str]:
    """The stack's kinds in build order; ``late`` kinds (a cloud's choice) come right before the app, and what
    wraps the app (edge, monitoring) after it."""
    kinds = [k for k in ORDER if stack.has(k)]
    app_at = ORDER.index(APP_KINDS[0])
    before = [k for k in kinds if ORDER.index(k) < app_at and k not in late]
    after = [k for k in kinds if ORDER.index(k) > ORDER.index(APP_KINDS[-1])]
    return [*before, *(k for k in kinds if k in late), *(k for k in kinds if k in APP_KINDS), *after]


def check(stack: Stack, reg: ModuleType) -> None:
    """Cross-kind needs, checked once before anything is created: a ConfigError names the field."""
    where = f"{stack.source}: " if stack.source not in ("flags", "") else ""
    app_kinds = [k for k in APP_KINDS if stack.has(k)]
    if len(app_kinds) != 1:
        raise ConfigError(
            f"{where}components: a stack runs its app on exactly one of {', '.join(APP_KINDS)}; "
            f"got {', '.join(app_kinds) or 'none'}"
        )
    needs: dict[str, dict[str, str]] = {k: dict(v) for k, v in NEEDS.items()}
    for kind, more in getattr(reg, "NEEDS", {}).items():
        needs.setdefault(kind, {}).update(more)
    for kind in order(stack):
        for needed, why in needs.get(kind, {}).items():
            if not stack.has(needed):
                raise ConfigError(
                    f"{where}components.{kind}: needs components.{needed} ({why} on {stack.cloud}), "
                    f"which the stack does not have"
                )
    if stack.app.secret_env and not stack.has("secrets"):
        raise ConfigError(f"{where}app.secret_env: the stack has no secrets component to keep them in")
    clash = sorted(frozenset(getattr(reg, "WIRED_ENV", ())) & (set(stack.app.env) | set(stack.app.secret_env)))
    if clash:
        raise ConfigError(f"{where}app: {', '.join(clash)} is set by mbops on {stack.cloud}; choose another name")


def adopt_config(config: pulumi.Config) -> frozenset[str]:
    """The Pulumi config ``mbops:adopt`` (a list, like the stack file's ``adopt``), for ``pulumi up`` on the repo."""
    value = config.get_object("adopt")
    if value is None:
        return frozenset()
    try:
        return frozenset(StackFile.model_validate({"adopt": value}).adopt)
    except ValidationError as exc:
        raise ConfigError(describe_errors("Pulumi config mbops:adopt", exc)) from None


def stack_info(stack: Stack, *, release_data: bool = False) -> StackInfo:
    """What components may know of the stack. ``release_data`` also comes from the Pulumi config
    ``mbops:releaseData`` (``pulumi config set mbops:releaseData true`` before a ``pulumi destroy`` that
    should delete the data), ``adopt`` from ``mbops:adopt`` as well as the stack file."""
    config = pulumi.Config("mbops")
    release_data = release_data or bool(config.get_bool("releaseData"))
    return StackInfo(
        name=stack.name, cloud=stack.cloud, profile=stack.profile, environment=stack.environment,
        region=stack.region, project=stack.project if stack.cloud == "gcp" else None, tags=dict(stack.tags),
        app=stack.app, specs=dict(stack.components), source=stack.source, domain=stack.domain,
        dns_zone=stack.dns_zone, release_data=release_data, adopt=frozenset(stack.adopt) | adopt_config(config),
    )  # fmt: skip


def build(stack: Stack, *, release_data: bool = False) -> BuildResult:
    """Create the stack's components on its cloud, wired together; return outputs and gaps."""
    reg = registry(stack.cloud)
    check(stack, reg)
    if stack.cloud == "gcp" and not stack.gcp_project:
        pulumi.log.warn(
            f"gcp_project is not set: the stack uses the project '{stack.project}' (<name>-<env>); set gcp_project "
            f"in the stack file, --gcp-project or GOOGLE_CLOUD_PROJECT to the project you deploy to"
        )
    info = stack_info(stack, release_data=release_data)
    set_adopted(info.adopt)
    # Read first: a missing variable stops a deploy before anything is created (a preview plans a placeholder).
    app_secrets = {name: secret_env_value(stack.app.secret_env, name) for name in sorted(stack.app.secret_env)}
    result = BuildResult()
    wiring = AppWiring(env=dict(stack.app.env))
    foundation = getattr(reg, "FOUNDATION", None)
    if foundation is not None:
        ctx = BuildContext(stack=info, kind="foundation", spec=None, built=result.built, app_secrets=app_secrets)
        _collect(result, wiring, "foundation", importlib.import_module(foundation).build(ctx))
    for kind in order(stack, tuple(getattr(reg, "LATE", ()))):
        ctx = BuildContext(
            stack=info, kind=kind, spec=stack.spec(kind), built=result.built, app_secrets=app_secrets,
            wiring=wiring if kind in APP_KINDS else None,
        )  # fmt: skip
        try:
            built = factory(stack.cloud, kind)(ctx)
        except TypeError as exc:
            problem = _unknown_override(stack, kind, exc)
            if problem is None:
                raise
            raise problem from None
        _collect(result, wiring, kind, built)
    for kind, gap in result.gaps.items():
        how = "partly available" if gap.partial else "not available"
        pulumi.log.warn(f"{how} on {stack.cloud}: {kind} — {gap.reason}")
    return result


def _unknown_override(stack: Stack, kind: str, exc: TypeError) -> ConfigError | None:
    """A raw override the child resource does not take, as a ConfigError naming the field and what it takes."""
    match = re.search(r"(\w+)\._internal_init\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    overrides = stack.spec(kind).overrides if stack.has(kind) else {}
    child = next((c for c, args in overrides.items() if match and match[2] in args), None)
    if match is None or child is None:
        return None
    resources = [frame.f_locals.get("__self__") for frame, _ in traceback.walk_tb(exc.__traceback__)]
    resource = next((r for r in reversed(resources) if type(r).__name__ == match[1]), None)
    allowed = ""
    if resource is not None:
        names = [n for n in list(inspect.signature(type(resource)._internal_init).parameters)[3:] if n != "__props__"]
        allowed = f"; {type(resource).__module__}.{match[1]} takes: {', '.join(names)}"
    where = f"{stack.source}: " if stack.source not in ("flags", "") else ""
    field = f"components.{kind}.overrides.{child}.{match[2]}"
    return ConfigError(f"{where}{field}: not an argument of the {child}{allowed}")


def _collect(result: BuildResult, wiring: AppWiring, kind: str, built: Built) -> None:
    result.built[kind] = built
    if built.gap is not None:
        result.gaps[kind] = built.gap
    clash = sorted((set(built.env) | set(built.secrets)) & (set(wiring.env) | set(wiring.secrets)))
    if clash:
        raise ConfigError(f"app: {', '.join(clash)} is wired twice (by {kind} and an earlier component)")
    wiring.env.update(built.env)
    wiring.secrets.update(built.secrets)
    wiring.grants.extend(built.grants)
    wiring.depends_on.extend(built.depends_on)
    wiring.image = built.image or wiring.image
    result.outputs.update(built.outputs)


def exported(outputs: Mapping[str, Any]) -> None:
    """Export a build's outputs as the Pulumi stack's outputs."""
    for key, value in outputs.items():
        pulumi.export(key, value)
