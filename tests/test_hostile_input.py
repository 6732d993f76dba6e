"""Hostile and broken stack files: each is one line naming the file and what is wrong, exit 2, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbops.stacks.config import MAX_STACK_FILE_BYTES, MAX_YAML_NODES
from tests.test_local_helpers import local_env, mbops, mbops_process  # noqa: F401  (local_env is a fixture)

# Six levels of ten aliases: 10**6 values from 200 bytes (the "billion laughs" shape), under overrides.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 10) if prev else ', '.join(['x'] * 10)}]\n"
    for prev, name in zip(("", "a", "b", "c", "d", "e"), "abcdef", strict=True)
) + "components:\n  storage:\n    overrides:\n      bucket: {tags: *f}\n"

CASES: dict[str, tuple[bytes, str]] = {
    "alias bomb": (ALIAS_BOMB.encode(), f"expands to more than {MAX_YAML_NODES:,} values"),
    "over 1 MiB": (b"# " + b"x" * MAX_STACK_FILE_BYTES + b"\nprofile: managed\n",
                   f"a stack file may have at most {MAX_STACK_FILE_BYTES:,}"),
    "not UTF-8": (b'profile: managed\napp:\n  env: {GREETING: "caf\xe9"}\n',
                  "not UTF-8 text: byte 0xe9 at offset 44 cannot be decoded"),
    "empty": (b"", "the stack file is empty"),
    "only a comment": (b"# nothing here yet\n", "the stack file has no fields (only comments?)"),
    "unknown override argument": (b"cloud: aws\ncomponents:\n  storage:\n    overrides:\n"
                                  b"      bucket: {object_lock: 1}\n",
                                  "components.storage.overrides.bucket.object_lock: not an argument of the bucket; "
                                  "pulumi_aws.s3.bucket.Bucket takes: acceleration_status, acl, bucket"),
    "infinite usage": (b"usage:\n  requests_per_month: .inf\n", "usage.requests_per_month: Input should be a finite"),
    "NaN usage": (b"usage:\n  requests_per_month: .nan\n", "usage.requests_per_month: Input should be a finite"),
    "bad app.command": (b"app:\n  command: no-such-program --serve\n",
                        "app.command: 'no-such-program' is not a program on PATH"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_stack_file_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    content, expected = CASES[case]
    path = tmp_path / "stack.yaml"
    path.write_bytes(content)
    result = mbops("preview", "-f", str(path))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {path}: ") and "\n" not in result.output.strip(), result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output


def test_an_alias_bomb_is_refused_through_a_real_process_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    proc = mbops_process("preview", "-f", str(path), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "expands to more than" in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_app_command_is_found_before_anything_is_created(local_env: Path, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "stack.yaml"
    path.write_text("name: badcmd\napp:\n  command: no-such-program --serve\n")
    result = mbops("up", "-f", str(path))
    assert result.exit_code == 2, result.output
    assert "app.command: 'no-such-program' is not a program on PATH" in result.output
    assert not (local_env / "badcmd.json").exists() and not (local_env / "badcmd").exists()
