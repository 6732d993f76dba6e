"""Azure auth (saas profile): declared unavailable - azure-native cannot give a mobile app a user pool.

What exists and why it is not enough:
- ``azureactivedirectory.B2CTenant`` creates an Azure AD B2C tenant, but B2C is closed to new customers
  (since May 2025) in favour of Microsoft Entra External ID.
- ``azureactivedirectory.CiamTenant`` (preview API 2023-05-17-preview) creates an Entra External ID tenant,
  but a tenant alone is no user pool: the app registration (client id), user flows and sign-in methods
  live in the new tenant's Microsoft Graph, which azure-native cannot reach. A tenant is also a
  directory, not a resource: creating one per stack and deleting it on ``destroy`` is not a safe default.
- Container Apps' built-in authentication (EasyAuth) signs users in with external providers for the web;
  it keeps no users of its own.
So mbops creates nothing for auth on Azure and returns the gap to the stack wiring, which reports it in
the plan's ``unavailable`` list and warns, never silently.
"""

from __future__ import annotations

from mbops.components.wiring import BuildContext, Built, Gap

GAP = Gap(
    reason=(
        "azure-native cannot create a user pool for a mobile app: Azure AD B2C is closed to new customers, "
        "and for Microsoft Entra External ID it can create only the tenant (CiamTenant, preview API), not the "
        "app registration and user flows, which live in Microsoft Graph"
    ),
    alternative=(
        "Microsoft Entra External ID: create the external tenant in the Entra admin center (or with "
        "azure-native CiamTenant), register the mobile app and its user flow there (portal or the "
        "pulumi-azuread provider signed in to that tenant), then give the app its tenant and client ids as "
        "app.env entries (e.g. ENTRA_TENANT_ID, ENTRA_CLIENT_ID)"
    ),
)


def build(ctx: BuildContext) -> Built:
    """Nothing is created: auth is a gap on Azure (see the module docstring)."""
    return Built(gap=GAP)
