"""The layers import one way: cli -> engine -> stacks -> components -> the Pulumi SDKs.

``policies`` and ``cost`` read planned graphs and the stack model; ``mbops`` (errors, host helpers) is the base
every layer may use. Function-level imports count too: a cycle hidden inside a function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"cli": "cli", "engine": "engine", "stacks": "stacks", "components": "components", "policies": "policies",
          "cost": "cost", "mbops": "mbops"}  # fmt: skip
# What each layer may import from mbops (besides itself).
ALLOWED: dict[str, set[str]] = {
    "mbops": set(),
    "components": {"mbops"},
    "stacks": {"mbops", "components"},
    "policies": {"mbops", "components", "stacks"},
    "cost": {"mbops", "components", "stacks"},
    "engine": {"mbops", "components", "stacks", "policies", "cost"},
    "cli": {"mbops", "components", "stacks", "policies", "cost", "engine"},
}
# Within components: the clouds never import each other; only the neutral modules (components/*.py) are shared.
NEUTRAL_COMPONENTS = {p.stem for p in (ROOT / "components").glob("*.py")}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "mbops" or name.startswith("mbops.")]


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "mbops"


def _sources() -> list[Path]:
    return sorted(p for layer in LAYERS.values() for p in (ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_one_way(path: Path) -> None:
    layer = path.relative_to(ROOT).parts[0]
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name} ({_layer_of(name)} is above {layer})"
        for line, name in _imports(path)
        if _layer_of(name) != layer and _layer_of(name) not in ALLOWED[layer]
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", sorted((ROOT / "components").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_clouds_do_not_import_each_other(path: Path) -> None:
    parts = path.relative_to(ROOT / "components").parts
    own = parts[0] if len(parts) > 1 else None
    bad = []
    for line, name in _imports(path):
        pieces = name.split(".")
        if len(pieces) > 2 and pieces[1] == "components" and pieces[2] not in NEUTRAL_COMPONENTS and pieces[2] != own:
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)
