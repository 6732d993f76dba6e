"""AWS push notifications: an SNS platform application (FCM or APNs) and an encrypted broadcast topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mbops.components.aws.naming import physical
from mbops.components.base import MbopsComponent
from mbops.components.secret_values import PLACEHOLDER, secret_env_value
from mbops.components.spec import PushSpec
from mbops.components.wiring import BuildContext, Built, Grant
from mbops.errors import ConfigError

PLATFORMS = {"fcm": "GCM", "apns": "APNS", "apns_sandbox": "APNS_SANDBOX"}
SNS_KEY = "alias/aws/sns"


@dataclass(kw_only=True)
class PushArgs:
    spec: PushSpec = field(default_factory=PushSpec)
    credential: pulumi.Input[str]  # a Pulumi secret: FCM service account JSON, or the APNs private key
    principal: pulumi.Input[str] | None = None  # APNs only: the certificate (or the signing key id)
    app_name: str | None = None  # the platform application's; None: the component's name
    tags: Mapping[str, str] = field(default_factory=dict)


class Push(MbopsComponent):
    """SNS mobile push: a platform application the app registers device endpoints with, and a topic.

    The platform credential is the app secret named by ``spec.credential_secret`` (read by the stack from
    ``app.secret_env``), passed as a Pulumi secret. APNs also needs a principal: the app secret
    ``<credential_secret>_PRINCIPAL`` or ``overrides.platform_application.platform_principal`` (with
    ``apple_platform_team_id`` / ``apple_platform_bundle_id`` for token-based auth). The broadcast topic is
    encrypted with the AWS managed SNS key. Children: ``platform_application``, ``topic``.
    """

    kind = "push"

    def __init__(self, name: str, args: PushArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        platform = PLATFORMS[spec.platform]
        app_args = self.args(
            "platform_application",
            name=args.app_name or name,
            platform=platform,
            platform_credential=pulumi.Output.secret(args.credential),
            platform_principal=args.principal,
        )
        if platform.startswith("APNS") and app_args.get("platform_principal") is None:
            problem = (
                f"components.push: platform {spec.platform} needs a principal (certificate or key id);"
                f" add {spec.credential_secret}_PRINCIPAL to app.secret_env or set "
                f"components.push.overrides.platform_application.platform_principal"
            )
            if not pulumi.runtime.is_dry_run():
                raise ConfigError(problem)
            pulumi.log.warn(f"{problem}; the plan uses a placeholder", resource=self)
            app_args["platform_principal"] = pulumi.Output.secret(PLACEHOLDER)
        # A stack deployed before keeps its name: a new application would drop the devices registered with it.
        self.platform_application = aws.sns.PlatformApplication(
            f"{name}-app", **app_args, opts=self.opts(ignore_changes=["name"])
        )
        self.topic = aws.sns.Topic(
            f"{name}-broadcast",
            **self.args("topic", kms_master_key_id=SNS_KEY, display_name=f"{name} broadcast", tags=self.tags),
            opts=self.opts(),
        )
        self.app_arn = self.platform_application.arn
        self.topic_arn = self.topic.arn
        self.finish({"platform_application_arn": self.app_arn, "topic_arn": self.topic_arn})


def build(ctx: BuildContext) -> Built:
    """An SNS platform application with the credential from ``app.secret_env`` (``PUSH_PLATFORM_APP``)."""
    spec, secret_env = ctx.spec, ctx.stack.app.secret_env
    wanted = f"components.push.credential_secret ({spec.credential_secret})"
    credential = secret_env_value(secret_env, spec.credential_secret, wanted_by=wanted)
    principal_name = f"{spec.credential_secret}_PRINCIPAL"
    principal = secret_env_value(secret_env, principal_name) if principal_name in secret_env else None
    push = Push(ctx.name, PushArgs(spec=spec, credential=credential, principal=principal, app_name=physical(ctx),
                                   tags=ctx.stack.tags))  # fmt: skip
    return Built(
        component=push, env={"PUSH_PLATFORM_APP": push.app_arn},
        grants=[Grant(what="push_app", target=push.app_arn), Grant(what="push_topic", target=push.topic_arn)],
        outputs={"push_app": push.app_arn},
    )  # fmt: skip
