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
}


def build(ctx: BuildContext) -> Built:
    return Built(gap=GAPS[ctx.kind])
