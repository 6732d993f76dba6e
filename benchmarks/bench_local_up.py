"""Benchmark: local `mbops up` (fresh), a no-change `up`, and `destroy`, against the app's own start time.

The baseline, measured in the same run, is the floor of any local up: the example app started by hand (same
interpreter, SQLite) until its health path answers. Each figure is the best of --runs rounds, each round in
a fresh state folder (PostgreSQL when installed, as `mbops up` does by default).

    python benchmarks/bench_local_up.py [--runs 3] [--database auto|postgres|sqlite]

Targets: a fresh local up <= 5 s; a no-change up <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UP_TARGET, NOCHANGE_TARGET = 5.0, 1.0
MBOPS = [sys.executable, "-c", "from mbops.cli.main import main; main()"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[3:])} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def app_alone(tmp: Path) -> float:
    """Seconds from starting the example app by hand until its health path answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp / 'alone.db'}",
           "STORAGE_URL": f"file://{tmp / 'files'}"}  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "examples.notes_app"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        while True:
            try:
                opener.open(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                return time.perf_counter() - start
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 30:
                    raise SystemExit("the example app did not start on its own") from None
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", choices=("auto", "postgres", "sqlite"), default="auto")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"app alone (baseline)": [], "up (fresh)": [], "up (no change)": [],
                                    "destroy --delete-data": []}  # fmt: skip
    home = Path.home() / ".cache" / "mbops-bench"  # a private folder (not under a world-writable one)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(dir=home) as raw:
            tmp = Path(raw)
            env = {**os.environ, "MBOPS_STATE_DIR": str(tmp / "state"), "MBOPS_LOCAL_DATABASE": args.database}
            rows["app alone (baseline)"].append(app_alone(tmp))
            rows["up (fresh)"].append(timed([*MBOPS, "up", "--port", "auto"], env))
            rows["up (no change)"].append(timed([*MBOPS, "up", "--port", "auto"], env))
            rows["destroy --delete-data"].append(timed([*MBOPS, "destroy", "--delete-data", "--yes"], env))
    base = min(rows["app alone (baseline)"])
    print(f"{'step':<24} {'best':>8} {'x app alone':>12} {'target':>8}")
    targets = {"up (fresh)": UP_TARGET, "up (no change)": NOCHANGE_TARGET}
    failed = False
    for name, samples in rows.items():
        best = min(samples)
        target = targets.get(name)
        mark = "" if target is None else ("  ok" if best <= target else "  OVER")
        failed |= target is not None and best > target
        print(f"{name:<24} {best:>7.2f}s {best / base:>11.1f}x {f'{target:.1f}s' if target else '':>8}{mark}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
