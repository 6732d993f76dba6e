"""Usage assumptions of the cost model: explicit defaults that a stack file's ``usage:`` overrides.

A plan says what is created, not how much it is used; every usage-driven charge (requests, GB stored,
egress, ...) reads one of these keys, and every report prints the values it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mbops.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class UsageKey:
    default: float
    unit: str
    help: str
    maximum: float | None = None


USAGE: dict[str, UsageKey] = {
    "hours_per_month": UsageKey(
        default=730,
        unit="hours",
        maximum=744,
        help="Hours a month that always-on resources run (730 = 24 x 365 / 12).",
    ),
    "replicas": UsageKey(
        default=-1,
        unit="replicas",
        help="Average running app replicas/instances; -1 = the planned minimum (app.min_replicas).",
    ),
    "requests_per_month": UsageKey(default=2_000_000, unit="requests", help="HTTP requests to the app a month."),
    "avg_request_ms": UsageKey(
        default=200, unit="ms", help="Average request duration: billed compute time of scale-to-zero apps."
    ),
    "egress_gb": UsageKey(default=50, unit="GB", help="Data the app sends to the internet a month (not via CDN)."),
    "nat_processed_gb": UsageKey(default=20, unit="GB", help="Data through the NAT gateway a month."),
    "lb_capacity_units": UsageKey(
        default=1, unit="units", help="Average load balancer capacity units (AWS LCU, Azure App Gateway CU)."
    ),
    "lb_processed_gb": UsageKey(default=50, unit="GB", help="Data processed by the load balancer a month."),
    "app_log_gb": UsageKey(default=5, unit="GB", help="App logs ingested a month."),
    "flow_log_gb": UsageKey(default=5, unit="GB", help="Network flow logs ingested a month."),
    "service_log_gb": UsageKey(
        default=1,
        unit="GB",
        help="Logs a managed service exports (database, cache, ...) a month, per component.",
    ),
    "storage_gb": UsageKey(default=50, unit="GB", help="Object storage kept (all versions)."),
    "object_writes_per_month": UsageKey(default=100_000, unit="requests", help="Object PUT/POST/LIST a month."),
    "object_reads_per_month": UsageKey(default=1_000_000, unit="requests", help="Object GET a month."),
    "database_backup_gb": UsageKey(
        default=0,
        unit="GB",
        help="Database backup storage billed beyond what the cloud includes (AWS, Azure: up to the DB size).",
    ),
    "docdb_storage_gb": UsageKey(default=5, unit="GB", help="Document database storage."),
    "docdb_reads_per_month": UsageKey(default=5_000_000, unit="reads", help="Document reads (1 KB / 4 KB units)."),
    "docdb_writes_per_month": UsageKey(default=1_000_000, unit="writes", help="Document writes (1 KB units)."),
    "cosmos_ru_per_read": UsageKey(default=1, unit="RU", help="Cosmos DB request units per 1 KB point read."),
    "cosmos_ru_per_write": UsageKey(default=6, unit="RU", help="Cosmos DB request units per 1 KB indexed write."),
    "cache_gb": UsageKey(default=1, unit="GB", help="Data kept in serverless caches (sized caches use their size)."),
    "secret_api_calls_per_month": UsageKey(default=100_000, unit="calls", help="Secret reads a month."),
    "monthly_active_users": UsageKey(default=5_000, unit="MAU", help="Users signing in a month (auth)."),
    "push_notifications_per_month": UsageKey(
        default=1_000_000, unit="notifications", help="Push notifications sent a month."
    ),
    "cdn_egress_gb": UsageKey(default=100, unit="GB", help="Data the CDN serves a month."),
    "cdn_requests_per_month": UsageKey(default=5_000_000, unit="requests", help="CDN HTTPS requests a month."),
    "free_tiers": UsageKey(
        default=1,
        unit="0/1",
        maximum=1,
        help="1 = deduct the clouds' permanent monthly free allowances (per account); "
        "0 = ignore them (when other workloads in the account use them).",
    ),
}


def resolve_usage(overrides: Mapping[str, float] | None, source: str = "stack") -> dict[str, float]:
    """The usage assumptions: defaults with ``overrides`` on top; unknown keys or bad values: ConfigError."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(USAGE))
    if unknown:
        raise ConfigError(
            f"{source}: usage: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"allowed: {', '.join(USAGE)}"
        )
    usage = {key: float(spec.default) for key, spec in USAGE.items()}
    for key, value in overrides.items():
        spec = USAGE[key]
        minimum = -1 if key == "replicas" else 0
        if not isinstance(value, int | float) or value < minimum:
            raise ConfigError(f"{source}: usage.{key}: must be a number >= {minimum} ({spec.unit}); got {value!r}")
        if spec.maximum is not None and value > spec.maximum:
            raise ConfigError(f"{source}: usage.{key}: must be at most {spec.maximum:g} ({spec.unit}); got {value!r}")
        usage[key] = float(value)
    return usage
