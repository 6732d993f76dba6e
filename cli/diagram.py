"""``mbops diagram``: a stack's components and their connections as Mermaid, DOT, SVG or PNG."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mbops.cli.options import StackRef, stack_options


@click.command()
@stack_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("mermaid", "dot", "svg", "png")),
    default="mermaid",
    show_default=True,
    help="Mermaid/DOT text always; PNG needs Graphviz (Debian package graphviz); SVG comes from Graphviz when "
    "installed, else from mbops's own layout.",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout."
)
def diagram(ref: StackRef, fmt: str, output: Path | None) -> None:
    """Draw a stack's components, how they connect (and over which protocol), and where users come in.

    \b
    Examples:
      mbops diagram --cloud aws --profile managed                 # Mermaid text
      mbops diagram --cloud gcp --profile saas --format svg -o saas.svg
    """
    from mbops.engine.diagram import dot_available, render
    from mbops.engine.plan import plan
    from mbops.errors import ConfigError

    if fmt == "png" and output is None and sys.stdout.isatty():
        raise ConfigError("--format png writes binary data: give --output FILE (or redirect stdout)")
    stack = ref.stack
    data = render(plan(stack, with_policy=False, with_cost=False), fmt)
    if fmt == "svg" and not dot_available():
        click.echo("note: Graphviz's 'dot' is not installed: the SVG is laid out by mbops "
                   "(apt-get install graphviz for Graphviz's layout)", err=True)  # fmt: skip
    if output is not None:
        output.write_bytes(data)
        click.echo(f"wrote {output} ({fmt}, {len(data):,} bytes)", err=True)
    elif fmt in ("png",):
        sys.stdout.buffer.write(data)
    else:
        click.echo(data.decode(), nl=False)
