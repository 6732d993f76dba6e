"""Stack config validation: every bad input is one clear line naming the file, the field and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli
from mbops.errors import ConfigError
from mbops.stacks.config import read_stack_file, resolve

BAD_FILES = {
    "unknown profile": ("profile: premium\n", "profile", "'saas', 'managed' or 'custom'"),
    "bad region": ("cloud: aws\nregion: us-east-9\n", "region", "did you mean us-east-2"),
    "region of another cloud": ("cloud: gcp\nregion: eastus\n", "region", "not a region of gcp"),
    "negative replicas": ("app:\n  min_replicas: -1\n", "app.min_replicas", "greater than or equal to 0"),
    "max below min": ("app:\n  min_replicas: 5\n  max_replicas: 2\n", "app", "below min_replicas"),
    "unknown field": ("profile: managed\ncolud: aws\n", "colud", "allowed: adopt, app, cloud, components"),
    "unknown component field": ("components:\n  database:\n    sise: large\n", "components.database.sise",
                                "allowed: backup_retention_days"),
    "component not in profile": ("profile: saas\ncomponents:\n  database: {}\n", "components.database",
                                 "the 'saas' profile has no database"),
    "plaintext secret": ("app:\n  secret_env: {API_KEY: hunter2}\n", "app.secret_env", "never a plaintext value"),
    "wired env var": ("app:\n  env: {DATABASE_URL: x}\n", "app.env", "set by mbops"),
    "malformed yaml": ("profile: managed\napp: [unclosed\n", "line 3, column 1", "malformed YAML"),
    "not a mapping": ("- a\n- b\n", "(top level)", "expected a mapping"),
    "bad size": ("components:\n  database:\n    size: huge\n", "components.database.size",
                 "'small', 'medium' or 'large'"),
    "adopt of an unknown kind": ("adopt: [databse.*]\n", "adopt", "kinds: network, "),
    "adopt without a child": ("adopt: [storage]\n", "adopt", "is not <kind>.<child> or <kind>.*"),
}  # fmt: skip


@pytest.fixture
def write(tmp_path: Path):
    def _write(text: str) -> Path:
        path = tmp_path / "stack.yaml"
        path.write_text(text)
        return path

    return _write


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_stack_file_is_one_clear_error_with_exit_2(case: str, write) -> None:
    text, field, allowed = BAD_FILES[case]
    path = write(text)
    result = CliRunner().invoke(cli, ["preview", "-f", str(path)])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith(f"Error: {path}: "), message
    assert field in message and allowed in message, message
    assert "Traceback" not in message


def test_missing_stack_file_names_the_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["preview", "-f", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml: no such stack file" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--profile", "premium"], "'premium' is not one of 'saas', 'managed', 'custom'"),
        (["--cloud", "oracle"], "'oracle' is not one of 'local', 'aws', 'gcp', 'azure'"),
        (["--env", "staging"], "'staging' is not one of 'dev', 'prod'"),
        (["--cloud", "azure", "--region", "west-europe"], "--region: 'west-europe' is not a region of azure"),
    ],
)
def test_bad_flag_is_exit_2_naming_the_flag(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["preview", *args])
    assert result.exit_code == 2
    assert expected in result.output


def test_flags_win_over_the_stack_file(write) -> None:
    path = write("profile: saas\ncloud: gcp\nenvironment: dev\nregion: europe-west1\n")
    stack = resolve(read_stack_file(path), source=str(path), cloud="aws", region="eu-west-1", environment="prod")
    assert (stack.profile, stack.cloud, stack.region, stack.environment) == ("saas", "aws", "eu-west-1", "prod")


def test_prod_changes_sizes_and_safety() -> None:
    dev, prod = resolve(profile="managed", cloud="aws"), resolve(profile="managed", cloud="aws", environment="prod")
    assert (dev.spec("database").ha, prod.spec("database").ha) == (False, True)
    assert prod.spec("database").deletion_protection and prod.spec("database").backup_retention_days >= 7
    assert prod.app.min_replicas > dev.app.min_replicas


def test_stack_file_settings_merge_over_profile_defaults(write) -> None:
    path = write("profile: managed\ncomponents:\n  database: {storage_gb: 50}\n  cache: false\n")
    stack = resolve(read_stack_file(path), source=str(path))
    assert stack.spec("database").storage_gb == 50
    assert stack.spec("database").backup_retention_days == 7  # the profile default survives
    assert not stack.has("cache")


def test_required_component_cannot_be_disabled(write) -> None:
    path = write("profile: managed\ncomponents:\n  database: false\n")
    with pytest.raises(ConfigError, match="cannot be disabled in the 'managed' profile; optional: cache"):
        resolve(read_stack_file(path), source=str(path))


def test_bad_input_through_a_real_process_has_no_traceback(write) -> None:
    path = write("app:\n  min_replicas: -3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mbops.cli", "preview", "--cloud", "aws", "-f", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"Error: {path}: app.min_replicas: Input should be greater than or equal to 0"
    assert proc.stdout == ""
