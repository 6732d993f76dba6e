"""GCP auth: Identity Platform (email + password sign-in, MFA) and a restricted API key for the mobile app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_gcp as gcp

from mbops.components.gcp.common import GcpArgs, GcpComponent, built, stack_args
from mbops.components.spec import AuthSpec
from mbops.components.wiring import BuildContext, Built

MFA_STATES = {"off": "DISABLED", "optional": "ENABLED", "on": "MANDATORY"}
# The APIs a Firebase Auth / Identity Platform client SDK calls: sign-in and token refresh.
CLIENT_APIS = ("identitytoolkit.googleapis.com", "securetoken.googleapis.com")


@dataclass(kw_only=True)
class AuthArgs(GcpArgs):
    spec: AuthSpec = field(default_factory=AuthSpec)
    prod: bool = False
    # The mobile apps (the push kind's Firebase apps) the sign-in key is limited to: Android (package name, its
    # signing certificates' SHA-1 fingerprints) and iOS bundle ids.
    android_package: str | None = None
    android_sha1: Sequence[str] = ()
    ios_bundle_ids: Sequence[str] = ()


def app_restrictions(args: AuthArgs) -> list[dict[str, Any]]:
    """The application restrictions of the sign-in keys: one key per platform (a key takes one kind), Android
    first; empty when no app is known (the key is then limited to the sign-in APIs only)."""
    found: list[dict[str, Any]] = []
    if args.android_package and args.android_sha1:
        found.append({"android_key_restrictions": {"allowed_applications": [
            {"package_name": args.android_package, "sha1_fingerprint": sha1} for sha1 in args.android_sha1]}})
    if args.ios_bundle_ids:
        found.append({"ios_key_restrictions": {"allowed_bundle_ids": list(args.ios_bundle_ids)}})
    return found


def authorized_domains(project: str, callback_urls: list[str], *, prod: bool) -> list[str]:
    """Domains allowed for OAuth redirects: the project's Firebase domains, the hosts of the web callback
    URLs, and ``localhost`` outside prod. App-scheme callbacks (``myapp://...``) need no domain."""
    hosts = {urlparse(u).hostname for u in callback_urls if urlparse(u).scheme in ("http", "https")}
    domains = [f"{project}.firebaseapp.com", f"{project}.web.app", *sorted(h for h in hosts if h)]
    if not prod:
        domains.append("localhost")
    return list(dict.fromkeys(domains))


class Auth(GcpComponent):
    """Identity Platform for the project: email + password sign-in (no anonymous users, no duplicate
    emails), multi-factor authentication per ``mfa`` (TOTP; ``on`` = MANDATORY), request logging, and the
    authorized redirect domains. The mobile app's client configuration is an API key restricted to the
    Identity Toolkit and Secure Token APIs (``client_key``): a client identifier that ships inside the app
    (so it is un-secreted), not a credential.

    The key is also limited to the mobile apps the push kind registers with Firebase (its overrides): the Android
    app (``android_app.package_name`` with its signing certificates' ``sha1_hashes``) and the iOS app
    (``apple_app.bundle_id``). A key takes one kind of app restriction, so with both the Android key is
    ``client_key`` and the iOS one ``ios_client_key``. Without them the key works from anywhere (for the two
    sign-in APIs only).

    Outputs: ``user_pool_id`` is the project id (Identity Platform's pool is the project: tokens are issued
    by ``https://securetoken.google.com/<project>`` for audience ``<project>``); ``client_id`` is the key (the
    Android one when both apps are known; ``ios_client_id`` the iOS one).

    Not expressible with pulumi-gcp 10.x, so reported as a gap: the password policy
    (``password_min_length``); Identity Platform's ``passwordPolicyConfig`` has no provider argument.

    Identity Platform is one per project: on a project where it is already enabled, creating it fails with
    "Identity Platform has already been enabled for this project". Adopt it instead: ``adopt: [auth.config]`` in
    the stack file imports the existing configuration on the next ``up``. Pulumi imports it only where it
    matches these settings: the update names each difference, to be aligned (in the console, or with
    ``overrides.config``) before mbops manages it.

    Children: ``config``, ``client_key``, ``ios_client_key`` (with both apps).
    """

    kind = "auth"
    apis = ("identitytoolkit.googleapis.com", "apikeys.googleapis.com")

    def __init__(self, name: str, args: AuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)
        spec = args.spec
        mfa: dict[str, object] = {"state": MFA_STATES[spec.mfa]}
        if spec.mfa != "off":
            mfa["provider_configs"] = [
                {"state": "ENABLED", "totp_provider_config": {"adjacent_intervals": 1}}
            ]
        self.config = gcp.identityplatform.Config(
            f"{name}-config",
            **self.args(
                "config",
                project=self.project,
                autodelete_anonymous_users=True,
                sign_in={
                    "allow_duplicate_emails": False,
                    "anonymous": {"enabled": False},
                    "email": {"enabled": True, "password_required": True},
                },
                mfa=mfa,
                monitoring={"request_logging": {"enabled": True}},
                client={"permissions": {"disabled_user_signup": False, "disabled_user_deletion": False}},
                authorized_domains=authorized_domains(self.project, spec.callback_urls, prod=args.prod),
            ),
            opts=self.opts(import_=self.adopted("config", f"projects/{self.project}/config")),
        )
        apis = {"api_targets": [{"service": api} for api in CLIENT_APIS]}
        platforms = app_restrictions(args) or [{}]
        keys = [
            gcp.projects.ApiKey(
                f"{name}-{'ios-' if i else ''}client-key",
                **self.args(
                    "ios_client_key" if i else "client_key",
                    project=self.project,
                    display_name=f"mbops {args.stack} {'iOS ' if 'ios_key_restrictions' in app else ''}sign-in",
                    restrictions={**apis, **app},
                ),
                opts=self.opts(depends_on=[self.config]),
            )
            for i, app in enumerate(platforms)
        ]
        self.client_key = keys[0]
        self.ios_client_id = pulumi.Output.unsecret(keys[1].key_string) if len(keys) > 1 else None
        self.declare_gap(
            f"Identity Platform's password policy (minimum length {spec.password_min_length}) cannot be set "
            "with pulumi-gcp 10.x: gcp.identityplatform.Config has no passwordPolicyConfig; email sign-in, "
            "MFA and the mobile client key are provisioned",
            "set it once with the Identity Toolkit admin API: PATCH https://identitytoolkit.googleapis.com/admin/v2/"
            f"projects/{self.project}/config?updateMask=passwordPolicyConfig "
            f"(passwordPolicyEnforcementState ENFORCE, constraints.minLength {spec.password_min_length})",
        )
        self.user_pool_id = self.project
        self.client_id = pulumi.Output.unsecret(self.client_key.key_string)
        self.finish({"user_pool_id": self.user_pool_id, "client_id": self.client_id})


def build(ctx: BuildContext) -> Built:
    """Identity Platform and the mobile client key (``AUTH_USER_POOL_ID``, ``AUTH_CLIENT_ID``)."""
    push = ctx.stack.specs.get("push")
    overrides = push.overrides if push is not None else {}
    android, apple = overrides.get("android_app") or {}, overrides.get("apple_app") or {}
    auth = Auth(
        ctx.name,
        AuthArgs(spec=ctx.spec, prod=ctx.stack.prod, android_package=android.get("package_name"),
                 android_sha1=tuple(android.get("sha1_hashes") or ()),
                 ios_bundle_ids=(apple["bundle_id"],) if apple.get("bundle_id") else (), **stack_args(ctx.stack)),
    )  # fmt: skip
    outputs: dict[str, Any] = {"auth_user_pool_id": auth.user_pool_id, "auth_client_id": auth.client_id}
    if auth.ios_client_id is not None:
        outputs["auth_ios_client_id"] = auth.ios_client_id
    return built(auth, env={"AUTH_USER_POOL_ID": auth.user_pool_id, "AUTH_CLIENT_ID": auth.client_id}, outputs=outputs)
