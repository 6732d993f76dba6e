"""Kinds with no local equivalent: reported as gaps (with what to use instead), never dropped silently."""

from __future__ import annotations

from mbops.components.wiring import BuildContext, Built, Gap

GAPS: dict[str, Gap] = {
    "auth": Gap(
        reason="no managed user pool runs on this machine",
        alternative="deploy the stack to aws, gcp or azure for managed auth, or run an OIDC server "
        "(e.g. Keycloak) next to the app",
    ),
    "push": Gap(
        reason="push notifications need the platform's service (FCM / APNs)",
        alternative="deploy to a cloud, or call FCM/APNs from the app with a credential in app.secret_env",
    ),
    "cdn": Gap(
        reason="no CDN runs on this machine",
        alternative="serve files from the app (its /files endpoints) locally; deploy to a cloud for a CDN",
    ),
    "edge": Gap(
        reason="no certificate, domain or WAF fronts the app on this machine: it listens on 127.0.0.1 only",
        alternative="deploy the stack to a cloud with `domain:` set for HTTPS on your domain behind a WAF",
    ),
    "monitoring": Gap(
        reason="no alerting service runs on this machine",
        alternative="`mbops status` shows each component's health and `mbops logs -F` follows the logs",
    ),
}


def build(ctx: BuildContext) -> Built:
    return Built(gap=GAPS[ctx.kind])
