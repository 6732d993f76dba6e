"""Azure push (saas profile): a Notification Hubs namespace and hub with the FCM v1 or APNs credential."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import notificationhubs

from mbops.components.azure.common import (
    PLAN_SECRET_PLACEHOLDER,
    AzureComponent,
    AzureContext,
    Identity,
    KeyVaultRef,
)
from mbops.components.spec import PushSpec
from mbops.components.wiring import BuildContext, Built
from mbops.errors import ConfigError

FIELDS = {
    "fcm": ("project_id", "client_email", "private_key"),  # a Firebase service account JSON key
    "apns": ("key_id", "team_id", "bundle_id", "private_key"),  # an APNs token-auth (.p8) key
}
APNS_ENDPOINTS = {
    "apns": "https://api.push.apple.com:443/3/device",
    "apns_sandbox": "https://api.development.push.apple.com:443/3/device",
}


@dataclass(kw_only=True)
class PushArgs:
    ctx: AzureContext
    vault: KeyVaultRef
    spec: PushSpec = field(default_factory=PushSpec)
    secret_env: Mapping[str, str] = field(default_factory=dict)  # the app's NAME -> "env:VAR"
    app_identity: Identity | None = None  # may read the connection string


def read_credential(spec: PushSpec, secret_env: Mapping[str, str]) -> dict[str, Any] | None:
    """The platform credential's fields (each a Pulumi secret) from the app secret ``credential_secret``.

    FCM: the Firebase service-account JSON. APNs: JSON with key_id, team_id, bundle_id and private_key (.p8).
    None (with a warning) when the app declares no such secret; placeholders when its variable is unset in a
    preview; a ConfigError when it is unset at deployment or malformed.
    """
    platform = "fcm" if spec.platform == "fcm" else "apns"
    field_name = f"components.push.credential_secret ({spec.credential_secret})"
    source = secret_env.get(spec.credential_secret)
    if source is None:
        pulumi.log.warn(
            f"{field_name}: not in app.secret_env; the hub is created without a {spec.platform} "
            "credential and cannot deliver until one is set"
        )
        return None
    variable = source.removeprefix("env:")
    raw = os.environ.get(variable)
    if raw is None:
        if not pulumi.runtime.is_dry_run():
            raise ConfigError(f"{field_name}: environment variable {variable} is not set")
        pulumi.log.warn(
            f"{field_name}: environment variable {variable} is not set; planning with placeholders"
        )
        values = dict.fromkeys(FIELDS[platform], PLAN_SECRET_PLACEHOLDER)
    else:
        try:
            parsed = json.loads(raw)
            values = {k: str(parsed[k]) for k in FIELDS[platform]}
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{field_name}: {variable} must hold JSON with {', '.join(FIELDS[platform])}"
            ) from None
    secret = {k: pulumi.Output.secret(v) for k, v in values.items()}
    if platform == "fcm":
        return {
            "fcm_v1_credential": {
                "project_id": secret["project_id"],
                "client_email": secret["client_email"],
                "private_key": secret["private_key"],
            }
        }
    return {
        "apns_credential": {
            "endpoint": APNS_ENDPOINTS[spec.platform],
            "key_id": secret["key_id"],
            "app_id": secret["team_id"],
            "app_name": secret["bundle_id"],
            "token": secret["private_key"],
        }
    }


class Push(AzureComponent):
    """Notification Hubs namespace (Free in dev, Basic in prod) and one hub for the app's platform.

    The platform credential comes from the app secret named by ``credential_secret`` and is sent only as a
    Pulumi secret. The app sends through a hub rule with the Send right only; its connection string is kept
    in Key Vault (``push-connection-string``) and reaches the app as the secret PUSH_CONNECTION_STRING, since
    Notification Hubs' send API takes SAS tokens, not Entra ID.
    Children: ``namespace``, ``hub``, ``send_rule``, ``connection_secret``.
    """

    kind = "push"

    def __init__(self, name: str, args: PushArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.spec, args.ctx, opts)
        ctx = args.ctx
        namespace_name = ctx.name("ntfns", 50)
        hub_name = ctx.name("hub", 64, unique=False)
        namespace = notificationhubs.Namespace(
            f"{name}-namespace",
            **self.args(
                "namespace",
                **self.base(
                    namespace_name=namespace_name,
                    namespace_type="NotificationHub",
                    sku={"name": "Basic" if ctx.prod else "Free"},
                ),
            ),
            opts=self.opts(),
        )
        credential = read_credential(args.spec, args.secret_env) or {}
        hub = notificationhubs.NotificationHub(
            f"{name}-hub",
            **self.args(
                "hub",
                **self.base(namespace_name=namespace_name, notification_hub_name=hub_name, **credential),
            ),
            opts=self.opts(depends_on=[namespace]),
        )
        names = {
            "resource_group_name": ctx.resource_group_name,
            "namespace_name": namespace_name,
            "notification_hub_name": hub_name,
        }
        rule = notificationhubs.NotificationHubAuthorizationRule(
            f"{name}-send-rule",
            **self.args(
                "send_rule",
                **names,
                authorization_rule_name="app-send",
                rights=["Send"],
                location=ctx.location,
                tags=dict(self.tags),
            ),
            opts=self.opts(depends_on=[hub]),
        )
        keys = notificationhubs.list_notification_hub_keys_output(
            authorization_rule_name=rule.name, **names, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.store_secret(
            "connection_secret",
            vault=args.vault,
            secret_name="push-connection-string",
            value=pulumi.Output.secret(keys.primary_connection_string),
            app=args.app_identity,
        )
        self.app = f"{namespace_name}/{hub_name}"
        self.finish({"namespace": namespace_name, "hub": hub_name})


def build(ctx: BuildContext) -> Built:
    """A Notification Hub (``PUSH_PLATFORM_APP``); the app sends with ``PUSH_CONNECTION_STRING`` from Key Vault."""
    push = Push(
        ctx.name,
        PushArgs(
            ctx=ctx.foundation.azure,
            spec=ctx.spec,
            vault=ctx.component("secrets").ref,
            secret_env=ctx.stack.app.secret_env,
            app_identity=ctx.foundation.identity,
        ),
    )
    return Built(
        component=push, env={"PUSH_PLATFORM_APP": push.app},
        secrets={"PUSH_CONNECTION_STRING": "push-connection-string"}, depends_on=[push], outputs={"push_app": push.app},
    )  # fmt: skip
