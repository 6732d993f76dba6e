"""The rule model shared by ``mbops policy check`` (planned graphs) and the CrossGuard pack (live resources).

A rule is metadata plus plain functions. ``checks`` maps a Pulumi type token (or a regular expression over it)
to a function ``(resource, context) -> messages`` over one resource dict of the planned-graph shape
(``type``, ``name``, ``urn``, ``inputs`` camelCase, ``component``, ``parent``, ``dependencies``, ``protect``).
``graph_check`` sees every resource at once for rules that link resources (a bucket and its policy, the rules of
one firewall) or look at the stack's outputs, and yields ``(resource or None, message)``. ``stack_check`` reads
what only mbops knows (the stack file's ``app.env``, in ``Context``) and yields messages about the stack.
A rule about the stack as a whole (its domain, its monitoring) reads ``Context.stack`` (``StackFacts``, offline)
and, when that is None (the CrossGuard pack has no stack file), judges the graph instead.

A security setting whose value is ``[computed]`` cannot be verified before deploy: checks say so with an
``Unverified`` message (``unverified(label)``). Offline it is a finding like any other; the CrossGuard pack defers
it to the update, when Pulumi knows the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from mbops.policies.values import SECRET, UNKNOWN, get, key_values

Severity = Literal["high", "medium", "low"]
Enforcement = Literal["mandatory", "advisory"]
Resource = dict[str, Any]

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
CLOUD_OF_PACKAGE = {"aws": "aws", "gcp": "gcp", "azure-native": "azure", "pulumi-python": "local"}


def cloud_of(type_token: str) -> str | None:
    """``aws`` / ``gcp`` / ``azure`` / ``local`` for a resource type token (dynamic resources are local)."""
    return CLOUD_OF_PACKAGE.get(type_token.split(":", 1)[0])


def component_of_urn(urn: str) -> str | None:
    """The mbops component kind in a URN's type chain (``...::mbops:aws:Database$aws:rds/...::name``)."""
    parts = urn.split("::", 3)
    if len(parts) < 4:
        return None
    for token in reversed(parts[2].split("$")):
        if token.startswith("mbops:"):
            return token.rsplit(":", 1)[1].lower()
    return None


class Unverified(str):
    """A message saying the security setting ``label`` cannot be verified before deploy: its value is
    ``[computed]``."""

    label: str

    def __new__(cls, label: str) -> Unverified:
        message = super().__new__(
            cls, f"{label} is computed at deploy time ([computed]): the plan cannot verify it; set a literal value"
        )
        message.label = label
        return message


def unverified(label: str) -> Unverified:
    return Unverified(label)


def unreadable(value: Any, label: str) -> str:
    """Why a policy document cannot be checked: computed at deploy time, hidden as a secret, or not JSON."""
    if value == UNKNOWN:
        return unverified(label)
    if value == SECRET:
        return f"{label} is a Pulumi secret: nobody can review what it allows; keep policy documents in plain text"
    return f"{label} is not a valid JSON document: it cannot be checked (nor applied)"


@dataclass(frozen=True, kw_only=True)
class StackFacts:
    """What the stack file says that a plan cannot show (offline only: the CrossGuard pack has no stack file).

    ``kinds`` are the stack's component kinds, ``notify`` its monitoring targets, ``app_image`` the prebuilt
    ``app.image`` (None when mbops builds the image from ``app.build``).
    """

    cloud: str
    domain: str | None = None
    kinds: frozenset[str] = frozenset()
    notify: tuple[str, ...] = ()
    app_image: str | None = None


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a rule may know besides the resource.

    ``environment`` is the stack's (mbops knows it; the pack reads it from its config); when None, a resource's
    own ``env`` tag/label decides, and a resource without one is not prod: prod-only rules stay quiet unless
    the stack is known to be prod. ``secrets_visible`` is True when Pulumi secrets are still marked (planned
    graphs show ``[secret]``); CrossGuard hands policies revealed values. ``app_env`` is the stack file's
    ``app.env`` and ``stack`` what else the stack file says (offline only: the pack has no stack file).
    """

    environment: str | None = None
    secrets_visible: bool = True
    app_env: Mapping[str, str] = field(default_factory=dict)
    stack: StackFacts | None = None

    def environment_of(self, resource: Resource) -> str | None:
        if self.environment:
            return self.environment
        inputs = resource.get("inputs") or {}
        for path in ("tags", "labels", "userLabels", "settings.userLabels"):
            tags = key_values(get(inputs, path))
            if tags and isinstance(tags.get("env"), str):
                return tags["env"].strip().lower()
        return None

    def prod(self, resource: Resource) -> bool:
        return self.environment_of(resource) == "prod"

    def stack_prod(self, graph: Graph | None) -> bool:
        """Whether the stack as a whole is prod: its environment, else any resource tagged ``env: prod``."""
        if self.environment:
            return self.environment == "prod"
        return any(self.environment_of(r) == "prod" for r in (graph.resources if graph else ()))


@dataclass(frozen=True, kw_only=True)
class Graph:
    """All resources of a stack (or a plan) and its outputs, with the links graph rules need."""

    resources: list[Resource]
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def of_type(self, *types: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.get("type") in types)

    @cached_property
    def _by_urn(self) -> dict[str, Resource]:
        return {r["urn"]: r for r in self.resources if r.get("urn")}

    def by_urn(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def dependents(self, resource: Resource, *types: str) -> list[Resource]:
        """Resources of ``types`` that depend on ``resource`` (e.g. the policies attached to a bucket)."""
        urn = resource.get("urn")
        return [r for r in self.of_type(*types) if urn and urn in (r.get("dependencies") or [])]

    def dependencies(self, resource: Resource, *types: str) -> list[Resource]:
        """Resources of ``types`` that ``resource`` depends on (e.g. the load balancer of a listener)."""
        found = (self.by_urn(urn) for urn in resource.get("dependencies") or [])
        return [r for r in found if r is not None and (not types or r.get("type") in types)]


Check = Callable[[Resource, Context], Iterable[str]]
GraphCheck = Callable[[Graph, Context], Iterable[tuple[Resource | None, str]]]
StackCheck = Callable[[Context], Iterable[str]]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One guardrail: what it demands, how bad a breach is, where it comes from, and how to fix it."""

    id: str
    title: str
    severity: Severity
    enforcement: Enforcement
    description: str
    remediation: str | Mapping[str, str]  # one hint, or per cloud (aws/gcp/azure/local)
    clouds: tuple[str, ...]
    enforcement_outside_prod: Enforcement | None = None  # e.g. advisory: mandatory in prod, advisory in dev
    controls: Mapping[str, str] = field(default_factory=dict)  # cloud or type token -> control id
    checks: Mapping[str, Check] = field(default_factory=dict)  # type token or "re:<pattern>" -> check
    graph_check: GraphCheck | None = None
    graph_types: tuple[str, ...] = ()  # the types a graph check reads (for listings)
    stack_check: StackCheck | None = None
    prod_only: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{2,62}", self.id):
            raise ValueError(f"rule id {self.id!r} must be lowercase words joined by '-'")
        if not self.checks and self.graph_check is None:
            raise ValueError(f"rule {self.id} has nothing to check")

    @property
    def resource_types(self) -> list[str]:
        found = [key.removeprefix("re:") for key in self.checks]
        return found + [t for t in self.graph_types if t not in found]

    def check_for(self, type_token: str) -> Check | None:
        """The check that applies to ``type_token`` (exact token first, then patterns)."""
        found = self.checks.get(type_token)
        if found is not None:
            return found
        for key, check in self.checks.items():
            if key.startswith("re:") and re.search(key[3:], type_token):
                return check
        return None

    def control_for(self, type_token: str | None) -> str | None:
        """The control a finding on ``type_token`` maps to ("" for a type means: none, despite its
        cloud's)."""
        if type_token and type_token in self.controls:
            return self.controls[type_token] or None
        cloud = cloud_of(type_token) if type_token else None
        return (self.controls.get(cloud) or None) if cloud else None

    def remediation_for(self, type_token: str | None, cloud: str | None = None) -> str:
        """The fix for a finding on ``type_token`` (or, for a stack-level finding, on a stack of ``cloud``)."""
        if isinstance(self.remediation, str):
            return self.remediation
        cloud = (cloud_of(type_token) if type_token else None) or cloud
        return self.remediation.get(cloud or "", "") or next(iter(self.remediation.values()), "")

    def control_summary(self) -> str:
        """Every control the rule maps to, for listings ("CIS AWS 2.3.3; CIS GCP 6.6")."""
        seen: list[str] = []
        for value in self.controls.values():
            for part in value.split("; "):
                if part and part not in seen:
                    seen.append(part)
        return "; ".join(seen)

    def enforcement_for(self, prod: bool) -> Enforcement:
        """The enforcement of a finding on a prod (or other) resource or stack."""
        if prod or self.enforcement_outside_prod is None:
            return self.enforcement
        return self.enforcement_outside_prod

    def applies(self, resource: Resource | None, ctx: Context, graph: Graph | None = None) -> bool:
        """Whether this rule judges ``resource``: a custom resource that is not being deleted, and for a
        prod-only rule, one of a prod stack (the one prod gate for offline checks and the pack). ``None`` is the
        stack as a whole (a prod-only rule judges it when ``graph``'s stack is prod)."""
        if resource is None:
            return not self.prod_only or ctx.stack_prod(graph)
        if not resource.get("custom", True) or resource.get("op") == "delete":
            return False
        return not self.prod_only or ctx.prod(resource)

    def violations(self, graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
        """Every (resource, message) this rule reports on ``graph``."""
        for resource in graph.resources:
            check = self.check_for(resource.get("type", ""))
            if check is not None and self.applies(resource, ctx):
                for message in check(resource, ctx):
                    yield resource, message
        if self.graph_check is not None:
            for resource, message in self.graph_check(graph, ctx):
                if self.applies(resource, ctx, graph):
                    yield resource, message
        if self.stack_check is not None and self.applies(None, ctx, graph):
            for message in self.stack_check(ctx):
                yield None, message
