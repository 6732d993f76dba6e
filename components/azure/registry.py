"""Azure registry: the stack's Azure Container Registry, the app's image built and pushed to it by digest."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import containerregistry as acr

from mbops.components.azure.arm import arm_token
from mbops.components.azure.common import AzureComponent, AzureContext, Identity
from mbops.components.spec import BuildSpec, RegistrySpec
from mbops.components.wiring import BuildContext, Built, Gap

REPOSITORY = "app"
PURGE_SCHEDULE = "30 2 * * *"  # daily, 02:30 UTC

SCAN_GAP = Gap(
    reason=(
        "registry.scan_on_push: Azure Container Registry scans images through Microsoft Defender for Containers, "
        "a subscription-wide plan (billed per image scanned) that one stack should not switch on for everyone"
    ),
    alternative="enable it once per subscription: az security pricing create -n Containers --tier standard",
    partial=True,
)


def purge_task(repository: str, keep: int) -> str:
    """The ACR task (YAML, base64 as ARM wants it) that keeps the ``keep`` newest images of ``repository``:
    ``acr purge`` deletes older tags and the untagged manifests they leave."""
    document = (
        "version: v1.1.0\n"
        "steps:\n"
        f"  - cmd: acr purge --filter '{repository}:.*' --ago 0d --keep {keep} --untagged\n"
        "    disableWorkingDirectoryOverride: true\n"
        "    timeout: 3600\n"
    )
    return base64.b64encode(document.encode()).decode()


@dataclass(kw_only=True)
class RegistryArgs:
    ctx: AzureContext
    spec: RegistrySpec = field(default_factory=RegistrySpec)
    app_identity: Identity
    build: BuildSpec | None = None  # the app's image to build and push (None: a prebuilt app.image)


class Registry(AzureComponent):
    """ACR with the admin user off and anonymous pull off: pushes use the deployer's Entra identity (a token
    exchanged for an ACR refresh token at push time) and the app pulls with its managed identity, which gets
    ``AcrPull`` (pull only) on the registry - the stack's own registry, so the app's images only.

    SKU: Basic in dev, Standard in prod (more storage and throughput). Not Premium: its retention policy
    only expires *untagged* manifests after N days, while ``keep_images`` asks to keep the N newest images,
    which a scheduled ACR task running ``acr purge --keep N`` does on every SKU; Premium's private endpoints
    would lock out the deployer's docker push from outside the VNet. Images are deployed by digest, so a
    purge never changes what runs (it keeps the newest, and the newest is the one deployed).
    Children: ``registry``, ``purge``, ``app_pull`` (and the ``Image`` resource ``<name>-image``).
    """

    kind = "registry"

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx, spec = args.ctx, args.spec
        registry_name = ctx.name("acr", 50, alnum=True)
        self.server = f"{registry_name}.azurecr.io"
        self.registry = acr.Registry(
            f"{name}-registry",
            **self.args(
                "registry",
                **self.base(
                    registry_name=registry_name,
                    sku=acr.SkuArgs(name="Standard" if ctx.prod else "Basic"),
                    admin_user_enabled=False,
                    anonymous_pull_enabled=False,
                    public_network_access="Enabled",
                    policies=acr.PoliciesArgs(
                        azure_ad_authentication_as_arm_policy=acr.AzureADAuthenticationAsArmPolicyArgs(
                            status="enabled"
                        ),
                    ),
                ),
            ),
            opts=self.opts(),
        )
        acr.Task(
            f"{name}-purge",
            **self.args(
                "purge",
                **self.base(
                    registry_name=registry_name,
                    task_name="purge",
                    platform=acr.PlatformPropertiesArgs(os="Linux", architecture="amd64"),
                    agent_configuration=acr.AgentPropertiesArgs(cpu=2),
                    step=acr.EncodedTaskStepArgs(
                        type="EncodedTask", encoded_task_content=purge_task(REPOSITORY, spec.keep_images)
                    ),
                    trigger=acr.TriggerPropertiesArgs(
                        timer_triggers=[acr.TimerTriggerArgs(name="daily", schedule=PURGE_SCHEDULE, status="Enabled")]
                    ),
                    status="Enabled",
                    timeout=3600,
                ),
            ),
            opts=self.opts(depends_on=[self.registry]),
        )
        self.app_pull = self.grant(
            "app_pull", role="AcrPull", scope=self.registry.id, principal_id=args.app_identity.principal_id,
            key="app-acr",
        )  # fmt: skip
        self.image: pulumi.Output[str] | None = None
        if args.build is not None:
            self.image = self.push(f"{name}-image", args.build, REPOSITORY)
        self.finish({"server": self.server, "image": self.image})

    def push(self, name: str, build: BuildSpec, repository: str, *, parent: AzureComponent | None = None
             ) -> pulumi.Output[str]:  # fmt: skip
        """Build ``build`` and push it to ``repository`` in this registry (the deployer's Entra token, exchanged
        for an ACR token at push time, read once the registry exists); return the ``<server>/<repo>@sha256:...``
        ref. ``parent``: the component the image belongs to (default: the registry)."""
        from mbops.components.image import Image

        owner = parent or self
        auth = {"server": self.server, "entra_token": arm_token(owner, after=[self.registry]),
                "tenant": self.ctx.tenant_id}  # fmt: skip
        built = Image(
            name, build, repository=f"{self.server}/{repository}", registry_auth=auth,
            opts=owner.opts(depends_on=[self.registry]),
        )  # fmt: skip
        return built.ref


def build(ctx: BuildContext) -> Built:
    """The stack's registry; with ``app.build`` the app runs the pushed ``<server>/app@sha256:...``."""
    found = ctx.foundation
    registry = Registry(
        ctx.name,
        RegistryArgs(ctx=found.azure, spec=ctx.spec, app_identity=found.identity, build=ctx.stack.app.build),
    )
    return Built(
        component=registry, image=registry.image, depends_on=[registry.app_pull],
        outputs={"registry": registry.server}, gap=SCAN_GAP if ctx.spec.scan_on_push else None,
    )  # fmt: skip
