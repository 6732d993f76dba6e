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
    registry: Any = None  # the stack's Registry component (pushes the database setup image)
    database_setup: Any = None  # database.AppRoleSetup: the app's PostgreSQL role, created from inside the VNet


def app_args(ctx: BuildContext) -> dict[str, Any]:
    """``AppArgs`` fields of the stack's app runtime, plus its kind's spec."""
    found, secrets = ctx.foundation, ctx.component("secrets")  # secrets: every kind's reads are per secret
    registry = ctx.built["registry"].component if "registry" in ctx.built else None
    assignments = list(found.azure.app_grants) + ([registry.app_pull] if registry is not None else [])
    return {
        "ctx": found.azure, "spec": ctx.spec, "app": ctx.stack.app, "wiring": ctx.wiring, "vault": secrets.ref,
        "identity": found.identity, "image": ctx.stack.image(ctx.wiring),
        "registry_server": registry.server if registry is not None else None, "assignments": assignments,
        "private_entry": ctx.stack.has("edge"), "registry": registry,
        "database_setup": ctx.built["database"].component.setup if "database" in ctx.built else None,
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


PORTAL = "https://portal.azure.com/#@{tenant}/resource{id}"


def _query(workspace: Any, query: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "az monitor log-analytics query -w ", workspace.customer_id, ' --analytics-query "', query, '" -o table'
    )


def container_app_logs(
    ctx: AzureContext, name: str, app: Any, workspace: Any
) -> dict[str, dict[str, pulumi.Input[str]]]:
    """The ``logs`` stack output of the Container App ``name`` (``mbops logs --cloud azure``): its console log
    stream, and the workspace query for older lines."""
    group = ctx.resource_group_name
    stream = pulumi.Output.concat("az containerapp logs show -n ", name, " -g ", group, " --type console --tail 100")
    table = pulumi.Output.concat(
        "ContainerAppConsoleLogs | where ContainerAppName == '", name, "' | order by TimeGenerated desc | take 200"
    )
    return {
        "app": {"command": stream, "follow": pulumi.Output.concat(stream, " --follow"),
                "console": pulumi.Output.concat(PORTAL.format(tenant=ctx.tenant_id, id=""), app.id, "/logstream")},
        "app-history": {"command": _query(workspace, table),
                        "console": pulumi.Output.concat(PORTAL.format(tenant=ctx.tenant_id, id=""), workspace.id,
                                                        "/logs")},
    }  # fmt: skip


def servers_logs(ctx: AzureContext, name: str, workspace: Any) -> dict[str, dict[str, pulumi.Input[str]]]:
    """The ``logs`` stack output of the VM scale set: the app container's lines (journald tag ``mbops-app``,
    shipped as Syslog), and the live journal of one VM through Run Command."""
    table = "Syslog | where ProcessName == 'mbops-app' | order by TimeGenerated desc | take 200"
    journal = pulumi.Output.concat(
        "az vmss run-command invoke -g ", ctx.resource_group_name, " -n ", name,
        " --command-id RunShellScript --instance-id 0 --scripts 'journalctl -u mbops-app -n 200 --no-pager'",
    )
    return {
        "app": {"command": _query(workspace, table), "follow": journal,
                "console": pulumi.Output.concat(PORTAL.format(tenant=ctx.tenant_id, id=""), workspace.id, "/logs")},
    }  # fmt: skip
