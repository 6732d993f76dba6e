"""The rule model shared by ``mbops policy check`` (planned graphs) and the CrossGuard pack (live resources).

A rule is metadata plus plain functions. ``checks`` maps a Pulumi type token (or a regular expression over it)
to a function ``(resource, context) -> messages`` over one resource dict of the planned-graph shape
(``type``, ``name``, ``urn``, ``inputs`` camelCase, ``component``, ``parent``, ``dependencies``, ``protect``).
``graph_check`` sees every resource at once for rules that link resources (a bucket and its policy) or look
at the stack's outputs, and yields ``(resource or None, message)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mbops.policies.values import get, key_values

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


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a rule may know besides the resource.

    ``environment`` is the stack's (mbops knows it); when None (a CrossGuard run without config) a resource's
    own ``env`` tag/label decides, then ``$MBOPS_ENV``. ``secrets_visible`` is True when Pulumi secrets are
    still marked (planned graphs show ``[secret]``); CrossGuard hands policies revealed values.
    """

    environment: str | None = None
    secrets_visible: bool = True

    def environment_of(self, resource: Resource) -> str | None:
        if self.environment:
            return self.environment
        inputs = resource.get("inputs") or {}
        for path in ("tags", "labels", "settings.userLabels"):
            tags = key_values(get(inputs, path))
            if tags and isinstance(tags.get("env"), str):
                return tags["env"]
        return os.environ.get("MBOPS_ENV")

    def prod(self, resource: Resource) -> bool:
        return self.environment_of(resource) == "prod"


@dataclass(frozen=True, kw_only=True)
class Graph:
    """All resources of a stack (or a plan) and its outputs, with the links graph rules need."""

    resources: list[Resource]
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def of_type(self, *types: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.get("type") in types)

    def dependents(self, resource: Resource, *types: str) -> list[Resource]:
        """Resources of ``types`` that depend on ``resource`` (e.g. the policies attached to a bucket)."""
        urn = resource.get("urn")
        return [r for r in self.of_type(*types) if urn and urn in (r.get("dependencies") or [])]


Check = Callable[[Resource, Context], Iterable[str]]
GraphCheck = Callable[[Graph, Context], Iterable[tuple[Resource | None, str]]]


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
    controls: Mapping[str, str] = field(default_factory=dict)  # cloud or type token -> control id
    checks: Mapping[str, Check] = field(default_factory=dict)  # type token or "re:<pattern>" -> check
    graph_check: GraphCheck | None = None
    prod_only: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{2,62}", self.id):
            raise ValueError(f"rule id {self.id!r} must be lowercase words joined by '-'")
        if not self.checks and self.graph_check is None:
            raise ValueError(f"rule {self.id} has nothing to check")

    @property
    def resource_types(self) -> list[str]:
        return [key.removeprefix("re:") for key in self.checks]

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

    def remediation_for(self, type_token: str | None) -> str:
        if isinstance(self.remediation, str):
            return self.remediation
        cloud = cloud_of(type_token) if type_token else None
        return self.remediation.get(cloud or "", "") or next(iter(self.remediation.values()), "")

    def control_summary(self) -> str:
        """Every control the rule maps to, for listings ("CIS AWS 2.3.3; CIS GCP 6.6")."""
        seen: list[str] = []
        for value in self.controls.values():
            for part in value.split("; "):
                if part and part not in seen:
                    seen.append(part)
        return "; ".join(seen)

    def violations(self, graph: Graph, ctx: Context) -> Iterator[tuple[Resource | None, str]]:
        """Every (resource, message) this rule reports on ``graph``."""
        for resource in graph.resources:
            if not resource.get("custom", True) or resource.get("op") == "delete":
                continue
            check = self.check_for(resource.get("type", ""))
            if check is None or (self.prod_only and not ctx.prod(resource)):
                continue
            for message in check(resource, ctx):
                yield resource, message
        if self.graph_check is not None:
            yield from self.graph_check(graph, ctx)
