"""``mbops compare``: one profile on several clouds, side by side (resources, cost, policy, capabilities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from mbops.cli.options import ENVIRONMENTS, PROFILES, Choice
from mbops.cli.render import console, gap_line
from mbops.cost.usage import PRESETS as USAGE_PRESETS

FORMATS = ("table", "json", "markdown", "html")


def _clouds(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _regions(values: tuple[str, ...]) -> dict[str, str]:
    from mbops.errors import ConfigError

    out = {}
    for value in values:
        cloud, sep, region = value.partition("=")
        if not sep or not cloud or not region:
            raise ConfigError(f"--region {value!r}: use CLOUD=REGION, e.g. --region aws=eu-west-1")
        out[cloud.strip()] = region.strip()
    return out


@click.command()
@click.option(
    "--stack-file",
    "-f",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="MBOPS_STACK_FILE",
    help="Stack file (YAML): app, components, usage assumptions. Flags given here win over its fields. "
    "[env: MBOPS_STACK_FILE]",
)
@click.option(
    "--profile",
    "-p",
    type=Choice(PROFILES),
    envvar="MBOPS_PROFILE",
    help="Stack profile. [default: managed, or the stack file's] [env: MBOPS_PROFILE]",
)
@click.option(
    "--env",
    "-e",
    "environment",
    type=Choice(ENVIRONMENTS),
    envvar="MBOPS_ENV",
    help="Environment: prod adds HA, deletion protection, longer backups. [default: dev, or the stack "
    "file's] [env: MBOPS_ENV]",
)
@click.option(
    "--clouds",
    "-c",
    default="aws,gcp,azure",
    envvar="MBOPS_CLOUDS",
    show_default=True,
    help="Comma-separated clouds to compare. [env: MBOPS_CLOUDS]",
)
@click.option(
    "--region",
    "-r",
    "regions",
    multiple=True,
    metavar="CLOUD=REGION",
    help="Region for one cloud (repeatable), e.g. -r aws=eu-west-1. [default: the stack file's region "
    "for its cloud, else each cloud's default]",
)
@click.option(
    "--usage-preset",
    type=Choice(USAGE_PRESETS),
    envvar="MBOPS_USAGE_PRESET",
    help="Traffic and data volumes to assume; the stack file's `usage:` overrides single values. "
    "[default: the stack file's usage_preset, else small] [env: MBOPS_USAGE_PRESET]",
)
@click.option(
    "--free-tiers/--no-free-tiers",
    default=None,
    help="Deduct the clouds' monthly free tiers (once per stack; they are per account). "
    "[default: off, as the clouds' calculators; or the stack file's usage.free_tiers]",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout."
)
@click.option("--workers", type=click.IntRange(1, 3), default=3, show_default=True,
              help="Parallel plan processes (one cloud each).")  # fmt: skip
def compare(
    stack_file: Path | None,
    profile: str | None,
    environment: str | None,
    clouds: str,
    regions: tuple[str, ...],
    usage_preset: str | None,
    free_tiers: bool | None,
    fmt: str,
    output: Path | None,
    workers: int,
) -> None:
    """Plan one profile on several clouds in parallel and compare them per component.

    For each component kind: the cloud service and resources each cloud uses, the monthly cost estimate, policy
    findings, and what the plan configures (HA, scale to zero, how the entry serves: HTTPS or HTTP, WAF, private
    access, password handling), what is not available, and the monitoring each cloud gets.

    \b
    Examples:
      mbops compare --profile managed
      mbops compare -p saas -e prod --format html -o saas-prod.html
      mbops compare -f stack.yaml -c aws,gcp -r gcp=europe-west1 --format markdown
      mbops compare -p custom --usage-preset large --free-tiers
    """
    from mbops.engine.compare import compare as run_compare
    from mbops.engine.compare_md import markdown
    from mbops.errors import MbopsError

    comparison = run_compare(
        profile=profile,
        environment=environment,
        clouds=_clouds(clouds),
        stack_file=stack_file,
        regions=_regions(regions),
        workers=workers,
        with_svg=fmt == "html",
        usage_preset=usage_preset,
        free_tiers=free_tiers,
    )
    if fmt == "json":
        import json

        text = json.dumps(comparison.as_dict(), indent=2, default=str) + "\n"
    elif fmt == "markdown":
        text = markdown(comparison)
    elif fmt == "html":
        from mbops.engine.compare_html import html

        text = html(comparison)
    else:
        text = None
    if text is None:
        print_table(comparison, output)
    elif output is not None:
        output.write_text(text)
        click.echo(f"wrote {output} ({fmt}; {', '.join(comparison.clouds)}; {comparison.seconds:.1f} s)", err=True)
    else:
        click.echo(text, nl=False)
    if fmt != "table":
        _warn_gaps(comparison)
    if comparison.failed:
        names = ", ".join(f"{c['cloud']} ({c['error']})" for c in comparison.failed)
        raise MbopsError(f"the plan failed on {names}")


def _cell(cell: dict[str, Any]) -> str:
    from mbops.engine.fmt import count, money

    if cell.get("unavailable"):
        return "[yellow]not available[/] (see below)"
    cap = cell.get("capability") or {}
    policy = cell["policy"]
    lines = [escape(cap.get("service", "-")), f"[bold]{money(cell['monthly'])}[/]/mo · {count(cell['resource_count'])}"]
    if cell["unpriced"]:
        lines[-1] += f" · [yellow]{cell['unpriced']} unpriced[/]"
    if policy["mandatory"] or policy["advisory"]:
        mandatory = f"[red]{policy['mandatory']}[/]" if policy["mandatory"] else "0"  # red only when one blocks
        lines.append(f"policy: {mandatory} mandatory, {policy['advisory']} advisory")
    if cap:
        lines.append(f"[dim]HA: {escape(cap['ha'])}; scale to zero: {escape(cap['scale_to_zero'])}[/]")
    if cap.get("entry"):
        lines.append(f"[dim]entry: {escape(cap['entry'])}[/]")
    if cap.get("facts"):
        lines.append(f"[dim]{escape('; '.join(cap['facts']))}[/]")
    if cell.get("limitation"):
        lines.append("[yellow]partly available[/] (see below)")
    return "\n".join(lines)


def _gap_lines(comparison: Any) -> list[str]:
    """One line per gap of each cloud (not available, partly available), each said once."""
    lines = []
    for cloud in comparison.clouds:
        column = comparison.columns[cloud]
        if not column.get("ok"):
            continue
        for how, gaps in (("not available", column["unavailable"]), ("partly available", column["limitations"])):
            lines += [gap_line(how, cloud, gap) for gap in gaps]
    return list(dict.fromkeys(lines))


def _warn_gaps(comparison: Any) -> None:
    """The gaps on stderr (the report goes to stdout or a file), worded as the table prints them."""
    for line in _gap_lines(comparison):
        click.echo(line, err=True)


def print_table(comparison: Any, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from mbops.engine.compare import monitoring_text, pricing_line
    from mbops.engine.fmt import count, money

    c = comparison
    ok = [x for x in c.clouds if c.columns[x].get("ok")]
    table = Table(title=f"{c.profile} ({c.environment}) on {', '.join(c.clouds)}", show_lines=True, expand=False)
    table.add_column("component", style="bold")
    for cloud in ok:
        table.add_column(f"{cloud} ({c.columns[cloud]['region']})", overflow="fold")
    for kind in c.kinds:
        table.add_row(kind, *[_cell(c.cell(x, kind)) for x in ok])
    if "monitoring" not in c.kinds:  # else its own row says what it watches
        table.add_row("watched", *[escape(monitoring_text(c.columns[x])) for x in ok])
    table.add_row(
        "total",
        *[
            f"[bold]{money(c.columns[x]['monthly_total'])}[/]/mo · "
            f"{count(c.columns[x]['resource_count'])}\n"
            f"policy: {c.columns[x]['policy']['mandatory']} mandatory, "
            f"{c.columns[x]['policy']['advisory']} advisory"
            for x in ok
        ],
    )
    out = Console(file=output.open("w"), width=160, highlight=False) if output else console()
    out.print(table)
    for line in _gap_lines(c):
        out.print(f"[yellow]{escape(line)}[/]")
    for cloud in ok:
        if c.columns[cloud].get("note"):
            out.print(f"[dim]{cloud}: {escape(c.columns[cloud]['note'])}[/]")
    for column in c.failed:
        out.print(f"[red]{column['cloud']}: plan failed[/] — {escape(column['error'])}")
    timing = ", ".join(f"{x} {c.columns[x].get('seconds', 0):.1f} s" for x in c.clouds)
    pricing = f"Costs for the {pricing_line(c.columns[ok[0]])}. " if ok else ""
    out.print(
        f"[dim]{pricing}Usage assumptions and price sources: --format markdown/html/json. "
        f"Plans: {timing}; {c.seconds:.1f} s in all with {c.workers} worker(s).[/]"
    )
