"""Check that a performance change leaves every built-in plan byte-identical.

``dump DIR`` plans all 24 built-in stacks (4 clouds x 3 profiles x dev/prod; the local ones against an empty
state folder at a fixed path, since local paths are derived from it) and writes each full planned graph —
resources, inputs, outputs, policy results, cost — as canonical JSON to ``DIR/<cloud>-<profile>-<env>.json``.
Canonical: keys sorted, and each resource's ``dependencies`` sorted (the SDK gathers them in a set, so their
order varies from run to run; as a set they are the same). ``compare A B`` reports every plan that differs
(and where). Run ``dump`` before and after the change, on the same tree otherwise, then ``compare``:

    python benchmarks/plans_identical.py dump /tmp/before
    ... change ...
    python benchmarks/plans_identical.py dump /tmp/after
    python benchmarks/plans_identical.py compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

CLOUDS = ("local", "aws", "gcp", "azure")
PROFILES = ("saas", "managed", "custom")
ENVIRONMENTS = ("dev", "prod")


def dump(folder: Path) -> int:
    """Plan every built-in stack in this process and write its canonical JSON; returns how many."""
    from mbops.engine.plan import plan
    from mbops.stacks.config import resolve

    folder.mkdir(parents=True, exist_ok=True)
    state_dir = Path(tempfile.gettempdir()) / "mbops-plans-identical-state"
    shutil.rmtree(state_dir, ignore_errors=True)
    count = 0
    for cloud in CLOUDS:
        for profile in PROFILES:
            for env in ENVIRONMENTS:
                graph = plan(resolve(profile=profile, cloud=cloud, environment=env), state_dir=str(state_dir))
                for resource in graph["resources"]:
                    resource["dependencies"] = sorted(resource["dependencies"])
                text = json.dumps(graph, sort_keys=True, indent=1)
                (folder / f"{cloud}-{profile}-{env}.json").write_text(text + "\n")
                count += 1
    shutil.rmtree(state_dir, ignore_errors=True)
    return count


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ, as a path (``resources[3].inputs.tags``)."""
    if type(a) is not type(b):
        return f"{path or '.'}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'after' if key not in a else 'before'}"
            if a[key] != b[key]:
                return first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path or '.'}: {a!r} != {b!r}"


def compare(before: Path, after: Path) -> int:
    """0 when both folders hold the same plans byte for byte; else 1, naming each difference."""
    names = sorted({p.name for p in before.glob("*.json")} | {p.name for p in after.glob("*.json")})
    differ = 0
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            print(f"{name}: only in {'after' if not a.exists() else 'before'}")
            differ += 1
        elif a.read_bytes() != b.read_bytes():
            print(f"{name}: differs at {first_difference(json.loads(a.read_text()), json.loads(b.read_text()))}")
            differ += 1
    print(f"{len(names) - differ} of {len(names)} plans identical")
    return 1 if differ or not names else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("folder", type=Path)
    both = sub.add_parser("compare")
    both.add_argument("before", type=Path)
    both.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        print(f"{dump(args.folder)} plans written to {args.folder}")
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
