"""Azure: one factory per component kind (each module's ``build(ctx) -> Built``), imported only when used.

``FOUNDATION`` runs first: the stack's resource group and the app's managed identity, which every kind uses.
"""

FOUNDATION = "mbops.components.azure.foundation"
FACTORIES: dict[str, str] = {
    "network": "mbops.components.azure.network",
    "secrets": "mbops.components.azure.secrets",
    "storage": "mbops.components.azure.storage",
    "database": "mbops.components.azure.database",
    "cache": "mbops.components.azure.cache",
    "docdb": "mbops.components.azure.docdb",
    "auth": "mbops.components.azure.auth",
    "push": "mbops.components.azure.push",
    "registry": "mbops.components.azure.registry",
    "cdn": "mbops.components.azure.cdn",
    "containers": "mbops.components.azure.containers",
    "servers": "mbops.components.azure.servers",
    "serverless": "mbops.components.azure.serverless",
    "edge": "mbops.components.azure.edge",
    "monitoring": "mbops.components.azure.monitoring",
}
_KEY_VAULT = "it keeps its credentials in Key Vault"
_APP_SECRETS = "the app resolves its secrets from Key Vault with its managed identity"
# Beyond the cross-cloud needs: credentials live only in Key Vault, and the VM scale set runs in the VNet.
NEEDS: dict[str, dict[str, str]] = {
    "database": {"secrets": _KEY_VAULT},
    "cache": {"secrets": _KEY_VAULT},
    "push": {"secrets": _KEY_VAULT},
    "servers": {"network": "the VM scale set runs in the VNet's app subnet", "secrets": _APP_SECRETS},
    "containers": {"secrets": _APP_SECRETS},
    "serverless": {"secrets": _APP_SECRETS},
}
# Wired by the Azure components beyond the cross-cloud names: the app may not use them for its own env.
WIRED_ENV = frozenset({"AZURE_CLIENT_ID", "PUSH_CONNECTION_STRING", "STORAGE_PUBLIC_URL"})
