"""mbops's .dockerignore rules agree with the docker SDK's on generated contexts (the image's content digest
must cover exactly the files a build sends)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from mbops.components.dockerignore import context_files

NAMES = ["app.py", "README.md", "Dockerfile", "x.pyc", ".env", "data", "node_modules", "src", "tests", "a b", "UP.TXT"]
PATTERNS = [
    "*.pyc", "**/*.pyc", ".env", "node_modules", "node_modules/**", "!node_modules/keep.py", "tests/", "src/**/x.pyc",
    "*.md", "!README.md", "data/*", "!data/keep", "**/__pycache__", "/src/a b", "./tests", "sub/../tests", "[a-c]*",
    "?pp.py", "up.txt", "# a comment", "", "**", "!src", "*/x.pyc",
]  # fmt: skip


def _tree(root: Path, rng: random.Random, depth: int = 0) -> None:
    for name in rng.sample(NAMES, k=rng.randint(2, 6)):
        path = root / name
        if depth < 3 and rng.random() < 0.35 and "." not in name:
            path.mkdir(exist_ok=True)
            _tree(path, rng, depth + 1)
        elif not path.exists() and name != "Dockerfile":
            path.write_text(name)
    if rng.random() < 0.3:
        (root / "keep.py").write_text("keep")


@pytest.mark.parametrize("seed", range(40))
def test_context_files_match_the_docker_sdk(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    _tree(tmp_path, rng)
    if not (tmp_path / "Dockerfile").is_dir():
        (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    patterns = rng.sample(PATTERNS, k=rng.randint(0, 8))
    (tmp_path / ".dockerignore").write_text("\n".join(patterns) + "\n")
    rules = [p.strip() for p in patterns if p.strip() and not p.startswith("#")]
    expected = sorted(exclude_paths(str(tmp_path), rules))
    assert context_files(tmp_path) == expected, patterns
