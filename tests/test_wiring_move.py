"""The move to one stack wiring changes no plan: every profile x cloud x env, resource by resource.

The plans were captured before the move (``tests/data/plans-before-wiring``); this test and the captured
copies are deleted once the move has landed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mbops.engine.plan import plan
from mbops.stacks.config import resolve

BEFORE = Path(__file__).parent / "data" / "plans-before-wiring"
CASES = sorted(p.stem for p in BEFORE.glob("*.json"))


def _comparable(resource: dict) -> dict:
    return {**resource, "dependencies": sorted(resource["dependencies"])}


@pytest.mark.parametrize("case", CASES)
def test_plan_is_unchanged_by_the_wiring_move(case: str, tmp_path: Path) -> None:
    profile, cloud, env = case.split("-")
    before = json.loads((BEFORE / f"{case}.json").read_text())
    graph = plan(resolve(profile=profile, cloud=cloud, environment=env), with_cost=False, with_policy=False,
                 state_dir="/tmp/nostate")  # fmt: skip
    now = {r["urn"]: _comparable(r) for r in graph["resources"]}
    was = {r["urn"]: _comparable(r) for r in before["resources"]}
    assert sorted(now) == sorted(was), f"{case}: resources added {set(now) - set(was)}, gone {set(was) - set(now)}"
    for urn, resource in was.items():
        assert now[urn] == resource, f"{case}: {urn} changed"
    assert graph["outputs"] == before["outputs"]
    assert graph["unavailable"] == before["unavailable"]
    assert sorted(graph["warnings"]) == sorted(before["warnings"])
