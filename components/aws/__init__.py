"""AWS: one factory per component kind (each module's ``build(ctx) -> Built``), imported only when used."""

FACTORIES: dict[str, str] = {
    "network": "mbops.components.aws.network",
    "secrets": "mbops.components.aws.secrets",
    "registry": "mbops.components.aws.registry",
    "storage": "mbops.components.aws.storage",
    "database": "mbops.components.aws.database",
    "cache": "mbops.components.aws.cache",
    "docdb": "mbops.components.aws.docdb",
    "auth": "mbops.components.aws.auth",
    "push": "mbops.components.aws.push",
    "cdn": "mbops.components.aws.cdn",
    "containers": "mbops.components.aws.containers",
    "servers": "mbops.components.aws.servers",
    "serverless": "mbops.components.aws.serverless",
    "edge": "mbops.components.aws.edge",
    "monitoring": "mbops.components.aws.monitoring",
}
# Beyond the cross-cloud needs: the app's VMs and tasks run in the VPC.
NEEDS: dict[str, dict[str, str]] = {
    "containers": {"network": "Fargate tasks run in the VPC's private subnets"},
    "servers": {"network": "the instances run in the VPC's private subnets"},
}
