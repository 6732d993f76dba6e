"""The app's container image: built from ``app.build`` with the docker SDK, pushed to the stack's registry, known
by digest.

``Image`` is a Pulumi dynamic resource, so both engines run it (the embedded engine in-process, the Pulumi CLI
through its Python dynamic provider host). Its inputs are the build settings, the content digest of the build
context (files ``.dockerignore`` keeps, hashed when the program runs: an unchanged context means no rebuild),
the repository and the registry's credentials (a Pulumi secret, never written out: they are not outputs). Its
output ``ref`` is ``<repository>@sha256:...``: what the app deploys. Without a repository the image is only
built (the local cloud's Docker engine runs it by id).

The pushed tag is a hash of everything that makes the image (``build_key``: the context digest, Dockerfile,
target, build arguments and platform), so a changed argument or platform pushes a new tag rather than finding
the old one. Where the context lies on disk is not part of it: the provider's diff ignores ``context`` (a
checkout at another path, like a CI runner's, changes nothing), while the build still reads it.

Build and push output goes to the ``mbops.image`` logger line by line; a failed build raises with its last
lines. ``MBOPS_BUILD_NETWORK`` sets the build containers' network mode (e.g. ``host``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from mbops.components.spec import BuildSpec

LOG = logging.getLogger("mbops.image")
TAIL = 25  # lines of build output a failure shows
BUILD_INPUTS = ("context", "dockerfile", "target", "args", "platform", "context_digest", "repository")
# What makes the image: a change of one of these builds (and pushes) again. Not ``context``: a folder's path.
DIFF_INPUTS = tuple(k for k in BUILD_INPUTS if k != "context")
KEY_INPUTS = ("context_digest", "dockerfile", "target", "args", "platform")  # the tag's hash


def context_digest(build: BuildSpec) -> str:
    """sha256 over the context's files that ``.dockerignore`` keeps (path, mode, content), in a stable order."""
    from mbops.components.dockerignore import context_files

    root = Path(build.context)
    digest = hashlib.sha256()
    for rel in context_files(root, build.dockerfile):
        path = root / rel
        info = path.lstat()
        digest.update(f"{rel}\0{stat.S_IMODE(info.st_mode):o}\0".encode())
        if stat.S_ISLNK(info.st_mode):
            digest.update(os.readlink(path).encode())
        elif stat.S_ISREG(info.st_mode):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        digest.update(b"\0")
    return f"sha256:{digest.hexdigest()}"


def build_key(props: Mapping[str, Any]) -> str:
    """The image's tag: a hash of the context's content and the build settings (16 hex digits)."""
    import json

    settings = {k: props.get(k) for k in KEY_INPUTS}
    settings["args"] = dict(sorted((props.get("args") or {}).items()))
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class BuildFailed(Exception):
    """The build or the push failed; the message ends with the last lines of its output."""


def _docker() -> Any:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - docker raises several unrelated types for "not reachable"
        where = os.environ.get("DOCKER_HOST") or "the default socket"
        raise BuildFailed(
            f"app.build needs a Docker engine, and none answers at {where} ({exc}); start one (or set DOCKER_HOST), "
            f"or give a prebuilt app.image"
        ) from None
    return client


def _stream(chunks: Iterable[Mapping[str, Any]], what: str) -> dict[str, Any]:
    """Log each line of a docker API stream; raise BuildFailed with the tail on an error; return the ``aux``."""
    tail: deque[str] = deque(maxlen=TAIL)
    aux: dict[str, Any] = {}
    for chunk in chunks:
        text = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
        if chunk.get("progress") is None and text:
            for line in text.splitlines():
                tail.append(line)
                LOG.info(line)
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            lines = "\n".join(f"  {line}" for line in tail)
            raise BuildFailed(f"{what} failed: {str(detail).strip()}\nlast output:\n{lines}")
        aux.update(chunk.get("aux") or {})
    return aux


def build_and_push(props: Mapping[str, Any]) -> dict[str, Any]:
    """Build the image, push it when there is a repository; return the outputs (``ref``, ``digest``, ...)."""
    client = _docker()
    repository = props.get("repository") or ""
    tag = f"{repository or 'mbops-app'}:{build_key(props)}"
    build = client.api.build(
        path=props["context"], dockerfile=props["dockerfile"], tag=tag, target=props.get("target") or None,
        buildargs=dict(props.get("args") or {}), platform=props.get("platform"), rm=True, forcerm=True,
        decode=True, network_mode=os.environ.get("MBOPS_BUILD_NETWORK") or None,
    )  # fmt: skip
    aux = _stream(build, f"docker build of {props['context']}")
    image_id = aux.get("ID") or client.api.inspect_image(tag)["Id"]
    if not repository:
        return {"ref": image_id, "digest": image_id, "tag": tag, "image_id": image_id}
    auth = registry_credentials(props.get("registry_auth"))
    digest = _pushed_digest(client, tag, auth)  # an immutable tag already pushed (same content): reuse it
    if digest is None:
        pushed = _stream(client.api.push(repository, tag=tag.rsplit(":", 1)[1], auth_config=auth, stream=True,
                                         decode=True), f"docker push to {repository}")  # fmt: skip
        digest = pushed.get("Digest") or _pushed_digest(client, tag, auth)
    if not digest:
        raise BuildFailed(f"docker push to {repository}: the registry reported no digest for {tag}")
    return {"ref": f"{repository}@{digest}", "digest": digest, "tag": tag, "image_id": image_id}


ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"  # the user name ACR expects with a refresh token


def registry_credentials(auth: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Docker credentials from ``registry_auth``: ``{username, password}`` as given, or, for Azure Container
    Registry, ``{server, entra_token, tenant}`` exchanged at push time for an ACR refresh token (the registry's
    ``/oauth2/exchange``; the Entra token is the deployer's, the refresh token lives for about three hours)."""
    if not auth:
        return None
    if "entra_token" not in auth:
        return dict(auth)
    server = str(auth["server"])
    return {"username": ACR_TOKEN_USER, "password": acr_refresh_token(server, str(auth["entra_token"]),
            auth.get("tenant")), "serveraddress": server}  # fmt: skip


def acr_refresh_token(server: str, entra_token: str, tenant: str | None = None) -> str:
    """An ACR refresh token for ``server`` in exchange for an Entra access token (ARM audience).
    ``MBOPS_ACR_EXCHANGE_SCHEME`` (default https) is for tests against a local stand-in."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    form = {"grant_type": "access_token", "service": server, "access_token": entra_token}
    if tenant:
        form["tenant"] = tenant
    scheme = os.environ.get("MBOPS_ACR_EXCHANGE_SCHEME", "https")
    request = urllib.request.Request(
        f"{scheme}://{server}/oauth2/exchange", data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.load(response).get("refresh_token")
    except urllib.error.HTTPError as exc:
        raise BuildFailed(
            f"ACR token exchange at {server} failed: HTTP {exc.code} {exc.read().decode(errors='replace')[:300]}; "
            f"the deployer needs push rights on the registry (AcrPush, or Contributor on its resource group)"
        ) from None
    except (urllib.error.URLError, ValueError) as exc:
        raise BuildFailed(f"ACR token exchange at {server} failed: {exc}") from None
    if not token:
        raise BuildFailed(f"ACR token exchange at {server}: the answer had no refresh_token")
    return str(token)


def _pushed_digest(client: Any, tag: str, auth: dict[str, str] | None) -> str | None:
    """The digest the registry has for ``tag``, or None when it has none."""
    import docker.errors

    try:
        return client.api.inspect_distribution(tag, auth_config=auth)["Descriptor"]["digest"]
    except docker.errors.APIError:
        return None


class ImageProvider(ResourceProvider):
    """Builds and pushes on create and when a build input changes; deleting leaves the pushed image to the
    registry's cleanup policy (a running service may still use it)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = build_and_push(props)
        return CreateResult(outs["digest"], {**_public(props), **outs})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in DIFF_INPUTS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**_public(news), **build_and_push(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


def _public(props: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs kept as outputs: everything but the registry credentials."""
    return {k: v for k, v in props.items() if k in BUILD_INPUTS}


class Image(Resource, module="mbops", name="Image"):
    """The app's image; ``ref`` (``repo@sha256:...``) is what the app runs."""

    ref: pulumi.Output[str]
    digest: pulumi.Output[str]

    def __init__(
        self, name: str, build: BuildSpec, *, repository: pulumi.Input[str] | None = None,
        registry_auth: pulumi.Input[Mapping[str, str]] | None = None, opts: pulumi.ResourceOptions | None = None,
    ) -> None:  # fmt: skip
        props: dict[str, Any] = {
            "context": build.context, "dockerfile": build.dockerfile, "target": build.target,
            "args": dict(build.args), "platform": build.platform, "context_digest": context_digest(build),
            "repository": repository, "registry_auth": pulumi.Output.secret(registry_auth) if registry_auth else None,
            "ref": None, "digest": None, "tag": None, "image_id": None,
        }  # fmt: skip
        super().__init__(ImageProvider(), name, props, opts)
