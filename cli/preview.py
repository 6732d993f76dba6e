"""``mbops preview``: what a stack would create, offline on the embedded engine (or the real engine's preview)."""

from __future__ import annotations

import click

from mbops.cli.options import StackRef, stack_options
from mbops.cli.render import echo_json, print_plan


@click.command()
@stack_options(state=True)
@click.option("--json", "as_json", is_flag=True, help="Print the planned graph as JSON (the documented contract).")
@click.option("--fail-on", type=click.Choice(["mandatory", "advisory"]), envvar="MBOPS_FAIL_ON",
              help="Exit 3 when the plan has a finding of this level (advisory: any finding). [env: MBOPS_FAIL_ON]")
def preview(ref: StackRef, as_json: bool, fail_on: str | None) -> None:
    """Show the resources a stack would create, their policy results and monthly cost.

    Runs the stack's Pulumi program in-process on the embedded engine: no Pulumi CLI, no credentials. A
    deployed local stack is planned against its state (what `up` would create, update, replace, delete).
    With --engine pulumi: the Pulumi CLI's own preview against the stack's backend state.

    \b
    Examples:
      mbops preview --cloud aws --profile managed
      mbops preview --cloud aws --profile saas --env prod --json > plan.json
      mbops preview -f stack.yaml --region eu-west-1 --fail-on mandatory     # CI: exit 3 on a violation
      mbops preview --cloud gcp --engine pulumi     # against the deployed stack's state
    """
    from mbops.engine.plan import plan
    from mbops.errors import PolicyViolationError
    from mbops.policies.check import mandatory

    stack = ref.stack
    if ref.engine == "pulumi":
        from mbops.cli.progress import ProgressView
        from mbops.engine.targets import PulumiTarget

        with ProgressView(f"mbops preview {stack.name}", enabled=not as_json) as view:
            outcome = PulumiTarget(ref.backend).preview(stack, progress=view)
        if as_json:
            echo_json({"stack": outcome.stack, "target": outcome.target, "changes": outcome.counts})
        return
    graph = plan(stack, state_dir=str(ref.state_dir) if ref.state_dir else None)
    if as_json:
        echo_json(graph)
    else:
        print_plan(graph)
    findings = graph.get("policy") or []
    failing = mandatory(findings) if fail_on == "mandatory" else findings if fail_on == "advisory" else []
    if failing:
        raise PolicyViolationError(
            f"--fail-on {fail_on}: {len(failing)} finding(s) in the plan of {stack.name} "
            f"(first: {failing[0]['rule']}: {failing[0].get('name') or failing[0]['resource']})"
        )
