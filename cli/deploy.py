"""``mbops up | destroy | refresh | outputs | stacks``: thin commands over a target (``engine/targets.py``).

The stack is resolved once from the shared options (``cli/options.py``); the target runs the command: the
embedded engine for the local cloud, the Pulumi engine for clouds (``--engine`` overrides). The guards (policy
gate, prod destroy, data deletion) are the target's, so they hold on both.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mbops.cli.options import StackRef, stack_options, state_options
from mbops.cli.progress import VERBS, ProgressView
from mbops.cli.render import console, echo_json
from mbops.errors import ConfigError

JSON_HELP = "Print the result as JSON (secrets masked); progress goes to stderr."


def yes_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation (required without a terminal)."
    )(func)


def port_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str | None:
    """``--port``: a port number (1-65535) or ``auto``."""
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return "auto"
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise click.BadParameter(f"{value!r}: give a port number (1-65535) or 'auto'")
    return port


def confirmer() -> Callable[[str], bool] | None:
    """A prompt when a person can answer one (stdin and stdout are terminals, not CI), else None."""
    from mbops.engine.automation import is_interactive

    return (lambda question: click.confirm(question, default=False)) if is_interactive() else None


def outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "stack": outcome.stack, "command": outcome.command, "target": outcome.target, "result": outcome.result,
        "changes": outcome.changes, "summary": outcome.counts, "elapsed_s": round(outcome.elapsed, 2),
        "outputs": outcome.outputs, "unavailable": outcome.unavailable, "kept_data": outcome.kept_data,
        "drift": outcome.drift, "messages": [{"severity": s, "message": m} for s, m in outcome.messages],
    }  # fmt: skip


def print_outputs(outputs: dict[str, Any], unavailable: dict[str, dict[str, str]] | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in sorted(outputs):
        value = outputs[key]
        table.add_row(key, Text(value if isinstance(value, str) else json.dumps(value)))
    out = console()
    out.print(table)
    for kind, info in sorted((unavailable or {}).items()):
        reason = str(info.get("reason") or "").strip().rstrip(".")
        use = f" Use: {info['alternative']}" if info.get("alternative") else ""
        out.print(f"[yellow]not available: {kind}[/] — {reason}.{use}")


def summary_line(outcome: Any) -> str:
    counts = outcome.counts
    parts = [f"{counts[op]} {VERBS[op][1]}" for op in ("create", "update", "replace", "delete") if counts.get(op)]
    changes = ", ".join(parts) if parts else "no changes"
    same = f", {counts['same']} unchanged" if counts.get("same") else ""
    return (f"{outcome.command} {outcome.stack}: {outcome.changes} change(s) — {changes}{same} "
            f"in {outcome.elapsed:.1f}s")  # fmt: skip


def _print_messages(outcome: Any) -> None:
    for severity, text in outcome.messages:
        if text.startswith(("not available on ", "partly available on ")):
            continue  # listed with the outputs, with the alternative
        colour = {"warning": "yellow", "error": "red"}.get(severity, "cyan")
        console().print(f"[{colour}]{severity}:[/] {text}", highlight=False)


# -- commands ------------------------------------------------------------------------------------------------


@click.command()
@stack_options(state=True)
@yes_option
@click.option(
    "--port", callback=port_value, metavar="N|auto", envvar="MBOPS_PORT",
    help="The app's port: N overrides app.port; auto (local cloud) moves the app to a free port when app.port is "
         "busy, and says so. [default: app.port; a busy port is an error] [env: MBOPS_PORT]",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def up(ref: StackRef, yes: bool, port: int | str | None, as_json: bool) -> None:
    """Deploy a stack: plan it, enforce the policy rules, then create/update what differs.

    \b
    The local cloud (default) starts real services on this machine: PostgreSQL (or SQLite), Redis,
    a storage folder, a 0600 secrets file and the app itself, then waits until the app is healthy.
    A second `up` with nothing changed touches nothing; changing app settings restarts only the app.
    Local settings: MBOPS_LOCAL_DATABASE=auto|postgres|sqlite (auto: PostgreSQL when installed),
    MBOPS_HEALTH_TIMEOUT=<seconds> to wait for the app's health path (default 60). A busy app.port is an
    error unless --port auto. Ctrl-C finishes the steps in flight, records the state and exits 130.

    \b
    Examples:
      mbops up                                   # the managed profile on this machine
      mbops up -f stack.yaml
      mbops up --cloud aws --profile saas --yes  # through Pulumi (needs the pulumi CLI)
    """
    stack, target = ref.stack, ref.target()
    if port == "auto":
        target.port_auto = True
    elif port is not None:
        stack = stack.model_copy(update={"app": stack.app.model_copy(update={"port": port})})
    title = f"mbops up {stack.name} ({stack.profile} on {stack.cloud}, {stack.environment})"
    with ProgressView(title, enabled=not as_json) as view:
        outcome = target.up(stack, progress=view, yes=yes, confirm=confirmer())
    if as_json:
        echo_json(outcome_json(outcome))
        return
    _print_messages(outcome)
    console().print(summary_line(outcome), highlight=False)
    print_outputs(outcome.outputs, outcome.unavailable)
    if outcome.outputs.get("endpoint"):
        console().print(
            f"\nTry: curl {outcome.outputs['endpoint']}{stack.app.health_path}   (state: {outcome.state})",
            highlight=False,
        )


@click.command()
@stack_options(state=True)
@yes_option
@click.option(
    "--delete-data", is_flag=True,
    help="Also delete the data: databases, document tables, buckets (kept otherwise; asks to confirm).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def destroy(ref: StackRef, yes: bool, delete_data: bool, as_json: bool) -> None:
    """Delete a stack's resources, dependents first. Data is kept unless --delete-data.

    \b
    A prod stack is only destroyed with both --delete-data and --yes; --delete-data alone asks to confirm
    on a terminal and needs --yes elsewhere.
    Local cloud: services stop; the database cluster, document DB and storage folder stay on disk (listed),
      and the next `up` uses them again.
    Clouds: data resources (RDS/Cloud SQL/Azure PostgreSQL, buckets, tables) are retained in the account and
      leave the stack (Pulumi retainOnDelete); with --delete-data their deletion protection is lifted first
      (an update), then they are deleted with everything else.

    \b
    Examples:
      mbops destroy                   # stop everything; keep the database and files for the next up
      mbops destroy --delete-data     # remove the data too
    """
    stack, target = ref.stack, ref.target()
    with ProgressView(f"mbops destroy {stack.name}", enabled=not as_json) as view:
        outcome = target.destroy(stack, progress=view, delete_data=delete_data, yes=yes, confirm=confirmer())
    if as_json:
        echo_json(outcome_json(outcome))
        return
    console().print(summary_line(outcome), highlight=False)
    if outcome.kept_data:
        console().print("Data kept (the next `mbops up` uses it again; --delete-data removes it):", highlight=False)
        for path in outcome.kept_data:
            console().print(f"  {path}", highlight=False)


@click.command()
@stack_options(state=True)
@click.option("--json", "as_json", is_flag=True, help="Print the drift found as JSON.")
@click.option("--exit-code", is_flag=True, help="Exit 2 when drift was found (for scripts and CI).")
def refresh(ref: StackRef, as_json: bool, exit_code: bool) -> None:
    """Compare a stack's state with what really runs and record the drift; the next `mbops up` repairs it.

    Local cloud: process alive and answering, folders and files present. Clouds: the provider's read of
    every resource (`pulumi refresh`).
    """
    stack, target = ref.stack, ref.target()
    with ProgressView(f"mbops refresh {stack.name}", enabled=not as_json) as view:
        outcome = target.refresh(stack, progress=view)
    drifted = bool(outcome.drift) or outcome.changes > 0
    if as_json:
        echo_json({**outcome_json(outcome), "drifted": drifted})
    elif not drifted:
        console().print(f"refresh {stack.name}: no drift, every resource is as recorded", highlight=False)
    else:
        found = len(outcome.drift) or outcome.changes
        console().print(f"[yellow]refresh {stack.name}: {found} resource(s) drifted[/]", highlight=False)
        for item in outcome.drift:
            console().print(
                f"  {item['resource']}: {item['was']} -> {item['now']} ({item['repair']})", highlight=False
            )
        console().print("Run `mbops up` to repair.", highlight=False)
    if drifted and exit_code:
        sys.exit(2)


@click.command()
@stack_options(state=True)
@click.argument("output", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON.")
@click.option("--show-secrets", is_flag=True, help="Show secret values (masked as [secret] otherwise).")
def outputs(ref: StackRef, output: str | None, as_json: bool, show_secrets: bool) -> None:
    """Print a deployed stack's outputs, or the value of one (OUTPUT), e.g. `mbops outputs endpoint`."""
    stack = ref.stack
    outcome = ref.target().outputs(stack, show_secrets=show_secrets)
    values = outcome.outputs
    if output is not None:
        if output not in values:
            raise ConfigError(
                f"output '{output}': stack {stack.name} has {', '.join(sorted(values)) or 'no outputs'}"
            )
        value = values[output]
        if value == "[secret]" and not show_secrets:
            raise ConfigError(f"output '{output}' is a secret: add --show-secrets to print it")
        if as_json:
            echo_json(value)
        else:
            click.echo(value if isinstance(value, str) else json.dumps(value))
        return
    if as_json:
        echo_json(values)
    else:
        print_outputs(values, outcome.unavailable)


@click.command()
@state_options
@click.option("--json", "as_json", is_flag=True, help="Print the stacks as JSON.")
def stacks(engine: str | None, state_dir: Path | None, backend: str | None, as_json: bool) -> None:
    """List deployed stacks: cloud, profile, resources, last update.

    The embedded engine's stacks (the state folder) by default; with --engine pulumi, the stacks in the
    Pulumi backend (--backend).
    """
    from mbops.engine.targets import target_for

    target = target_for("local", engine=engine, state_dir=state_dir, backend=backend)
    rows = target.stacks()
    if as_json:
        echo_json(rows)
        return
    where = getattr(target, "store", None)
    where = str(where.root) if where is not None else (backend or "the Pulumi backend")
    if not rows:
        click.echo(f"no stacks in {where}")
        return
    from rich.table import Table

    table = Table(title=f"stacks in {where}")
    for column in ("name", "cloud", "profile", "env", "resources", "last update", "result"):
        table.add_column(column)
    for row in rows:
        if row.get("name") is None:
            table.add_row("[red]unreadable[/]", "", "", "", "", "", row.get("error", ""))
            continue
        result = str(row.get("last_result", "")) + (
            f" (locked by pid {row['locked_by']})" if row.get("locked_by") else ""
        )
        table.add_row(str(row["name"]), str(row.get("cloud", "")), str(row.get("profile", "")),
                      str(row.get("environment", "")), str(row.get("resources", "")),
                      str(row.get("last_update", "")), result)  # fmt: skip
    console().print(table)
