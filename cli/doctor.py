"""``mbops doctor``: which tools and credentials this machine has, and what each one enables."""

from __future__ import annotations

import platform
from typing import Any

import click

from mbops import __version__
from mbops.cli.render import console, echo_json

CLOUDS = ("aws", "gcp", "azure")


def readiness(found: dict[str, Any]) -> dict[str, Any]:
    """What the machine can do: the local target (and its database) and which clouds can be deployed now."""
    tools, creds = found["tools"], found["credentials"]
    pulumi = tools["pulumi"]
    cloud_ready = pulumi["present"] and creds["pulumi-state"]["present"]
    return {
        "local": {
            "ready": True,
            "database": "postgresql" if tools["postgresql"]["present"] else "sqlite",
            "cache": "redis" if tools["redis"]["present"] else "unavailable",
        },
        "deploy": {cloud: bool(cloud_ready and creds[cloud]["present"]) for cloud in CLOUDS},
        # The local cloud on the Pulumi engine needs only the CLI and the state settings (no cloud plugin).
        "pulumi_engine": {
            "ready": bool(cloud_ready), "cli": pulumi["path"], "version": pulumi["version"],
            "found_on": (pulumi["sources"] or [None])[0],
        },
        "preview": {cloud: True for cloud in CLOUDS},
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (tools, credentials, ready).")
def doctor(as_json: bool) -> None:
    """Report which tools and credentials are present and what each enables.

    Looks for the Pulumi CLI (on PATH, else the one tools/build-pulumi.sh built into .tools/bin), cloud
    credentials (AWS, GCP, Azure: where they would come from, never their
    values), the Pulumi state backend and secrets settings, PostgreSQL, redis-server, a Docker engine,
    Graphviz and Chromium. Always exits 0: it is a report, not a check.

    \b
    Examples:
      mbops doctor
      mbops doctor --json | jq .ready
    """
    from mbops.engine.tools import report

    found = report()
    data = {
        "mbops": __version__, "python": platform.python_version(), "platform": platform.platform(terse=True),
        **found, "ready": readiness(found),
    }  # fmt: skip
    if as_json:
        echo_json(data)
        return
    _print(data)


def _print(data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    for group, title in (("tools", "Tools"), ("credentials", "Credentials and Pulumi state")):
        if group == "tools":
            title += f" (mbops {data['mbops']}, Python {data['python']})"
        table = Table(title=title)
        for column in ("", "name", "version", "where", "enables", "detail"):
            table.add_column(column, overflow="fold")
        for item in data[group].values():
            mark = "[green]yes[/]" if item["present"] else "[yellow]no[/]"
            where = item["path"] or ", ".join(item["sources"])
            table.add_row(mark, item["name"], item["version"] or "", escape(where or ""),
                          escape(item["enables"]), escape(item["detail"]))  # fmt: skip
        out.print(table)
    ready = data["ready"]
    clouds = [cloud for cloud, ok in ready["deploy"].items() if ok]
    engine = ready["pulumi_engine"]
    if engine["cli"]:
        where = "on PATH" if engine["found_on"] == "PATH" else f"in {engine['found_on']}"
        out.print(escape(f"Pulumi CLI: {engine['version'] or 'does not run'} at {engine['cli']} ({where})."))
    else:
        out.print("Pulumi CLI: not found (on PATH or in .tools/bin); the embedded engine and previews work.")
    out.print(
        f"Local target: ready (database: {ready['local']['database']}, cache: {ready['local']['cache']}). "
        f"Cloud deploys: {', '.join(clouds) if clouds else 'none yet'}. "
        "Offline previews (`mbops preview --cloud aws|gcp|azure`): always."
    )
