"""What a price rule is: from one planned resource (and the usage assumptions) to charges on catalog SKUs.

Each cloud has a module ``mbops.cost.rules_<cloud>`` with ``RULES: {type token: rule}`` and ``FREE``
(type token or prefix -> why it costs nothing). A rule returns a list of ``Charge`` (catalog SKU x quantity),
``Free(reason)`` or ``Unpriced(why)``; the list may also hold ``Unpriced`` parts (a charge of the resource
that cannot be priced, listed next to the charges that can). Types no rule knows are listed as unpriced,
never counted as zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

COMPUTED = "[computed]"


@dataclass(frozen=True, kw_only=True)
class Charge:
    """``quantity`` units of catalog SKU ``sku``; ``detail`` says how the quantity was worked out.

    ``usage`` names the usage keys the quantity is proportional to: when they are all 0 the report says
    "$X per <unit>" instead of $0, since the charge depends on usage nobody assumed.
    """

    sku: str
    quantity: float
    detail: str = ""
    usage: tuple[str, ...] = ()


@dataclass(frozen=True)
class Free:
    reason: str


@dataclass(frozen=True)
class Unpriced:
    why: str


Outcome = list[Charge | Unpriced] | Free | Unpriced


@dataclass(kw_only=True)
class Context:
    """What rules may read: the graph, the stack, the usage assumptions and a few lookups."""

    graph: dict[str, Any]
    stack: Any
    usage: dict[str, float]
    by_urn: dict[str, dict[str, Any]] = field(default_factory=dict)
    _claimed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_urn = {r["urn"]: r for r in self.graph.get("resources", [])}

    @property
    def hours(self) -> float:
        return self.usage["hours_per_month"]

    def replicas(self, planned: float) -> float:
        """Average running replicas: the ``replicas`` usage key, or the planned minimum."""
        value = self.usage["replicas"]
        return planned if value < 0 else value

    def claim(self, key: str, resource: dict[str, Any]) -> str | None:
        """Give a usage-driven quantity to one resource only: None the first time, else who has it."""
        owner = self._claimed.get(key)
        if owner is None:
            self._claimed[key] = resource["name"]
            return None
        return owner

    def deps(self, resource: dict[str, Any], type_token: str | Iterable[str]) -> list[dict[str, Any]]:
        """The resources of a type that ``resource`` depends on directly."""
        types = {type_token} if isinstance(type_token, str) else set(type_token)
        found = [self.by_urn.get(u) for u in resource.get("dependencies") or []]
        return [r for r in found if r is not None and r["type"] in types]

    def of_type(self, type_token: str | Iterable[str], component: str | None = None) -> list[dict[str, Any]]:
        types = {type_token} if isinstance(type_token, str) else set(type_token)
        return [
            r
            for r in self.graph.get("resources", [])
            if r["type"] in types and (component is None or r.get("component") == component)
        ]

    def app_replicas(self) -> float:
        return float(self.stack.app.min_replicas) if self.stack is not None else 1.0

    def dependents(self, resource: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
        """The resources of a type that depend on ``resource`` directly."""
        return [r for r in self.of_type(type_token) if resource["urn"] in (r.get("dependencies") or [])]

    def running_replicas(self) -> float:
        """The app's average running replicas: usage.replicas, else the planned minimum (at least 1)."""
        return max(self.replicas(self.app_replicas()), 1.0)


Rule = Callable[[dict[str, Any], Context], Outcome]


def known(value: Any) -> bool:
    return value is not None and value != COMPUTED and value != "[secret]"


def num(value: Any, default: float) -> float:
    """A number from a planned input; ``default`` when it is missing, computed or not numeric."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """``value[path[0]][path[1]]...`` through dicts and lists; ``default`` when any step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or len(value) <= step:
                return default
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return default
            value = value[step]
    return default if value is None else value


_QUANTITY = re.compile(r"^\s*([0-9.]+)\s*([A-Za-z]*)\s*$")
_BYTES = {
    "": 1 / 2**30,
    "k": 1e3 / 2**30,
    "ki": 1 / 2**20,
    "m": 1e6 / 2**30,
    "mi": 1 / 2**10,
    "g": 1e9 / 2**30,
    "gi": 1.0,
    "t": 1e12 / 2**30,
    "ti": 2**10,
}


def memory_gib(value: Any, default: float) -> float:
    """Kubernetes-style memory quantities ('512Mi', '1Gi', '2G') in GiB."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not (m := _QUANTITY.match(value)):
        return default
    factor = _BYTES.get(m.group(2).lower())
    return float(m.group(1)) * factor if factor is not None else default


def cpu_cores(value: Any, default: float) -> float:
    """CPU quantities ('1', '0.5', '500m') in cores."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.endswith("m"):
        return num(value[:-1], default * 1000) / 1000
    return num(value, default)


def per(count: float, unit: float) -> float:
    """``count`` in blocks of ``unit`` (e.g. requests per 10,000), not rounded."""
    return count / unit


def ceil_to(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def per_unit(price: float, unit: str) -> str:
    """'$0.045 per GB': what a usage-driven charge costs per unit when no usage is assumed."""
    text = f"${price:,.4f}" if price >= 0.01 else f"${price:.10f}".rstrip("0")
    return f"{text} per {unit}"


def fmt(value: float) -> str:
    """A compact number for details: 730, 0.5, 1.5M, 20k."""
    if value >= 1_000_000 and value % 100_000 == 0:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000 and value % 1_000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:,.6g}" if value < 1000 else f"{value:,.0f}"


def free_reason(type_token: str, free: dict[str, str]) -> str | None:
    """The reason a type is free: an exact entry, else the longest matching prefix entry."""
    if type_token in free:
        return free[type_token]
    best = max((p for p in free if p.endswith(("/", ":")) and type_token.startswith(p)), key=len, default=None)
    return free[best] if best else None


COMMON_FREE: dict[str, str] = {
    "random:": "generated by Pulumi (pulumi-random); not a cloud resource",
    "tls:": "generated by Pulumi (pulumi-tls); not a cloud resource",
    "pulumi:providers:": "provider configuration; not a cloud resource",
    "pulumi-python:dynamic:Resource": "a Pulumi dynamic resource managed by mbops; not billed by the cloud",
}


def log_charges(
    ingest_sku: str, retention_sku: str, gb: float, detail: str, retention_days: float, included_days: float,
    unit: str = "GB", usage: tuple[str, ...] = (),
) -> list[Charge]:
    """Log ingestion, plus storage for the days kept beyond what ingestion includes (at most 12 months)."""
    charges = [Charge(sku=ingest_sku, quantity=gb, detail=detail, usage=usage)]
    if retention_days > included_days:
        months = min((retention_days - included_days) / 30, 12)
        kept = f"{fmt(gb)} {unit}/month kept {fmt(retention_days)} days ({fmt(included_days)} days included)"
        charges.append(Charge(sku=retention_sku, quantity=gb * months, detail=kept, usage=usage))
    return charges


def unmodelled_storage(res: dict[str, Any], ctx: Context, noun: str) -> Unpriced | None:
    """Why a bucket / storage account is unpriced, or None for the one the storage usage keys describe.

    ``storage_gb`` and ``object_*`` describe the app's storage: the storage component's first bucket (or
    account). Buckets of other components, or a second one, are listed as unpriced, never as zero.
    """
    if res.get("component") != "storage":
        return Unpriced(
            f"usage of this {res.get('component') or 'stack'} {noun} is not modelled "
            "(the usage keys storage_gb, object_* describe the app's storage)"
        )
    owner = ctx.claim("storage_gb", res)
    if owner:
        return Unpriced(f"storage usage is counted on {noun} {owner}; this {noun}'s use is not modelled")
    return None


def busy_seconds(ctx: Context, per_instance: float) -> tuple[float, str]:
    """Instance-seconds a month that request-billed containers (Cloud Run, Container Apps) are busy.

    With C requests in flight on average (requests/s x duration), instances are busy ``1 - e^-C`` of the time
    while C is small (requests rarely overlap) and ``C / per_instance`` when the autoscaler packs
    ``per_instance`` concurrent requests on each; the estimate takes the larger.
    """
    u = ctx.usage
    month = ctx.hours * 3600
    concurrency = u["requests_per_month"] * u["avg_request_ms"] / 1000 / (month or 1)
    share = max(1 - math.exp(-concurrency), concurrency / max(per_instance, 1.0))
    how = (
        f"{fmt(u['requests_per_month'])} requests x {fmt(u['avg_request_ms'])} ms = {concurrency:.3g} in flight "
        f"on average, {fmt(per_instance)} per instance: {share:.3g} instance(s) busy"
    )
    return share * month, how


def backup_storage(
    ctx: Context, provisioned_gb: float, retention_days: float, included_gb: float, copies: str = ""
) -> tuple[float, str]:
    """Database backup storage billed beyond ``included_gb``, and how it was worked out.

    Kept: ``database_backup_gb``, or the estimate ``data x (1 + daily change x retention days)`` (a full
    copy plus incremental backups / transaction logs for the retention window), data being
    ``database_data_gb`` or half the provisioned storage.
    """
    u = ctx.usage
    if u["database_backup_gb"] >= 0:
        kept, how = u["database_backup_gb"], f"database_backup_gb {fmt(u['database_backup_gb'])}"
    else:
        data = u["database_data_gb"] if u["database_data_gb"] >= 0 else provisioned_gb / 2
        source = "database_data_gb" if u["database_data_gb"] >= 0 else f"half of {fmt(provisioned_gb)} GB provisioned"
        change = u["database_daily_change"]
        kept = data * (1 + change * retention_days)
        how = (
            f"{fmt(data)} GB of data ({source}) x (1 + {change:g} changed a day x {fmt(retention_days)} days kept)"
            f" = {fmt(kept)} GB{copies}"
        )
    billed = max(kept - included_gb, 0.0)
    if included_gb:
        how += f"; {fmt(included_gb)} GB included" + (f", {fmt(billed)} GB billed" if billed else ", nothing billed")
    return billed, how


def nat_processed(ctx: Context, *, pulls_via_nat: bool, logs_via_nat: bool) -> tuple[float, str]:
    """Data through a stack's NAT a month, and how it was worked out (``nat_processed_gb`` or derived)."""
    u = ctx.usage
    if u["nat_processed_gb"] >= 0:
        return u["nat_processed_gb"], f"nat_processed_gb {fmt(u['nat_processed_gb'])}"
    parts = [(u["outbound_gb"], f"outbound_gb {fmt(u['outbound_gb'])}")]
    if pulls_via_nat:
        replicas = ctx.running_replicas()
        pulls = u["image_gb"] * replicas * u["deploys_per_month"]
        parts.append(
            (pulls, f"image pulls {fmt(u['image_gb'])} GB x {fmt(replicas)} replica(s) x {fmt(u['deploys_per_month'])}"
             " deploys")
        )
    if logs_via_nat:
        parts.append((u["app_log_gb"], f"app logs to the log API {fmt(u['app_log_gb'])}"))
    total = sum(gb for gb, _ in parts)
    return total, " + ".join(text for _, text in parts) + f" = {fmt(total)} GB"


@dataclass(frozen=True, kw_only=True)
class CapacityUnit:
    """What one load balancer capacity unit covers, per dimension (AWS LCU/NLCU, Azure App Gateway CU)."""

    new_per_second: float  # new connections (flows) per second
    active: float  # concurrently open connections
    gb_per_hour: float  # processed bytes
    rule_evals_per_second: float = 0.0  # 0 = not a dimension
    free_rules: int = 0


def capacity_units(ctx: Context, unit: CapacityUnit, rules: int = 0) -> tuple[float, str]:
    """Average capacity units a month: ``lb_capacity_units``, or the largest dimension of the traffic.

    Capacity units are billed per hour on the dimension that uses most; with every dimension proportional
    to traffic, the monthly unit-hours are the month's traffic on that dimension (no peak factor needed).
    """
    u = ctx.usage
    if u["lb_capacity_units"] >= 0:
        return u["lb_capacity_units"], f"lb_capacity_units {fmt(u['lb_capacity_units'])}"
    seconds = ctx.hours * 3600 or 1.0
    rps = u["requests_per_month"] / seconds
    new = rps / max(u["requests_per_connection"], 1.0)
    dims = {
        f"{new:.3g} new connections/s / {unit.new_per_second:g}": new / unit.new_per_second,
        f"{new * u['connection_seconds']:.3g} active connections / {unit.active:g}": new
        * u["connection_seconds"]
        / unit.active,
        f"{u['lb_processed_gb'] / (ctx.hours or 1):.3g} GB/h / {unit.gb_per_hour:g}": u["lb_processed_gb"]
        / (ctx.hours or 1)
        / unit.gb_per_hour,
    }
    if unit.rule_evals_per_second and rules > unit.free_rules:
        evals = rps * (rules - unit.free_rules)
        dims[f"{evals:.3g} rule evaluations/s / {unit.rule_evals_per_second:g}"] = evals / unit.rule_evals_per_second
    label, value = max(dims.items(), key=lambda kv: kv[1])
    return value, f"{value:.3g} units on average: {label} (largest of {len(dims)} dimensions)"
