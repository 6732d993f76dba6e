"""Planned answers to the azure-native provider functions the Azure components call (see ``engine/fakes``).

Key-listing functions are called only once their resource exists (their arguments are outputs, unknown in a
preview), so a plan normally never asks them; they are answered anyway, with obvious placeholders.
"""

from __future__ import annotations

from typing import Any

from mbops.engine.fakes import Answer

PLAN_SUBSCRIPTION_ID = "00000000-0000-4000-8000-00000000a2e0"
PLAN_TENANT_ID = "00000000-0000-4000-8000-0000000071d0"


def _client_config(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "subscriptionId": PLAN_SUBSCRIPTION_ID,
        "tenantId": PLAN_TENANT_ID,
        "clientId": "00000000-0000-4000-8000-00000000c11e",
        "objectId": "00000000-0000-4000-8000-000000000b1d",
    }


def _client_token(args: dict[str, Any], region: str) -> dict[str, Any]:
    # The deployer's ARM token; the components make it a Pulumi secret, so a plan shows "[secret]".
    return {"token": "plan-arm-access-token"}


def _redis_keys(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {"primaryKey": "plan-primary-key", "secondaryKey": "plan-secondary-key"}


def _hub_keys(args: dict[str, Any], region: str) -> dict[str, Any]:
    namespace, rule = args.get("namespaceName", "namespace"), args.get("authorizationRuleName", "rule")
    connection = f"Endpoint=sb://{namespace}.servicebus.windows.net/;SharedAccessKeyName={rule};SharedAccessKey=plan-key"
    return {
        "keyName": rule,
        "primaryKey": "plan-key",
        "secondaryKey": "plan-key",
        "primaryConnectionString": connection,
        "secondaryConnectionString": connection,
    }


ANSWERS: dict[str, Answer] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:authorization:getClientToken": _client_token,
    "azure-native:redisenterprise:listDatabaseKeys": _redis_keys,
    "azure-native:notificationhubs:listNotificationHubKeys": _hub_keys,
}

INVENTED: dict[str, dict[str, str]] = {
    "azure-native:authorization:getClientConfig": {
        "subscriptionId": "the deploying subscription id",
        "tenantId": "the Microsoft Entra tenant id",
        "objectId": "the deployer's object id",
    },
}
