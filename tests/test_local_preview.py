"""`mbops preview` of a deployed local stack: the ops `up` would run, from the recorded state, touching nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_local_helpers import HAS_REDIS, local_env, mbops, processes_of, state_of, write_stack

__all__ = ["local_env"]


def ops_of(stack_file: Path) -> dict[str, str]:
    result = mbops("preview", "-f", str(stack_file), "--json")
    assert result.exit_code == 0, result.output
    graph = json.loads(result.output)
    return {r["component"]: r["op"] for r in graph["resources"] if r["custom"]}


@pytest.fixture
def deployed(local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    stack_file = write_stack(tmp_path / "stack.yaml", name="preview-me", app={"env": {"APP_GREETING": "one"}})
    result = mbops("up", "-f", str(stack_file), "--json")
    assert result.exit_code == 0, result.output
    return stack_file


def test_nothing_changed_previews_as_all_same(deployed: Path, local_env: Path) -> None:
    before = processes_of(state_of(local_env, "preview-me"))
    assert set(ops_of(deployed).values()) == {"same"}
    assert processes_of(state_of(local_env, "preview-me")) == before, "a preview must not touch processes"


def test_an_app_setting_previews_as_an_update_of_the_app_only(deployed: Path, tmp_path: Path) -> None:
    changed = write_stack(tmp_path / "changed.yaml", name="preview-me", app={"env": {"APP_GREETING": "two"}})
    ops = ops_of(changed)
    assert ops.pop("containers") == "update"
    assert set(ops.values()) == {"same"}, ops


@pytest.mark.skipif(not HAS_REDIS, reason="redis-server is not installed, so the stack has no cache to drop")
def test_a_dropped_component_previews_as_a_delete(deployed: Path, tmp_path: Path) -> None:
    changed = write_stack(
        tmp_path / "changed.yaml", name="preview-me", app={"env": {"APP_GREETING": "one"}}, components={"cache": False}
    )
    ops = ops_of(changed)
    assert ops["cache"] == "delete"
    assert ops["database"] == ops["storage"] == "same"


def test_the_plan_before_up_reads_the_state_folder_up_uses(local_env: Path, tmp_path: Path, monkeypatch) -> None:
    from mbops.engine.plan import plan
    from mbops.stacks.config import read_stack_file, resolve

    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    other = tmp_path / "other-state"
    stack_file = write_stack(tmp_path / "stack.yaml", name="elsewhere")
    result = mbops("up", "-f", str(stack_file), "--state-dir", str(other), "--json")
    try:
        assert result.exit_code == 0, result.output
        stack = resolve(read_stack_file(stack_file), source=str(stack_file))
        ops = {r["op"] for r in plan(stack, state_dir=str(other))["resources"] if r["custom"]}
        assert ops == {"same"}
        assert {r["op"] for r in plan(stack)["resources"] if r["custom"]} == {"create"}  # MBOPS_STATE_DIR has none
    finally:
        mbops("destroy", "-f", str(stack_file), "--state-dir", str(other), "--delete-data", "--yes")
