"""GCP push notifications: Firebase Cloud Messaging on the stack's project, a least-privilege sender role."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, SecretRef, built, stack_args
from mbops.components.spec import PushSpec
from mbops.components.wiring import BuildContext, Built, Grant
from mbops.errors import ConfigError


@dataclass(kw_only=True)
class PushArgs(GcpArgs):
    spec: PushSpec = field(default_factory=PushSpec)
    credential: SecretRef | None = None  # the app secret named by spec.credential_secret, when present


def sender_role_id(stack: str) -> str:
    """The custom role id (``[a-zA-Z0-9_.]{3,64}``) allowed to send FCM messages for this stack."""
    return f"mbops_{stack.replace('-', '_')}_fcm_sender"[:64]


class Push(GcpComponent):
    """Firebase on the stack's project (``gcp.firebase.Project``) for Firebase Cloud Messaging, and a custom
    role holding only ``cloudmessaging.messages.create`` that the app's service account gets. The app sends
    with the FCM HTTP v1 API (``projects/<PUSH_PLATFORM_APP>/messages:send``) as its own identity: no server
    key or credential file exists to leak. Firebase calls go through an explicit provider with
    ``user_project_override`` (the Firebase APIs bill quota to the project itself).

    Mobile apps are registered when their identifiers are given as overrides (the spec has no field for
    them): ``overrides.android_app.package_name`` (``gcp.firebase.AndroidApp``) and
    ``overrides.apple_app.bundle_id`` (``gcp.firebase.AppleApp``).

    Firebase is one per project: on a project that already has it, adding it fails ("already exists"). Adopt it
    instead: ``adopt: [push.firebase]`` in the stack file imports it on the next ``up``.

    The sender role's id is fixed (``mbops_<stack>_fcm_sender``) although IAM keeps a deleted custom role for
    7-37 days: the provider finds the soft-deleted role on the next ``create`` and undeletes and updates it
    (``iam.roles.undelete`` in the deployer's role), so a ``destroy`` then ``up`` works.

    Apple devices: FCM relays to APNs only after an APNs auth key (.p8) is uploaded to the Firebase project;
    no API or pulumi-gcp resource can upload it. With ``platform: apns``/``apns_sandbox`` that step is
    reported as a gap (the key is expected in the app secret ``credential_secret``, kept in Secret Manager).

    Children: ``provider``, ``firebase``, ``sender_role``, ``android_app``, ``apple_app`` (the last two only
    when configured).
    """

    kind = "push"
    apis = ("firebase.googleapis.com", "fcm.googleapis.com", "iam.googleapis.com")

    def __init__(self, name: str, args: PushArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        provider = gcp.Provider(
            f"{name}-firebase-provider",
            **self.args(
                "provider",
                project=self.project,
                region=self.region,
                user_project_override=True,
                billing_project=self.project,
            ),
            opts=self.opts(),
        )
        firebase_opts = self.opts(provider=provider)
        self.firebase = gcp.firebase.Project(
            f"{name}-firebase",
            **self.args("firebase", project=self.project),
            opts=pulumi.ResourceOptions.merge(
                firebase_opts, pulumi.ResourceOptions(import_=self.adopted("firebase", f"projects/{self.project}"))
            ),
        )
        role_id = sender_role_id(args.stack)
        self.sender_role = gcp.projects.IAMCustomRole(
            f"{name}-sender-role",
            **self.args(
                "sender_role",
                project=self.project,
                role_id=role_id,
                title=f"mbops {args.stack} FCM sender",
                description="Send Firebase Cloud Messaging messages, nothing else",
                permissions=["cloudmessaging.messages.create"],
                stage="GA",
            ),
            opts=self.opts(),
        )
        self.sender_role_name = f"projects/{self.project}/roles/{role_id}"
        self.apps: list[pulumi.Resource] = []
        android = spec.overrides.get("android_app")
        if android is not None:
            if not android.get("package_name"):
                raise ConfigError(
                    "components.push.overrides.android_app: set package_name (e.g. com.example.app)"
                )
            self.apps.append(
                gcp.firebase.AndroidApp(
                    f"{name}-android",
                    **self.args(
                        "android_app",
                        project=self.project,
                        display_name=f"{args.stack} (Android)",
                        deletion_policy="DELETE",
                    ),
                    opts=self.opts(provider=provider, depends_on=[self.firebase]),
                )
            )
        apple = spec.overrides.get("apple_app")
        if apple is not None:
            if not apple.get("bundle_id"):
                raise ConfigError("components.push.overrides.apple_app: set bundle_id (e.g. com.example.app)")
            self.apps.append(
                gcp.firebase.AppleApp(
                    f"{name}-apple",
                    **self.args(
                        "apple_app",
                        project=self.project,
                        display_name=f"{args.stack} (iOS)",
                        deletion_policy="DELETE",
                    ),
                    opts=self.opts(provider=provider, depends_on=[self.firebase]),
                )
            )
        if not self.apps:
            pulumi.log.info(
                f"{name}: no mobile app registered with Firebase; set components.push.overrides.android_app."
                "package_name and/or apple_app.bundle_id to register them",
                resource=self,
            )
        if spec.platform in ("apns", "apns_sandbox"):
            key = spec.credential_secret
            where = (
                f"the app secret {key} (Secret Manager: {args.stack}-{key})"
                if args.credential is not None
                else f"an APNs auth key (.p8; add {key} to app.secret_env to keep it in Secret Manager)"
            )
            self.declare_gap(
                f"FCM delivers to Apple devices ({spec.platform}) only after an APNs auth key is uploaded to "
                "the Firebase project; no API or pulumi-gcp resource can upload it",
                f"upload {where} once in the Firebase console (Project settings > Cloud Messaging > Apple "
                "app configuration); the Firebase project, sender role and apps are provisioned",
            )
        self.push_app = self.project  # FCM HTTP v1 addresses the Firebase project by its (GCP) project id
        self.finish({"push_app": self.push_app, "sender_role": self.sender_role_name})


def build(ctx: BuildContext) -> Built:
    """FCM on the project: ``PUSH_PLATFORM_APP``, and the sender role for the app's identity."""
    key = ctx.spec.credential_secret
    credential = next((b.secrets[key] for b in ctx.built.values() if key in b.secrets), None)
    push = Push(
        ctx.name, PushArgs(spec=ctx.spec, credential=credential, **stack_args(ctx.stack))
    )
    return built(
        push, env={"PUSH_PLATFORM_APP": push.push_app}, depends_on=[push.firebase],  # FCM sends once Firebase is on
        grants=[Grant(what="role", target=push.sender_role_name, after=(push.sender_role,))],
        outputs={"push_app": push.push_app},
    )  # fmt: skip
