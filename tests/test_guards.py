"""Guards that hold on every target: a prod stack keeps prod, data is deleted only when confirmed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_local_helpers import local_env, mbops, write_stack  # noqa: F401  (local_env is a fixture)


@pytest.fixture
def sqlite(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv("MBOPS_LOCAL_DATABASE", "sqlite")
    return local_env


def _environment(state_dir: Path, name: str) -> str:
    import json

    return json.loads((state_dir / f"{name}.json").read_text())["environment"]


def test_up_without_an_environment_keeps_a_prod_stack_prod(sqlite: Path, tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path / "shop.yaml", name="shop", profile="custom")
    assert mbops("up", "-f", str(stack_file), "-e", "prod").exit_code == 0
    result = mbops("up", "-f", str(stack_file), "--json")  # no -e: the recorded environment wins
    assert result.exit_code == 0, result.output
    assert _environment(sqlite, "shop") == "prod"
    destroy = mbops("destroy", "-f", str(stack_file), "--delete-data")  # and so do the prod guards
    assert destroy.exit_code == 2 and "prod stack" in destroy.output


def test_turning_prod_into_dev_needs_a_confirmation(sqlite: Path, tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path / "shop.yaml", name="shop", profile="custom")
    assert mbops("up", "-f", str(stack_file), "-e", "prod").exit_code == 0
    refused = mbops("up", "-f", str(stack_file), "-e", "dev")
    assert refused.exit_code == 2, refused.output
    assert "deployed as prod" in refused.output and "--yes" in refused.output
    assert _environment(sqlite, "shop") == "prod"
    confirmed = mbops("up", "-f", str(stack_file), "-e", "dev", "--yes")
    assert confirmed.exit_code == 0, confirmed.output
    assert _environment(sqlite, "shop") == "dev"


def test_delete_data_without_yes_deletes_nothing_off_a_terminal(sqlite: Path, tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path / "notes.yaml", name="notes", profile="custom")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    refused = mbops("destroy", "-f", str(stack_file), "--delete-data")
    assert refused.exit_code == 2 and "pass --yes" in refused.output, refused.output
    assert (sqlite / "notes.json").exists(), "nothing was destroyed"
    assert mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes").exit_code == 0
    assert not (sqlite / "notes").exists()
