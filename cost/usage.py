"""Usage assumptions of the cost model: a preset, then the stack file's ``usage:`` on top.

A plan says what is created, not how much it is used; every usage-driven charge (requests, GB stored,
egress, ...) reads one of these keys, and every report prints the values it used and where each came from.

Presets (``small`` is the default; ``mbops cost --usage-preset medium``):

- ``small``: a new app or a staging stack, ~2M API requests a month (~0.8 request/s on average).
- ``medium``: an app in production with a few tens of thousands of monthly users, ~50M requests (~19/s).
- ``large``: a popular app, ~500M requests a month (~190/s on average).

A preset sets traffic and data volumes only; replicas stay at the planned minimum (``usage.replicas``
sets them). ``free_tiers`` is 0 in every preset: like the clouds' own calculators, estimates ignore the
accounts' free allowances unless asked (``--free-tiers`` or ``usage.free_tiers: 1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mbops.errors import ConfigError

PRESETS = ("small", "medium", "large")
DEFAULT_PRESET = "small"
DERIVED = -1.0  # "derive this value from the plan" for the keys that allow it


@dataclass(frozen=True, kw_only=True)
class UsageKey:
    default: float
    unit: str
    help: str
    maximum: float | None = None
    derived: str = ""  # what -1 means, for keys whose default is worked out from the plan
    medium: float | None = None  # the medium and large presets; None = same as small (the default)
    large: float | None = None

    def preset(self, name: str) -> float:
        value = {"medium": self.medium, "large": self.large}.get(name)
        return float(self.default if value is None else value)


def _traffic(small: float, medium: float, large: float, unit: str, help: str) -> UsageKey:  # noqa: A002
    """A traffic or data volume key: its small (default), medium and large preset values."""
    return UsageKey(default=small, medium=medium, large=large, unit=unit, help=help)


USAGE: dict[str, UsageKey] = {
    "hours_per_month": UsageKey(
        default=730,
        unit="hours",
        maximum=744,
        help="Hours a month that always-on resources run (730 = 24 x 365 / 12).",
    ),
    "replicas": UsageKey(
        default=DERIVED,
        unit="replicas",
        derived="the planned minimum (app.min_replicas)",
        help="Average running app replicas/instances.",
    ),
    "requests_per_month": _traffic(2_000_000, 50_000_000, 500_000_000, "requests", "HTTP requests to the app a month."),
    "avg_request_ms": UsageKey(
        default=200, unit="ms", help="Average request duration: the app's active (billed) time per request."
    ),
    "requests_per_connection": UsageKey(
        default=10,
        unit="requests",
        help="Requests a client sends per TCP/TLS connection (keep-alive): load balancer new connections.",
    ),
    "connection_seconds": UsageKey(
        default=60, unit="s", help="How long a client connection stays open: load balancer active connections."
    ),
    "egress_gb": _traffic(50, 500, 5000, "GB", "Data the app sends to the internet a month (not via CDN)."),
    "outbound_gb": _traffic(
        10, 100, 1000, "GB", "Data the app exchanges with APIs on the internet (push gateways, third parties)."
    ),
    "nat_processed_gb": UsageKey(
        default=DERIVED,
        unit="GB",
        derived="outbound_gb + container image pulls + (AWS) app logs shipped through the NAT",
        help="Data through the NAT gateway a month.",
    ),
    "image_gb": UsageKey(default=0.3, unit="GB", help="Size of the app's container image (pulls, registry storage)."),
    "deploys_per_month": _traffic(20, 40, 60, "deploys", "App deployments a month (each pulls the image per replica)."),
    "registry_gb": _traffic(2, 10, 50, "GB", "Container images kept in the stack's registry."),
    "lb_capacity_units": UsageKey(
        default=DERIVED,
        unit="units",
        derived="the largest capacity dimension of the traffic (new and active connections, bytes, rules)",
        help="Average load balancer capacity units (AWS LCU, Azure App Gateway CU).",
    ),
    "lb_processed_gb": _traffic(50, 1000, 10_000, "GB", "Data processed by the load balancer a month."),
    "app_log_gb": _traffic(5, 50, 500, "GB", "App logs ingested a month."),
    "flow_log_gb": _traffic(5, 30, 200, "GB", "Network flow logs ingested a month."),
    "service_log_gb": _traffic(
        1, 5, 20, "GB", "Logs a managed service exports (database, cache, ...) a month, per component."
    ),
    "telemetry_gb": _traffic(1, 10, 100, "GB", "APM telemetry (Application Insights) ingested a month."),
    "container_insights_log_gb": _traffic(
        1, 5, 20, "GB", "Container Insights performance log events ingested a month, per cluster."
    ),
    "storage_gb": _traffic(50, 500, 5000, "GB", "Object storage kept (all versions)."),
    "object_writes_per_month": _traffic(100_000, 2_000_000, 20_000_000, "requests", "Object PUT/POST/LIST a month."),
    "object_reads_per_month": _traffic(1_000_000, 20_000_000, 200_000_000, "requests", "Object GET a month."),
    "database_data_gb": UsageKey(
        default=DERIVED,
        unit="GB",
        derived="half the database's provisioned storage",
        help="Data stored in the database (what backups copy).",
    ),
    "database_daily_change": UsageKey(
        default=0.05,
        unit="fraction",
        maximum=1,
        help="Share of the database's data written each day (incremental backups, transaction logs).",
    ),
    "database_backup_gb": UsageKey(
        default=DERIVED,
        unit="GB",
        derived="database_data_gb x (1 + database_daily_change x retention days)",
        help="Database backup storage kept (the cloud bills what exceeds its included allowance).",
    ),
    "docdb_storage_gb": _traffic(5, 50, 500, "GB", "Document database storage."),
    "docdb_reads_per_month": _traffic(
        5_000_000, 100_000_000, 1_000_000_000, "reads", "Document reads (1 KB / 4 KB units)."
    ),
    "docdb_writes_per_month": _traffic(1_000_000, 20_000_000, 200_000_000, "writes", "Document writes (1 KB units)."),
    "cosmos_ru_per_read": UsageKey(default=1, unit="RU", help="Cosmos DB request units per 1 KB point read."),
    "cosmos_ru_per_write": UsageKey(default=6, unit="RU", help="Cosmos DB request units per 1 KB indexed write."),
    "cache_gb": _traffic(
        1, 5, 25, "GB", "Data kept in the cache (serverless caches bill it; snapshots copy it)."
    ),
    "secret_api_calls_per_month": _traffic(100_000, 1_000_000, 10_000_000, "calls", "Secret reads a month."),
    "monthly_active_users": _traffic(5_000, 50_000, 500_000, "MAU", "Users signing in a month (auth)."),
    "push_notifications_per_month": _traffic(
        1_000_000, 10_000_000, 100_000_000, "notifications", "Push notifications sent a month."
    ),
    "cdn_egress_gb": _traffic(100, 2000, 20_000, "GB", "Data the CDN serves a month."),
    "cdn_requests_per_month": _traffic(
        5_000_000, 100_000_000, 1_000_000_000, "requests", "CDN HTTPS requests a month."
    ),
    "free_tiers": UsageKey(
        default=0,
        unit="0/1",
        maximum=1,
        help="1 = deduct the clouds' monthly free-tier allowances (per account, once per stack here); "
        "0 = ignore them, as the clouds' calculators do.",
    ),
}


def check_preset(preset: str | None, source: str = "--usage-preset") -> str:
    """The preset's name; ConfigError naming the allowed presets when it is not one."""
    name = preset or DEFAULT_PRESET
    if name not in PRESETS:
        raise ConfigError(f"{source}: unknown usage preset '{name}'; allowed: {', '.join(PRESETS)}")
    return name


def resolve_usage(
    overrides: Mapping[str, float] | None,
    source: str = "stack",
    preset: str | None = None,
) -> dict[str, float]:
    """The usage assumptions: the preset's values with ``overrides`` on top.

    Unknown keys, bad values and unknown presets raise ConfigError naming the field and what is allowed.
    """
    name = check_preset(preset)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(USAGE))
    if unknown:
        raise ConfigError(
            f"{source}: usage: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"allowed: {', '.join(USAGE)}"
        )
    usage = {key: spec.preset(name) for key, spec in USAGE.items()}
    for key, value in overrides.items():
        spec = USAGE[key]
        minimum = DERIVED if spec.derived else 0
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            what = f"a number >= {minimum:g}" + (f" (-1 = {spec.derived})" if spec.derived else "")
            raise ConfigError(f"{source}: usage.{key}: must be {what} ({spec.unit}); got {value!r}")
        if spec.maximum is not None and value > spec.maximum:
            raise ConfigError(f"{source}: usage.{key}: must be at most {spec.maximum:g} ({spec.unit}); got {value!r}")
        usage[key] = float(value)
    return usage
