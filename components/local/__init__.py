"""The local target: one factory per component kind (each module's ``build(ctx) -> Built``).

Kinds with no local equivalent (auth, push, cdn) are gaps; ``registry`` builds the app's image when the stack
sets ``app.build`` and a Docker engine is reachable (the app then runs as a container); the secrets file is
built last (``LATE``) because it holds the secrets the other kinds make.
"""

FOUNDATION = "mbops.components.local.foundation"
FACTORIES: dict[str, str] = {
    "network": "mbops.components.local.network",
    "secrets": "mbops.components.local.secrets",
    "registry": "mbops.components.local.registry",
    "storage": "mbops.components.local.storage",
    "database": "mbops.components.local.database",
    "cache": "mbops.components.local.cache",
    "docdb": "mbops.components.local.docdb",
    "auth": "mbops.components.local.unavailable",
    "push": "mbops.components.local.unavailable",
    "cdn": "mbops.components.local.unavailable",
    "containers": "mbops.components.local.app",
    "servers": "mbops.components.local.app",
    "serverless": "mbops.components.local.app",
    "edge": "mbops.components.local.unavailable",
    "monitoring": "mbops.components.local.unavailable",
}
LATE = ("secrets",)
