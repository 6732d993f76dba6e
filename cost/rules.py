"""What a price rule is: from one planned resource (and the usage assumptions) to charges on catalog SKUs.

Each cloud has a module ``mbops.cost.rules_<cloud>`` with ``RULES: {type token: rule}`` and ``FREE``
(type token or prefix -> why it costs nothing). A rule returns a list of ``Charge`` (catalog SKU x quantity),
``Free(reason)`` or ``Unpriced(why)``. Types no rule knows are listed as unpriced, never counted as zero.
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
    """``quantity`` units of catalog SKU ``sku``; ``detail`` says how the quantity was worked out."""

    sku: str
    quantity: float
    detail: str = ""


@dataclass(frozen=True)
class Free:
    reason: str


@dataclass(frozen=True)
class Unpriced:
    why: str


Outcome = list[Charge] | Free | Unpriced


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
    unit: str = "GB",
) -> list[Charge]:
    """Log ingestion, plus storage for the days kept beyond what ingestion includes (at most 12 months)."""
    charges = [Charge(sku=ingest_sku, quantity=gb, detail=detail)]
    if retention_days > included_days:
        months = min((retention_days - included_days) / 30, 12)
        kept = f"{fmt(gb)} {unit}/month kept {fmt(retention_days)} days ({fmt(included_days)} days included)"
        charges.append(Charge(sku=retention_sku, quantity=gb * months, detail=kept))
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
