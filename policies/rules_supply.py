"""What runs is what was reviewed: container images deployed by digest, OS images pinned, registries private,
scanned and immutable."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mbops.policies.entries import inputs
from mbops.policies.model import Check, Context, Graph, Resource, Rule, unreadable, unverified
from mbops.policies.s3_policy import public_grants
from mbops.policies.values import document, flag, get, items, known, word

CLOUDS = ("aws", "gcp", "azure")
IMAGE = "pulumi-python:dynamic/mbops:Image"
DIGEST = re.compile(r"@sha256:([0-9a-f]{64}|\[computed\])", re.IGNORECASE)
ECR = "aws:ecr/repository:Repository"
ARTIFACT_REGISTRY = "gcp:artifactregistry/repository:Repository"
ACR = "azure-native:containerregistry:Registry"


# --- image-pinned -------------------------------------------------------------------------------------------
ImageReader = Callable[[dict], Iterator[tuple[str, Any]]]  # inputs -> (label, image reference)


def _containers(*paths: str) -> ImageReader:
    def read(data: dict) -> Iterator[tuple[str, Any]]:
        for path in paths:
            for index, container in enumerate(items(get(data, path))):
                yield f"{path}[{index}].image", get(container, "image")

    return read


def _ecs_images(data: dict) -> Iterator[tuple[str, Any]]:
    value = get(data, "containerDefinitions")
    definitions = document(value)
    if definitions is None:
        yield "containerDefinitions", value
        return
    for container in items(definitions):
        yield f"container {get(container, 'name', '?')} image", get(container, "image")


def _lambda_images(data: dict) -> Iterator[tuple[str, Any]]:
    if word(get(data, "packageType"), "zip") == "image":
        yield "imageUri", get(data, "imageUri")


WORKLOADS: dict[str, ImageReader] = {
    "aws:ecs/taskDefinition:TaskDefinition": _ecs_images,
    "aws:lambda/function:Function": _lambda_images,
    "gcp:cloudrunv2/service:Service": _containers("template.containers"),
    "gcp:cloudrunv2/job:Job": _containers("template.template.containers"),
    "gcp:cloudrun/service:Service": _containers("template.spec.containers"),
    "azure-native:app:ContainerApp": _containers("template.containers", "template.initContainers"),
    "azure-native:app:Job": _containers("template.containers", "template.initContainers"),
}


def pinned(image: str) -> bool:
    return bool(DIGEST.search(image))


def _built_and_pushed(graph: Graph, workload: Resource) -> bool:
    """The workload runs an image mbops builds and pushes (its ``ref`` output is ``repository@sha256:...``)."""
    return any(get(inputs(i), "repository") is not None for i in graph.dependencies(workload, IMAGE))


def _image_findings(graph: Graph, ctx: Context, workload: Resource) -> Iterator[str]:
    stack_image = ctx.stack.app_image if ctx.stack is not None else None
    for label, image in WORKLOADS[workload["type"]](inputs(workload)):
        if image is None or (stack_image and image == stack_image):
            continue  # the stack file's app.image is judged once, on the stack
        if known(image):
            if isinstance(image, str) and not pinned(image):
                yield f"{label} {image} is a tag, not a digest: what runs can change under the same name"
        elif not _built_and_pushed(graph, workload) and not (ctx.stack is not None and ctx.stack.app_image):
            yield unverified(label)  # offline, a prebuilt app.image is judged on the stack


def _image_pinned(graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
    image = ctx.stack.app_image if ctx.stack is not None else None
    if image and ctx.stack is not None and ctx.stack.cloud in CLOUDS and not pinned(image):
        yield None, (f"app.image {image} is a tag, not a digest: pin it (repo@sha256:...) or let mbops build and push "
                     "it (app.build)")  # fmt: skip
    for workload in graph.of_type(*WORKLOADS):
        for message in _image_findings(graph, ctx, workload):
            yield workload, message
    for built in graph.of_type(IMAGE):
        if get(inputs(built), "repository") is None and any(graph.dependents(built, *WORKLOADS)):
            yield built, "the image is built but not pushed to a registry: the cloud has no digest to pull"


IMAGE_PINNED = Rule(
    id="image-pinned",
    title="Containers run images pinned by digest",
    severity="medium",
    enforcement="mandatory",
    enforcement_outside_prod="advisory",
    description="Every container the stack runs (ECS tasks, Lambda images, Cloud Run services and jobs, Container "
    "Apps and jobs) names its image by digest (`repo@sha256:...`), so what runs is what was built and scanned, "
    "and a rollback returns to the same bytes. An image mbops builds and pushes (app.build) is deployed by its "
    "pushed digest; a prebuilt app.image must carry one. Mandatory in prod, advisory elsewhere.",
    remediation={
        "aws": "Use app.build (mbops pushes to ECR and deploys the digest) or app.image: <repo>@sha256:<digest>.",
        "gcp": "Use app.build (mbops pushes to Artifact Registry and deploys the digest) or app.image: "
        "<repo>@sha256:<digest>; pin helper images (e.g. postgres) by digest too.",
        "azure": "Use app.build (mbops pushes to ACR and deploys the digest) or app.image: <repo>@sha256:<digest>.",
    },
    clouds=CLOUDS,
    graph_check=_image_pinned,
    graph_types=(*WORKLOADS, IMAGE),
)


# --- os-image-pinned (advisory) -----------------------------------------------------------------------------
def _ssm_image(path: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        value = get(inputs(res), path)
        if not known(value):
            yield unverified(path)
        elif isinstance(value, str) and value.startswith("resolve:ssm:"):
            yield (f"{path} {value} is resolved at every launch: instances of one group can boot different AMIs; "
                   "resolve it once and record the AMI id")  # fmt: skip

    return check


def _gcp_family(res: Resource, ctx: Context) -> Iterator[str]:
    data = inputs(res)
    images = [get(d, "sourceImage") for d in items(get(data, "disks"))] + [
        get(data, "bootDisk.initializeParams.image")
    ]
    for image in images:
        if isinstance(image, str) and known(image) and ("/family/" in image or image.startswith("family/")):
            yield (f"boot image {image} is an image family: each new VM takes whatever image is newest; pin the "
                   "image name (projects/<p>/global/images/<name>)")  # fmt: skip


def _azure_latest(path: str) -> Check:
    def check(res: Resource, ctx: Context) -> Iterator[str]:
        data = inputs(res)
        version = get(data, f"{path}.version")
        if flag(get(data, "upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade")) is True:
            return  # automatic OS image upgrades roll new images out, health-gated: 'latest' is their contract
        if isinstance(version, str) and word(version) == "latest":
            yield f"{path}.version is latest: new VMs take whatever image is newest; pin a version"

    return check


OS_IMAGE_PINNED = Rule(
    id="os-image-pinned",
    title="VM images pinned (prod)",
    severity="low",
    enforcement="advisory",
    description="In prod, every VM of a group boots the same, reviewed OS image: a launch template names an AMI id "
    "(not resolve:ssm:), a GCP template an image (not a family), an Azure scale set a version (not latest, unless "
    "automatic OS upgrades roll new images out). Advisory: floating images get patches sooner.",
    remediation={
        "aws": "mbops resolves the AMI once at plan time; override servers.overrides.launch_template.image_id with "
        "an ami- id, never resolve:ssm:.",
        "gcp": "Override the boot disk's source_image (servers.overrides.template.disks) with a named image "
        "instead of a family.",
        "azure": "Pin image_reference.version, or turn on automatic OS image upgrades.",
    },
    clouds=CLOUDS,
    prod_only=True,
    checks={
        "aws:ec2/launchTemplate:LaunchTemplate": _ssm_image("imageId"),
        "aws:ec2/instance:Instance": _ssm_image("ami"),
        "gcp:compute/instanceTemplate:InstanceTemplate": _gcp_family,
        "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": _gcp_family,
        "gcp:compute/instance:Instance": _gcp_family,
        "azure-native:compute:VirtualMachineScaleSet": _azure_latest("virtualMachineProfile.storageProfile"
                                                                     ".imageReference"),
        "azure-native:compute:VirtualMachine": _azure_latest("storageProfile.imageReference"),
    },
)


# --- registry-access ----------------------------------------------------------------------------------------
def _ecr_policy(res: Resource, ctx: Context) -> Iterator[str]:
    value = get(inputs(res), "policy")
    doc = document(value)
    if doc is None:
        yield unreadable(value, "policy")
        return
    for message in public_grants(doc):
        yield f"the repository policy is public: {message}"


def _public_members(res: Resource, ctx: Context) -> Iterator[str]:
    data = inputs(res)
    members = [get(data, "member")] + items(get(data, "members"))
    policy = document(get(data, "policyData"))
    for binding in items(policy.get("bindings") if isinstance(policy, dict) else None):
        members += items(get(binding, "members"))
    for member in members:
        if isinstance(member, str) and member.strip() in ("allUsers", "allAuthenticatedUsers"):
            yield f"{member.strip()} can pull every image of the repository"


def _acr_access(res: Resource, ctx: Context) -> Iterator[str]:
    data = inputs(res)
    for field, why in (("adminUserEnabled", "a shared admin password can push and pull every image"),
                       ("anonymousPullEnabled", "anyone can pull the images")):  # fmt: skip
        value = get(data, field)
        if not known(value):
            yield unverified(field)
        elif flag(value) is True:
            yield f"{field} is true: {why}; use Entra identities (AcrPull / AcrPush)"


REGISTRY_ACCESS = Rule(
    id="registry-access",
    title="Registries admit identities only",
    severity="high",
    enforcement="mandatory",
    description="Container registries are pulled by the app's identity, never anonymously or with a shared "
    "password: no public ECR repository policy, no allUsers / allAuthenticatedUsers on Artifact Registry, ACR with "
    "the admin user and anonymous pull off.",
    remediation={
        "aws": "Grant the app's role ecr:BatchGetImage / GetDownloadUrlForLayer on the repository; remove "
        "Principal * statements from the repository policy.",
        "gcp": "Grant roles/artifactregistry.reader to the app's service account; remove allUsers bindings.",
        "azure": "Set admin_user_enabled=False and anonymous_pull_enabled=False; assign AcrPull to the app's "
        "identity.",
    },
    clouds=CLOUDS,
    checks={
        "aws:ecr/repositoryPolicy:RepositoryPolicy": _ecr_policy,
        r"re:(?i)^gcp:artifactregistry/repositoryiam(member|binding|policy):": _public_members,
        ACR: _acr_access,
    },
)


# --- registry-hardened --------------------------------------------------------------------------------------
def _ecr_hardened(res: Resource, ctx: Context) -> Iterator[str]:
    data = inputs(res)
    scan = get(data, "imageScanningConfiguration.scanOnPush")
    if not known(scan):
        yield unverified("imageScanningConfiguration.scanOnPush")
    elif flag(scan) is not True:
        yield "imageScanningConfiguration.scanOnPush is not true: pushed images are not scanned for CVEs"
    mutability = get(data, "imageTagMutability")
    if not known(mutability):
        yield unverified("imageTagMutability")
    elif not word(mutability, "mutable").startswith("immutable"):
        yield f"imageTagMutability is {mutability or 'not set (MUTABLE)'}: a tag can be pushed over"


def _artifact_registry_hardened(res: Resource, ctx: Context) -> Iterator[str]:
    data = inputs(res)
    if word(get(data, "format")) != "docker" or word(get(data, "mode"), "standard_repository") != "standard_repository":
        return
    immutable = get(data, "dockerConfig.immutableTags")
    if not known(immutable):
        yield unverified("dockerConfig.immutableTags")
    elif flag(immutable) is not True:
        yield "dockerConfig.immutableTags is not true: a tag can be pushed over"
    scanning = get(data, "vulnerabilityScanningConfig.enablementConfig")
    if known(scanning) and word(scanning) == "disabled":
        yield "vulnerabilityScanningConfig.enablementConfig is DISABLED: pushed images are not scanned"


REGISTRY_HARDENED = Rule(
    id="registry-hardened",
    title="Registries scan images and keep tags immutable",
    severity="medium",
    enforcement="mandatory",
    description="The stack's registry scans what is pushed and never lets a tag be pushed over: ECR scan on push "
    "and IMMUTABLE tags; Artifact Registry Docker repositories with immutable tags and vulnerability scanning not "
    "disabled. (ACR scanning is Defender for Containers, a subscription setting.)",
    remediation={
        "aws": "Keep components.registry.scan_on_push: true; image_tag_mutability='IMMUTABLE'.",
        "gcp": "Set docker_config={'immutable_tags': True}; leave vulnerability scanning on (containerscanning API).",
    },
    clouds=("aws", "gcp"),
    controls={"aws": "AWS FSBP ECR.1; AWS FSBP ECR.2"},
    checks={ECR: _ecr_hardened, ARTIFACT_REGISTRY: _artifact_registry_hardened},
)

RULES = [IMAGE_PINNED, OS_IMAGE_PINNED, REGISTRY_ACCESS, REGISTRY_HARDENED]
