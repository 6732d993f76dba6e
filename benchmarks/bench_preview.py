"""Benchmark: `mbops preview --json` per profile x cloud against its import floor, and `mbops --help`.

The floor of a plan is a Python process that only imports the provider modules the plan needs (found by
running the plan once and listing the provider modules it loaded). Each figure is the best of --runs fresh
processes, plan and floor interleaved, measured in this run, so the ratio compares like with like on this
machine. Wall time and CPU time (user+sys of the child) are both shown: on a shared VM the CPU figure is the
steadier one.

    python benchmarks/bench_preview.py [--clouds aws,gcp,azure] [--profiles saas,managed,custom] [--runs 3]

Targets: plan <= 1.3x its floor; `mbops --help` <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

PROVIDERS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_random")
PLAN_TARGET, HELP_TARGET = 1.3, 0.3


def once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(commands: list[list[str]], runs: int) -> list[tuple[float, float]]:
    """Best wall and best CPU time of each command over ``runs`` interleaved rounds (after a warm-up)."""
    for argv in commands:
        once(argv)
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(runs):
        for i, argv in enumerate(commands):
            samples[i].append(once(argv))
    return [(min(w for w, _ in s), min(c for _, c in s)) for s in samples]


def provider_modules(profile: str, cloud: str) -> list[str]:
    """The provider modules a plan of profile x cloud imports."""
    code = (
        "import sys, json\nfrom mbops.engine.plan import plan\nfrom mbops.stacks.config import resolve\n"
        f"plan(resolve(profile={profile!r}, cloud={cloud!r}))\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {PROVIDERS!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clouds", default="aws,gcp,azure")
    parser.add_argument("--profiles", default="saas,managed,custom")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mbops = [sys.executable, "-m", "mbops.cli"]

    (help_s, _), (python_s, _) = best_of([[*mbops, "--help"], [sys.executable, "-c", "pass"]], args.runs)
    print(f"mbops --help: {help_s:.3f} s (bare python {python_s:.3f} s), target <= {HELP_TARGET} s:"
          f" {'ok' if help_s <= HELP_TARGET else 'MISSED'}")  # fmt: skip
    print("\nplan: `mbops preview --json` (the CLI pauses the cyclic GC); floor: `python -c 'import <the plan's")
    print("provider modules>'` with default GC; floor-nogc: the same with gc.disable() first (the strict floor).")
    print("Best of", args.runs, "CPU seconds (user+sys) per fresh process; wall time tracks it on an idle machine.\n")
    header = f"{'profile':8} {'cloud':6} {'plan':>7} {'floor':>7} {'ratio':>6} {'nogc':>7} {'ratio':>6}"
    print(f"{header}  target <= {PLAN_TARGET}x")
    worst = {"floor": 0.0, "nogc": 0.0}
    for cloud in args.clouds.split(","):
        for profile in args.profiles.split(","):
            imports = "import pulumi\n" + "\n".join(f"import {m}" for m in provider_modules(profile, cloud))
            commands = [
                [*mbops, "preview", "--cloud", cloud, "--profile", profile, "--json"],
                [sys.executable, "-c", imports],
                [sys.executable, "-c", "import gc\ngc.disable()\n" + imports],
            ]
            (_, plan), (_, floor), (_, nogc) = best_of(commands, args.runs)
            ratio, strict = plan / floor, plan / nogc
            worst = {"floor": max(worst["floor"], ratio), "nogc": max(worst["nogc"], strict)}
            verdict = "ok" if ratio <= PLAN_TARGET else "MISSED"
            print(f"{profile:8} {cloud:6} {plan:7.2f} {floor:7.2f} {ratio:6.2f} {nogc:7.2f} {strict:6.2f}  {verdict}")
    print(f"\nworst plan/floor: {worst['floor']:.2f}x; worst plan/floor-nogc: {worst['nogc']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
