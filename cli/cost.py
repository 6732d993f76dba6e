"""``mbops cost`` (a stack's monthly estimate) and ``mbops prices`` (the shipped price catalog)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mbops.cli.errors import MbopsGroup
from mbops.cli.options import StackRef, stack_options
from mbops.cli.render import console, echo_json

CATALOG_CLOUDS = ("aws", "gcp", "azure")


USAGE_PRESETS = ("small", "medium", "large")  # mbops.cost.usage.PRESETS (not imported: keeps `--help` fast)


def _list_usage(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from mbops.cost.usage import PRESETS, USAGE

    click.echo("Usage assumptions a stack file may set under `usage:`, per preset (--usage-preset; small is the")
    click.echo("default). -1 = worked out from the plan, as the key's meaning says.")
    click.echo(f"  {'key':28} " + " ".join(f"{p:>13}" for p in PRESETS) + f"  {'unit':10} meaning")
    for key, spec in USAGE.items():
        values = " ".join(f"{spec.preset(p):>13,.10g}" for p in PRESETS)
        derived = f" (-1: {spec.derived})" if spec.derived else ""
        click.echo(f"  {key:28} {values}  {spec.unit:10} {spec.help}{derived}")
    ctx.exit(0)


@click.command()
@stack_options
@click.option("--usage-preset", type=click.Choice(USAGE_PRESETS), envvar="MBOPS_USAGE_PRESET",
              help="Traffic and data volumes to assume; the stack file's `usage:` overrides single values. "
                   "[default: small] [env: MBOPS_USAGE_PRESET]")
@click.option("--free-tiers/--no-free-tiers", default=None,
              help="Deduct the clouds' monthly free tiers (once per stack; they are per account). "
                   "[default: off, as the clouds' calculators; or the stack file's usage.free_tiers]")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
@click.option("--list-usage", is_flag=True, expose_value=False, is_eager=True, callback=_list_usage,
              help="List the usage assumptions (keys, each preset's values, units) and exit.")  # fmt: skip
def cost(ref: StackRef, usage_preset: str | None, free_tiers: bool | None, as_json: bool) -> None:
    """Estimate a stack's monthly cost from the shipped price catalog.

    Plans the stack offline, prices every resource on the catalog's list prices for the stack's region and
    the usage assumptions (a preset, overridden by the stack file's `usage:` section), and lists what is
    free and what could not be priced. A usage-driven charge with no usage shows its price per unit.

    \b
    Examples:
      mbops cost --cloud aws --profile managed
      mbops cost --cloud gcp --profile saas --env prod --usage-preset medium --json
      mbops cost -f stack.yaml          # with usage: {requests_per_month: 5e7, storage_gb: 500}
      mbops cost --cloud azure --free-tiers
      mbops cost --list-usage           # the usage keys, each preset's values and units
    """
    from mbops.cost.estimate import estimate as estimate_cost
    from mbops.engine.plan import plan

    stack = ref.stack
    graph = plan(stack, with_policy=False, with_cost=False)
    estimate = estimate_cost(graph, stack, preset=usage_preset, free_tiers=free_tiers)
    if as_json:
        echo_json(
            {
                "stack": graph["stack"],
                "profile": graph["profile"],
                "cloud": graph["cloud"],
                "environment": graph["environment"],
                "region": graph["region"],
                **estimate,
            }
        )
    else:
        print_estimate(graph, estimate)


def assumptions_text(estimate: dict[str, Any]) -> str:
    """``hours_per_month=730, replicas=auto, ...``: a value worked out from the plan (-1) reads ``auto``."""
    overridden = set(estimate.get("overridden", []))
    derived = estimate.get("derived") or {}
    return ", ".join(
        f"{k}={'auto' if k in derived else f'{v:,.10g}'}{'*' if k in overridden else ''}"
        for k, v in estimate["assumptions"].items()
    )


def money(value: float) -> str:
    return f"${value:,.2f}"


def unit_price(value: float) -> str:
    return f"${value:,.4f}" if value >= 0.01 else f"${value:.8f}".rstrip("0")


def _note(item: dict[str, Any]) -> str:
    return f" — {item['note']}" if item.get("note") else ""


def print_estimate(graph: dict[str, Any], estimate: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    where = f"{graph['region']}, {graph['environment']}"
    title = f"{graph['stack']}: {graph['profile']} on {graph['cloud']} ({where})"
    if graph["cloud"] == "local":
        out.print(
            f"{title}: [bold]$0.00/month[/]. The local cloud runs on this machine and costs nothing; "
            "`mbops cost --cloud aws|gcp|azure` prices the same stack on a cloud."
        )
        return
    table = Table(title=f"Monthly cost estimate — {title}", expand=False)
    for column, justify in (
        ("component", "left"),
        ("resource", "left"),
        ("price", "left"),
        ("quantity", "right"),
        ("unit price", "right"),
        ("monthly", "right"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for item in sorted(estimate["items"], key=lambda i: (i["component"] or "", -i["monthly"])):
        table.add_row(
            item["component"] or "",
            item["resource"],
            f"{item['description']}\n[dim]{item['detail']}{_note(item)}[/]",
            f"{item['quantity']:,.6g} {item['unit']}",
            unit_price(item["unit_price"]),
            f"[dim]{item['per_unit']}[/]" if item.get("per_unit") else money(item["monthly"]),
        )
    out.print(table)
    by_component = ", ".join(f"{k} {money(v)}" for k, v in estimate["by_component"].items())
    out.print(f"[bold]Total: {money(estimate['monthly_total'])}/month[/] ({by_component})")
    per_unit = [i for i in estimate["items"] if i.get("per_unit")]
    if per_unit:
        out.print(f"[dim]{len(per_unit)} usage-driven charge(s) assume no usage: their price per unit is shown.[/]")
    if estimate["unpriced"]:
        out.print(f"[yellow]Not priced ({len(estimate['unpriced'])}), not included in the total:[/]")
        for entry in estimate["unpriced"]:
            part = " (one of its charges)" if entry.get("partial") else ""
            out.print(f"  [yellow]{entry['resource']}[/] ({entry['type']}){part}: {entry['why']}")
    if estimate["free"]:
        reasons: dict[str, list[str]] = {}
        for entry in estimate["free"]:
            reasons.setdefault(entry["reason"], []).append(entry["type"].rsplit(":", 1)[-1])
        out.print(f"[green]Free ({len(estimate['free'])}):[/]")
        for reason, types in reasons.items():
            out.print(f"  {', '.join(sorted(set(types)))}: {reason}")
    tiers = "deducted" if estimate.get("free_tiers") else "not deducted (--free-tiers to deduct them)"
    out.print(f"[dim]Usage preset {estimate.get('preset', 'small')}; free tiers {tiers}.[/]")
    out.print(f"[dim]Usage assumptions (* = from the stack file or a flag; auto = worked out from the plan, "
              f"see --list-usage): {assumptions_text(estimate)}[/]")  # fmt: skip
    catalog = estimate["catalog"]
    line = f"Prices: {catalog['cloud']} catalog as of {catalog['as_of']}"
    fallback = catalog.get("region_fallback")
    if fallback:
        line += (
            f"; {catalog['region']} has no own prices: {fallback['priced_as']} x {fallback['multiplier']:g} "
            f"(regional multiplier for '{fallback['prefix']}')"
        )
    out.print(f"[dim]{line}. {catalog.get('method', '')}[/]")


@click.group(cls=MbopsGroup)
def prices() -> None:
    """The price catalog behind `mbops cost` and `mbops compare`."""


@prices.command("show")
@click.option("--cloud", "clouds", type=click.Choice(CATALOG_CLOUDS), multiple=True, help="Cloud(s). [default: all]")
@click.option("--evidence", is_flag=True, help="List every SKU: its prices, where they were read, copied regions.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(clouds: tuple[str, ...], evidence: bool, as_json: bool) -> None:
    """Show each catalog's date, regions, SKU count and sources (and, with --evidence, every SKU's evidence)."""
    from mbops.cost.catalog import load_catalog

    rows = []
    for cloud in clouds or CATALOG_CLOUDS:
        catalog = load_catalog(cloud)
        dates = sorted({str(e.get("as_of", catalog.as_of)) for e in catalog.skus.values()})
        row: dict[str, Any] = {
            "cloud": cloud,
            "as_of": catalog.as_of,
            "entry_dates": dates,
            "file": str(catalog.path),
            "regions": catalog.priced_regions(),
            "skus": len(catalog.skus),
            "copied": sum(len(e.get("copied") or {}) for e in catalog.skus.values()),
            "sources": catalog.summary(catalog.default_region)["sources"],
            "method": str(catalog.data.get("method", "")).strip(),
        }
        if evidence:
            row["entries"] = [
                {
                    "sku": key,
                    "unit": entry.get("unit"),
                    "prices": entry.get("prices") or {},
                    "evidence": catalog.evidence(key),
                    "copied": entry.get("copied") or {},
                    **({"estimated": entry["estimated"]} if entry.get("estimated") else {}),
                }
                for key, entry in catalog.skus.items()
            ]
        rows.append(row)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['cloud']}: {row['skus']} SKUs ({row['copied']} regional prices copied, not read), "
            f"as of {row['as_of']} "
            f"(entries dated {', '.join(row['entry_dates'])}), "
            f"regions {', '.join(row['regions'])}; {row['file']}"
        )
        click.echo(f"  {row['method']}")
        for source in row["sources"]:
            click.echo(f"  - {source}")
        for entry in row.get("entries", []):
            prices = ", ".join(f"{region} {value:g}" for region, value in entry["prices"].items())
            click.echo(f"  {entry['sku']} ({entry['unit']}): {prices}")
            for line in entry["evidence"]:
                click.echo(f"      {line}")
            for region, copy in entry["copied"].items():
                click.echo(f"      {region}: not read, copied from {copy['from']} x {copy.get('multiplier', 1):g}")
            if entry.get("estimated"):
                click.echo(f"      estimated: {entry['estimated']}")


@prices.command("refresh")
@click.option("--cloud", "clouds", type=click.Choice(CATALOG_CLOUDS), multiple=True, help="Cloud(s). [default: all]")
@click.option(
    "--offline-sample",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Read recorded price list files from this directory instead of the network.",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the refreshed catalogs here (read them with MBOPS_PRICE_CATALOG=<dir>). "
    "[default: the catalog's own directory]",
)
@click.option("--region", "regions", multiple=True, help="Also price this region (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def refresh(
    clouds: tuple[str, ...],
    offline_sample: Path | None,
    output_dir: Path | None,
    regions: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Re-read prices from the clouds' public price lists and rewrite the catalog.

    \b
    Reads: AWS Price List offer files, the Azure Retail Prices API, the GCP Cloud Billing Catalog API
    (needs MBOPS_GCP_API_KEY). Needs network access; without it the shipped catalog stays in use.
    Entries not found keep their price and date and are reported.
    """
    from mbops.cost.catalog import load_catalog
    from mbops.cost.pricelists import HttpSource, NetworkUnavailable, SampleSource, refresh_catalog
    from mbops.errors import ConfigError
    from mbops.stacks.regions import region_problem

    source = SampleSource(offline_sample) if offline_sample else HttpSource()
    reports = []
    for cloud in clouds or CATALOG_CLOUDS:
        extra = [r for r in regions if region_problem(cloud, r) is None]
        if regions and not extra and clouds:
            raise ConfigError(f"--region: none of {', '.join(regions)} is a {cloud} region")
        try:
            report = refresh_catalog(cloud, source, output_dir=output_dir, regions=extra, write=not dry_run)
        except NetworkUnavailable as exc:
            catalog = load_catalog(cloud)
            raise NetworkUnavailable(
                f"mbops prices refresh needs network access to the {cloud} price list: {exc}. "
                f"The shipped catalog stays in use ({cloud} as of {catalog.as_of}: {catalog.path}). "
                f"Use --offline-sample DIR to read recorded price list files."
            ) from None
        reports.append(report)
    if as_json:
        echo_json([r.as_dict() for r in reports])
        return
    for report in reports:
        verb = "would write" if dry_run else "wrote"
        click.echo(
            f"{report.cloud}: {len(report.updated)} price(s) changed, {report.unchanged} unchanged, "
            f"{len(report.not_found)} not found (kept); {verb} {report.path}"
        )
        for change in report.updated:
            click.echo(f"  {change['sku']} [{change['region']}]: {change['old']} -> {change['new']} ({change['ref']})")
