"""Monthly cost estimate of a planned graph, from the shipped price catalog and explicit usage assumptions.

``estimate(graph, stack)`` prices every custom resource of the graph with its cloud's rules
(``mbops.cost.rules_<cloud>``) on catalog SKUs, adds internet egress, and reports:

- ``items``: one line per charge (resource, SKU, unit price, quantity, monthly, the price list it comes from),
- ``free``: resources that cost nothing, each with the reason,
- ``unpriced``: resources (or charges) the catalog cannot price, each with why — never counted as zero,
- ``assumptions``: the usage values used (defaults overridden by the stack file's ``usage:``),
- ``catalog``: cloud, region, as-of date and sources of the prices.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mbops.cost.catalog import Catalog, load_catalog
from mbops.cost.rules import COMMON_FREE, Charge, Context, Free, Unpriced, fmt, free_reason
from mbops.cost.usage import USAGE, resolve_usage

CURRENCY = "USD"
APP_KINDS = ("containers", "serverless", "servers")
MODEL_NOTES = [
    "List prices, on-demand, no commitments, discounts, taxes or support plans.",
    "Always-on resources run hours_per_month; app replicas run at the planned minimum unless usage.replicas is set.",
    "Scale-to-zero compute is billed for requests_per_month x avg_request_ms of active time.",
    "free_tiers=1 deducts permanent monthly free allowances once per stack (they are per account in reality).",
]


def estimate(graph: dict[str, Any], stack: Any) -> dict[str, Any]:
    """The monthly cost estimate of ``graph`` (see the module docstring for the shape)."""
    overrides = dict(getattr(stack, "usage", None) or {})
    usage = resolve_usage(overrides, source=getattr(stack, "source", "stack"))
    cloud, region = graph["cloud"], graph["region"]
    result: dict[str, Any] = {
        "currency": CURRENCY,
        "monthly_total": 0.0,
        "by_component": {},
        "items": [],
        "free": [],
        "unpriced": [],
        "assumptions": usage,
        "overridden": sorted(overrides),
        "notes": list(MODEL_NOTES),
    }
    if cloud == "local":
        result["catalog"] = {
            "cloud": "local",
            "region": region,
            "as_of": None,
            "sources": [],
            "method": "runs on this machine: no cloud charges",
        }
        result["free"] = [
            {
                "resource": r["name"],
                "type": r["type"],
                "component": r.get("component"),
                "reason": "runs on this machine",
            }
            for r in graph["resources"]
            if r.get("custom")
        ]
        return result

    catalog = load_catalog(cloud)
    rules = importlib.import_module(f"mbops.cost.rules_{cloud}")
    free_types = {**COMMON_FREE, **rules.FREE}
    ctx = Context(graph=graph, stack=stack, usage=usage)
    pricer = _Pricer(catalog=catalog, region=region, usage=usage, result=result)

    for res in graph["resources"]:
        if not res.get("custom") or res.get("op") == "delete":
            continue
        base = {"resource": res["name"], "type": res["type"], "component": res.get("component")}
        rule = rules.RULES.get(res["type"])
        if rule is None:
            reason = free_reason(res["type"], free_types)
            if reason:
                result["free"].append({**base, "reason": reason})
            else:
                result["unpriced"].append({**base, "why": f"no price rule for {res['type']} in the {cloud} catalog"})
            continue
        try:
            outcome = rule(res, ctx)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            outcome = Unpriced(f"the price rule could not read this resource's inputs ({type(exc).__name__}: {exc})")
        if isinstance(outcome, Free):
            result["free"].append({**base, "reason": outcome.reason})
        elif isinstance(outcome, Unpriced):
            result["unpriced"].append({**base, "why": outcome.why})
        else:
            for charge in outcome:
                pricer.add(base, charge)

    _egress(graph, usage, pricer)
    totals: dict[str, float] = defaultdict(float)
    for item in result["items"]:
        totals[item["component"] or "(stack)"] += item["monthly"]
    result["by_component"] = {k: round(v, 2) for k, v in sorted(totals.items())}
    result["monthly_total"] = round(sum(i["monthly"] for i in result["items"]), 2)
    result["catalog"] = catalog.summary(region)
    result["catalog"]["sources"] = sorted({item["source"] for item in result["items"]})  # the lists actually used
    return result


@dataclass(kw_only=True)
class _Pricer:
    """Turns charges into priced items, applying each SKU's free allowance once per stack."""

    catalog: Catalog
    region: str
    usage: dict[str, float]
    result: dict[str, Any]
    allowances: dict[str, float] = field(default_factory=dict)

    def add(self, base: dict[str, Any], charge: Charge) -> None:
        try:
            price = self.catalog.price(charge.sku, self.region)
        except KeyError:
            self.result["unpriced"].append(
                {
                    **base,
                    "sku": charge.sku,
                    "why": f"the {self.catalog.cloud} catalog has no price for SKU '{charge.sku}'",
                }
            )
            return
        quantity, detail = charge.quantity, charge.detail
        if price.free_quantity and self.usage["free_tiers"] >= 1:
            left = self.allowances.setdefault(charge.sku, price.free_quantity)
            used = min(left, quantity)
            self.allowances[charge.sku] = left - used
            if used:
                quantity -= used
                detail = f"{detail}; less free allowance of {fmt(used)} ({price.unit})".lstrip("; ")
        item = {
            **base,
            "sku": charge.sku,
            "description": price.description,
            "unit_price": price.unit_price,
            "quantity": round(quantity, 6),
            "unit": price.unit,
            "monthly": round(price.unit_price * quantity, 4),
            "detail": detail,
            "source": price.source,
            "as_of": price.as_of,
        }
        if price.note:
            item["note"] = price.note
        self.result["items"].append(item)


def _egress(graph: dict[str, Any], usage: dict[str, float], pricer: _Pricer) -> None:
    """Internet egress of the app: not a resource, so charged to the app's component as its own line."""
    kinds = {r.get("component") for r in graph["resources"]}
    app = next((k for k in APP_KINDS if k in kinds), None)
    if app is None or not usage["egress_gb"]:
        return
    base = {"resource": "(internet egress)", "type": "data-transfer", "component": app}
    pricer.add(
        base,
        Charge(
            sku="egress.internet_gb",
            quantity=usage["egress_gb"],
            detail=f"egress_gb {fmt(usage['egress_gb'])}",
        ),
    )


def usage_help() -> list[dict[str, Any]]:
    """The usage keys a stack file may set, with defaults and meaning (for docs and ``mbops cost``)."""
    return [{"key": k, "default": v.default, "unit": v.unit, "help": v.help} for k, v in USAGE.items()]
