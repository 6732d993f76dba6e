"""Rules for the user pool a saas stack gives its mobile app (AWS Cognito)."""

from __future__ import annotations

from collections.abc import Iterator

from mbops.policies.model import Context, Resource, Rule
from mbops.policies.values import get, items, known, word

USER_POOL = "aws:cognito/userPool:UserPool"
USER_POOL_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
PLACEHOLDER_CALLBACKS = frozenset({"myapp://callback"})  # the AuthSpec default: not an app's own link


def _callbacks(res: Resource, ctx: Context) -> Iterator[str]:
    urls = get(res.get("inputs") or {}, "callbackUrls")
    if not known(urls):
        return
    placeholders = sorted(u for u in items(urls) if u in PLACEHOLDER_CALLBACKS)
    if placeholders:
        yield (
            f"callbackUrls holds the placeholder {', '.join(placeholders)}: any app on a device can claim a generic "
            f"custom scheme and receive the sign-in code"
        )


AUTH_CALLBACKS = Rule(
    id="auth-callbacks",
    title="Sign-in redirects go to the app's own links",
    severity="high",
    enforcement="mandatory",
    description="In prod, the user pool client's callback URLs are the app's own links (HTTPS app links / "
    "universal links, or a scheme the app owns), never the `myapp://callback` placeholder mbops starts with.",
    remediation="Set components.auth.callback_urls to the app's links, e.g. [https://app.example.com/auth/callback, "
    "com.example.app://auth].",
    clouds=("aws",),
    prod_only=True,
    checks={USER_POOL_CLIENT: _callbacks},
)


def _email_sender(res: Resource, ctx: Context) -> Iterator[str]:
    account = get(res.get("inputs") or {}, "emailConfiguration.emailSendingAccount")
    if known(account) and word(account, "cognito_default") != "developer":
        yield (
            "emailConfiguration sends through Cognito's built-in sender, whose daily limit is below what "
            "production sign-ups and password resets need"
        )


AUTH_EMAIL = Rule(
    id="auth-email-sender",
    title="Sign-up and recovery mail goes through your own sender",
    severity="medium",
    enforcement="advisory",
    description="In prod, the user pool sends verification and recovery mail through SES from your domain "
    "(`emailSendingAccount: DEVELOPER`): Cognito's built-in sender has a low daily limit.",
    remediation="Set the stack's `domain:` (mbops then verifies it in SES and sends from no-reply@<domain>), and "
    "request SES production access for the account.",
    clouds=("aws",),
    prod_only=True,
    checks={USER_POOL: _email_sender},
)

RULES: tuple[Rule, ...] = (AUTH_CALLBACKS, AUTH_EMAIL)
