"""AWS auth: a Cognito user pool (email sign-in) and a public mobile app client (OAuth code + PKCE)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from mbops.components.base import MbopsComponent
from mbops.components.spec import AuthSpec
from mbops.components.wiring import BuildContext, Built

MFA = {"off": "OFF", "optional": "OPTIONAL", "on": "ON"}


def domain_prefix(name: str) -> str:
    """A hosted-UI domain prefix from ``name``: lowercase, hyphens, without the words Cognito forbids."""
    prefix = re.sub(r"aws|amazon|cognito", "", name.lower())
    return re.sub(r"[^a-z0-9-]+", "-", prefix).strip("-")[:50] or "auth"


@dataclass(kw_only=True)
class AuthArgs:
    spec: AuthSpec = field(default_factory=AuthSpec)
    prod: bool = False
    release_data: bool = False  # prod's deletion protection off: `destroy --delete-data` follows
    tags: Mapping[str, str] = field(default_factory=dict)


class Auth(MbopsComponent):
    """Cognito user pool and app client.

    Email is the username and recovery is by verified email only. Passwords need ``password_min_length``
    characters of all four kinds; MFA follows the spec with authenticator apps (TOTP). In prod the pool is
    deletion-protected and on the Plus tier with threat protection enforced. The client has no secret (a
    mobile app cannot keep one) and uses the authorization code flow (PKCE) with the spec's callback URLs on
    the hosted domain ``<name>-<random>.auth.<region>.amazoncognito.com``.

    Children: ``user_pool``, ``domain_suffix``, ``domain``, ``client``.
    """

    kind = "auth"

    def __init__(self, name: str, args: AuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        mfa = MFA[spec.mfa]
        self.user_pool = aws.cognito.UserPool(
            f"{name}-users",
            **self.args(
                "user_pool",
                username_attributes=["email"],
                auto_verified_attributes=["email"],
                username_configuration={"case_sensitive": False},
                password_policy={
                    "minimum_length": spec.password_min_length,
                    "require_lowercase": True,
                    "require_uppercase": True,
                    "require_numbers": True,
                    "require_symbols": True,
                    "temporary_password_validity_days": 3,
                },
                mfa_configuration=mfa,
                software_token_mfa_configuration={"enabled": True} if mfa != "OFF" else None,
                account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
                admin_create_user_config={"allow_admin_create_user_only": False},
                verification_message_template={"default_email_option": "CONFIRM_WITH_CODE"},
                deletion_protection="ACTIVE" if args.prod and not args.release_data else "INACTIVE",
                user_pool_tier="PLUS" if args.prod else "ESSENTIALS",
                user_pool_add_ons={"advanced_security_mode": "ENFORCED"} if args.prod else None,
                tags=self.tags,
            ),
            opts=self.opts(),
        )
        suffix = random.RandomString(
            f"{name}-domain-suffix",
            **self.args("domain_suffix", length=8, special=False, upper=False),
            opts=self.opts(),
        )
        self.domain = aws.cognito.UserPoolDomain(
            f"{name}-domain",
            **self.args(
                "domain",
                user_pool_id=self.user_pool.id,
                domain=pulumi.Output.concat(domain_prefix(name), "-", suffix.result),
            ),
            opts=self.opts(),
        )
        self.client = aws.cognito.UserPoolClient(
            f"{name}-client",
            **self.args(
                "client",
                user_pool_id=self.user_pool.id,
                generate_secret=False,
                allowed_oauth_flows=["code"],
                allowed_oauth_flows_user_pool_client=True,
                allowed_oauth_scopes=["openid", "email", "profile"],
                supported_identity_providers=["COGNITO"],
                callback_urls=spec.callback_urls,
                logout_urls=spec.callback_urls,
                explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                prevent_user_existence_errors="ENABLED",
                enable_token_revocation=True,
                access_token_validity=60,
                id_token_validity=60,
                refresh_token_validity=30,
                auth_session_validity=3,
                token_validity_units={
                    "access_token": "minutes",
                    "id_token": "minutes",
                    "refresh_token": "days",
                },
            ),
            opts=self.opts(depends_on=[self.domain]),
        )
        self.user_pool_id = self.user_pool.id
        self.client_id = self.client.id
        self.finish({"user_pool_id": self.user_pool.id, "client_id": self.client.id, "domain": self.domain.domain})


def build(ctx: BuildContext) -> Built:
    """A Cognito user pool and the mobile app's client (``AUTH_USER_POOL_ID``, ``AUTH_CLIENT_ID``)."""
    auth = Auth(
        ctx.name, AuthArgs(spec=ctx.spec, prod=ctx.stack.prod, release_data=ctx.stack.release_data, tags=ctx.stack.tags)
    )
    ids = {"AUTH_USER_POOL_ID": auth.user_pool_id, "AUTH_CLIENT_ID": auth.client_id}
    return Built(
        component=auth, env=ids, outputs={"auth_user_pool_id": auth.user_pool_id, "auth_client_id": auth.client_id}
    )
