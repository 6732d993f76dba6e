"""The example stack files a newcomer starts from: each previews cleanly (no mandatory finding, exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mbops.cli.main import cli

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "stacks").glob("*.yaml"))


def test_there_is_one_example_per_cloud() -> None:
    clouds = {path.stem.split("-")[0] for path in EXAMPLES}
    assert clouds == {"local", "aws", "gcp", "azure"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_stack_previews_without_a_mandatory_finding(path: Path) -> None:
    result = CliRunner().invoke(cli, ["preview", "-f", str(path), "--json", "--fail-on", "mandatory"])
    assert result.exit_code == 0, result.output
    graph = json.loads(result.output)
    assert graph["stack"] == "notes" and graph["resources"]
