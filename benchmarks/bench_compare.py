"""Benchmark: each single-cloud plan against the full parallel ``mbops compare``, per profile.

Every measurement runs in a fresh Python process, one after another (cold imports, as ``mbops preview`` and
``mbops compare`` run), and times from before ``import mbops`` to the finished result. The figure kept is the
best of ``--repeat`` runs. The target: compare / slowest single-cloud plan <= 1.3.

    /tmp/venv/bin/python benchmarks/bench_compare.py                  # all profiles, dev
    /tmp/venv/bin/python benchmarks/bench_compare.py --profiles managed --repeat 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CLOUDS = ("aws", "gcp", "azure")
TARGET = 1.3

SINGLE = """
import time
started = time.perf_counter()
from mbops.engine.plan import plan
from mbops.stacks.config import resolve
graph = plan(resolve(profile={profile!r}, cloud={cloud!r}, environment={env!r}))
assert graph["resources"] and graph["cost"]["monthly_total"] > 0
print(time.perf_counter() - started)
"""

COMPARE = """
import time
started = time.perf_counter()
from mbops.engine.compare import compare
result = compare(profile={profile!r}, environment={env!r}, clouds={clouds!r}, workers={workers})
assert not result.failed, result.failed
print(time.perf_counter() - started)
"""


def measure(code: str, repeat: int) -> float:
    """Best wall time (seconds) of ``code`` in a fresh interpreter, over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"benchmark run failed:\n{done.stderr[-3000:]}")
        best = min(best, float(done.stdout.strip().splitlines()[-1]))
    return best


def run(profiles: list[str], env: str, repeat: int, workers: int) -> list[dict[str, object]]:
    rows = []
    for profile in profiles:
        single = {c: measure(SINGLE.format(profile=profile, cloud=c, env=env), repeat) for c in CLOUDS}
        whole = measure(COMPARE.format(profile=profile, env=env, clouds=list(CLOUDS), workers=workers), repeat)
        slowest = max(single.values())
        rows.append({"profile": profile, "env": env, "single_s": single, "sum_single_s": sum(single.values()),
                     "compare_s": whole, "ratio": whole / slowest, "target": TARGET,
                     "within_target": whole / slowest <= TARGET})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="saas,managed,custom")
    parser.add_argument("--env", default="dev", choices=("dev", "prod"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=3, choices=(2, 3))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run([p for p in args.profiles.split(",") if p], args.env, args.repeat, args.workers)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"cpus: {os.cpu_count()}, load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"workers: {args.workers}, best of {args.repeat}")  # fmt: skip
    print(f"{'profile':10} {'aws':>7} {'gcp':>7} {'azure':>7} {'sum':>7} {'compare':>8} {'ratio':>6}  target <= {TARGET}")
    for row in rows:
        single = row["single_s"]
        assert isinstance(single, dict)
        print(f"{row['profile']:10} {single['aws']:7.2f} {single['gcp']:7.2f} {single['azure']:7.2f} "
              f"{row['sum_single_s']:7.2f} {row['compare_s']:8.2f} {row['ratio']:6.2f}  "
              f"{'ok' if row['within_target'] else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
