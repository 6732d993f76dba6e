"""GCP auth: Identity Platform (email + password sign-in, MFA) and a restricted API key for the mobile app."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    stack: str = "mbops"
    prod: bool = False


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

    Outputs: ``user_pool_id`` is the project id (Identity Platform's pool is the project: tokens are issued
    by ``https://securetoken.google.com/<project>`` for audience ``<project>``); ``client_id`` is the key.

    Not expressible with pulumi-gcp 10.x, so reported as a gap: the password policy
    (``password_min_length``); Identity Platform's ``passwordPolicyConfig`` has no provider argument.

    Identity Platform is one per project: on a project where it is already enabled, creating it fails with
    "Identity Platform has already been enabled for this project". Adopt it instead: ``pulumi config set
    --path 'mbops:adopt[0]' auth.config`` imports the existing configuration on the next ``up`` (then applies
    these settings to it).

    Children: ``config``, ``client_key``.
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
        self.client_key = gcp.projects.ApiKey(
            f"{name}-client-key",
            **self.args(
                "client_key",
                project=self.project,
                display_name=f"mbops {args.stack} mobile sign-in",
                restrictions={"api_targets": [{"service": api} for api in CLIENT_APIS]},
            ),
            opts=self.opts(depends_on=[self.config]),
        )
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
    auth = Auth(ctx.name, AuthArgs(spec=ctx.spec, stack=ctx.stack.name, prod=ctx.stack.prod, **stack_args(ctx.stack)))
    return built(
        auth, env={"AUTH_USER_POOL_ID": auth.user_pool_id, "AUTH_CLIENT_ID": auth.client_id},
        outputs={"auth_user_pool_id": auth.user_pool_id, "auth_client_id": auth.client_id},
    )  # fmt: skip
