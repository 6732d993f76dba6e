"""AWS registry: an Amazon ECR repository for the app's images, and the image built from ``app.build``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.naming import physical
from mbops.components.base import MbopsComponent
from mbops.components.spec import BuildSpec, RegistrySpec
from mbops.components.wiring import BuildContext, Built, Grant

ECR_KEY = "alias/aws/ecr"
# The Lambda Web Adapter turns Lambda invocations into HTTP requests to the app on $PORT (see Serverless).
LAMBDA_ADAPTER_ARG = "LAMBDA_ADAPTER_IMAGE"
LAMBDA_ADAPTER_IMAGE = "public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1"
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


@dataclass(kw_only=True)
class RegistryArgs:
    spec: RegistrySpec = field(default_factory=RegistrySpec)
    build: BuildSpec | None = None  # the app's Dockerfile: built and pushed by digest; None for a prebuilt image
    lambda_functions: pulumi.Input[str] | None = None  # ARN pattern of the stack's functions that may pull
    repository_name: str | None = None  # the ECR repository's; None: the component's name
    tags: Mapping[str, str] = field(default_factory=dict)


def lifecycle_policy(keep: int) -> str:
    """Untagged layers go after a day; of the tagged images the newest ``keep`` stay."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "untagged (superseded) images",
                    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                  "countNumber": 1},
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {keep} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                    "action": {"type": "expire"},
                },
            ]
        }
    )  # fmt: skip


class Registry(MbopsComponent):
    """A private ECR repository: immutable tags, scanned on push, encrypted with the AWS managed ECR KMS key,
    cleaned up to the newest ``keep_images`` images.

    With ``build`` the app's image is built with the docker SDK and pushed to the repository with an ECR
    authorization token fetched inside the program (a Pulumi secret, never written to disk): ``image`` is
    ``<repository>@sha256:...``, what the app runs. The app's identity gets pull rights on this repository only
    (``Grant(what="registry")``); Lambda pulls with the service principal, which the repository policy admits
    for the stack's functions only.

    Children: ``repository``, ``lifecycle_policy``, ``repository_policy`` (Lambda only) and, with ``build``,
    the ``Image`` resource (``<name>-image``).
    """

    kind = "registry"

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            **self.args(
                "repository",
                name=args.repository_name or name,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=spec.scan_on_push
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=None)
                ],
                # Images are rebuilt from source; a repository holding images blocks `destroy` otherwise.
                force_delete=True,
                tags=self.tags,
            ),
            opts=self.opts(),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            **self.args("lifecycle_policy", repository=self.repository.name, policy=lifecycle_policy(spec.keep_images)),
            opts=self.opts(),
        )
        # What the app waits for: Lambda pulls through the repository policy (and would otherwise write a
        # statement of its own into it, which this policy then overwrites).
        self.ready: list[pulumi.Resource] = []
        if args.lambda_functions:
            self.ready.append(self._lambda_pull(name, args.lambda_functions))
        else:
            self.args("repository_policy")
        self.image: pulumi.Output[str] | None = None
        if args.build is not None:
            from mbops.components.image import Image

            token = aws.ecr.get_authorization_token_output(
                registry_id=self.repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            auth = pulumi.Output.secret(
                pulumi.Output.all(token.user_name, token.password).apply(lambda a: {"username": a[0], "password": a[1]})
            )
            built = Image(
                f"{name}-image", args.build, repository=self.repository.repository_url, registry_auth=auth,
                opts=self.opts(),
            )  # fmt: skip
            self.image = built.ref
        self.repository_url = self.repository.repository_url
        self.arn = self.repository.arn
        self.finish({"repository_url": self.repository_url, "image": self.image})

    def _lambda_pull(self, name: str, functions: pulumi.Input[str]) -> aws.ecr.RepositoryPolicy:
        """Lambda pulls the image with its service principal: only for this stack's functions."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "LambdaPull",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": PULL_ACTIONS,
                    "Condition": {"StringLike": {"aws:sourceArn": functions}},
                }
            ],
        }
        return aws.ecr.RepositoryPolicy(
            f"{name}-policy",
            **self.args("repository_policy", repository=self.repository.name, policy=pulumi.Output.json_dumps(policy)),
            opts=self.opts(),
        )


def build_settings(ctx: BuildContext) -> BuildSpec | None:
    """``app.build``, with the Lambda Web Adapter as a build argument when the app runs on Lambda."""
    build = ctx.stack.app.build
    if build is None or not ctx.stack.has("serverless") or LAMBDA_ADAPTER_ARG in build.args:
        return build
    return build.model_copy(update={"args": {**build.args, LAMBDA_ADAPTER_ARG: LAMBDA_ADAPTER_IMAGE}})


def build(ctx: BuildContext) -> Built:
    """The stack's ECR repository; with ``app.build`` the pushed image the app runs (by digest)."""
    functions = None
    if ctx.stack.has("serverless"):
        account = aws.get_caller_identity_output().account_id
        functions = pulumi.Output.concat(
            "arn:aws:lambda:", ctx.stack.region, ":", account, ":function:", ctx.stack.name, "-app-fn-*"
        )
    registry = Registry(
        ctx.name,
        RegistryArgs(spec=ctx.spec, build=build_settings(ctx), lambda_functions=functions,
                     repository_name=physical(ctx), tags=ctx.stack.tags),
    )
    # Pull rights on this repository when the app runs the image pushed here (a prebuilt app.image elsewhere
    # in ECR is granted by the app from its URI).
    grants = [Grant(what="registry", target=registry.arn)] if registry.image is not None else []
    return Built(component=registry, image=registry.image, grants=grants, depends_on=list(registry.ready),
                 outputs={"registry": registry.repository_url})
