"""GCP registry: an Artifact Registry Docker repository for the app's images, and the app's image pushed to it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, built, gcp_name, stack_args
from mbops.components.image import Image
from mbops.components.spec import BuildSpec, RegistrySpec
from mbops.components.wiring import BuildContext, Built, Grant

# Artifact Registry's docker login for a Google OAuth access token.
TOKEN_USER = "oauth2accesstoken"
# A version pushed less than a day ago is never cleaned up (it may be rolling out).
CLEANUP_MIN_AGE = "86400s"


@dataclass(kw_only=True)
class RegistryArgs(GcpArgs):
    spec: RegistrySpec = field(default_factory=RegistrySpec)
    build: BuildSpec | None = None  # app.build: build and push the app's image here


def repository_url(region: str, project: str, repository_id: str) -> str:
    """The Docker address of an Artifact Registry repository."""
    return f"{region}-docker.pkg.dev/{project}/{repository_id}"


class Registry(GcpComponent):
    """An Artifact Registry standard Docker repository in the stack's region: immutable tags (a pushed tag never
    moves), a cleanup policy keeping the ``keep_images`` most recent versions (older ones are deleted, none
    younger than a day), vulnerability scanning on push with ``scan_on_push`` (Artifact Analysis,
    ``containerscanning.googleapis.com``). Images are encrypted at rest with Google-managed keys (set
    ``overrides.repository.kms_key_name`` for a customer-managed key).

    With ``app.build`` the app's image is built with the docker SDK and pushed here (``Image``), authenticated
    with the deployer's OAuth access token (``gcp.organizations.get_client_config``, user
    ``oauth2accesstoken``), kept only as a Pulumi secret; the app runs it by digest (``image``,
    ``<repository>/app@sha256:...``). The app's service account gets ``roles/artifactregistry.reader`` on this
    repository only (the ``registry`` grant).

    Children: ``repository`` (and, with ``app.build``, the pushed ``Image``, which takes no overrides).
    """

    kind = "registry"

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = args.spec
        scanning = ("containerscanning.googleapis.com",) if spec.scan_on_push else ()
        self.apis = ("artifactregistry.googleapis.com", *scanning)
        super().__init__(name, args, opts)
        repository_args = self.args(
            "repository",
            project=self.project,
            location=self.region,
            repository_id=gcp_name(args.stack, "images"),
            format="DOCKER",
            mode="STANDARD_REPOSITORY",
            description=f"mbops {args.stack}: the app's container images",
            labels=self.labels,
            docker_config={"immutable_tags": True},
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": spec.keep_images}},
                {"id": "delete-older", "action": "DELETE", "condition": {"tag_state": "ANY",
                                                                          "older_than": CLEANUP_MIN_AGE}},
            ],
            vulnerability_scanning_config={"enablement_config": "INHERITED" if spec.scan_on_push else "DISABLED"},
        )  # fmt: skip
        self.repository = gcp.artifactregistry.Repository(f"{name}-repo", **repository_args, opts=self.opts())
        self.url = repository_url(repository_args["location"], self.project, repository_args["repository_id"])
        self._auth: pulumi.Output[dict[str, str]] | None = None
        self.image: Image | None = None
        self.ref: pulumi.Input[str] | None = None
        if args.build is not None:
            self.image = self.push(self, f"{name}-image", args.build, "app")
            self.ref = self.image.ref
        self.finish({"url": self.url, "image": self.ref})

    def push(self, owner: GcpComponent, resource_name: str, build: BuildSpec, image: str) -> Image:
        """Build ``build`` and push it here as ``<repository>/<image>``, a child of ``owner``; run its ``ref``."""
        if self._auth is None:
            token = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
            self._auth = token.access_token.apply(lambda t: {"username": TOKEN_USER, "password": t})
        return Image(
            resource_name, build, repository=f"{self.url}/{image}", registry_auth=self._auth,
            opts=owner.opts(depends_on=[self.repository]),
        )  # fmt: skip


def build(ctx: BuildContext) -> Built:
    """The stack's Artifact Registry repository; with ``app.build`` the app's image, pushed, by digest."""
    registry = Registry(
        ctx.name, RegistryArgs(spec=ctx.spec, build=ctx.stack.app.build, **stack_args(ctx.stack))
    )
    outputs: dict[str, object] = {"registry": registry.url}
    if registry.ref is not None:
        outputs["image"] = registry.ref
    return built(
        registry, image=registry.ref, grants=[Grant(what="registry", target=registry.repository.name)],
        outputs=outputs,
    )  # fmt: skip
