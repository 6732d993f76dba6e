"""Azure foundation of a stack: its resource group and the app's user-assigned managed identity.

Both are stack-level resources, not a component: they belong to no component kind, every component uses
the group, and the identity is what the app runs as wherever it runs.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import managedidentity, resources

from mbops.components.azure.common import AzureContext, Identity


def create_foundation(ctx: AzureContext) -> Identity:
    """Create the resource group (sets ``ctx.resource_group``) and the app identity; return the identity.

    The app identity is user-assigned (not system-assigned) on every runtime - Container Apps and the VM
    scale set alike - so its role assignments (Key Vault, Storage, Cosmos DB, Redis) exist *before* the
    first replica or VM boots and survive a replacement of the app.
    """
    group = resources.ResourceGroup(
        f"{ctx.stack}-rg",
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        tags=dict(ctx.tags),
    )
    ctx.resource_group = group
    identity = managedidentity.UserAssignedIdentity(
        f"{ctx.stack}-app-identity",
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        resource_name_=ctx.name("id-app", 128, unique=False),
        tags=dict(ctx.tags),
        opts=pulumi.ResourceOptions(depends_on=[group]),
    )
    return Identity(id=identity.id, principal_id=identity.principal_id, client_id=identity.client_id)
