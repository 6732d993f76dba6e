"""What the app runtime (containers, serverless, servers) receives on Azure, and the order of its environment.

The stack wiring hands the runtime a neutral ``AppWiring``: plain env (``app.env`` first), secrets as
``NAME -> Key Vault secret name`` (never a value) and what to wait for (every data component, so the app
identity's role assignments and the secrets exist before the first replica or VM starts). Azure needs no
grants from it: each data component grants the app identity its own role. The runtime also takes the Key
Vault and the app identity, from the secrets component and the foundation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from mbops.components.azure.common import AzureContext, Identity, KeyVaultRef
from mbops.components.spec import AppSpec
from mbops.components.wiring import AppWiring, BuildContext


@dataclass(kw_only=True)
class AppArgs:
    """What every Azure app runtime takes."""

    ctx: AzureContext
    app: AppSpec
    wiring: AppWiring
    vault: KeyVaultRef  # where the app's secrets are
    identity: Identity  # what the app runs as
    image: pulumi.Input[str]  # the registry's pushed <server>/app@sha256:..., or the prebuilt app.image
    registry_server: str | None = None  # the stack's ACR, pulled from with the app identity
    assignments: list[pulumi.Resource] = field(default_factory=list)  # roles the app needs before it starts
    private_entry: bool = False  # reached only through Front Door's Private Link (an edge in front)


def app_args(ctx: BuildContext) -> dict[str, Any]:
    """``AppArgs`` fields of the stack's app runtime, plus its kind's spec."""
    found, secrets = ctx.foundation, ctx.component("secrets")
    registry = ctx.built["registry"].component if "registry" in ctx.built else None
    assignments = [secrets.app_reader] + ([registry.app_pull] if registry is not None else [])
    return {
        "ctx": found.azure, "spec": ctx.spec, "app": ctx.stack.app, "wiring": ctx.wiring, "vault": secrets.ref,
        "identity": found.identity, "image": ctx.stack.image(ctx.wiring),
        "registry_server": registry.server if registry is not None else None, "assignments": assignments,
        "private_entry": ctx.stack.has("edge"),
    }  # fmt: skip


def plain_env(app: AppSpec, wiring: AppWiring, client_id: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """The app's plain environment: ``app.env``, ``PORT``, what the stack wires, ``AZURE_CLIENT_ID``.

    The order is the one Azure apps have always had (the runtimes keep the env as a list, so a new order
    would roll out a new revision or a new VM image): the CDN URL comes right after the storage it fronts.
    ``AZURE_CLIENT_ID`` makes DefaultAzureCredential pick the app identity.
    """
    wired = [name for name in wiring.env if name != "CDN_URL"]
    if "CDN_URL" in wiring.env:  # a CDN always comes with storage (the stack wiring checks it)
        wired.insert(wired.index("STORAGE_URL") + 1, "CDN_URL")
    return {
        **app.env, "PORT": str(app.port), **{name: wiring.env[name] for name in wired},
        "AZURE_CLIENT_ID": client_id,
    }  # fmt: skip
