"""``mbops up | destroy | refresh | outputs | stacks``: deploy and manage stacks.

The local target (``--cloud local``, the default) runs on the embedded engine (``mbops.engine.apply``) with
its state in ``--state-dir`` (``MBOPS_STATE_DIR``, default ``~/.mbops/state``); ``--cloud aws|gcp|azure``
goes through the Pulumi Automation API (``mbops.engine.automation``), state in ``--backend``
(``MBOPS_BACKEND``). ``up`` always plans the stack and enforces the policy rules first, on every target.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mbops.cli.options import load_stack, stack_options
from mbops.cli.render import console, echo_json, finding_line
from mbops.errors import ConfigError, DeployError, PolicyViolationError

VERBS = {
    "create": ("creating", "created"), "update": ("updating", "updated"),
    "replace": ("replacing", "replaced"),
    "delete": ("deleting", "deleted"), "refresh": ("checking", "checked"), "same": ("unchanged", "unchanged"),
}  # fmt: skip
STYLE = {
    "create": "green",
    "update": "yellow",
    "replace": "magenta",
    "delete": "red",
    "refresh": "cyan",
    "same": "dim",
}


def state_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--state-dir", type=click.Path(path_type=Path, file_okay=False), envvar="MBOPS_STATE_DIR",
        help="State folder of the local target. [default: ~/.mbops/state] [env: MBOPS_STATE_DIR]",
    )(func)  # fmt: skip


def backend_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--backend", envvar="MBOPS_BACKEND", metavar="URL",
        help="Pulumi state backend for clouds: file://, s3://, gs://, azblob:// or Pulumi Cloud. "
        "[env: MBOPS_BACKEND]",
    )(func)  # fmt: skip


def yes_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation (clouds: required without a terminal)."
    )(func)


# -- live progress -------------------------------------------------------------------------------------------


class ProgressView:
    """Per-resource progress: a live rich table on a terminal, one line per step otherwise."""

    def __init__(self, title: str, enabled: bool = True) -> None:
        self.out = console()
        self.title = title
        self.enabled = enabled
        self.rows: dict[str, tuple[Any, float]] = {}
        self.lock = threading.Lock()
        self.live: Any = None

    def __enter__(self) -> ProgressView:
        if self.enabled and self.out.is_terminal:
            from rich.live import Live

            self.live = Live(
                console=self.out, get_renderable=self._table, refresh_per_second=8, transient=False
            )
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()

    def notice(self, message: str) -> None:
        if self.enabled:
            self.out.print(f"[yellow]notice:[/] {message}")

    def event(self, event: Any) -> None:
        if not self.enabled:
            return
        with self.lock:
            started = self.rows.get(event.urn, (None, time.monotonic()))[1]
            self.rows[event.urn] = (event, started if event.phase != "start" else time.monotonic())
        if self.live is None and event.op != "same":
            self.out.print(self._line(event), highlight=False)

    def _line(self, event: Any) -> str:
        doing, done = VERBS.get(event.op, (event.op, event.op))
        kind = f"{event.component or '':<10}"
        if event.phase == "start":
            detail = f"  [dim]{event.detail}[/]" if event.detail else ""
            return f"  [{STYLE.get(event.op, '')}]{doing:<10}[/] {kind} {event.name}{detail}"
        if event.phase == "failed":
            return f"[red]✗ {doing} failed[/] {kind} {event.name} ({event.elapsed:.1f}s): {event.detail}"
        style = STYLE.get(event.op, "")
        return f"[green]✓[/] [{style}]{done:<9}[/] {kind} {event.name} [dim]({event.elapsed:.1f}s)[/]"

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, expand=False, show_edge=False)
        for column in ("", "step", "component", "resource", "time"):
            table.add_column(column)
        with self.lock:
            rows = list(self.rows.values())
        for event, started in rows:
            doing, done = VERBS.get(event.op, (event.op, event.op))
            style = STYLE.get(event.op, "")
            if event.phase == "start":
                mark, step, elapsed = "[yellow]…[/]", f"[{style}]{doing}[/]", time.monotonic() - started
            elif event.phase == "failed":
                mark, step, elapsed = "[red]✗[/]", f"[red]{doing} failed[/]", event.elapsed
            else:
                mark, step, elapsed = "[green]✓[/]", f"[{style}]{done}[/]", event.elapsed
            table.add_row(mark, step, event.component or "", event.name, f"{elapsed:.1f}s")
        return table


# -- shared steps --------------------------------------------------------------------------------------------


def enforce_policies(stack: Any, quiet: bool = False, state_dir: Path | None = None) -> dict[str, Any]:
    """Plan the stack and stop with exit 3 when a mandatory policy rule fails; print advisory findings."""
    from mbops.engine.plan import plan
    from mbops.policies import check

    graph = plan(stack, with_cost=False, state_dir=str(state_dir) if state_dir else None)
    findings = graph.get("policy") or []
    enforce = getattr(check, "enforce", None)
    if enforce is not None:
        enforce(findings)
    else:
        mandatory = [f for f in findings if f.get("enforcement", f.get("severity")) == "mandatory"]
        if mandatory:
            lines = "\n".join(f"  {f['rule']}: {f['resource']}: {f['message']}" for f in mandatory)
            raise PolicyViolationError(
                f"{len(mandatory)} mandatory policy violation(s); nothing was deployed:\n{lines}"
            )
    if not quiet:
        for finding in findings:
            console(stderr=True).print(finding_line(finding), highlight=False)
    return graph


def run_cloud(action: str, stack: Any, backend: str | None, yes: bool, as_json: bool) -> dict[str, Any]:
    """Delegate to the Pulumi Automation API (exit 4 when the pulumi CLI is missing)."""
    from mbops.engine.automation import run as run_pulumi

    echo: Callable[[str], None] = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    result = run_pulumi(action, stack, backend=backend, yes=yes, echo=echo)
    if as_json:
        echo_json(result)
    else:
        if result.get("changes"):
            changes = ", ".join(f"{n} {op}" for op, n in result["changes"].items())
            click.echo(f"{action} {result.get('stack')}: {result.get('result', 'done')} ({changes})")
        if result.get("outputs"):
            print_outputs(result["outputs"])
    return result


def masked(outputs: dict[str, Any], show_secrets: bool) -> dict[str, Any]:
    from mbops.engine.embedded import plain, unwrap

    values = unwrap(outputs) if show_secrets else plain(outputs)
    return dict(sorted(values.items()))


def print_outputs(outputs: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    values = dict(outputs)
    gaps = values.pop("unavailable", None) or {}
    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in sorted(values):
        value = values[key]
        table.add_row(key, Text(value if isinstance(value, str) else json.dumps(value)))
    out = console()
    out.print(table)
    for kind, info in sorted(gaps.items()):
        out.print(
            f"[yellow]not available locally: {kind}[/] — {info.get('reason')}. {info.get('alternative')}"
        )


def _store(state_dir: Path | None) -> Any:
    from mbops.engine.state import StateStore

    return StateStore(state_dir)


def _summary_line(result: Any) -> str:
    counts = result.summary()
    parts = [f"{counts[op]} {VERBS[op][1]}" for op in ("create", "update", "replace", "delete") if counts[op]]
    changes = ", ".join(parts) if parts else "no changes"
    same = f", {counts['same']} unchanged" if counts["same"] else ""
    took = f"{result.elapsed:.1f}s"
    return f"{result.command} {result.stack}: {result.changes} change(s) — {changes}{same} in {took}"


def _print_messages(result: Any) -> None:
    for severity, text in result.messages:
        if text.startswith("not available on local:"):
            continue  # listed with the outputs, with the alternative
        colour = {"warning": "yellow", "error": "red"}.get(severity, "cyan")
        console().print(f"[{colour}]{severity}:[/] {text}", highlight=False)


def _stack_for(stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
               region: str | None, name: str | None) -> Any:  # fmt: skip
    return load_stack(stack_file, profile, cloud, environment, region, name)


# -- commands ------------------------------------------------------------------------------------------------


@click.command()
@stack_options
@state_dir_option
@backend_option
@yes_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result (summary, outputs with secrets masked) as JSON."
)
def up(
    stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
    region: str | None,
    name: str | None, state_dir: Path | None, backend: str | None, yes: bool, as_json: bool,
) -> None:  # fmt: skip
    """Deploy a stack: plan it, enforce the policy rules, then create/update what differs.

    \b
    The local target (default) starts real services on this machine: PostgreSQL (or SQLite), Redis,
    a storage folder, a 0600 secrets file and the app itself, then waits until the app is healthy.
    A second `up` with nothing changed touches nothing; changing app settings restarts only the app.
    Local settings: MBOPS_LOCAL_DATABASE=auto|postgres|sqlite (auto: PostgreSQL when installed),
    MBOPS_HEALTH_TIMEOUT=<seconds> to wait for the app's health path (default 60).

    \b
    Examples:
      mbops up                                   # the managed profile on this machine
      mbops up -f stack.yaml
      mbops up --cloud aws --profile saas --yes  # through Pulumi (needs the pulumi CLI)
    """
    from mbops.engine import apply

    stack = _stack_for(stack_file, profile, cloud, environment, region, name)
    if stack.cloud != "local":
        from mbops.engine.automation import pulumi_command

        pulumi_command(f"mbops up --cloud {stack.cloud}")  # a missing CLI fails at once, before the plan
    enforce_policies(stack, quiet=as_json, state_dir=state_dir)
    if stack.cloud != "local":
        run_cloud("up", stack, backend, yes, as_json)
        return
    store = _store(state_dir)
    title = f"mbops up {stack.name} ({stack.profile}, {stack.environment}) on this machine"
    with ProgressView(title, enabled=not as_json) as view:
        result = apply.up(stack, store, on_event=view.event, notice=view.notice)
    if as_json:
        echo_json({"stack": stack.name, "command": "up", "changes": result.changes,
                   "summary": result.summary(),
                   "elapsed_s": round(result.elapsed, 2), "outputs": masked(result.outputs, False),
                   "messages": [{"severity": s, "message": m} for s, m in result.messages]})  # fmt: skip
        return
    _print_messages(result)
    console().print(_summary_line(result), highlight=False)
    outputs = masked(result.outputs, False)
    print_outputs(outputs)
    if outputs.get("endpoint"):
        health = stack.app.health_path
        console().print(
            f"\nTry: curl {outputs['endpoint']}{health}   (state: {store.path(stack.name)})", highlight=False
        )


@click.command()
@stack_options
@state_dir_option
@backend_option
@yes_option
@click.option(
    "--delete-data", is_flag=True, help="Also delete database, document DB and storage data (kept otherwise)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def destroy(
    stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
    region: str | None,
    name: str | None, state_dir: Path | None, backend: str | None, yes: bool, delete_data: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Delete a stack's resources, dependents first. Data is kept unless --delete-data.

    \b
    A prod stack is only destroyed with both --delete-data and --yes.
    Examples:
      mbops destroy                   # stop everything; keep the database and files for the next up
      mbops destroy --delete-data     # remove the data too
    """
    from mbops.engine import apply

    stack = _stack_for(stack_file, profile, cloud, environment, region, name)
    if stack.cloud != "local":
        run_cloud("destroy", stack, backend, yes, as_json)
        return
    store = _store(state_dir)
    state = store.load(stack.name)
    if state is None:
        raise DeployError(
            f"stack {stack.name} has no state in {store.root}: nothing to destroy (see mbops stacks)"
        )
    if "prod" in (state.environment, stack.environment) and not (delete_data and yes):
        raise ConfigError(
            f"stack {stack.name} is a prod stack: destroying it stops its services and deletes its data; "
            f"pass --delete-data --yes to confirm"
        )
    with ProgressView(f"mbops destroy {stack.name}", enabled=not as_json) as view:
        result = apply.destroy(
            stack.name, store, delete_data=delete_data, on_event=view.event, notice=view.notice
        )
    if as_json:
        echo_json({"stack": stack.name, "command": "destroy", "summary": result.summary(),
                   "elapsed_s": round(result.elapsed, 2), "kept_data": result.kept_data})  # fmt: skip
        return
    console().print(_summary_line(result), highlight=False)
    if result.kept_data:
        console().print(
            "Data kept (the next `mbops up` uses it again; --delete-data removes it):", highlight=False
        )
        for path in result.kept_data:
            console().print(f"  {path}", highlight=False)


@click.command()
@stack_options
@state_dir_option
@backend_option
@yes_option
@click.option("--json", "as_json", is_flag=True, help="Print the drift found as JSON.")
def refresh(
    stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
    region: str | None,
    name: str | None, state_dir: Path | None, backend: str | None, yes: bool, as_json: bool,
) -> None:  # fmt: skip
    """Check each resource against what really runs (process alive, port answers, folders exist).

    Drift is recorded in the state and reported; the next `mbops up` repairs it.
    """
    from mbops.engine import apply

    stack = _stack_for(stack_file, profile, cloud, environment, region, name)
    if stack.cloud != "local":
        run_cloud("refresh", stack, backend, yes, as_json)
        return
    store = _store(state_dir)
    with ProgressView(f"mbops refresh {stack.name}", enabled=not as_json) as view:
        result = apply.refresh(stack.name, store, on_event=view.event, notice=view.notice)
    if as_json:
        echo_json({"stack": stack.name, "command": "refresh", "drift": result.drift,
                   "elapsed_s": round(result.elapsed, 2)})  # fmt: skip
        return
    if not result.drift:
        console().print(f"refresh {stack.name}: no drift, every resource is as recorded", highlight=False)
        return
    console().print(
        f"[yellow]refresh {stack.name}: {len(result.drift)} resource(s) drifted[/]", highlight=False
    )
    for item in result.drift:
        console().print(
            f"  {item['resource']}: {item['was']} -> {item['now']} ({item['repair']})", highlight=False
        )
    console().print("Run `mbops up` to repair.", highlight=False)


@click.command()
@stack_options
@state_dir_option
@backend_option
@click.argument("output", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON.")
@click.option("--show-secrets", is_flag=True, help="Show secret values (masked as [secret] otherwise).")
def outputs(
    stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
    region: str | None,
    name: str | None, state_dir: Path | None, backend: str | None, output: str | None, as_json: bool,
    show_secrets: bool,
) -> None:  # fmt: skip
    """Print a deployed stack's outputs, or the value of one (OUTPUT), e.g. `mbops outputs endpoint`."""
    stack = _stack_for(stack_file, profile, cloud, environment, region, name)
    if stack.cloud != "local":
        from mbops.engine.automation import stack_outputs

        values = stack_outputs(stack, backend=backend, show_secrets=show_secrets)
    else:
        store = _store(state_dir)
        state = store.load(stack.name)
        if state is None:
            raise DeployError(f"stack {stack.name} has no state in {store.root}: deploy it with mbops up")
        values = masked(state.outputs, show_secrets)
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
        print_outputs(values)


@click.command()
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the stacks as JSON.")
def stacks(state_dir: Path | None, as_json: bool) -> None:
    """List the stacks deployed on this machine: cloud, profile, resources, last update.

    Cloud stacks live in their Pulumi backend: list them with `pulumi stack ls`.
    """
    from mbops.engine.state import StateError

    store = _store(state_dir)
    rows = []
    for item in store.list():
        if isinstance(item, StateError):
            rows.append({"name": None, "error": str(item)})
            continue
        holder = store.lock_holder(item.stack)
        rows.append({
            "name": item.stack, "cloud": item.cloud, "profile": item.profile, "environment": item.environment,
            "resources": item.resource_count, "last_update": item.updated,
            "last_result": item.last.get("result", ""), "locked_by": holder.pid if holder else None,
        })  # fmt: skip
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no stacks in {store.root}")
        return
    from rich.table import Table

    table = Table(title=f"stacks in {store.root}")
    for column in ("name", "cloud", "profile", "env", "resources", "last update", "result"):
        table.add_column(column)
    for row in rows:
        if row["name"] is None:
            table.add_row("[red]unreadable[/]", "", "", "", "", "", row["error"])
            continue
        result = row["last_result"] + (f" (locked by pid {row['locked_by']})" if row["locked_by"] else "")
        table.add_row(row["name"], row["cloud"], row["profile"], row["environment"], str(row["resources"]),
                      row["last_update"], result)  # fmt: skip
    console().print(table)
