"""Local registry: the app's image, built from ``app.build`` by this machine's Docker engine.

Only a stack that sets ``app.build`` builds an image here (elsewhere the app runs ``app.command``). With a Docker
engine reachable (``DOCKER_HOST``, else the default socket), the ``Image`` resource (``components/image.py``)
builds it with the docker SDK — again only when the build context changes — and, when a registry on the
loopback is configured, pushes it there and the app runs it by digest (``<registry>/<stack>-app@sha256:...``):

- ``MBOPS_LOCAL_REGISTRY=127.0.0.1:5000`` (any loopback ``host:port``), or
- the raw override ``components: {registry: {overrides: {image: {repository: 127.0.0.1:5000/notes}}}}``.

Without one the image stays in the engine and the app runs it by id. Without a Docker engine, or without
``app.build``, the kind is reported as unavailable (``not available: registry``, with the reason) and the app
runs ``app.command`` as a process; ``mbops doctor`` says whether an engine is reachable.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any

import pulumi

from mbops.components.base import MbopsComponent
from mbops.components.spec import BuildSpec, RegistrySpec
from mbops.components.wiring import BuildContext, Built, Gap
from mbops.errors import ConfigError

REGISTRY_ENV = "MBOPS_LOCAL_REGISTRY"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def docker_engine(timeout: float = 3.0) -> tuple[bool, str]:
    """(reachable, where or why not): the Docker engine of ``DOCKER_HOST`` or the default socket."""
    where = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    if where.startswith("unix://") and not os.path.exists(where.removeprefix("unix://")):
        return False, f"no Docker engine at {where} (no such socket)"
    try:
        import docker

        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - the SDK raises several unrelated types for "not reachable"
        return False, f"no Docker engine answers at {where} ({type(exc).__name__}: {str(exc)[:160]})"
    return True, where


def loopback_registry(address: str, where: str) -> str:
    """``address`` (``host:port[/path]``) when its host is a loopback address, else a ConfigError."""
    host = address.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or ":" not in address.split("/", 1)[0]:
        raise ConfigError(
            f"{where}: {address!r} is not a registry on this machine's loopback; give 127.0.0.1:PORT (the local "
            f"target pushes only to a registry on 127.0.0.1, ::1 or localhost)"
        )
    return address


@dataclass(kw_only=True)
class LocalRegistryArgs:
    spec: RegistrySpec = field(default_factory=RegistrySpec)
    build: BuildSpec
    stack: str
    tags: dict[str, str] = field(default_factory=dict)


class LocalRegistry(MbopsComponent):
    """The app's image, built by the local Docker engine and pushed to a loopback registry when one is set.

    Children: ``image`` (an ``Image``). Outputs: ``image`` (what the app runs), ``repository``.
    """

    kind = "registry"

    def __init__(self, name: str, args: LocalRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from mbops.components.image import Image

        super().__init__("local", name, args.spec, args.tags, opts)
        configured = os.environ.get(REGISTRY_ENV, "").strip()
        default = f"{loopback_registry(configured, REGISTRY_ENV)}/{args.stack}-app" if configured else None
        chosen = self.args("image", repository=default)
        self.repository: str | None = chosen.get("repository")
        if self.repository:
            loopback_registry(self.repository, "components.registry.overrides.image.repository")
        built = Image(f"{name}-image", args.build, repository=self.repository, opts=self.opts())
        self.image = built.ref
        self.finish({"image": self.image, "repository": self.repository})


class NoImage(MbopsComponent):
    """A stack without ``app.build`` builds no image: its app runs ``app.command`` as a process (no children)."""

    kind = "registry"

    def __init__(self, name: str, spec: RegistrySpec, tags: dict[str, str]) -> None:
        super().__init__("local", name, spec, tags)
        self.finish({})


def build(ctx: BuildContext) -> Built:
    """With ``app.build`` and a Docker engine: the built (and pushed) image the app runs. Without ``app.build``
    nothing is built (the app runs ``app.command``); with it but no Docker engine, a gap saying why the app runs
    as a process."""
    build_spec = ctx.stack.app.build
    if build_spec is None:
        return Built(component=NoImage(ctx.name, ctx.spec, dict(ctx.stack.tags)))
    reachable, where = docker_engine()
    if not reachable:
        return Built(gap=Gap(
            reason=f"app.build is set but {where}: the app runs app.command as a process",
            alternative="start a Docker engine (or set DOCKER_HOST) to build app.build and run it as a container",
        ))  # fmt: skip
    registry = LocalRegistry(ctx.name, LocalRegistryArgs(spec=ctx.spec, build=build_spec, stack=ctx.stack.name,
                                                         tags=dict(ctx.stack.tags)))  # fmt: skip
    outputs: dict[str, Any] = {"image": registry.image}
    if registry.repository:
        outputs["registry"] = registry.repository
    return Built(component=registry, image=registry.image, outputs=outputs)
