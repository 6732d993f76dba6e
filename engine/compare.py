"""``mbops compare``: one profile planned on several clouds side by side.

Each cloud is planned in its own forked worker process (the Pulumi SDK's settings are process-global, so two
plans cannot run in one process at once); workers return a compact column (resources per component kind,
cost, policy counts, capability notes, diagram) and the parent assembles the comparison. Output formats:
JSON (``report``), Markdown (``markdown``) and a self-contained HTML page (``mbops.engine.compare_html``).
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
from mbops.errors import ConfigError, MbopsError

COMPARE_CLOUDS = ("aws", "gcp", "azure")
SHARED = "(shared)"
MAX_WORKERS = 3


@dataclass(frozen=True, kw_only=True)
class Task:
    """One column to plan: the resolved stack and whether to render the diagram as SVG."""

    stack: Any
    note: str | None = None
    with_svg: bool = False


def resolve_stacks(
    *,
    profile: str | None,
    environment: str | None,
    clouds: list[str],
    stack_file: Path | None = None,
    regions: dict[str, str] | None = None,
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
        resolve_usage(stack.usage, source=source)  # bad usage keys fail here, before any worker starts
        out.append((stack, note))
    return out


def plan_column(task: Task) -> dict[str, Any]:
    """Plan one cloud and summarize it (runs in a worker process)."""
    from mbops.engine.plan import plan

    stack = task.stack
    started, cpu = time.perf_counter(), time.process_time()
    try:
        graph = plan(stack)  # pauses the cyclic GC while it runs (engine.embedded.paused_gc)
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
    """A cloud's column: per component kind, what it creates, costs, violates and can do."""
    from mbops.engine.capabilities import capability, facts
    from mbops.engine.diagram import inline_svg, mermaid

    cost = graph.get("cost") or {}
    kind_of = {r["urn"]: r.get("component") or SHARED for r in graph["resources"]}
    custom = [r for r in graph["resources"] if r.get("custom")]
    findings = graph.get("policy") or []
    unavailable = {u["kind"]: u for u in graph.get("unavailable") or []}
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
            "capability": capability(graph["cloud"], kind) if kind != SHARED else {},
            "facts": facts(graph, kind) if kind != SHARED else [],
            "unavailable": unavailable.get(kind),
        }
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
        "unpriced": cost.get("unpriced") or [],
        "catalog": cost.get("catalog") or {},
        "assumptions": cost.get("assumptions") or {},
        "overridden": cost.get("overridden") or [],
        "kinds": kinds,
        "diagram": {"mermaid": mermaid(graph), "svg": inline_svg(graph) if with_svg else None},
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
            "facts": [],
            "unavailable": None,
        }
        if kind in column.get("kinds", {}):
            return column["kinds"][kind]
        from mbops.engine.capabilities import capability

        return {**empty, "capability": capability(cloud, kind) if kind != SHARED else {}}

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
) -> Comparison:
    """Plan ``profile`` on each cloud in parallel (fork-based process pool) and assemble the comparison."""
    started = time.perf_counter()
    clouds = list(dict.fromkeys(clouds or COMPARE_CLOUDS))  # keep order, drop repeats
    stacks = resolve_stacks(
        profile=profile, environment=environment, clouds=clouds, stack_file=stack_file, regions=regions
    )
    tasks = [Task(stack=s, note=n, with_svg=with_svg) for s, n in stacks]
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


def count(n: int, noun: str = "resource") -> str:
    """``1 resource``, ``2 resources``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _policy_text(policy: dict[str, int]) -> str:
    return f"{policy['mandatory']} mandatory, {policy['advisory']} advisory"


def _resources_text(resources: dict[str, int]) -> str:
    return ", ".join(f"{n}x {t.split(':')[-1]}" for t, n in resources.items()) or "none"


def markdown(comparison: Comparison) -> str:
    """The comparison as Markdown: a summary table, then per-kind details, gaps, assumptions and sources."""
    c = comparison
    ok = [cloud for cloud in c.clouds if c.columns[cloud].get("ok")]
    lines = [
        f"# `{c.profile}` ({c.environment}) on {', '.join(c.clouds)}",
        "",
        f"Generated {c.generated_at} by `mbops compare`; plans ran in {c.workers} parallel worker(s), "
        f"{c.seconds:.1f} s in all.",
        "",
    ]
    for column in c.failed:
        lines += [f"> **{column['cloud']}: plan failed** — {column['error']}", ""]
    header = "| component | " + " | ".join(f"{x} ({c.columns[x]['region']})" for x in ok) + " |"
    lines += ["## Summary", "", header, "|---|" + "---|" * len(ok)]
    for kind in c.kinds:
        cells = []
        for cloud in ok:
            cell = c.cell(cloud, kind)
            if cell.get("unavailable"):
                cells.append(f"**not available**: {cell['unavailable']['reason']}")
                continue
            service = (cell.get("capability") or {}).get("service", "")
            unpriced = f" (+{cell['unpriced']} unpriced)" if cell["unpriced"] else ""
            cells.append(f"{service}<br>{count(cell['resource_count'])} · {money(cell['monthly'])}/mo{unpriced}")
        lines.append(f"| **{kind}** | " + " | ".join(cells) + " |")
    lines.append(
        "| **total** | "
        + " | ".join(
            f"**{money(c.columns[x]['monthly_total'])}/mo** · {count(c.columns[x]['resource_count'])} · "
            f"policy: {_policy_text(c.columns[x]['policy'])}"
            for x in ok
        )
        + " |"
    )
    lines += ["", "## Capabilities", "", "| component | " + " | ".join(ok) + " |", "|---|" + "---|" * len(ok)]
    for kind in [k for k in c.kinds if k != SHARED]:
        cells = []
        for cloud in ok:
            cell = c.cell(cloud, kind)
            cap = cell.get("capability") or {}
            if cell.get("unavailable"):
                cells.append(f"not available — use: {cell['unavailable'].get('alternative', '')}")
                continue
            text = f"HA: {cap.get('ha')}; scale to zero: {cap.get('scale_to_zero')}"
            if cap.get("cold_starts") not in (None, "n/a"):
                text += f"; cold starts: {cap['cold_starts']}"
            if cell.get("facts"):
                text += f"<br>this plan: {'; '.join(cell['facts'])}"
            cells.append(text)
        lines.append(f"| **{kind}** | " + " | ".join(cells) + " |")
    lines += ["", "## Resources per component", ""]
    for kind in c.kinds:
        lines.append(f"- **{kind}**")
        for cloud in ok:
            cell = c.cell(cloud, kind)
            lines.append(f"  - {cloud}: {_resources_text(cell['resources'])}; policy: {_policy_text(cell['policy'])}")
    lines += ["", "## Not priced", ""]
    for cloud in ok:
        for entry in c.columns[cloud]["unpriced"]:
            lines.append(f"- {cloud}: `{entry['resource']}` ({entry['type']}): {entry['why']}")
    if not any(c.columns[x]["unpriced"] for x in ok):
        lines.append("- everything planned was priced or is free")
    if ok:
        column = c.columns[ok[0]]
        overridden = set(column.get("overridden", []))
        usage = ", ".join(f"`{k}={v:,.10g}`{'*' if k in overridden else ''}" for k, v in column["assumptions"].items())
        lines += ["", "## Assumptions", "", f"Usage (* = from the stack file): {usage}.", "", "## Prices", ""]
        for cloud in ok:
            catalog = c.columns[cloud]["catalog"]
            lines.append(
                f"- {cloud}: catalog as of {catalog.get('as_of')} ({catalog.get('region')}); "
                f"{len(catalog.get('sources') or [])} price list sources. {catalog.get('method', '')}"
            )
    for cloud in ok:
        if c.columns[cloud].get("note"):
            lines.append(f"- note ({cloud}): {c.columns[cloud]['note']}")
    lines += ["", "## Diagrams", ""]
    for cloud in ok:
        lines += [
            f"### {cloud}",
            "",
            "```mermaid",
            c.columns[cloud]["diagram"]["mermaid"].rstrip(),
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
