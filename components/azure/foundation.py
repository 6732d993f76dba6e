"""Azure foundation of a stack: its resource group and the app's user-assigned managed identity.

Both are stack-level resources, not a component: they belong to no component kind, every component uses
the group, and the identity is what the app runs as wherever it runs. The stack wiring builds them first
(``FOUNDATION`` in the registry); every kind's factory reaches them as ``ctx.foundation``.

A prod serverless app (saas) also gets a private network here, before the data kinds that use it: its
Container Apps environment runs in the VNet, so Key Vault is reached through a private endpoint and the
storage and Cosmos DB firewalls admit only the app's subnet (their public endpoints answer nobody else).
The saas profile has no ``network`` kind, and the data kinds are built before the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import authorization, managedidentity, resources

from mbops.components.azure.common import AzureContext, Identity
from mbops.components.wiring import BuildContext, Built


@dataclass(frozen=True, kw_only=True)
class Foundation:
    """What every Azure kind's factory shares: where resources go (``azure``) and the app's identity."""

    azure: AzureContext
    identity: Identity
    network: Any = None  # the private network of a prod serverless app (see the module docstring)


def resource_group_name(stack: str, environment: str) -> str:
    """``rg-<stack>``, with the environment appended unless the stack name already ends with it."""
    name = stack if stack.endswith(f"-{environment}") else f"{stack}-{environment}"
    return f"rg-{name}"


def create_foundation(ctx: AzureContext) -> Identity:
    """Create the resource group (sets ``ctx.resource_group``) and the app identity; return the identity.

    The group is kept when the stack is destroyed unless its data is released (``destroy --delete-data``):
    deleting a group deletes everything in it, so a group deleted around retained data would delete that data
    too. ``destroy`` therefore leaves the group holding the retained data (and the network a retained
    PostgreSQL server lives in); ``destroy --delete-data`` deletes all of it. The app identity is kept with the
    data too: the grants kept with it (the Cosmos DB data-plane role assignment) name its principal, which a new
    identity would not have. When the stack adopts anything (``adopt:``, ``ctx.adopting``) the next ``up`` takes
    the group and the identity back (``import_``): whatever it adopts lives in the kept group.

    The app identity is user-assigned (not system-assigned) on every runtime - Container Apps and the VM
    scale set alike - so its role assignments (Key Vault, Storage, Cosmos DB, Redis) exist *before* the
    first replica or VM boots and survive a replacement of the app.
    """
    keep = not ctx.release_data
    group = resources.ResourceGroup(
        f"{ctx.stack}-rg",
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        tags=dict(ctx.tags),
        opts=pulumi.ResourceOptions(retain_on_delete=keep, import_=ctx.rg_id() if ctx.adopting else None),
    )
    ctx.resource_group = group
    identity_name = ctx.name("id-app", 128, unique=False)
    identity_id = ctx.resource_id("Microsoft.ManagedIdentity", "userAssignedIdentities", identity_name)
    identity = managedidentity.UserAssignedIdentity(
        f"{ctx.stack}-app-identity",
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        resource_name_=identity_name,
        tags=dict(ctx.tags),
        opts=pulumi.ResourceOptions(
            depends_on=[group], retain_on_delete=keep, import_=identity_id if ctx.adopting else None
        ),
    )
    return Identity(id=identity.id, principal_id=identity.principal_id, client_id=identity.client_id)


def build(ctx: BuildContext) -> Built:
    """The subscription's context, the resource group and the app identity (output ``resource_group``)."""
    stack = ctx.stack
    client = authorization.get_client_config()
    azure = AzureContext(
        stack=stack.name,
        environment=stack.environment,
        location=stack.region,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        resource_group_name=resource_group_name(stack.name, stack.environment),
        tags=stack.tags,
        release_data=stack.release_data,
        adopting=bool(stack.adopt),
    )
    identity = create_foundation(azure)
    net = None
    if stack.prod and stack.has("serverless") and not stack.has("network"):
        from mbops.components.azure.network import Network, network_args
        from mbops.components.spec import NetworkSpec

        net = Network(f"{stack.name}-net", network_args(stack, azure, NetworkSpec(), containers=True))
    return Built(
        component=Foundation(azure=azure, identity=identity, network=net),
        outputs={"resource_group": azure.resource_group_name},
    )
