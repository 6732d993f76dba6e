"""AWS auth: a Cognito user pool (email sign-in) and a public mobile app client (OAuth code + PKCE)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from mbops.components.aws.certs import Domain, dns_record, stack_dns_records
from mbops.components.aws.kept import warn_not_adoptable
from mbops.components.base import MbopsComponent
from mbops.components.spec import AuthSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError

MFA = {"off": "OFF", "optional": "OPTIONAL", "on": "ON"}
PLACEHOLDER_CALLBACK = "myapp://callback"  # AuthSpec's default: a dev convenience, never a prod app's
DKIM_RECORDS = 3  # SES Easy DKIM always gives three tokens
SENDER = "no-reply"


def domain_prefix(name: str) -> str:
    """A hosted-UI domain prefix from ``name``: lowercase, hyphens, without the words Cognito forbids."""
    prefix = re.sub(r"aws|amazon|cognito", "", name.lower())
    return re.sub(r"[^a-z0-9-]+", "-", prefix).strip("-")[:50] or "auth"


@dataclass(kw_only=True)
class AuthArgs:
    spec: AuthSpec = field(default_factory=AuthSpec)
    prod: bool = False
    release_data: bool = False  # deletion protection off, not retained: `destroy --delete-data` follows
    email_domain: Domain | None = None  # the stack's domain: the pool sends its email through SES from it
    tags: Mapping[str, str] = field(default_factory=dict)


class Auth(MbopsComponent):
    """Cognito user pool and app client.

    Email is the username and recovery is by verified email only. Passwords need ``password_min_length``
    characters of all four kinds; MFA follows the spec with authenticator apps (TOTP). In prod the pool is
    deletion-protected and on the Plus tier with threat protection enforced. The client has no secret (a
    mobile app cannot keep one) and uses the authorization code flow (PKCE) with the spec's callback URLs on
    the hosted domain ``<name>-<random>.auth.<region>.amazoncognito.com``.

    Email: with ``email_domain`` (the stack's domain) the pool sends from ``no-reply@<domain>`` through SES
    (``DEVELOPER``): a domain identity with Easy DKIM, its records in the Route 53 zone (else listed in
    ``dns_records``), and the pool waits until SES has verified the domain. The account must be out of the SES
    sandbox, or mail reaches verified addresses only. Without a domain Cognito's own sender is used, which is
    capped at a few dozen messages a day.

    Data guard: the pool holds the users. Unless ``release_data`` it is protected in Pulumi and retained when
    the stack is destroyed (prod: deletion-protected in AWS too); a ``destroy`` stops at it, so it stays in the
    stack. ``adopt: [auth.user_pool]`` cannot take a pool back: Pulumi imports by id, and Cognito generates the
    pool's id (``<region>_<random>``) when it creates it; nor would an ``up`` fail on the name (pool names need
    not be unique): it would create a new, empty pool beside the kept one. A pool that left the stack
    (``pulumi state delete``, ``destroy --exclude-protected``) is taken back before the next ``up`` with
    ``pulumi import aws:cognito/userPool:UserPool <component name>-users <pool id> --protect --parent
    'auth=<the Auth component's URN>'``.

    Children: ``user_pool``, ``domain_suffix``, ``domain``, ``client`` and, with ``email_domain``,
    ``email_identity``, ``email_dkim``, ``email_verification_record``, ``email_dkim_record`` (with a zone),
    ``email_verification``.
    """

    kind = "auth"

    def __init__(self, name: str, args: AuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws", name, args.spec, args.tags, opts)
        spec = args.spec
        mfa = MFA[spec.mfa]
        self.dns_records: list[pulumi.Output] = []
        email = self._email(name, args.email_domain)
        warn_not_adoptable(self, "user_pool", "Cognito generates the pool's id",
                           f"import a kept pool with `pulumi import aws:cognito/userPool:UserPool {name}-users "
                           f"<pool id>` (see the auth component's data guard)")
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
                email_configuration=email,
                tags=self.tags,
            ),
            opts=self.opts(protect=not args.release_data, retain_on_delete=not args.release_data),
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
        self.finish({"user_pool_id": self.user_pool.id, "client_id": self.client.id, "domain": self.domain.domain,
                     "dns_records": self.dns_records})  # fmt: skip

    def _email(self, name: str, domain: Domain | None) -> aws.cognito.UserPoolEmailConfigurationArgs:
        """How the pool sends email: SES from ``no-reply@<domain>`` (verified first), else Cognito's sender."""
        children = ("email_identity", "email_dkim", "email_verification_record", "email_dkim_record",
                    "email_verification")  # fmt: skip
        if domain is None:
            for child in children:
                self.args(child)
            return aws.cognito.UserPoolEmailConfigurationArgs(email_sending_account="COGNITO_DEFAULT")
        identity = aws.ses.DomainIdentity(
            f"{name}-email", **self.args("email_identity", domain=domain.name), opts=self.opts()
        )
        dkim = aws.ses.DomainDkim(
            f"{name}-email-dkim", **self.args("email_dkim", domain=identity.domain), opts=self.opts()
        )
        records = [(f"_amazonses.{domain.name}", "TXT", identity.verification_token, "verification")]
        for i in range(DKIM_RECORDS):
            token = dkim.dkim_tokens.apply(lambda tokens, i=i: tokens[i])
            records.append((pulumi.Output.concat(token, "._domainkey.", domain.name), "CNAME",
                            pulumi.Output.concat(token, ".dkim.amazonses.com"), f"DKIM {i + 1}"))  # fmt: skip
        zone_id = domain.zone_id(self)
        verified_after: list[pulumi.Resource] = []
        for i, (record_name, kind, value, purpose) in enumerate(records):
            if zone_id is None:
                self.dns_records.append(dns_record(record_name, kind, value, f"SES {purpose} of {domain.name}"))
                continue
            child = "email_verification_record" if kind == "TXT" else "email_dkim_record"
            verified_after.append(aws.route53.Record(
                f"{name}-email-{'verify' if kind == 'TXT' else f'dkim-{i}'}",
                **self.args(child, zone_id=zone_id, name=record_name, type=kind, ttl=600, records=[value],
                            allow_overwrite=True),
                opts=self.opts(),
            ))  # fmt: skip
        if zone_id is None:
            self.args("email_verification_record"), self.args("email_dkim_record")
        verification = aws.ses.DomainIdentityVerification(
            f"{name}-email-verification",
            **self.args("email_verification", domain=identity.domain),
            opts=self.opts(depends_on=verified_after, custom_timeouts=pulumi.CustomTimeouts(create="2h")),
        )
        return aws.cognito.UserPoolEmailConfigurationArgs(
            email_sending_account="DEVELOPER", source_arn=verification.arn,
            from_email_address=f"{SENDER}@{domain.name}",
        )  # fmt: skip


def check_callbacks(ctx: BuildContext) -> None:
    """A prod user pool redirects to the app's own callback URLs, never the default placeholder: a deployment
    refuses it (ConfigError); a preview (which shows what the profile makes) warns."""
    if not (ctx.stack.prod and PLACEHOLDER_CALLBACK in ctx.spec.callback_urls):
        return
    problem = (
        f"{ctx.stack.source}: components.auth.callback_urls: set the mobile app's own OAuth callback URLs for "
        f"prod (its custom scheme or universal links, e.g. [com.example.notes://callback]); "
        f"{PLACEHOLDER_CALLBACK} is the dev placeholder, and any app that registers it would receive the codes"
    )
    if not pulumi.runtime.is_dry_run():
        raise ConfigError(problem)
    pulumi.log.warn(f"{problem} (a deployment refuses it)")


def stack_domain(ctx: BuildContext) -> Domain | None:
    """The stack's domain and its Route 53 zone, when it has one."""
    if not ctx.stack.domain:
        return None
    return Domain(name=ctx.stack.domain, zone=ctx.stack.dns_zone.name if ctx.stack.dns_zone is not None else None)


def build(ctx: BuildContext) -> Built:
    """A Cognito user pool and the mobile app's client (``AUTH_USER_POOL_ID``, ``AUTH_CLIENT_ID``)."""
    check_callbacks(ctx)  # before anything is registered: a deployment stops here
    auth = Auth(
        ctx.name,
        AuthArgs(spec=ctx.spec, prod=ctx.stack.prod, release_data=ctx.stack.release_data,
                 email_domain=stack_domain(ctx), tags=ctx.stack.tags),
    )  # fmt: skip
    ids = {"AUTH_USER_POOL_ID": auth.user_pool_id, "AUTH_CLIENT_ID": auth.client_id}
    outputs: dict[str, object] = {"auth_user_pool_id": auth.user_pool_id, "auth_client_id": auth.client_id}
    if auth.dns_records:
        outputs["dns_records"] = stack_dns_records(ctx.built, auth.dns_records)
    return Built(component=auth, env=ids, outputs=outputs)
