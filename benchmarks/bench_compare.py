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
import resource, time
started = time.perf_counter()
from mbops.engine.plan import plan
from mbops.stacks.config import resolve
graph = plan(resolve(profile={profile!r}, cloud={cloud!r}, environment={env!r}))
assert graph["resources"] and graph["cost"]["monthly_total"] > 0
cpu = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - started, cpu.ru_utime + cpu.ru_stime)
"""

COMPARE = """
import resource, time
started = time.perf_counter()
from mbops.engine.compare import compare
result = compare(profile={profile!r}, environment={env!r}, clouds={clouds!r}, workers={workers})
assert not result.failed, result.failed
own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - started, own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime)
"""


def measure(code: str, repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds of ``code`` in a fresh interpreter over ``repeat`` runs (CPU: all processes)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if done.returncode != 0:
            raise SystemExit(f"benchmark run failed:\n{done.stderr[-3000:]}")
        wall, cpu = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
        best = min(best, (wall, cpu))
    return best


def run(profiles: list[str], env: str, repeat: int, workers: int) -> list[dict[str, object]]:
    rows = []
    for profile in profiles:
        single = {c: measure(SINGLE.format(profile=profile, cloud=c, env=env), repeat) for c in CLOUDS}
        whole, whole_cpu = measure(
            COMPARE.format(profile=profile, env=env, clouds=list(CLOUDS), workers=workers), repeat
        )
        slowest = max(wall for wall, _ in single.values())
        rows.append(
            {
                "profile": profile,
                "env": env,
                "single_s": {c: wall for c, (wall, _) in single.items()},
                "single_cpu_s": {c: cpu for c, (_, cpu) in single.items()},
                "compare_s": whole,
                "compare_cpu_s": whole_cpu,
                "ratio": whole / slowest,
                "target": TARGET,
                "within_target": whole / slowest <= TARGET,
            }
        )
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
    print(
        f"cpus: {os.cpu_count()}, load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
        f"workers: {args.workers}, best of {args.repeat}"
    )
    print("wall seconds (CPU seconds of all processes in brackets)")
    print(f"{'profile':8} {'aws':>13} {'gcp':>13} {'azure':>13} {'compare':>13} {'ratio':>6}  target <= {TARGET}")
    for row in rows:
        wall, cpu = row["single_s"], row["single_cpu_s"]
        assert isinstance(wall, dict) and isinstance(cpu, dict)
        cells = " ".join(f"{wall[c]:5.2f} [{cpu[c]:5.2f}]" for c in CLOUDS)
        print(
            f"{row['profile']:8} {cells} {row['compare_s']:5.2f} [{row['compare_cpu_s']:5.2f}] "
            f"{row['ratio']:6.2f}  {'ok' if row['within_target'] else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
