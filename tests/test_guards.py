"""Guards that hold on every target: a prod stack keeps prod, data is deleted only when confirmed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from tests.test_local_helpers import (  # noqa: F401  (local_env is a fixture)
    kill,
    local_env,
    mbops,
    processes_of,
    state_of,
    write_stack,
)


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


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at a terminal (stdin and stdout are ttys, not CI): prompts are asked, answered by the runner's input."""
    monkeypatch.setattr("mbops.engine.automation.is_interactive", lambda env=None: True)


def test_delete_data_on_a_terminal_asks_and_no_deletes_nothing(sqlite: Path, tmp_path: Path, terminal: None) -> None:
    stack_file = write_stack(tmp_path / "notes.yaml", name="notes", profile="custom")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    declined = CliRunner().invoke(cli, ["destroy", "-f", str(stack_file), "--delete-data"], input="n\n")
    assert "Delete stack notes and its data" in declined.output, declined.output
    assert declined.exit_code == 2 and "cancelled: nothing was deleted" in declined.output, declined.output
    assert (sqlite / "notes.json").exists() and (sqlite / "notes").exists()
    accepted = CliRunner().invoke(cli, ["destroy", "-f", str(stack_file), "--delete-data"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert not (sqlite / "notes").exists()


def test_prod_to_dev_on_a_terminal_is_a_question(sqlite: Path, tmp_path: Path, terminal: None) -> None:
    stack_file = write_stack(tmp_path / "shop.yaml", name="shop", profile="custom")
    assert mbops("up", "-f", str(stack_file), "-e", "prod").exit_code == 0
    declined = CliRunner().invoke(cli, ["up", "-f", str(stack_file), "-e", "dev"], input="n\n")
    assert "is deployed as prod; deploy it as dev" in declined.output and declined.exit_code == 2, declined.output
    assert _environment(sqlite, "shop") == "prod"
    accepted = CliRunner().invoke(cli, ["up", "-f", str(stack_file), "-e", "dev"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert _environment(sqlite, "shop") == "dev"
    assert mbops("destroy", "-f", str(stack_file), "--delete-data", "--yes").exit_code == 0


def test_no_prompt_in_ci_even_on_a_terminal() -> None:
    from mbops.engine.automation import is_interactive

    assert not is_interactive({"CI": "true"})


def test_refresh_exit_code_is_2_on_drift_and_0_without(sqlite: Path, tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path / "drift.yaml", name="drift", profile="custom")
    assert mbops("up", "-f", str(stack_file)).exit_code == 0
    clean = mbops("refresh", "-f", str(stack_file), "--exit-code")
    assert clean.exit_code == 0, clean.output
    app = next(v for k, v in processes_of(state_of(sqlite, "drift")).items() if k.endswith("app-process"))
    kill(*app)
    drifted = mbops("refresh", "-f", str(stack_file), "--exit-code")
    assert drifted.exit_code == 2, drifted.output
    assert "drift-app-process" in drifted.output
    assert mbops("refresh", "-f", str(stack_file)).exit_code == 0  # without the flag drift is a report, not a failure


def test_preview_fail_on_mandatory_exits_3(tmp_path: Path) -> None:
    """A prod stack without a domain breaks the mandatory prod-domain rule: a plain preview reports it (exit 0), CI's
    `--fail-on mandatory` fails on it (exit 3), and a clean stack passes both."""
    args = ["preview", "--cloud", "aws", "--profile", "managed", "-e", "prod"]
    assert mbops(*args).exit_code == 0
    failed = mbops(*args, "--fail-on", "mandatory")
    assert failed.exit_code == 3 and "prod-domain" in failed.output, failed.output
    stack_file = tmp_path / "ok.yaml"
    stack_file.write_text("cloud: aws\nprofile: managed\nenvironment: prod\ndomain: api.example.com\n"
                          "components:\n  monitoring: {notify: [email:ops@example.com]}\n")  # fmt: skip
    assert mbops("preview", "-f", str(stack_file), "--fail-on", "mandatory").exit_code == 0


def test_port_auto_is_for_the_local_cloud_only() -> None:
    result = mbops("up", "--cloud", "aws", "--port", "auto", "--yes")
    assert result.exit_code == 2 and "only the local cloud picks a free port" in result.output, result.output
