"""``mbops compare``: one profile on several clouds, side by side (resources, cost, policy, capabilities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mbops.cli.options import ENVIRONMENTS, PROFILES
from mbops.cli.render import console

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
    "--profile",
    "-p",
    type=click.Choice(PROFILES),
    envvar="MBOPS_PROFILE",
    help="Stack profile. [default: managed, or the stack file's] [env: MBOPS_PROFILE]",
)
@click.option(
    "--env",
    "-e",
    "environment",
    type=click.Choice(ENVIRONMENTS),
    envvar="MBOPS_ENV",
    help="Environment. [default: dev] [env: MBOPS_ENV]",
)
@click.option("--clouds", default="aws,gcp,azure", show_default=True, help="Comma-separated clouds to compare.")
@click.option(
    "--stack-file",
    "-f",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="MBOPS_STACK_FILE",
    help="Stack file (YAML): app, components, usage assumptions. [env: MBOPS_STACK_FILE]",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="CLOUD=REGION",
    help="Region for one cloud (repeatable), e.g. --region aws=eu-west-1. [default: each cloud's default]",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 3),
    default=3,
    show_default=True,
    help="Parallel plan processes (one cloud each).",
)
def compare(
    profile: str | None,
    environment: str | None,
    clouds: str,
    stack_file: Path | None,
    regions: tuple[str, ...],
    fmt: str,
    output: Path | None,
    workers: int,
) -> None:
    """Plan one profile on several clouds in parallel and compare them per component.

    For each component kind: the resources each cloud uses, their count, the monthly cost estimate, policy
    findings, and capability notes (HA, scale to zero, cold starts, what is not available).

    \b
    Examples:
      mbops compare --profile managed
      mbops compare --profile saas --env prod --format html --output saas-prod.html
      mbops compare -f stack.yaml --clouds aws,gcp --format markdown
    """
    from mbops.engine.compare import compare as run_compare
    from mbops.engine.compare import markdown
    from mbops.errors import MbopsError

    comparison = run_compare(
        profile=profile,
        environment=environment,
        clouds=_clouds(clouds),
        stack_file=stack_file,
        regions=_regions(regions),
        workers=workers,
        with_svg=fmt == "html",
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
    if comparison.failed:
        names = ", ".join(f"{c['cloud']} ({c['error']})" for c in comparison.failed)
        raise MbopsError(f"the plan failed on {names}")


def _cell(cell: dict[str, Any]) -> str:
    from mbops.engine.compare import count, money

    if cell.get("unavailable"):
        return f"[yellow]not available[/]\n{cell['unavailable']['reason']}"
    cap = cell.get("capability") or {}
    policy = cell["policy"]
    lines = [cap.get("service", ""), f"[bold]{money(cell['monthly'])}[/]/mo · {count(cell['resource_count'])}"]
    if cell["unpriced"]:
        lines[-1] += f" · [yellow]{cell['unpriced']} unpriced[/]"
    if policy["mandatory"] or policy["advisory"]:
        lines.append(f"policy: [red]{policy['mandatory']}[/] mandatory, {policy['advisory']} advisory")
    if cap.get("ha"):
        lines.append(f"[dim]HA: {cap['ha']}; scale to zero: {cap.get('scale_to_zero')}[/]")
    if cell.get("facts"):
        lines.append(f"[dim]{'; '.join(cell['facts'])}[/]")
    return "\n".join(lines)


def print_table(comparison: Any, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from mbops.engine.compare import count, money

    c = comparison
    ok = [x for x in c.clouds if c.columns[x].get("ok")]
    table = Table(title=f"{c.profile} ({c.environment}) on {', '.join(c.clouds)}", show_lines=True, expand=False)
    table.add_column("component", style="bold")
    for cloud in ok:
        table.add_column(f"{cloud} ({c.columns[cloud]['region']})", overflow="fold")
    for kind in c.kinds:
        table.add_row(kind, *[_cell(c.cell(x, kind)) for x in ok])
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
    out = Console(file=output.open("w"), width=160) if output else console()
    out.print(table)
    for cloud in ok:
        for gap in c.columns[cloud]["unavailable"]:
            out.print(
                f"[yellow]not available on {cloud}: {gap['kind']}[/] — {gap['reason']} "
                f"Use: {gap.get('alternative', '')}"
            )
        if c.columns[cloud].get("note"):
            out.print(f"[dim]{cloud}: {c.columns[cloud]['note']}[/]")
    for column in c.failed:
        out.print(f"[red]{column['cloud']}: plan failed[/] — {column['error']}")
    timing = ", ".join(f"{x} {c.columns[x].get('seconds', 0):.1f} s" for x in c.clouds)
    out.print(
        f"[dim]Usage assumptions and price sources: --format markdown/html/json. "
        f"Plans: {timing}; {c.seconds:.1f} s in all with {c.workers} worker(s).[/]"
    )
