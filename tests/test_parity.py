"""Parity: one stack file deploys to any cloud by changing `cloud:` alone, so every cloud must build every
component kind a profile names — or declare, with a reason and an alternative, that it cannot."""

from __future__ import annotations

import pytest

from mbops.components.spec import KINDS
from mbops.stacks.config import resolve
from mbops.stacks.wiring import registry
from tests.conftest import ENVIRONMENTS, PROFILES

CLOUDS = ("aws", "gcp", "azure", "local")


def built_kinds(graph: dict) -> set[str]:
    """Kinds with a component in the graph (the local network is a component with no children: loopback)."""
    return {r["component"] for r in graph["resources"] if r["component"]}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_kind_is_built_or_declared_unavailable(planned, profile: str, cloud: str, environment: str) -> None:
    graph = planned(profile, cloud, environment)
    wanted = set(resolve(profile=profile, cloud=cloud, environment=environment).components)
    declared = {gap["kind"]: gap for gap in graph["unavailable"]}
    missing = wanted - built_kinds(graph) - set(declared)
    assert not missing, f"{profile} on {cloud} silently drops {sorted(missing)}"
    for kind, gap in declared.items():
        assert kind in wanted, f"{cloud} declares a gap for {kind}, which {profile} does not use"
        assert len(gap["reason"]) > 20, f"{cloud}: the {kind} gap needs a reason"
        assert gap["alternative"], f"{cloud}: the {kind} gap needs an alternative"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_cloud_registers_a_factory_for_every_kind(cloud: str) -> None:
    """A kind a cloud cannot provide is still registered, with a factory that returns a Gap saying why."""
    assert set(registry(cloud).FACTORIES) == set(KINDS)


@pytest.mark.parametrize("profile", PROFILES)
def test_clouds_differ_only_by_declared_gaps(planned, profile: str) -> None:
    kinds = {}
    for cloud in ("aws", "gcp", "azure"):
        graph = planned(profile, cloud, "prod")
        wanted = set(resolve(profile=profile, cloud=cloud, environment="prod").components)
        # A cloud may build more than the profile names to support it (Azure gives saas prod a VNet for its
        # private endpoints): only the profile's kinds must match.
        kinds[cloud] = (built_kinds(graph) & wanted) | {gap["kind"] for gap in graph["unavailable"]}
    assert kinds["aws"] == kinds["gcp"] == kinds["azure"], kinds


CORE_OUTPUTS = {
    "saas": {"endpoint", "bucket", "document_table"},
    "managed": {"endpoint", "bucket", "database_host", "redis_host"},
    "custom": {"endpoint", "bucket", "database_host"},
}


@pytest.mark.parametrize("cloud", ("aws", "gcp", "azure"))
@pytest.mark.parametrize("profile", PROFILES)
def test_every_cloud_exports_the_same_core_outputs(planned, profile: str, cloud: str) -> None:
    outputs = set(planned(profile, cloud, "dev")["outputs"])
    assert CORE_OUTPUTS[profile] <= outputs, f"{cloud} lacks {sorted(CORE_OUTPUTS[profile] - outputs)}"
