"""Live progress of a command: per-resource steps, notices, policy findings and the Pulumi CLI's lines."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import click

from mbops.cli.render import console, finding_line

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
        self._build_log = _LineHandler(self)  # image builds stream their output here
        logging.getLogger("mbops.image").addHandler(self._build_log)
        logging.getLogger("mbops.image").setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("mbops.image").removeHandler(self._build_log)
        if self.live is not None:
            self.live.refresh()
            self.live.stop()

    def notice(self, message: str) -> None:
        if self.enabled:
            self.out.print(f"[yellow]notice:[/] {message}")

    def line(self, text: str) -> None:
        """A line the Pulumi CLI printed (to stderr when the command prints JSON)."""
        click.echo(text, err=not self.enabled)

    def finding(self, finding: dict[str, Any]) -> None:
        console(stderr=True).print(finding_line(finding), highlight=False)

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


class _LineHandler(logging.Handler):
    """Log records (a build's output) as dim lines of the progress view."""

    def __init__(self, view: ProgressView) -> None:
        super().__init__()
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        if self.view.enabled:
            from rich.text import Text

            self.view.out.print(Text(f"  {record.getMessage()}", style="dim"), highlight=False)
        else:
            click.echo(f"  {record.getMessage()}", err=True)
