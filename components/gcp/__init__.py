"""GCP: one factory per component kind (each module's ``build(ctx) -> Built``), imported only when used."""

# Each kind's module is named after it: ``mbops.components.gcp.<kind>``.
FACTORIES: dict[str, str] = {
    kind: f"{__name__}.{kind}"
    for kind in ("network", "secrets", "registry", "storage", "database", "cache", "docdb", "auth", "push", "cdn",
                 "containers", "servers", "serverless", "edge", "monitoring")
}  # fmt: skip
# Beyond the cross-cloud needs: the app's VMs and Cloud Run's Direct VPC egress use the stack's subnet.
NEEDS: dict[str, dict[str, str]] = {
    "containers": {"network": "Cloud Run reaches private IPs through Direct VPC egress on the stack's subnet"},
    "servers": {"network": "the instances run in the stack's subnet with private IPs only"},
}
# Wired by the GCP components beyond the cross-cloud names: the app may not use them for its own env.
# (DATABASE_PASSWORD and DATABASE_ADMIN_URL name Secret Manager secrets the database keeps for itself;
# DATABASE_CA_CERT is Cloud SQL's server CA, which DATABASE_URL's sslmode=verify-ca checks the server against.)
WIRED_ENV = frozenset(
    {"REDIS_CA_CERT", "DATABASE_CA_CERT", "CDN_SIGNING_KEY", "CDN_SIGNING_KEY_NAME", "DATABASE_PASSWORD",
     "DATABASE_ADMIN_URL"}
)  # fmt: skip
