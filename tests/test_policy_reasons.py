"""A rule lowered to advisory carries a reason a person can read: 10 visible characters, not zero-width or
other invisible characters (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from mbops.cli.main import cli
from mbops.stacks.config import PolicySettings

INVISIBLE = [
    pytest.param("\u200b" * 30, id="zero-width-spaces"),
    pytest.param("\u200c\u200d\u2060\ufeff" * 8, id="joiners-word-joiner-bom"),
    pytest.param("ok\u200b" + "\u200e\u200f\u202a\u202e" * 6, id="two-letters-and-direction-marks"),
    pytest.param(" \t\n\u00a0\u2003\u3000" * 5, id="spaces-of-every-kind"),
    pytest.param("\u3164" * 12 + "\u2800" * 12, id="hangul-filler-and-braille-blank"),
    pytest.param("a" + "\u0301" * 40, id="one-letter-under-combining-marks"),
    pytest.param("ticket\u200b\u200b\u200b\u200b", id="six-letters-padded-with-zero-width"),
    pytest.param("\x00\x07\x1b" * 10, id="control-characters"),
]
READABLE = [
    pytest.param("reachable from the office VPN only, ticket SEC-142", id="plain"),
    pytest.param("\u200bVPN\u200b only, SEC-142\u200b", id="visible-text-with-zero-width-around"),
    pytest.param("仅限办公室访问，工单一四二", id="non-latin-letters"),
]


@pytest.mark.parametrize("reason", INVISIBLE)
def test_invisible_reasons_are_refused(reason: str) -> None:
    with pytest.raises(ValidationError, match="at least 10 visible characters"):
        PolicySettings(advisory={"database-not-public": reason})


@pytest.mark.parametrize("reason", READABLE)
def test_readable_reasons_are_accepted(reason: str) -> None:
    assert PolicySettings(advisory={"database-not-public": reason}).advisory["database-not-public"] == reason


def test_policy_check_names_the_file_and_field_for_an_invisible_reason(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(json.dumps({"cloud": "local", "policy": {"advisory": {"database-not-public": "\u200b" * 40}}}))
    result = CliRunner().invoke(cli, ["policy", "check", "-f", str(stack)])
    assert result.exit_code == 2, result.output
    assert str(stack) in result.output and "policy.advisory" in result.output
    assert "visible characters" in result.output and "Traceback" not in result.output
