"""Monthly cost estimate of a planned graph, from the shipped price catalog and explicit usage assumptions.

``estimate(graph, stack)`` prices every custom resource of the graph with its cloud's rules
(``mbops.cost.rules_<cloud>``) on catalog SKUs, adds internet egress, and reports:

- ``items``: one line per charge (resource, SKU, unit price, quantity, monthly, the price list it comes from),
- ``free``: resources that cost nothing, each with the reason,
- ``unpriced``: resources (or charges) the catalog cannot price, each with why — never counted as zero,
- ``assumptions``: the usage values used (the preset's, overridden by the stack file's ``usage:``); ``-1`` marks
  a value worked out from the plan, and ``derived`` says how for each such key,
- ``catalog``: cloud, region, as-of date and sources of the prices.

A usage-driven item whose usage is 0 costs $0 and carries ``per_unit`` ("$0.045 per GB"): what it costs
once there is usage.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mbops.cost.catalog import Catalog, load_catalog
from mbops.cost.rules import COMMON_FREE, Charge, Context, Free, Unpriced, fmt, free_reason, per_unit
from mbops.cost.usage import DERIVED, PRESETS, USAGE, check_preset, resolve_usage

CURRENCY = "USD"
APP_KINDS = ("containers", "serverless", "servers")
MODEL_NOTES = [
    "List prices, on-demand, no commitments, discounts, taxes or support plans.",
    "Always-on resources run hours_per_month; app replicas run at the planned minimum unless usage.replicas is set.",
    "App compute is active for requests_per_month x avg_request_ms; always-on replicas of serverless containers "
    "bill the rest of the month at the idle rate.",
    "Free tiers are not deducted unless asked (--free-tiers or usage.free_tiers: 1), as the clouds' calculators "
    "do; allowances every account gets with the product (backup storage up to the database size, included log "
    "retention, the first load balancer rules) always apply.",
]


def estimate(
    graph: dict[str, Any], stack: Any, *, preset: str | None = None, free_tiers: bool | None = None
) -> dict[str, Any]:
    """The monthly cost estimate of ``graph`` (see the module docstring for the shape).

    ``preset`` picks the usage preset (default: the stack's ``usage_preset``, else ``small``); the stack
    file's ``usage:`` overrides single values. ``free_tiers`` True deducts free tiers, False ignores them,
    None leaves it to ``usage.free_tiers``.
    """
    overrides = dict(getattr(stack, "usage", None) or {})
    source = getattr(stack, "source", "stack")
    chosen = check_preset(preset or getattr(stack, "usage_preset", None))
    if free_tiers is not None:
        overrides["free_tiers"] = 1.0 if free_tiers else 0.0
    usage = resolve_usage(overrides, source=source, preset=chosen)
    cloud, region = graph["cloud"], graph["region"]
    result: dict[str, Any] = {
        "currency": CURRENCY,
        "monthly_total": 0.0,
        "by_component": {},
        "items": [],
        "free": [],
        "unpriced": [],
        "preset": chosen,
        "free_tiers": bool(usage["free_tiers"]),
        "assumptions": usage,
        "derived": {k: USAGE[k].derived for k, v in usage.items() if USAGE[k].derived and v == DERIVED},
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
            for part in outcome:
                if isinstance(part, Unpriced):  # one charge of a priced resource that the catalog cannot price
                    result["unpriced"].append({**base, "why": part.why, "partial": True})
                else:
                    pricer.add(base, part)

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
    """Turns charges into priced items, applying each SKU's allowances once per stack.

    ``included_quantity`` (a $0 first tier every account gets) always applies; ``free_quantity`` (a free
    tier) only when usage.free_tiers is 1.
    """

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
        for kind, allowance in (("included", price.included_quantity), ("free tier", price.free_quantity)):
            if not allowance or (kind == "free tier" and self.usage["free_tiers"] < 1):
                continue
            left = self.allowances.setdefault(f"{kind}:{charge.sku}", allowance)
            used = min(left, quantity)
            self.allowances[f"{kind}:{charge.sku}"] = left - used
            if used:
                quantity -= used
                detail = f"{detail}; less {kind} allowance of {fmt(used)} ({price.unit})".lstrip("; ")
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
        if charge.usage and not charge.quantity and not any(self.usage.get(k) for k in charge.usage):
            item["per_unit"] = per_unit(price.unit_price, price.unit)
            item["detail"] = f"{detail}; no usage assumed ({', '.join(charge.usage)} = 0)".lstrip("; ")
        self.result["items"].append(item)


def _egress(graph: dict[str, Any], usage: dict[str, float], pricer: _Pricer) -> None:
    """Internet egress of the app: not a resource, so charged to the app's component as its own line."""
    kinds = {r.get("component") for r in graph["resources"]}
    app = next((k for k in APP_KINDS if k in kinds), None)
    if app is None:
        return
    base = {"resource": "(internet egress)", "type": "data-transfer", "component": app}
    pricer.add(
        base,
        Charge(
            sku="egress.internet_gb",
            quantity=usage["egress_gb"],
            detail=f"egress_gb {fmt(usage['egress_gb'])}",
            usage=("egress_gb",),
        ),
    )


def usage_help() -> list[dict[str, Any]]:
    """The usage keys a stack file may set, with each preset's value and meaning (for docs and ``mbops cost``)."""
    return [
        {
            "key": k,
            "default": v.default,
            "presets": {name: v.preset(name) for name in PRESETS},
            "unit": v.unit,
            "help": v.help,
            "derived": v.derived,
        }
        for k, v in USAGE.items()
    ]
