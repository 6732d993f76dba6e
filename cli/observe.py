"""``mbops status | logs``: what a deployed stack is doing, on this machine or in its cloud."""

from __future__ import annotations

import sys

import click

from mbops.cli.options import StackRef, stack_options
from mbops.cli.render import console, echo_json
from mbops.errors import ConfigError, DeployError

STATE_STYLE = {"up": "green", "down": "red", "unknown": "yellow"}


@click.command()
@stack_options(state=True)
@click.option("--json", "as_json", is_flag=True, help="Print each component's health as JSON.")
def status(ref: StackRef, as_json: bool) -> None:
    """Show each component's health; exit 1 when one is down, 2 when the stack is not deployed.

    \b
    Local: the process is alive and owns its port, the health path answers (and how fast), the database
    accepts connections, the disk the data uses. Clouds: the public endpoint's health path, probed from here.
    """
    stack = ref.stack
    target = ref.target()
    try:
        rows = target.status(stack)
    except DeployError as exc:
        if target.recorded(stack) is None:  # no such stack here: bad input (exit 2), not a component down (1)
            raise ConfigError(f"{exc} (mbops stacks lists the deployed stacks)") from None
        raise
    if as_json:
        echo_json(rows)
    else:
        from rich.table import Table

        table = Table(title=f"{stack.name} ({stack.profile} on {stack.cloud}, {stack.environment})")
        for column in ("component", "resource", "state", "detail", "latency", "disk"):
            table.add_column(column)
        for row in rows:
            style = STATE_STYLE.get(row["state"], "")
            latency = f"{row['latency_ms']:,.0f} ms" if row.get("latency_ms") is not None else ""
            disk = _size(row["disk_bytes"]) if row.get("disk_bytes") is not None else ""
            table.add_row(str(row.get("component") or ""), row["resource"], f"[{style}]{row['state']}[/]",
                          str(row.get("detail", "")), latency, disk)  # fmt: skip
        console().print(table)
    if any(row["state"] != "up" for row in rows):
        sys.exit(1)


@click.command()
@stack_options(state=True)
@click.option("--component", type=click.Choice(["app", "database", "cache"]), help="Only this component's log.")
@click.option("--lines", "-l", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="How many of the last lines to show per log.")  # fmt: skip
@click.option("--follow", "-F", is_flag=True, help="Keep printing new lines until Ctrl-C.")
def logs(ref: StackRef, component: str | None, lines: int, follow: bool) -> None:
    """Print a stack's logs with timestamps (app, database, cache), or where its cloud keeps them.

    \b
    Examples:
      mbops logs                          # the last 50 lines of every local log
      mbops logs --component app -F       # follow the app's log
      mbops logs --cloud aws -e prod      # the commands and console links for the cloud's logs
    """
    stack = ref.stack
    try:
        for line in ref.target().logs(stack, component=component, lines=lines, follow=follow):
            click.echo(line)
    except KeyboardInterrupt:
        sys.exit(130)


def _size(value: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)
