"""``mbops compare``: one profile planned on several clouds side by side.

Each cloud is planned in its own forked worker process (the Pulumi SDK's settings are process-global, so two
plans cannot run in one process at once); workers return a compact column (resources per component kind,
cost, policy counts, capability notes, diagram) and the parent assembles the comparison. Output formats:
JSON (``Comparison.as_dict``), Markdown (``mbops.engine.compare_md``) and a self-contained HTML page
(``mbops.engine.compare_html``).
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mbops.components.spec import KINDS
from mbops.engine.fmt import number
from mbops.errors import ConfigError, MbopsError

COMPARE_CLOUDS = ("aws", "gcp", "azure")
SHARED = "(shared)"
MAX_WORKERS = 3


@dataclass(frozen=True, kw_only=True)
class Task:
    """One column to plan: the resolved stack, the usage preset and free tiers to price it with, and whether to
    render the diagram as SVG."""

    stack: Any
    note: str | None = None
    with_svg: bool = False
    usage_preset: str | None = None
    free_tiers: bool | None = None


def resolve_stacks(
    *,
    profile: str | None,
    environment: str | None,
    clouds: list[str],
    stack_file: Path | None = None,
    regions: dict[str, str] | None = None,
    usage_preset: str | None = None,
) -> list[tuple[Any, str | None]]:
    """The stack of each cloud (stack file + flags), with a note when the file's region is another cloud's."""
    from mbops.cost.usage import resolve_usage
    from mbops.stacks.config import read_stack_file, resolve
    from mbops.stacks.regions import region_problem

    regions = regions or {}
    unknown = [c for c in clouds if c not in COMPARE_CLOUDS]
    if unknown or not clouds:
        raise ConfigError(
            f"--clouds: unknown cloud {', '.join(unknown) or '(none)'}; allowed: {', '.join(COMPARE_CLOUDS)}"
        )
    for cloud in regions:
        if cloud not in clouds:
            raise ConfigError(f"--region {cloud}=...: {cloud} is not among the compared clouds ({', '.join(clouds)})")
    parsed = read_stack_file(stack_file) if stack_file else None
    source = str(stack_file) if stack_file else "flags"
    out = []
    for cloud in clouds:
        note = None
        layer = parsed
        if parsed is not None and parsed.region and cloud not in regions and region_problem(cloud, parsed.region):
            layer = parsed.model_copy(update={"region": None})
            note = f"the stack file's region '{parsed.region}' is not a {cloud} region; {cloud} uses its default region"
        stack = resolve(
            layer,
            source=source,
            profile=profile,
            cloud=cloud,
            environment=environment,
            region=regions.get(cloud),
        )
        preset = usage_preset or getattr(stack, "usage_preset", None)
        resolve_usage(stack.usage, source=source, preset=preset)  # bad usage fails here, before any worker starts
        out.append((stack, note))
    return out


def plan_column(task: Task) -> dict[str, Any]:
    """Plan one cloud and summarize it (runs in a worker process)."""
    from mbops.cost.estimate import estimate
    from mbops.engine.plan import plan

    stack = task.stack
    started, cpu = time.perf_counter(), time.process_time()
    try:
        graph = plan(stack, with_cost=False)  # pauses the cyclic GC while it runs (engine.embedded.paused_gc)
        graph["cost"] = estimate(graph, stack, preset=task.usage_preset, free_tiers=task.free_tiers)
    except Exception as exc:  # a worker reports, the parent decides: one cloud's failure must not hide the others
        error = str(exc) if isinstance(exc, MbopsError) else f"internal error: {type(exc).__name__}: {exc}"
        return {
            "cloud": stack.cloud,
            "region": stack.region,
            "stack": stack.name,
            "ok": False,
            "error": error,
            "exit_code": getattr(exc, "exit_code", 1),
            "seconds": round(time.perf_counter() - started, 3),
            "note": task.note,
        }
    column = summarize(graph, with_svg=task.with_svg)
    column["seconds"] = round(time.perf_counter() - started, 3)
    column["cpu_seconds"] = round(time.process_time() - cpu, 3)
    column["note"] = task.note
    return column


def _counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    mandatory = sum(1 for f in findings if f.get("enforcement", f.get("severity")) == "mandatory")
    return {"mandatory": mandatory, "advisory": len(findings) - mandatory}


def summarize(graph: dict[str, Any], *, with_svg: bool = False) -> dict[str, Any]:
    """A cloud's column: per component kind, what it creates, costs, violates and can do (read from the plan)."""
    from mbops.engine.capabilities import capability
    from mbops.engine.diagram import inline_svg, mermaid
    from mbops.engine.facts import View, watch, watch_lines

    view = View(graph)
    cost = graph.get("cost") or {}
    kind_of = {r["urn"]: r.get("component") or SHARED for r in graph["resources"]}
    custom = view.resources
    findings = graph.get("policy") or []
    unavailable = {u["kind"]: u for u in graph.get("unavailable") or []}
    limited = {u["kind"]: u for u in graph.get("limitations") or []}
    kinds: dict[str, dict[str, Any]] = {}
    present = {r.get("component") or SHARED for r in custom} | set(unavailable)
    for kind in [k for k in (*KINDS, SHARED) if k in present]:
        mine = [r for r in custom if (r.get("component") or SHARED) == kind]
        kind_findings = [f for f in findings if kind_of.get(f.get("resource", "")) == kind]
        kinds[kind] = {
            "resources": dict(sorted(Counter(r["type"] for r in mine).items())),
            "resource_count": len(mine),
            "monthly": round((cost.get("by_component") or {}).get(kind if kind != SHARED else "(stack)", 0.0), 2),
            "unpriced": sum(1 for u in cost.get("unpriced") or [] if (u.get("component") or SHARED) == kind),
            "policy": _counts(kind_findings),
            "capability": capability(graph, kind, view) if kind != SHARED and mine else {},
            "unavailable": unavailable.get(kind),
            "limitation": limited.get(kind),
        }
    monitoring = watch(graph, view)
    return {
        "cloud": graph["cloud"],
        "region": graph["region"],
        "stack": graph["stack"],
        "ok": True,
        "resource_count": len(custom),
        "monthly_total": cost.get("monthly_total"),
        "currency": cost.get("currency", "USD"),
        "policy": _counts(findings),
        "findings": [
            {k: f.get(k) for k in ("rule", "severity", "enforcement", "name", "type", "message")} for f in findings
        ],
        "unavailable": list(unavailable.values()),
        "limitations": list(limited.values()),
        "monitoring": {**monitoring, "lines": watch_lines(monitoring)},
        "unpriced": cost.get("unpriced") or [],
        "catalog": cost.get("catalog") or {},
        "preset": cost.get("preset"),
        "free_tiers": cost.get("free_tiers"),
        "assumptions": cost.get("assumptions") or {},
        "overridden": cost.get("overridden") or [],
        "kinds": kinds,
        "diagram": {"mermaid": mermaid(graph), **(inline_svg(graph) if with_svg else {"svg": None, "drawn_by": None})},
    }


@dataclass
class Comparison:
    """The assembled comparison (``as_dict`` is the JSON report)."""

    profile: str
    environment: str
    clouds: list[str]
    columns: dict[str, dict[str, Any]]
    seconds: float
    workers: int
    generated_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))

    @property
    def kinds(self) -> list[str]:
        """The component kinds of the profile, in a stable order, the same for every column."""
        present = {k for c in self.columns.values() if c.get("ok") for k in c["kinds"]}
        return [k for k in (*KINDS, SHARED) if k in present]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.columns.values() if not c.get("ok")]

    def cell(self, cloud: str, kind: str) -> dict[str, Any]:
        """A column's entry for ``kind`` (an explicit empty entry when the cloud planned nothing for it)."""
        column = self.columns[cloud]
        empty = {
            "resources": {},
            "resource_count": 0,
            "monthly": 0.0,
            "unpriced": 0,
            "policy": {"mandatory": 0, "advisory": 0},
            "capability": {},
            "unavailable": None,
            "limitation": None,
        }
        return column.get("kinds", {}).get(kind, empty)

    def as_dict(self) -> dict[str, Any]:
        columns = {}
        for cloud in self.clouds:
            column = dict(self.columns[cloud])
            if column.get("ok"):
                column["kinds"] = {k: self.cell(cloud, k) for k in self.kinds}
            columns[cloud] = column
        return {
            "profile": self.profile,
            "environment": self.environment,
            "clouds": self.clouds,
            "kinds": self.kinds,
            "generated_at": self.generated_at,
            "timing": self.timing(),
            "columns": columns,
        }

    def timing(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.seconds, 3),
            "per_cloud_s": {c: self.columns[c].get("seconds") for c in self.clouds},
            "per_cloud_cpu_s": {c: self.columns[c].get("cpu_seconds") for c in self.clouds},
            "workers": self.workers,
        }


def compare(
    *,
    profile: str | None,
    environment: str | None = None,
    clouds: list[str] | None = None,
    stack_file: Path | None = None,
    regions: dict[str, str] | None = None,
    workers: int | None = None,
    with_svg: bool = False,
    usage_preset: str | None = None,
    free_tiers: bool | None = None,
) -> Comparison:
    """Plan ``profile`` on each cloud in parallel (fork-based process pool) and assemble the comparison.

    ``usage_preset`` (small, medium, large; default: the stack file's, else small) and ``free_tiers`` (None:
    the stack file's ``usage.free_tiers``) choose the usage the costs are estimated for.
    """
    from mbops.cost.usage import check_preset

    started = time.perf_counter()
    if usage_preset is not None:
        usage_preset = check_preset(usage_preset)  # a bad preset fails before any plan starts
    clouds = list(dict.fromkeys(clouds or COMPARE_CLOUDS))  # keep order, drop repeats
    stacks = resolve_stacks(
        profile=profile,
        environment=environment,
        clouds=clouds,
        stack_file=stack_file,
        regions=regions,
        usage_preset=usage_preset,
    )
    tasks = [
        Task(stack=s, note=n, with_svg=with_svg, usage_preset=usage_preset, free_tiers=free_tiers) for s, n in stacks
    ]
    workers = max(1, min(workers or MAX_WORKERS, len(tasks)))
    columns = run_tasks(tasks, workers)
    for column in columns:
        if not column.get("ok") and column.get("exit_code") == ConfigError.exit_code:
            raise ConfigError(f"{column['cloud']}: {column['error']}")
    first = stacks[0][0]
    return Comparison(
        profile=first.profile,
        environment=first.environment,
        clouds=clouds,
        columns={c["cloud"]: c for c in columns},
        seconds=time.perf_counter() - started,
        workers=workers,
    )


def run_tasks(tasks: list[Task], workers: int) -> list[dict[str, Any]]:
    """Run the plans: one at a time in this process for a single task, else in a fork-based pool."""
    # Import what every plan needs before forking, so workers share it instead of each importing it.
    import mbops.cost.estimate  # noqa: F401
    import mbops.engine.diagram  # noqa: F401
    import mbops.engine.plan  # noqa: F401
    import mbops.policies.check  # noqa: F401

    if len(tasks) == 1 or workers == 1:
        return [plan_column(t) for t in tasks]
    context = multiprocessing.get_context("fork")
    gc.freeze()  # what the parent imported is shared with the workers, not scanned or copied by their GC
    try:
        with context.Pool(processes=workers) as pool:
            return pool.map(plan_column, tasks, chunksize=1)
    finally:
        gc.unfreeze()


def assumption_rows(column: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The usage a column's costs assume, as (key, value as a person writes it, set by the stack file)."""
    from mbops.cost.usage import USAGE

    overridden = set(column.get("overridden") or [])
    rows = []
    for key, value in (column.get("assumptions") or {}).items():
        if key == "free_tiers":  # said by pricing_line
            continue
        spec = USAGE.get(key)
        if spec is not None and spec.derived and value < 0:
            text = f"from the plan: {spec.derived}"
        else:
            unit = spec.unit if spec is not None and spec.unit not in ("fraction", "0/1") else ""
            text = f"{number(value)} {unit}".strip()
        rows.append((key, text, key in overridden))
    return rows


def pricing_line(column: dict[str, Any]) -> str:
    """``usage preset medium; free tiers not deducted``: what the estimate was asked for."""
    tiers = "deducted" if column.get("free_tiers") else "not deducted"
    return f"usage preset {column.get('preset') or 'small'}; free tiers {tiers}"


def sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (a gap's reason, before what to use instead)."""
    return str(text).strip().rstrip(".") + "."


def gap_text(cell: dict[str, Any]) -> str:
    """What a cell lacks: ``not available: <reason>.`` or ``partly: <reason>.``; empty when nothing."""
    if cell.get("unavailable"):
        return f"not available: {sentence(cell['unavailable']['reason'])}"
    if cell.get("limitation"):
        return f"partly: {sentence(cell['limitation']['reason'])}"
    return ""


def use_text(gap: dict[str, Any]) -> str:
    """``Use: <alternative>`` (``Use: -`` when the gap names none)."""
    return f"Use: {str(gap.get('alternative') or '-').strip()}"


def monitoring_text(column: dict[str, Any]) -> str:
    """The monitoring a column's plan sets up, in one line (or why there is none)."""
    gap = next((u for u in column.get("unavailable") or [] if u["kind"] == "monitoring"), None)
    if gap is not None:
        return f"not available: {sentence(gap['reason'])}"
    return "; ".join(column["monitoring"]["lines"])
