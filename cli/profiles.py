"""``mbops profiles``: the stack profiles, and what one makes on a cloud."""

from __future__ import annotations

import click

from mbops.cli.options import CLOUDS, ENVIRONMENTS
from mbops.cli.render import console, echo_json


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def profiles(ctx: click.Context, as_json: bool) -> None:
    """List the stack profiles (saas, managed, custom) and the component kinds each deploys."""
    if ctx.invoked_subcommand:
        return
    from mbops.stacks.profiles import load_profile, profile_names

    rows = [load_profile(n) for n in profile_names()]
    if as_json:
        echo_json([{"name": p.name, "summary": p.summary, "components": list(p.components),
                    "optional": p.optional, "app_runs_on": p.app_runs_on} for p in rows])  # fmt: skip
        return
    from rich.table import Table

    table = Table(title="mbops stack profiles")
    for column in ("profile", "app runs on", "components", "summary"):
        table.add_column(column, overflow="fold")
    for p in rows:
        table.add_row(p.name, p.app_runs_on, ", ".join(p.components), p.summary)
    console().print(table)


@profiles.command("show")
@click.argument("name", type=click.Choice(["saas", "managed", "custom"]))
@click.option("--cloud", "-c", type=click.Choice(CLOUDS), default="aws", show_default=True, envvar="MBOPS_CLOUD")
@click.option("--env", "-e", "environment", type=click.Choice(ENVIRONMENTS), default="dev", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(name: str, cloud: str, environment: str, as_json: bool) -> None:
    """Show a profile's components, their settings and the cloud resources each one makes.

    The resources come from planning the profile on the embedded engine, so they are exactly what
    `mbops preview` would create.
    """
    from mbops.engine.plan import plan
    from mbops.stacks.config import resolve

    stack = resolve(profile=name, cloud=cloud, environment=environment)
    graph = plan(stack, with_policy=False, with_cost=False)
    by_kind: dict[str, list[str]] = {}
    for res in graph["resources"]:
        if res["custom"] and res["component"]:
            by_kind.setdefault(res["component"], []).append(res["type"])
    components = []
    for kind, spec in stack.components.items():
        types = by_kind.get(kind, [])
        counts = {t: types.count(t) for t in dict.fromkeys(types)}
        settings = spec.model_dump(exclude={"overrides"})
        components.append({"kind": kind, "settings": settings, "resources": counts})
    data = {"profile": name, "cloud": cloud, "environment": environment, "components": components,
            "unavailable": graph["unavailable"]}  # fmt: skip
    if as_json:
        echo_json(data)
        return
    from rich.table import Table

    table = Table(title=f"profile {name} on {cloud} ({environment})")
    for column in ("component", "settings", "cloud resources"):
        table.add_column(column, overflow="fold")
    for comp in components:
        settings = ", ".join(f"{k}={v}" for k, v in comp["settings"].items())
        resources = "\n".join(f"{n}× {t}" for t, n in comp["resources"].items()) or "-"
        table.add_row(comp["kind"], settings, resources)
    out = console()
    out.print(table)
    for gap in graph["unavailable"]:
        out.print(f"[yellow]not available on {cloud}: {gap['kind']}[/] — {gap['reason']} Use: {gap['alternative']}")
