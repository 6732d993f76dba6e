"""Shared fixtures: plans are cached per session (each plan runs the real program on the embedded engine)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from mbops.engine.plan import plan
from mbops.stacks.config import resolve

PROFILES = ("saas", "managed", "custom")
ENVIRONMENTS = ("dev", "prod")


@cache
def _planned(profile: str, cloud: str, environment: str) -> dict[str, Any]:
    return plan(resolve(profile=profile, cloud=cloud, environment=environment))


@pytest.fixture(scope="session")
def planned() -> Callable[[str, str, str], dict[str, Any]]:
    """planned(profile, cloud, env) -> the planned graph of the built-in profile (cached; do not mutate)."""
    return _planned


def resources(graph: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    """The graph's resources of one Pulumi type token."""
    return [r for r in graph["resources"] if r["type"] == type_token]


def one(graph: dict[str, Any], type_token: str) -> dict[str, Any]:
    """The single resource of ``type_token``; fails with the types present when there is not exactly one."""
    found = resources(graph, type_token)
    types = sorted({r["type"] for r in graph["resources"]})
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}; types: {types}"
    return found[0]
