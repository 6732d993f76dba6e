"""``mbops bootstrap``: create what CI needs in a cloud (state bucket, secrets key, OIDC trust, deploy role) and
print the CI settings the generated pipelines read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mbops.cli.ci import CLOUDS, PROVIDERS  # the same clouds and CI services as `mbops ci init`

WHERE = {
    "github": "GitHub: Settings > Secrets and variables > Actions > Variables; per environment when dev and prod "
    "differ",
    "gitlab": "GitLab: Settings > CI/CD > Variables, protected (only the default branch sees them)",
}
LATER = "(known after deploy)"
DONE = ("Create it with", "State:", "Secrets:")  # deployer_policy's notes on what the bootstrap does itself


@click.command()
@click.option("--cloud", "-c", type=click.Choice(CLOUDS), required=True, help="The cloud CI deploys to.")
@click.option(
    "--repository",
    "-R",
    required=True,
    metavar="OWNER/NAME",
    help="The repository whose CI may deploy (GitLab: GROUP/PROJECT, subgroups allowed).",
)
@click.option("--branch", default="main", show_default=True, help="The branch that deploys.")
@click.option(
    "--stack-file",
    "-f",
    "stack_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A stack file CI deploys (repeatable): the deploy role gets what these stacks need. "
    "[default: the managed dev stack]",
)
@click.option("--provider", type=click.Choice(PROVIDERS), default="github", show_default=True, help="The CI service.")
@click.option(
    "--gitlab-url", metavar="URL", help="A self-managed GitLab's URL (its OIDC issuer). [default: gitlab.com]"
)
@click.option(
    "--region",
    "-r",
    help="Where the state bucket and key live. [default: the stacks' region, else the cloud's default]",
)
@click.option(
    "--gcp-project",
    metavar="ID",
    help="GCP: the project CI deploys to. [default: the stack files' gcp_project, else GOOGLE_CLOUD_PROJECT]",
)
@click.option(
    "--subscription-id", metavar="GUID", help="Azure: the subscription CI deploys to. [default: the signed-in one]"
)
@click.option(
    "--state-bucket",
    metavar="NAME",
    help="The state bucket's name (Azure: the storage account's). [default: derived from the account and repository]",
)
@click.option(
    "--existing-oidc-provider",
    is_flag=True,
    help="AWS: the account already has the CI's OIDC provider "
    "(one per account and issuer): use it instead of creating one.",
)
@click.option(
    "--cmek",
    is_flag=True,
    help="GCP: encrypt the state bucket with the secrets key too (customer-managed), not Google-managed keys; the "
    "project's Cloud Storage service agent must exist (`gcloud storage service-agent --project P` makes it).",
)
@click.option(
    "--preview",
    is_flag=True,
    help="Plan offline and print the plan, the role's policy and the CI settings; create nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the plan or the deploy's result).")
@click.option("--yes", "-y", is_flag=True, help="Deploy without asking (needed without a terminal).")
def bootstrap(
    cloud: str, repository: str, branch: str, stack_files: tuple[Path, ...], provider: str, gitlab_url: str | None,
    region: str | None, gcp_project: str | None, subscription_id: str | None, state_bucket: str | None,
    existing_oidc_provider: bool, cmek: bool, preview: bool, as_json: bool, yes: bool,
) -> None:  # fmt: skip
    """Create what CI needs to deploy this repository's stacks, and print the CI settings.

    \b
    A small stack of its own, state kept on this machine ($MBOPS_HOME/bootstrap):
      - a state bucket (S3 / Cloud Storage / Blob container): private, encrypted, versioned;
      - a key for the stacks' secrets (KMS / Cloud KMS / Key Vault);
      - the OIDC trust of the repository's CI and a deploy role (IAM role / service account / managed
        identity) that only the repository's deploy jobs on --branch can use, with the least-privilege policy
        `mbops permissions` gives for the stack files (-f).
    Pull requests need no cloud role: the generated pipeline plans them offline.

    Without the Pulumi CLI (or with --preview) it plans offline and prints the plan; nothing is created.

    \b
    Examples:
      mbops bootstrap --cloud aws --repository acme/notes -f stacks/dev.yaml -f stacks/prod.yaml
      mbops bootstrap --cloud gcp --repository acme/notes --gcp-project acme-notes -f stack.yaml --preview
      mbops bootstrap --cloud azure --provider gitlab --repository acme/backend/notes -f stack.yaml --yes
    """
    from mbops.engine import bootstrap as engine
    from mbops.engine.automation import INSTALL_HINT, find_pulumi
    from mbops.errors import ConfigError, MissingToolError
    from mbops.policies.check import enforce
    from mbops.stacks.bootstrap import resolve_spec

    stacks = engine.resolve_stacks(stack_files, cloud)
    if cloud == "gcp":
        named = engine.stacks_project(stacks)
        if gcp_project and named and gcp_project != named:
            raise ConfigError(f"--gcp-project: '{gcp_project}', but the stack files deploy to '{named}'")
        gcp_project = gcp_project or named or _env_project()
    regions = sorted({s.region for s in stacks})
    spec = resolve_spec(
        cloud=cloud, repository=repository, branch=branch, provider=provider, gitlab_url=gitlab_url,
        environments=engine.stack_environments(stacks), region=region or (regions[0] if len(regions) == 1 else None),
        state_bucket=state_bucket, gcp_project=gcp_project, subscription_id=subscription_id,
        existing_oidc_provider=existing_oidc_provider, cmek=cmek,
    )  # fmt: skip
    source = engine.StackPolicies(engine.plan_stacks(stacks))
    planned = engine.plan_bootstrap(spec, source)
    if preview or find_pulumi() is None:
        if as_json:
            click.echo(json.dumps(plan_report(spec, stacks, planned), indent=2))
        else:
            print_plan_report(spec, stacks, planned)
        if not preview:
            raise MissingToolError(f"nothing was created: deploying the bootstrap needs the Pulumi CLI (the plan is "
                                   f"above).\n{INSTALL_HINT}")  # fmt: skip
        return
    enforce(planned.graph["policy"])
    result = engine.deploy_bootstrap(
        spec, source, yes=yes, echo=lambda line: click.echo(line.rstrip("\n"), err=as_json)
    )
    settings = engine.ci_settings(cloud, result.get("outputs") or {})
    if as_json:
        click.echo(json.dumps({**_header(spec, stacks), "deployed": result.get("result") != "cancelled",
                               "ci_settings": settings, "result": result}, indent=2, default=str))  # fmt: skip
        return
    if result.get("result") == "cancelled":
        click.echo("Cancelled: nothing was changed.")
        return
    click.echo(f"\nBootstrapped {spec.repository} on {cloud}: Pulumi stack {result['stack']} in {result['backend']}")
    _print_settings(spec, settings)
    _print_next(spec, stacks)


def _env_project() -> str | None:
    import os

    return os.environ.get("GOOGLE_CLOUD_PROJECT") or None


def _header(spec: Any, stacks: list[Any]) -> dict[str, Any]:
    return {"cloud": spec.cloud, "repository": spec.repository, "provider": spec.provider, "issuer": spec.issuer,
            "branch": spec.branch, "environments": list(spec.environments), "subjects": spec.subjects,
            "region": spec.region, "stacks": [s.name for s in stacks], "bootstrap_stack": spec.stack_name}  # fmt: skip


def plan_report(spec: Any, stacks: list[Any], planned: Any) -> dict[str, Any]:
    """The --preview --json object: what would be created, the role's documents and the CI settings."""
    from mbops.engine.bootstrap import ci_settings

    policy = planned.policy
    return {
        **_header(spec, stacks), "deployed": False,
        "ci_settings": ci_settings(spec.cloud, planned.graph["outputs"]),
        "deploy_policy": {"documents": planned.documents, "notes": policy.notes,
                          "resource_types": sorted(policy.requirements.by_type)},
        "plan": planned.graph,
    }  # fmt: skip


def print_plan_report(spec: Any, stacks: list[Any], planned: Any) -> None:
    from mbops.cli.render import console, print_plan
    from mbops.engine.permissions import AWS_MANAGED_POLICY_LIMIT, aws_policy_size

    out = console()
    click.echo(f"Bootstrap of {spec.repository} on {spec.cloud} ({spec.region}), for {spec.provider} "
               f"({spec.issuer}): branch {spec.branch}" + (f", environments {', '.join(spec.environments)}"
                                                             if spec.provider == "github" else ""))  # fmt: skip
    print_plan(planned.graph)
    docs = planned.documents
    click.echo(f"\nThe deploy role's policy (`mbops permissions` of {', '.join(s.name for s in stacks)}): "
               f"{len(planned.policy.requirements.by_type)} resource types, {len(docs)} document(s)")  # fmt: skip
    for index, doc in enumerate(docs, start=1):
        if spec.cloud == "aws":
            click.echo(f"  policy {index}: {aws_policy_size(doc):,} characters")
            for statement in doc["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                where = statement["Resource"] if isinstance(statement["Resource"], str) else \
                    f"{len(statement['Resource'])} ARNs"  # fmt: skip
                cond = " (with conditions)" if statement.get("Condition") else ""
                click.echo(f"    {statement['Sid']}: {len(actions)} actions on {where}{cond}")
        elif spec.cloud == "gcp":
            click.echo(f"  custom role: {len(doc['includedPermissions'])} permissions")
        else:
            click.echo(f"  role definition: {len(doc['Actions'])} actions, assignable at "
                       f"{', '.join(doc['AssignableScopes'])}")  # fmt: skip
    if spec.cloud == "aws":
        click.echo(f"  attached as {len(docs)} managed polic{'y' if len(docs) == 1 else 'ies'} (each within the "
                   f"{AWS_MANAGED_POLICY_LIMIT:,}-character limit)")  # fmt: skip
    click.echo("  (the documents in full: --json, or `mbops permissions`)")
    constrained = spec.cloud == "azure" and bool(planned.assignable_roles)
    if constrained:
        click.echo(f"  role assignments: the identity may assign and remove only the roles the stacks assign "
                   f"({', '.join(planned.assignable_roles)}): a condition on its assignment")  # fmt: skip
    for note in planned.policy.notes:
        # What the notes ask for by hand, the bootstrap does: split, create and bind the role, grant the bucket
        # and the key, constrain the role assignments.
        done = "--split" in note or note.startswith(DONE) or (constrained and "add a condition" in note)
        if not done:
            click.echo(f"  note: {note}")
    _print_settings(spec, _preview_settings(spec.cloud, planned), placeholders=planned.placeholders)
    if spec.cloud == "azure" and not spec.subscription_id:
        click.echo("Azure names include a hash of the subscription: pass --subscription-id for the exact ones.")
    _print_next(spec, stacks)
    out.print("[dim]Nothing was created.[/]")


def _preview_settings(cloud: str, planned: Any) -> dict[str, Any]:
    from mbops.engine.bootstrap import ci_settings

    return {k: (LATER if v is None or "[computed]" in str(v) else v)
            for k, v in ci_settings(cloud, planned.graph["outputs"]).items()}  # fmt: skip


def _print_settings(spec: Any, settings: dict[str, Any], placeholders: dict[str, str] | None = None) -> None:
    """The CI variables with what each is for; values the plan made up are said to be placeholders."""
    from mbops.cli.ci import VARIABLES

    what = dict(VARIABLES[spec.cloud])
    width = max(len(name) for name in settings)
    click.echo(f"\nCI variables to set ({WHERE[spec.provider]}):")
    for name, value in settings.items():
        click.echo(f"  {name:{width}}  {value}")
        click.echo(f"  {'':{width}}  {what.get(name, '')}")
    for value, stands_for in sorted((placeholders or {}).items()):
        if any(value in str(v) for v in settings.values()):
            click.echo(f"  placeholder: {value} stands for {stands_for} (the plan has no credentials)")
    click.echo("No secret to set for cloud access: each deploy job exchanges its OIDC token for short-lived "
               "credentials.")  # fmt: skip


def _print_next(spec: Any, stacks: list[Any]) -> None:
    files = " ".join(f"-f {s.source}" for s in stacks if s.source != "flags")
    click.echo("\nNext:")
    if spec.provider == "github":
        envs = ", ".join(spec.environments)
        click.echo(f"  - GitHub: Settings > Environments: create {envs}; restrict each one's deployment branches to "
                   f"{spec.branch} (the deploy role trusts jobs of these environments on {spec.branch}); prod: add "
                   "required reviewers.")  # fmt: skip
    else:
        click.echo(f"  - GitLab: protect {spec.branch} and the variables above (the deploy role trusts pipelines of "
                   f"{spec.branch} only).")  # fmt: skip
    click.echo(f"  - mbops ci init --provider {spec.provider} --cloud {spec.cloud} {files}".rstrip())
