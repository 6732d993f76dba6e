"""Benchmark: the example notes app under a burst of concurrent requests, against a baseline from the same run.

The app runs as ``python -m examples.notes_app`` (a real subprocess on a free loopback port, SQLite in a temporary
folder unless ``--database-url`` names a PostgreSQL database). This process is the client: an asyncio loop that
opens every connection of a burst at once, one request per connection (``Connection: close``), in a mix of
``GET /healthz``, ``GET /notes?limit=20`` and ``POST /notes`` (1:1:1). Each request counts as ok (2xx),
reset (connection reset, refused or closed before a full answer), timeout (no answer within ``--timeout``),
5xx, or other (an unexpected 4xx).

Baselines measured in the same run, on the same server process:

- ``sequential``: the same mix, one request at a time: the latency of a request that never waits for another.
- ``--against REF`` also runs the app as it was at git commit REF (exported read-only with ``git archive``),
  e.g. the hand-written ``http.server`` app (listen backlog 5) that dropped most connections of a burst.

    .venv/bin/python benchmarks/bench_app_load.py                      # 3 bursts of 1000
    .venv/bin/python benchmarks/bench_app_load.py --against 1c687fb    # and the app of that commit
    .venv/bin/python benchmarks/bench_app_load.py --concurrency 300 --rounds 1 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP_MODULE = "examples.notes_app"
MIX = ("health", "list", "create")


@dataclass
class Phase:
    """The outcome of one measured phase: latencies of the answered requests and a count per outcome."""

    server: str
    name: str
    concurrency: int
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) of the answered requests' latency, nearest rank; NaN if none answered."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def row(self) -> dict[str, object]:
        total = sum(self.outcomes.values())
        return {
            "server": self.server,
            "phase": self.name,
            "concurrency": self.concurrency,
            "requests": total,
            "ok": self.outcomes["ok"],
            "errors": total - self.outcomes["ok"],
            "reset": self.outcomes["reset"],
            "timeout": self.outcomes["timeout"],
            "5xx": self.outcomes["5xx"],
            "other": self.outcomes["other"],
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else float("nan"),
            "wall_s": round(self.wall_s, 3),
            "req_per_s": round(total / self.wall_s, 1) if self.wall_s else 0.0,
        }


# ---- the client -----------------------------------------------------------------------------------------------


def raw_request(kind: str, port: int, i: int) -> bytes:
    """One HTTP/1.1 request of the mix, closing the connection after the answer."""
    head = f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n"
    if kind == "health":
        return f"GET /healthz HTTP/1.1\r\n{head}\r\n".encode()
    if kind == "list":
        return f"GET /notes?limit=20 HTTP/1.1\r\n{head}\r\n".encode()
    body = json.dumps({"title": f"load note {i}", "body": "x" * 200}).encode()
    return (
        f"POST /notes HTTP/1.1\r\n{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def one_request(port: int, payload: bytes, timeout: float, start: asyncio.Event) -> tuple[str, float]:
    """Send ``payload`` on a new connection once ``start`` is set; return (outcome, latency in ms)."""
    await start.wait()
    began = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(payload)
            await writer.drain()
            answer = await reader.read()  # Connection: close -> the answer ends at EOF
    except TimeoutError:
        return "timeout", (time.perf_counter() - began) * 1000
    except OSError:  # reset, refused, broken pipe
        return "reset", (time.perf_counter() - began) * 1000
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    elapsed = (time.perf_counter() - began) * 1000
    status_line = answer.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit() or b"\r\n\r\n" not in answer:
        return "reset", elapsed  # closed before a complete answer
    status = int(status_line[1])
    if 200 <= status < 300:
        return "ok", elapsed
    return ("5xx" if status >= 500 else "other"), elapsed


async def burst(port: int, count: int, timeout: float, offset: int) -> tuple[list[tuple[str, float]], float]:
    """``count`` requests at once, each on its own connection; return their outcomes and the wall time."""
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(one_request(port, raw_request(MIX[i % 3], port, offset + i), timeout, start))
        for i in range(count)
    ]
    await asyncio.sleep(0)  # every task is now waiting on ``start``
    began = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks)
    return results, time.perf_counter() - began


async def sequential(port: int, count: int, timeout: float) -> tuple[list[tuple[str, float]], float]:
    """``count`` requests of the mix one after another."""
    results = []
    began = time.perf_counter()
    for i in range(count):
        results.append(await one_request(port, raw_request(MIX[i % 3], port, i), timeout, _set_event()))
    return results, time.perf_counter() - began


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


def record(phase: Phase, results: list[tuple[str, float]], wall: float) -> None:
    for outcome, latency in results:
        phase.outcomes[outcome] += 1
        if outcome in ("ok", "other", "5xx"):
            phase.latencies_ms.append(latency)
    phase.wall_s += wall


# ---- the server -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(cwd: Path, database_url: str | None, workdir: Path) -> Iterator[int]:
    """Run ``python -m examples.notes_app`` from ``cwd`` on a free port until the block ends; yield the port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOST", "STORAGE_URL", "STORAGE_BUCKET")}
    env.update(
        PORT=str(port),
        DATABASE_URL=database_url or f"sqlite:///{workdir / 'notes.db'}",
        STORAGE_URL=f"file://{workdir / 'files'}",
        PYTHONUNBUFFERED="1",
    )
    log_path = workdir / "app.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", APP_MODULE], cwd=cwd, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the app did not become healthy in 30 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield port
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def export_ref(ref: str, into: Path) -> Path:
    """Extract ``examples/`` as of git commit ``ref`` into ``into`` (read-only for the repository)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, "examples"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(f"git archive {ref} failed: {archive.stderr.decode(errors='replace').strip()}")
    tar_path = into / "examples.tar"
    tar_path.write_bytes(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(server: str, cwd: Path, args: argparse.Namespace) -> list[Phase]:
    """The sequential baseline, then ``args.rounds`` bursts, against one freshly started app."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-app-") as tmp,
        running_app(cwd, args.database_url, Path(tmp)) as port,
    ):
        base = Phase(server, "sequential", 1)
        record(base, *asyncio.run(sequential(port, args.sequential, args.timeout)))
        loaded = Phase(server, f"burst x{args.rounds}", args.concurrency)
        for n in range(args.rounds):
            record(loaded, *asyncio.run(burst(port, args.concurrency, args.timeout, offset=n * args.concurrency)))
            time.sleep(1)  # let TIME_WAIT and the server's queues settle between bursts
        return [base, loaded]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=1000, help="requests in flight at once (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="bursts to run (default 3)")
    parser.add_argument("--sequential", type=int, default=300, help="requests of the one-at-a-time baseline")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as timed out")
    parser.add_argument("--database-url", help="postgresql://... to use instead of a fresh SQLite file")
    parser.add_argument("--against", metavar="REF", help="also run the app of git commit REF (e.g. the old server)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()

    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="bench-app-ref-") as ref_dir:
        if args.against:
            phases += measure(f"at {args.against}", export_ref(args.against, Path(ref_dir)), args)
        phases += measure("current", REPO, args)
    rows = [phase.row() for phase in phases]
    if args.json:
        print(json.dumps(rows, indent=2))
        return

    db = "postgresql" if args.database_url else "sqlite"
    print(
        f"notes_app under load: {args.concurrency} concurrent connections x {args.rounds} bursts, mix "
        f"health/list/create 1:1:1, {db}, {os.cpu_count()} cpus, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    header = ("server", "phase", "conc", "requests", "ok", "errors", "reset", "timeout", "5xx", "other",
              "p50_ms", "p99_ms", "max_ms", "req_per_s")  # fmt: skip
    widths = (14, 12, 5, 8, 6, 6, 6, 7, 5, 5, 8, 8, 8, 9)
    print(" ".join(f"{h:>{w}}" if i > 1 else f"{h:<{w}}" for i, (h, w) in enumerate(zip(header, widths, strict=True))))
    for row in rows:
        cells = [row["server"], row["phase"], *(row[h] for h in ("concurrency", *header[3:]))]
        print(
            " ".join(
                f"{c!s:>{w}}" if i > 1 else f"{c!s:<{w}}" for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    for server in dict.fromkeys(row["server"] for row in rows):
        base, loaded = (r for r in rows if r["server"] == server)
        print(
            f"{server}: {loaded['errors']} of {loaded['requests']} requests failed under load; p99 under load is "
            f"{float(loaded['p99_ms']) / float(base['p50_ms']):.0f}x the sequential p50 ({base['p50_ms']} ms)"
        )


if __name__ == "__main__":
    main()
