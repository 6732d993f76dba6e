"""Benchmark: `mbops preview --json` per profile x cloud against its import floor, and `mbops --help`.

The floor of a plan is a Python process that only imports the provider modules the plan needs (found by
running the plan once and listing the provider modules it loaded). Each figure is the median of --runs
fresh processes, measured in this run, so the ratio compares like with like on this machine.

    python benchmarks/bench_preview.py [--clouds aws,gcp,azure] [--profiles saas,managed,custom] [--runs 3]

Targets: plan <= 1.3x its floor; `mbops --help` <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

PROVIDERS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_random")
PLAN_TARGET, HELP_TARGET = 1.3, 0.3


def timed(argv: list[str], runs: int) -> float:
    """Median wall time of ``runs`` fresh processes (after one warm-up for the OS file cache)."""
    subprocess.run(argv, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


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

    help_s = timed([*mbops, "--help"], args.runs)
    python_s = timed([sys.executable, "-c", "pass"], args.runs)
    print(f"mbops --help: {help_s:.3f} s (bare python {python_s:.3f} s), target <= {HELP_TARGET} s:"
          f" {'ok' if help_s <= HELP_TARGET else 'MISSED'}")  # fmt: skip
    print(f"\n{'profile':8} {'cloud':6} {'plan s':>7} {'floor s':>8} {'ratio':>6}  target <= {PLAN_TARGET}x")
    worst = 0.0
    for cloud in args.clouds.split(","):
        for profile in args.profiles.split(","):
            modules = provider_modules(profile, cloud)
            floor_code = "import pulumi\n" + "\n".join(f"import {m}" for m in modules)
            floor_s = timed([sys.executable, "-c", floor_code], args.runs)
            plan_s = timed([*mbops, "preview", "--cloud", cloud, "--profile", profile, "--json"], args.runs)
            ratio = plan_s / floor_s
            worst = max(worst, ratio)
            verdict = "ok" if ratio <= PLAN_TARGET else "MISSED"
            print(f"{profile:8} {cloud:6} {plan_s:7.2f} {floor_s:8.2f} {ratio:6.2f}  {verdict}")
    print(f"\nworst plan/floor ratio: {worst:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
