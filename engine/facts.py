"""What a planned graph configures, read from its resources' inputs — never from a table of what the code is
believed to do.

Each cloud's readers live in ``facts_<cloud>.py``:

- ``READERS``: resource type -> the facts about one resource (given the whole plan): high availability,
  scaling, network access, data protection, edge (TLS, WAF);
- ``ENTRIES``: resource type -> how a public entry resource serves (HTTPS, HTTP, TCP; HTTP only redirecting);
- ``WATCH``: resource type -> its monitoring role (alarm, uptime check, dashboard, budget, notification target);
- ``support(res, view)``: whether a resource is a helper the component runs for itself (a role-setup function or
  job, an authorizer, an alert forwarder, the environment that only hosts such jobs), not the service the kind
  offers: its settings (scaling, zones, access) are not the kind's capability.

``kind_facts``, ``door`` and ``watch`` combine them for a graph; the compare report and the diagrams read them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

from mbops.engine.fmt import number

# ha: redundancy and zones; scale: scale to zero, minimum replicas; access: who can reach it (private IP, public
# entry); data: passwords, encryption, backups; edge: HTTPS, certificates, TLS policy, WAF.
TOPICS = ("ha", "scale", "access", "data", "edge")
CLOUDS = ("aws", "gcp", "azure")
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


@dataclass(frozen=True)
class Fact:
    """One thing the plan configures, under a topic of ``TOPICS``."""

    topic: str
    text: str


@dataclass(frozen=True)
class Entry:
    """How one public entry resource serves: ``HTTPS``, ``HTTP`` or ``TCP`` on ``port``; ``redirect``: this
    listener only redirects plain HTTP to HTTPS (it serves nothing)."""

    protocol: str
    port: int | None = None
    redirect: bool = False


@dataclass
class Door:
    """How a component's public entry serves, from all its entry resources."""

    entries: list[Entry] = field(default_factory=list)

    @property
    def served(self) -> set[str]:
        return {e.protocol for e in self.entries if not e.redirect}

    @property
    def redirects(self) -> bool:
        return any(e.redirect for e in self.entries)

    @property
    def label(self) -> str:
        """``HTTPS``, ``HTTP``, ``HTTP + HTTPS`` or ``TCP :80`` (an L4 entry)."""
        served = self.served
        if served == {"HTTPS"} or (not served and self.redirects):
            return "HTTPS"
        if {"HTTP", "HTTPS"} <= served:
            return "HTTP + HTTPS"
        if served == {"HTTP"}:
            return "HTTP"
        tcp = sorted({e.port for e in self.entries if e.protocol == "TCP" and e.port})
        return "TCP" + (f" :{','.join(str(p) for p in tcp)}" if tcp else "")

    def describe(self) -> str:
        """The door as a sentence fragment for the capability notes."""
        served = self.served
        if served == {"HTTPS"} or (not served and self.redirects):
            return "HTTPS only" + (" (HTTP redirects to HTTPS)" if self.redirects else "")
        if {"HTTP", "HTTPS"} <= served:
            return "HTTP and HTTPS (plain HTTP is served, not redirected)"
        if served == {"HTTP"}:
            return "plain HTTP only: no TLS"
        return f"{self.label}: a layer-4 load balancer, no TLS termination"


class View:
    """A planned graph's custom resources (deleted ones excluded), by component kind and type."""

    def __init__(self, graph: dict[str, Any]) -> None:
        self.graph = graph
        self.cloud: str = graph["cloud"]
        self.resources = [r for r in graph["resources"] if r.get("custom") and r.get("op") != "delete"]

    def of(self, kind: str | None, *types: str) -> list[dict[str, Any]]:
        """Resources of ``kind`` (None: any kind) whose type is one of ``types`` (none given: any type)."""
        return [
            r
            for r in self.resources
            if (kind is None or r.get("component") == kind) and (not types or r["type"] in types)
        ]

    def has(self, kind: str | None, *types: str) -> bool:
        return bool(self.of(kind, *types))

    def kinds(self) -> list[str]:
        return list(dict.fromkeys(r["component"] for r in self.resources if r.get("component")))

    def users(self, res: dict[str, Any], *types: str) -> list[dict[str, Any]]:
        """The resources of ``types`` (any kind) that depend on ``res``."""
        return [r for r in self.resources if r["type"] in types and res["urn"] in (r.get("dependencies") or [])]


Reader = Callable[[dict[str, Any], View], Iterable[Fact]]
EntryReader = Callable[[dict[str, Any], View], Iterable[Entry]]


def get(value: Any, *path: str | int, default: Any = None) -> Any:
    """``value[path[0]][path[1]]...``; ``default`` where a step is missing (dicts by key, lists by index)."""
    for step in path:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return default
    return default if value is None else value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def plural(n: int, noun: str) -> str:
    return f"{number(n)} {noun}{'' if n == 1 else 's'}"


def password(view: View, kind: str, what: str, store: str, store_types: tuple[str, ...]) -> Fact:
    """Where ``what``'s password comes from: generated in the plan (a RandomPassword) and kept in ``store``."""
    generated = view.of(kind, PASSWORD_TYPE)
    kept = view.has(kind, *store_types)
    if generated:
        where = f", kept in {store}" if kept else ""
        lengths = sorted(
            {int(r["inputs"]["length"]) for r in generated if isinstance(r["inputs"].get("length"), int | float)}
        )
        size = f", {number(lengths[0])}+ characters" if lengths else ""
        return Fact("data", f"{what}: generated by mbops (random{size}){where}")
    return Fact("data", f"{what}: set from the stack's inputs" + (f", kept in {store}" if kept else ""))


@cache
def cloud_module(cloud: str) -> ModuleType | None:
    """The cloud's readers (``mbops.engine.facts_<cloud>``), None for clouds without any (local)."""
    if cloud not in CLOUDS:
        return None
    return importlib.import_module(f"mbops.engine.facts_{cloud}")


def _unique(facts: Iterable[Fact]) -> list[Fact]:
    return list(dict.fromkeys(facts))


def kind_facts(graph: dict[str, Any], kind: str, view: View | None = None) -> list[Fact]:
    """What the plan configures for ``kind``, in topic order, each fact once."""
    module = cloud_module(graph["cloud"])
    if module is None:
        return []
    view = view or View(graph)
    found: list[Fact] = []
    for res in view.of(kind):
        reader = module.READERS.get(res["type"])
        if reader is not None and not module.support(res, view):
            found.extend(reader(res, view))
    return sorted(_unique(found), key=lambda f: TOPICS.index(f.topic))


def door(graph: dict[str, Any], kind: str, view: View | None = None) -> Door | None:
    """How ``kind``'s public entry serves (None when it has no entry resource of its own)."""
    module = cloud_module(graph["cloud"])
    if module is None:
        return None
    view = view or View(graph)
    entries = [e for res in view.of(kind) for e in _entries(module, res, view)]
    return Door(entries) if entries else None


def _entries(module: ModuleType, res: dict[str, Any], view: View) -> Iterator[Entry]:
    reader = module.ENTRIES.get(res["type"])
    if reader is not None:
        yield from reader(res, view)


def origin(graph: dict[str, Any], kind: str, view: View | None = None) -> str:
    """How ``kind`` (a CDN or an edge in front of the app) reaches what it fronts: ``HTTPS``, ``HTTP``, ...;
    empty when the plan does not say."""
    module = cloud_module(graph["cloud"])
    if module is None:
        return ""
    view = view or View(graph)
    labels = [label for res in view.of(kind) if (read := module.ORIGINS.get(res["type"])) for label in read(res, view)]
    return " / ".join(dict.fromkeys(labels))


def tls(graph: dict[str, Any], kind: str, view: View | None = None) -> bool:
    """Whether the plan makes clients of ``kind`` (database, cache) use TLS."""
    module = cloud_module(graph["cloud"])
    check = getattr(module, "TLS", {}).get(kind) if module else None
    return bool(check and check(view or View(graph)))


WATCH_ROLES = ("alarm", "uptime", "dashboard", "budget", "notify", "logs")


def watch(graph: dict[str, Any], view: View | None = None) -> dict[str, Any]:
    """The monitoring a plan sets up: counts of alarms, uptime checks, dashboards, budgets, log routes,
    and the notification targets (``email ops@example.com``, ``webhook hooks.example.com``)."""
    module = cloud_module(graph["cloud"])
    out: dict[str, Any] = {"alarms": 0, "uptime_checks": 0, "dashboards": 0, "budgets": [], "notify": [],
                           "log_routes": 0}  # fmt: skip
    if module is None:
        return out
    view = view or View(graph)
    keys = {"alarm": "alarms", "uptime": "uptime_checks", "dashboard": "dashboards", "logs": "log_routes"}
    for res in view.resources:
        role = module.WATCH.get(res["type"])
        if role in keys:
            out[keys[role]] += 1
        elif role == "budget":
            out["budgets"].append(module.budget_amount(res))
        elif role == "notify":
            out["notify"].extend(module.targets(res))
    out["notify"] = list(dict.fromkeys(out["notify"]))
    return out


def watch_lines(summary: dict[str, Any]) -> list[str]:
    """The monitoring summary as short lines: ``12 alarms``, ``uptime check``, ``budget $500/month``, ..."""
    lines = []
    if summary["alarms"]:
        lines.append(plural(summary["alarms"], "alarm"))
    if summary["uptime_checks"]:
        lines.append(plural(summary["uptime_checks"], "uptime check"))
    if summary["dashboards"]:
        lines.append(plural(summary["dashboards"], "dashboard"))
    for amount in summary["budgets"]:
        lines.append(f"budget ${number(amount)}/month" if amount is not None else "budget")
    alerting = bool(lines)
    if not alerting:
        lines.append("no alarms, uptime checks, dashboards or budgets planned")
    if summary.get("log_routes"):
        lines.append(plural(summary["log_routes"], "log route"))
    if summary["notify"]:
        lines.append("alerts to " + ", ".join(summary["notify"]))
    elif alerting:
        lines.append("no notification target")
    return lines


def host_of(url: str) -> str:
    """The host of a webhook URL (its path and query may carry a token: never shown)."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "(url)"
