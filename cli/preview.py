"""``mbops preview``: what a stack would create, offline on the embedded engine."""

from __future__ import annotations

from pathlib import Path

import click

from mbops.cli.options import load_stack, stack_options
from mbops.cli.render import echo_json, print_plan


@click.command()
@stack_options
@click.option("--json", "as_json", is_flag=True, help="Print the planned graph as JSON (the documented contract).")
@click.option("--engine", type=click.Choice(["embedded", "pulumi"]), default="embedded", show_default=True,
              envvar="MBOPS_ENGINE", help="embedded: offline plan. pulumi: the real engine's preview against the "
              "stack's state (needs the Pulumi CLI and credentials). [env: MBOPS_ENGINE]")
@click.option("--backend", envvar="MBOPS_BACKEND", help="Pulumi state backend URL (with --engine pulumi).")
def preview(
    stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
    region: str | None, name: str | None, as_json: bool, engine: str, backend: str | None,
) -> None:  # fmt: skip
    """Show the resources a stack would create, their policy results and monthly cost.

    Runs the stack's Pulumi program in-process on the embedded engine: no Pulumi CLI, no credentials.

    \b
    Examples:
      mbops preview --cloud aws --profile managed
      mbops preview --cloud aws --profile saas --env prod --json > plan.json
      mbops preview -f stack.yaml --region eu-west-1
      mbops preview --cloud gcp --engine pulumi     # against the deployed stack's state
    """
    from mbops.engine.plan import plan

    stack = load_stack(stack_file, profile, cloud, environment, region, name)
    if engine == "pulumi" and stack.cloud != "local":
        from mbops.engine.automation import run

        echo = (lambda line: None) if as_json else click.echo
        result = run("preview", stack, backend=backend, echo=echo)
        if as_json:
            echo_json(result)
        return
    graph = plan(stack)
    if as_json:
        echo_json(graph)
    else:
        print_plan(graph)
