"""``mbops profiles``: the stack profiles, and what one makes on a cloud."""

from __future__ import annotations

from typing import Any

import click

from mbops.cli.options import PROFILES, Choice, StackRef, stack_options
from mbops.cli.render import console, echo_json, gap_lines


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


def _setting(value: Any) -> str:
    from mbops.engine.fmt import number

    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_setting(v)}" for k, v in value.items()) + "}"
    return str(value)


@profiles.command("show")
@click.argument("profile_name", metavar="[NAME]", required=False, type=Choice(PROFILES))
@stack_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(ref: StackRef, profile_name: str | None, as_json: bool) -> None:
    """Show a profile's components, their settings and the cloud resources each one makes.

    NAME is the profile (the same as --profile); the other stack options work as for every command (the cloud
    defaults to local, the environment to dev; a stack file's components are shown as it sets them). The
    resources come from planning the stack on the embedded engine, so they are exactly what `mbops preview`
    would create.

    \b
    Examples:
      mbops profiles show managed                  # on this machine
      mbops profiles show saas -c gcp -e prod
      mbops profiles show -f stack.yaml --json
    """
    from mbops.engine.plan import plan
    from mbops.errors import ConfigError

    if profile_name is not None:
        given = (ref.labels or {}).get("profile")
        if ref.profile not in (None, profile_name) and given != "MBOPS_PROFILE":
            raise ConfigError(f"NAME '{profile_name}' and {given} '{ref.profile}' disagree; give one of them")
        ref.profile = profile_name
        ref.labels = {**(ref.labels or {}), "profile": "NAME"}
    stack = ref.stack
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
    gaps = {"unavailable": graph["unavailable"], "limitations": graph.get("limitations", [])}
    data = {"profile": stack.profile, "cloud": stack.cloud, "environment": stack.environment, "region": stack.region,
            "components": components, **gaps}  # fmt: skip
    if as_json:
        echo_json(data)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"profile {stack.profile} on {stack.cloud} ({stack.environment}, {stack.region})")
    for column in ("component", "settings", "cloud resources"):
        table.add_column(column, overflow="fold")
    for comp in components:
        settings = ", ".join(f"{k}={_setting(v)}" for k, v in comp["settings"].items())
        resources = "\n".join(f"{n}× {t}" for t, n in comp["resources"].items()) or "-"
        table.add_row(comp["kind"], escape(settings), resources)
    out = console()
    out.print(table)
    for line in gap_lines(graph):
        out.print(f"[yellow]{escape(line)}[/]")
