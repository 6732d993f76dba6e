"""``mbops permissions``: the least-privilege deployer policy for what a stack plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mbops.cli.options import stack_options


def _plans(ref: Any) -> list[dict[str, Any]]:
    """The stack's planned graph (the only place this command reads the stack options)."""
    from mbops.engine.plan import plan
    from mbops.errors import ConfigError

    stack = ref.stack
    if stack.cloud == "local":
        raise ConfigError(
            "--cloud: the local target deploys on this machine and needs no cloud permissions; "
            "give --cloud aws, gcp or azure (or a stack file whose cloud is one of them)"
        )
    return [plan(stack, with_policy=False, with_cost=False)]


@click.command()
@stack_options
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True,
              help="json: the policy document to apply; text: actions per resource type, with notes.")
@click.option("--split", is_flag=True,
              help="AWS: a JSON array of policy documents, each within the 6,144-character managed policy limit.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write the document to FILE.")
@click.option("--account-id", default="*", show_default=True, metavar="ID",
              help="AWS: the account in role and key ARNs (`*` matches the deploy role's own account).")
@click.option("--subscription-id", envvar=["ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"], metavar="ID",
              help="Azure: the subscription the role is assignable in. [env: ARM_SUBSCRIPTION_ID]")
@click.option("--backend", envvar="MBOPS_BACKEND", metavar="URL",
              help="The Pulumi state backend CI uses: s3:// adds read/write of its objects. [env: MBOPS_BACKEND]")
@click.option("--secrets-provider", envvar="MBOPS_SECRETS_PROVIDER", metavar="URL",
              help="awskms:// adds encrypt/decrypt with that key. [env: MBOPS_SECRETS_PROVIDER]")
def permissions(
    ref: Any, fmt: str, split: bool, output: Path | None, account_id: str, subscription_id: str | None,
    backend: str | None, secrets_provider: str | None,
) -> None:  # fmt: skip
    """Print the least-privilege policy a deployer (CI) needs for the resources a stack plans.

    \b
    AWS: an IAM policy document: the actions to create, read, update, delete and tag each planned resource
      type, limited to the stack's region; IAM limited to the stack's own roles, iam:PassRole only to the
      services those roles trust, service-linked roles only for the services that need them.
    GCP: a custom role (gcloud iam roles create mbopsDeployer --project P --file role.json).
    Azure: a custom role definition (az role definition create --role-definition role.json).

    A resource type the permission map does not know is an error (exit 1) naming it: never a partial policy.

    \b
    Examples:
      mbops permissions --cloud aws --profile managed --env prod > deployer-policy.json
      mbops permissions -f stack.yaml --format text
      mbops permissions --cloud azure --subscription-id 0000... -o role.json
    """
    import json

    from mbops.cli.render import console
    from mbops.engine.permissions import deployer_policy, split_policy
    from mbops.errors import ConfigError

    if split and ref.stack.cloud != "aws":
        cloud = ref.stack.cloud
        raise ConfigError(f"--split: only AWS policies have a size limit to split for (the stack is on {cloud})")
    policy = deployer_policy(
        _plans(ref), account=account_id, subscription=subscription_id or "{subscription-id}", backend=backend,
        secrets_provider=secrets_provider,
    )  # fmt: skip
    err = console(stderr=True)
    if fmt == "json":
        document = split_policy(policy.document) if split else policy.document
        text = json.dumps(document, indent=2) + "\n"
    else:
        text = as_text(policy)
    if output is not None:
        output.write_text(text)
        err.print(f"wrote {output} ({policy.cloud} deployer policy)", highlight=False)
    else:
        click.echo(text, nl=False)
    if fmt == "json":
        for note in policy.notes:
            err.print(f"[dim]note: {note}[/]", highlight=False)


def as_text(policy: Any) -> str:
    """Actions per resource type, then the provider's own calls and the notes."""
    req = policy.requirements
    lines = [f"Deployer permissions for {', '.join(req.stacks)} on {req.cloud} ({', '.join(req.regions)}):", ""]
    for type_token, verbs in req.by_type.items():
        lines.append(type_token)
        for verb, actions in verbs.items():
            if actions:
                lines.append(f"  {verb:7} {', '.join(actions)}")
    if req.base:
        lines += ["", "provider and functions", f"  {', '.join(req.base)}"]
    if req.unknown:
        lines += ["", "NOT COVERED (no entry in the permission map): " + ", ".join(req.unknown)]
    lines += ["", *(f"note: {note}" for note in policy.notes)]
    return "\n".join(lines) + "\n"
