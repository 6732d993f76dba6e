"""Diff two planned graphs (``mbops preview --json`` of a base and a head): what a change to a stack does.

``diff_plans(base, head)`` matches custom resources by URN and reports:

- ``added`` / ``removed``: resources only in head / only in base;
- ``changed``: resources whose inputs differ, each change by path (``tags.owner``, ``ingress[0].cidrBlocks``;
  JSON documents held in a string, like IAM policies, are compared as documents). Secrets stay ``[secret]``;
- ``replaced``: a change the provider makes by delete + create (``replace_inputs``: a replace-triggering input,
  or "may replace" where it depends), and unmatched resources paired by type and name (a type change, a rename,
  a new parent): Pulumi creates the new one and deletes the old one;
- ``cost``: monthly totals, the delta per component and per resource (from each graph's ``cost``);
- ``policy``: findings new in head, resolved since base, and head's mandatory/advisory counts.

``load_plan`` reads and checks a file (a ``ConfigError`` names the file and field), an empty file standing for
a stack that does not exist yet. ``parse_fail_on`` / ``failures`` evaluate ``--fail-on`` conditions.
The result is plain JSON (``mbops diff --format json``), versioned like the planned graph.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mbops.engine.replace_inputs import MAY, REPLACE, replacement, stateful
from mbops.errors import ConfigError

DIFF_VERSION = 1
GRAPH_VERSION = 1
SECRET = "[secret]"
_ABSENT = object()
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
# What a planned graph must have for a diff (the full contract: engine/planned-graph.schema.json).
GRAPH_FIELDS: dict[str, type | tuple[type, ...]] = {
    "stack": str, "profile": str, "cloud": str, "environment": str, "region": str,
    "resources": list, "policy": list, "cost": dict,
}  # fmt: skip
RESOURCE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "urn": str, "type": str, "name": str, "custom": bool, "inputs": dict,
}  # fmt: skip
SETTINGS = ("profile", "environment", "region")


# --- reading plans --------------------------------------------------------------------------------------------


def load_plan(path: str | Path) -> dict[str, Any] | None:
    """The planned graph in ``path``, or None when the file is empty (the stack is new in head)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a planned graph") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "expected a planned graph, the output of `mbops preview --json`"
        ) from None
    check_graph(data, str(path))
    return data


def check_graph(data: Any, source: str) -> None:
    """Raise ConfigError naming ``source`` and the field when ``data`` is not a version-1 planned graph."""
    hint = "expected a planned graph, the output of `mbops preview --json`"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): a JSON {type(data).__name__}, not an object; {hint}")
    if "version" not in data:
        raise ConfigError(f"{source}: version: missing; {hint}")
    if data["version"] != GRAPH_VERSION:
        raise ConfigError(
            f"{source}: version: {data['version']!r} is not supported; this mbops reads planned graphs of "
            f"version {GRAPH_VERSION} (plan both sides with the same mbops)"
        )
    for field, kind in GRAPH_FIELDS.items():
        if field not in data:
            raise ConfigError(f"{source}: {field}: missing; {hint}")
        if not isinstance(data[field], kind):
            raise ConfigError(f"{source}: {field}: expected {_kind(kind)}, got {type(data[field]).__name__}")
    for i, res in enumerate(data["resources"]):
        if not isinstance(res, dict):
            raise ConfigError(f"{source}: resources[{i}]: expected an object, got {type(res).__name__}")
        for field, kind in RESOURCE_FIELDS.items():
            if not isinstance(res.get(field), kind):
                got = "missing" if field not in res else f"got {type(res[field]).__name__}"
                raise ConfigError(f"{source}: resources[{i}].{field}: expected {_kind(kind)}, {got}")
    for i, finding in enumerate(data["policy"]):
        for field in ("rule", "resource"):
            if not isinstance(finding, dict) or not isinstance(finding.get(field), str):
                raise ConfigError(f"{source}: policy[{i}].{field}: expected a string")


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", list: "an array", dict: "an object", bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


# --- input changes --------------------------------------------------------------------------------------------


def key_path(path: str, key: str) -> str:
    """``path.key``, or ``path["key"]`` when the key is not a plain identifier (``tags["kubernetes.io/x"]``)."""
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _as_document(value: Any) -> Any:
    """A JSON object/array held in a string (IAM policies, container definitions), else ``_ABSENT``."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            doc = json.loads(value)
        except ValueError:
            return _ABSENT
        if isinstance(doc, dict | list):
            return doc
    return _ABSENT


def input_changes(base: Any, head: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf that differs between two input values: ``(path, base, head)``; ``_ABSENT`` marks a side
    without the value. Objects are compared key by key, lists element by element (elements equal on both sides
    are matched first, so one inserted rule does not shift every other one), JSON strings as documents."""
    if base == head:
        return []
    if isinstance(base, dict) and isinstance(head, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(base) | set(head), key=str):
            out += input_changes(base.get(key, _ABSENT), head.get(key, _ABSENT), key_path(path, str(key)))
        return out
    if isinstance(base, list) and isinstance(head, list):
        return _list_changes(base, head, path)
    base_doc, head_doc = _as_document(base), _as_document(head)
    if base_doc is not _ABSENT and head_doc is not _ABSENT:
        return input_changes(base_doc, head_doc, path)
    return [(path, base, head)]


def _list_changes(base: list[Any], head: list[Any], path: str) -> list[tuple[str, Any, Any]]:
    if len(base) == len(head):
        out: list[tuple[str, Any, Any]] = []
        for i, (b, h) in enumerate(zip(base, head, strict=True)):
            out += input_changes(b, h, f"{path}[{i}]")
        return out
    if all(not isinstance(v, dict | list) for v in (*base, *head)):
        return [(path, base, head)]  # a list of scalars reads best whole
    unmatched_head = list(range(len(head)))
    unmatched_base = []
    for i, value in enumerate(base):
        match = next((j for j in unmatched_head if head[j] == value), None)
        if match is None:
            unmatched_base.append(i)
        else:
            unmatched_head.remove(match)
    out = []
    for i, j in zip(unmatched_base, unmatched_head, strict=False):
        out += input_changes(base[i], head[j], f"{path}[{j}]")
    for i in unmatched_base[len(unmatched_head):]:
        out.append((f"{path}[{i}]", base[i], _ABSENT))
    for j in unmatched_head[len(unmatched_base):]:
        out.append((f"{path}[{j}]", _ABSENT, head[j]))
    return out


def _change(type_token: str, path: str, base: Any, head: Any) -> dict[str, Any]:
    change: dict[str, Any] = {"path": path, "replace": replacement(type_token, path)}
    if base is not _ABSENT:
        change["base"] = base
    if head is not _ABSENT:
        change["head"] = head
    return change


# --- resources ------------------------------------------------------------------------------------------------


def _desired(graph: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The custom resources a graph wants to exist (a local preview lists recorded ones to delete: not those)."""
    if graph is None:
        return {}
    return {r["urn"]: r for r in graph["resources"] if r["custom"] and r.get("op") != "delete"}


def _brief(res: dict[str, Any]) -> dict[str, Any]:
    return {"urn": res["urn"], "type": res["type"], "name": res["name"], "component": res.get("component"),
            "stateful": stateful(res["type"])}  # fmt: skip


def _pair_unmatched(
    removed: list[dict[str, Any]], added: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """Pairs (old, new, reason) of resources whose URN changed: same type and name under a new parent, same name
    with a new type, or the only resource of a type in a component renamed. Pulumi replaces each (no alias)."""
    pairs: list[tuple[dict[str, Any], dict[str, Any], str]] = []

    def take(key: Any, reason: Any, unique: bool = False) -> None:
        olds: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        news: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for r in removed:
            olds[key(r)].append(r)
        for r in added:
            news[key(r)].append(r)
        for k, old_list in olds.items():
            new_list = news.get(k, [])
            if not new_list or (unique and (len(old_list) != 1 or len(new_list) != 1)):
                continue
            for old, new in zip(old_list, new_list, strict=False):
                pairs.append((old, new, reason(old, new)))
                removed.remove(old)
                added.remove(new)

    take(lambda r: (r["type"], r["name"]), lambda o, n: "its parent changed, so its URN did (no alias maps them)")
    take(lambda r: r["name"], lambda o, n: f"its type changed from {o['type']}")
    take(lambda r: (r.get("component"), r["type"]), lambda o, n: f"renamed from {o['name']}", unique=True)
    return pairs


# Inputs that differ between two checkouts of the same code without changing what is deployed.
IGNORED_INPUTS: dict[str, frozenset[str]] = {
    "pulumi-python:dynamic/mbops:Image": frozenset({"context"}),  # the build context's absolute path
}


def _changes(res_type: str, base: Any, head: Any) -> list[dict[str, Any]]:
    ignored = IGNORED_INPUTS.get(res_type, frozenset())
    return [_change(res_type, *c) for c in input_changes(base, head) if c[0] not in ignored]


def resource_changes(base: dict[str, Any] | None, head: dict[str, Any]) -> dict[str, Any]:
    """Added, changed, replaced and removed custom resources, and how many are unchanged."""
    old, new = _desired(base), _desired(head)
    added = [new[u] for u in new if u not in old]
    removed = [old[u] for u in old if u not in new]
    out: dict[str, list[dict[str, Any]]] = {"added": [], "changed": [], "replaced": [], "removed": []}
    unchanged = 0
    for urn, res in new.items():
        if urn not in old:
            continue
        changes = _changes(res["type"], old[urn]["inputs"], res["inputs"])
        if not changes:
            unchanged += 1
            continue
        levels = {c["replace"] for c in changes}
        entry = {**_brief(res), "changes": changes}
        if REPLACE in levels or MAY in levels:
            forcing = [c["path"] for c in changes if c["replace"] == (REPLACE if REPLACE in levels else MAY)]
            verb = "forces" if REPLACE in levels else "may force"
            entry["certain"] = REPLACE in levels
            entry["reason"] = f"{', '.join(forcing)} {verb} replacement"
            out["replaced"].append(entry)
        else:
            out["changed"].append(entry)
    for before, after, reason in _pair_unmatched(removed, added):
        changes = _changes(after["type"], before["inputs"], after["inputs"])
        out["replaced"].append({
            **_brief(after), "certain": True, "reason": reason, "from": _brief(before), "changes": changes,
            "stateful": stateful(after["type"]) or stateful(before["type"]),
        })  # fmt: skip
    out["added"] = [_brief(r) for r in added]
    out["removed"] = [_brief(r) for r in removed]
    return {**out, "unchanged": unchanged}


# --- cost and policy ------------------------------------------------------------------------------------------


def _per_resource(cost: dict[str, Any]) -> dict[tuple[str | None, str], float]:
    totals: dict[tuple[str | None, str], float] = defaultdict(float)
    for item in cost.get("items") or []:
        totals[(item.get("component"), item.get("resource", "?"))] += float(item.get("monthly") or 0)
    return totals


def cost_changes(base: dict[str, Any] | None, head: dict[str, Any]) -> dict[str, Any] | None:
    """Monthly totals and deltas (in total, per component, per resource); None when head has no estimate."""
    head_cost = head.get("cost") or {}
    if "monthly_total" not in head_cost:
        return None
    base_cost = (base or {}).get("cost") or {}
    base_total = float(base_cost.get("monthly_total") or 0.0)
    head_total = float(head_cost["monthly_total"])
    delta = round(head_total - base_total, 2)
    base_parts, head_parts = base_cost.get("by_component") or {}, head_cost.get("by_component") or {}
    components = [
        {"component": c, "base": round(base_parts.get(c, 0.0), 2), "head": round(head_parts.get(c, 0.0), 2),
         "delta": round(head_parts.get(c, 0.0) - base_parts.get(c, 0.0), 2)}
        for c in sorted(set(base_parts) | set(head_parts))
    ]  # fmt: skip
    base_items, head_items = _per_resource(base_cost), _per_resource(head_cost)
    resources = [
        {"component": k[0], "resource": k[1], "base": round(base_items.get(k, 0.0), 2),
         "head": round(head_items.get(k, 0.0), 2), "delta": round(head_items.get(k, 0.0) - base_items.get(k, 0.0), 2)}
        for k in set(base_items) | set(head_items)
    ]  # fmt: skip
    resources = sorted((r for r in resources if r["delta"]), key=lambda r: (-abs(r["delta"]), r["resource"]))
    base_unpriced = {u.get("resource") for u in base_cost.get("unpriced") or []}
    return {
        "currency": head_cost.get("currency", "USD"),
        "base_total": round(base_total, 2),
        "head_total": round(head_total, 2),
        "delta": delta,
        "delta_percent": round(delta / base_total * 100, 1) if base_total else None,
        "by_component": sorted(components, key=lambda c: (-abs(c["delta"]), c["component"])),
        "resources": resources,
        "unpriced": [u for u in head_cost.get("unpriced") or [] if u.get("resource") not in base_unpriced],
        "unpriced_total": len(head_cost.get("unpriced") or []),
    }


def _finding_key(finding: dict[str, Any]) -> tuple[str, str]:
    return finding["rule"], finding["resource"]


def policy_changes(base: dict[str, Any] | None, head: dict[str, Any]) -> dict[str, Any]:
    """Findings new in head and resolved since base (matched by rule and resource), and head's counts."""
    old = {_finding_key(f): f for f in (base or {}).get("policy", [])}
    new = {_finding_key(f): f for f in head["policy"]}
    mandatory = sum(1 for f in head["policy"] if f.get("enforcement", "mandatory") == "mandatory")
    return {
        "new": [f for k, f in new.items() if k not in old],
        "resolved": [f for k, f in old.items() if k not in new],
        "unchanged": sum(1 for k in new if k in old),
        "head": {"mandatory": mandatory, "advisory": len(head["policy"]) - mandatory},
    }


# --- the diff -------------------------------------------------------------------------------------------------


def _side(graph: dict[str, Any] | None, label: str) -> dict[str, Any]:
    if graph is None:
        return {"label": label, "exists": False, "resources": 0}
    return {"label": label, "exists": True, **{f: graph[f] for f in SETTINGS},
            "resources": len(_desired(graph))}  # fmt: skip


def diff_plans(
    base: dict[str, Any] | None, head: dict[str, Any], *, base_label: str = "base", head_label: str = "head"
) -> dict[str, Any]:
    """The diff of two planned graphs of one stack (``base`` None: the stack is new); ConfigError when they
    plan different stacks or clouds."""
    if base is not None:
        for field in ("stack", "cloud"):
            if base[field] != head[field]:
                raise ConfigError(
                    f"{field}: {base_label} plans {field} '{base[field]}', {head_label} plans '{head[field]}'; "
                    f"diff two plans of the same stack on the same cloud"
                )
    resources = resource_changes(base, head)
    return {
        "version": DIFF_VERSION,
        "stack": head["stack"],
        "cloud": head["cloud"],
        "base": _side(base, base_label),
        "head": _side(head, head_label),
        "settings": [
            {"field": f, "base": base[f], "head": head[f]} for f in SETTINGS if base is not None and base[f] != head[f]
        ],
        "summary": {
            "add": len(resources["added"]), "change": len(resources["changed"]),
            "replace": len(resources["replaced"]), "remove": len(resources["removed"]),
            "unchanged": resources["unchanged"],
        },  # fmt: skip
        "resources": {k: resources[k] for k in ("added", "changed", "replaced", "removed")},
        "cost": cost_changes(base, head),
        "policy": policy_changes(base, head),
        "warnings": sorted(set(head.get("warnings") or []) - set((base or {}).get("warnings") or [])),
    }


# --- --fail-on ------------------------------------------------------------------------------------------------

FAIL_ON_HELP = "mandatory, advisory, cost-increase=PERCENT% or cost-increase=AMOUNT (per month)"


@dataclass(frozen=True)
class FailOn:
    """A ``--fail-on`` condition: ``mandatory``, ``advisory`` or ``cost-increase`` by a percent or an amount."""

    kind: str
    percent: float | None = None
    amount: float | None = None

    def __str__(self) -> str:
        if self.kind != "cost-increase":
            return self.kind
        return f"cost-increase={self.percent:g}%" if self.percent is not None else f"cost-increase={self.amount:g}"


def parse_fail_on(text: str) -> FailOn:
    """``mandatory`` | ``advisory`` | ``cost-increase=20%`` | ``cost-increase=50`` (or ``$50``), else ConfigError."""
    value = text.strip().lower()
    if value in ("mandatory", "advisory"):
        return FailOn(value)
    kind, sep, threshold = value.partition("=")
    if kind == "cost-increase" and sep:
        threshold = threshold.strip().lstrip("$")
        percent = threshold.endswith("%")
        try:
            number = float(threshold.rstrip("%"))
        except ValueError:
            number = -1.0
        if number >= 0:
            return FailOn("cost-increase", percent=number if percent else None, amount=None if percent else number)
    raise ConfigError(f"--fail-on '{text}': not a condition; allowed: {FAIL_ON_HELP}")


def failures(diff: dict[str, Any], conditions: list[FailOn]) -> list[str]:
    """Why each triggered condition fails the diff (empty: none did). See ``mbops diff --help``."""
    reasons = []
    policy = diff["policy"]
    for cond in conditions:
        if cond.kind == "mandatory" and policy["head"]["mandatory"]:
            reasons.append(f"{cond}: head has {policy['head']['mandatory']} mandatory policy finding(s)")
        elif cond.kind == "advisory":
            if policy["head"]["mandatory"]:
                reasons.append(f"{cond}: head has {policy['head']['mandatory']} mandatory policy finding(s)")
            elif policy["new"]:
                reasons.append(f"{cond}: head adds {len(policy['new'])} policy finding(s)")
        elif cond.kind == "cost-increase":
            cost = diff["cost"]
            if cost is None:
                raise ConfigError(f"--fail-on {cond}: the head plan has no cost estimate (cost.monthly_total)")
            reason = _cost_failure(cond, cost)
            if reason:
                reasons.append(reason)
    return reasons


def _cost_failure(cond: FailOn, cost: dict[str, Any]) -> str | None:
    delta, base_total = cost["delta"], cost["base_total"]
    money = f"{delta:+,.2f} {cost['currency']}/month ({base_total:,.2f} -> {cost['head_total']:,.2f})"
    if cond.amount is not None:
        return f"{cond}: cost changes by {money}" if delta > cond.amount else None
    if delta <= 0:
        return None
    if not base_total:
        return f"{cond}: cost rises from nothing: {money}"
    percent = delta / base_total * 100
    return f"{cond}: cost rises {percent:.1f}%: {money}" if percent > (cond.percent or 0.0) else None
