"""``mbops ci init``: write a CI pipeline (GitHub Actions or GitLab CI) for a repository's stacks.

On a pull/merge request the pipeline plans the base and the head of every stack offline and posts
``mbops diff`` as a sticky comment (failing on mandatory policy findings); on the main branch it runs
``mbops up`` with OIDC credentials against a shared backend, one deploy at a time per stack, prod behind an
environment approval. The files come from the templates in ``ci_templates/``.
"""

from __future__ import annotations

import os
import string
import textwrap
from dataclasses import dataclass
from pathlib import Path

import click

from mbops.cli.errors import MbopsGroup

PROVIDERS = ("github", "gitlab")
CLOUDS = ("aws", "gcp", "azure")
TEMPLATES = Path(__file__).parent / "ci_templates"
OUTPUT = {"github": Path(".github/workflows/mbops.yml"), "gitlab": Path(".gitlab-ci.yml")}
PYTHON = "3.11"

# What each cloud's pipeline reads from CI variables (not secret: ids and URLs), and what each is for.
VARIABLES: dict[str, list[tuple[str, str]]] = {
    "aws": [
        ("MBOPS_BACKEND", "state backend, e.g. s3://acme-mbops-state/mbops (versioned, encrypted, private)"),
        ("MBOPS_SECRETS_PROVIDER", "key for the stacks' secrets, e.g. awskms://alias/mbops-secrets"),
        ("AWS_DEPLOY_ROLE_ARN", "the deploy role CI assumes with OIDC, e.g. "
                                "arn:aws:iam::123456789012:role/mbops-deploy; its trust policy names this repository's "
                                "environments"),
    ],
    "gcp": [
        ("MBOPS_BACKEND", "state backend, e.g. gs://acme-mbops-state/mbops"),
        ("MBOPS_SECRETS_PROVIDER",
         "key for the stacks' secrets, e.g. gcpkms://projects/P/locations/global/keyRings/mbops/cryptoKeys/secrets"),
        ("GCP_WORKLOAD_IDENTITY_PROVIDER",
         "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER (trusts this repository)"),
        ("GCP_DEPLOY_SERVICE_ACCOUNT",
         "the deploy service account CI impersonates, e.g. mbops-deploy@P.iam.gserviceaccount.com"),
    ],
    "azure": [
        ("MBOPS_BACKEND", "state backend, e.g. azblob://mbops-state (with AZURE_STORAGE_ACCOUNT)"),
        ("AZURE_STORAGE_ACCOUNT", "the storage account that holds the state container"),
        ("MBOPS_SECRETS_PROVIDER",
         "key for the stacks' secrets, e.g. azurekeyvault://acme-mbops.vault.azure.net/keys/secrets"),
        ("AZURE_CLIENT_ID",
         "the deploy app registration (or managed identity) with a federated credential for this repository"),
        ("AZURE_TENANT_ID", "its Entra ID tenant"),
        ("AZURE_SUBSCRIPTION_ID", "the subscription the stacks deploy to"),
    ],
}  # fmt: skip
SECRETS = [("PULUMI_CONFIG_PASSPHRASE", "only with the passphrase secrets provider (no MBOPS_SECRETS_PROVIDER)")]
# Variables the state backend or the secrets provider read from the environment (GitLab passes every CI variable).
GITHUB_CLOUD_ENV = {"aws": [], "gcp": [], "azure": ["AZURE_STORAGE_ACCOUNT"]}
GITLAB_AUDIENCE = {
    "aws": "sts.amazonaws.com",
    "gcp": "https://iam.googleapis.com/$GCP_WORKLOAD_IDENTITY_PROVIDER",
    "azure": "api://AzureADTokenExchange",
}


def pulumi_version() -> str:
    """The Pulumi CLI version CI installs: the Python SDK's own (the Automation API wants a CLI at least as new)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi")
    except PackageNotFoundError:
        from mbops.engine.automation import MIN_CLI_VERSION

        return MIN_CLI_VERSION


class _Template(string.Template):
    delimiter = "@@"  # ${{ }} (GitHub) and $VAR (shell, GitLab) stay as they are


def render(name: str, **values: str) -> str:
    """Fill template ``name`` (under ``ci_templates/``); a missing value is a bug, so it raises."""
    return _Template((TEMPLATES / name).read_text()).substitute(values)


def indent(text: str, spaces: int) -> str:
    return textwrap.indent(text.rstrip("\n"), " " * spaces, lambda line: bool(line.strip())) + "\n"


@dataclass(frozen=True)
class CiStack:
    """One stack the pipeline plans and deploys."""

    name: str
    environment: str
    region: str
    file: str | None  # relative to the repository root; None: the stack comes from flags
    secret_env: tuple[str, ...]  # variables the app's secret_env reads at deploy time

    @property
    def preview_args(self) -> str:
        return f"--cloud {{cloud}}{f' -f {self.file}' if self.file else ''}"


def resolve_stacks(stack_files: tuple[Path, ...], cloud: str, root: Path) -> list[CiStack]:
    """The stacks of the pipeline, each file validated (a ConfigError names the file and field)."""
    from mbops.errors import ConfigError
    from mbops.stacks.config import read_stack_file, resolve

    stacks = []
    for path in stack_files or (None,):
        parsed = read_stack_file(path) if path else None
        if parsed is not None and parsed.cloud and parsed.cloud != cloud:
            raise ConfigError(f"{path}: cloud: the stack file says '{parsed.cloud}', --cloud says '{cloud}'")
        stack = resolve(parsed, source=str(path) if path else "flags", cloud=cloud)
        relative = None
        if path is not None:
            try:
                relative = Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
            except ValueError:
                relative = ".."
            if relative.startswith(".."):
                raise ConfigError(
                    f"{path}: the stack file must be inside the repository the pipeline is written into (--output "
                    f"{root}): CI checks that repository out and reads the file there; copy it in, or point --output "
                    f"at the repository that holds it"
                )
        secrets = tuple(sorted({s.removeprefix("env:") for s in stack.app.secret_env.values()}))
        stacks.append(CiStack(stack.name, stack.environment, stack.region, relative, secrets))
    names = [s.name for s in stacks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"--stack-file: two files name the same stack: {', '.join(duplicates)}")
    return sorted(stacks, key=lambda s: (s.environment != "dev", s.name))


def _comment_list(items: list[tuple[str, str]]) -> str:
    """``#   NAME    what it is for`` lines, wrapped at 110 columns."""
    lines = []
    width = max((len(name) for name, _ in items), default=0)
    for name, what in items:
        wrapped = textwrap.wrap(what, max(40, 110 - width - 5), break_on_hyphens=False) or [""]
        lines.append(f"#   {name:{width}} {wrapped[0]}")
        lines += [f"#   {'':{width}} {more}" for more in wrapped[1:]]
    return "\n".join(lines) or "#   (none)"


def _plan_calls(stacks: list[CiStack], cloud: str) -> str:
    return "\n".join(
        f'mbops_diff {s.name} "{s.file or ""}" {s.preview_args.format(cloud=cloud)}' for s in stacks
    )  # fmt: skip


def _job_id(provider: str, stack: CiStack) -> str:
    return f"deploy-{stack.name}" if provider == "github" else f"deploy:{stack.name}"


def _needs(provider: str, stack: CiStack, stacks: list[CiStack]) -> str:
    """Prod stacks wait for the dev stacks to deploy first."""
    if stack.environment != "prod":
        return ""
    before = [_job_id(provider, s) for s in stacks if s.environment != "prod"]
    if not before:
        return ""
    if provider == "github":
        return f"    needs: [{', '.join(before)}]\n"
    return "  needs: [" + ", ".join(f'"{b}"' for b in before) + "]\n"


def _secret_lines(stacks: list[CiStack]) -> list[tuple[str, str]]:
    app = sorted({v for s in stacks for v in s.secret_env})
    return SECRETS + [(v, "an app secret the stack file reads (app.secret_env: env:" + v + ")") for v in app]


def github_workflow(stacks: list[CiStack], cloud: str, *, branch: str, pip_spec: str, command: str) -> str:
    from mbops import __version__

    jobs = []
    for stack in stacks:
        auth = render(f"github/auth-{cloud}.yml", region=stack.region)
        secrets = "".join(f"      {v}: ${{{{ secrets.{v} }}}}\n" for v in stack.secret_env)
        jobs.append(render(
            "github/deploy-job.yml", job_id=_job_id("github", stack), stack=stack.name, cloud=cloud,
            environment=stack.environment, branch=branch, needs=_needs("github", stack, stacks),
            cloud_env="".join(f"      {v}: ${{{{ vars.{v} }}}}\n" for v in GITHUB_CLOUD_ENV[cloud]),
            app_secrets=secrets, auth_steps=auth.rstrip("\n"), preview_args=stack.preview_args.format(cloud=cloud),
        ))  # fmt: skip
    plan_script = render("plan.sh") + _plan_calls(stacks, cloud)
    return render(
        "github/workflow.yml", command=command, version=__version__, branch=branch, pip_spec=pip_spec,
        python=PYTHON, pulumi_version=pulumi_version(), variables=_comment_list(VARIABLES[cloud]),
        secrets=_comment_list(_secret_lines(stacks)),
        plan_script=indent(plan_script, 10).rstrip("\n"),
        comment_script=indent(render("github/comment.js"), 12).rstrip("\n"),
        deploy_jobs="\n" + "\n".join(jobs).rstrip("\n"),
    )  # fmt: skip


def gitlab_pipeline(stacks: list[CiStack], cloud: str, *, pip_spec: str, command: str) -> str:
    from mbops import __version__

    jobs = []
    for stack in stacks:
        prod = stack.environment == "prod"
        jobs.append(render(
            "gitlab/deploy-job.yml", job_id=_job_id("gitlab", stack), stack=stack.name, cloud=cloud,
            environment=stack.environment, tier="production" if prod else "development",
            needs=_needs("gitlab", stack, stacks), manual="      when: manual\n" if prod else "",
            audience=GITLAB_AUDIENCE[cloud], preview_args=stack.preview_args.format(cloud=cloud),
        ))  # fmt: skip
    plan_script = render("plan.sh") + _plan_calls(stacks, cloud)
    return render(
        "gitlab/pipeline.yml", command=command, version=__version__, pip_spec=pip_spec, python=PYTHON,
        pulumi_version=pulumi_version(), variables=_comment_list(VARIABLES[cloud]),
        secrets=_comment_list(_secret_lines(stacks)), plan_script=indent(plan_script, 6).rstrip("\n"),
        comment_script=indent(render("gitlab/comment.py"), 6).rstrip("\n"),
        auth_script="    - |\n" + indent(render(f"gitlab/auth-{cloud}.sh"), 6).rstrip("\n"),
        deploy_jobs="".join(jobs).rstrip("\n"),
    )  # fmt: skip


def pipeline(provider: str, cloud: str, stacks: list[CiStack], *, branch: str, pip_spec: str,
             command: str) -> tuple[Path, str]:  # fmt: skip
    """The pipeline file's path (relative to the repository root) and its text."""
    import yaml

    if provider == "github":
        text = github_workflow(stacks, cloud, branch=branch, pip_spec=pip_spec, command=command)
    else:
        text = gitlab_pipeline(stacks, cloud, pip_spec=pip_spec, command=command)
    yaml.safe_load(text)  # a template bug fails here, not in the user's CI
    return OUTPUT[provider], text


# --- the command ----------------------------------------------------------------------------------------------


@click.group(cls=MbopsGroup)
def ci() -> None:
    """Continuous integration: plan diffs on pull requests, deploys on merge."""


@ci.command("init")
@click.option("--provider", type=click.Choice(PROVIDERS), required=True, help="The CI service.")
@click.option("--cloud", "-c", type=click.Choice(CLOUDS), required=True, help="The cloud the stacks deploy to.")
@click.option("--stack-file", "-f", "stack_files", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A stack file to plan and deploy (repeatable: e.g. one for dev, one for prod). "
                   "[default: the managed dev stack from flags]")
@click.option("--output", "-o", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="The repository root to write the pipeline into.")
@click.option("--branch", default="main", show_default=True, help="The branch that deploys (GitHub; GitLab uses "
              "the project's default branch).")
@click.option("--pip-spec", metavar="SPEC", help="What CI installs mbops from (a pip requirement: a version on "
              "your index, a wheel URL, git+https://...@TAG). [default: mbops==<this version>]")
@click.option("--force", is_flag=True, help="Overwrite an existing pipeline file.")
def init(
    provider: str, cloud: str, stack_files: tuple[Path, ...], output: Path, branch: str, pip_spec: str | None,
    force: bool,
) -> None:  # fmt: skip
    """Write the CI pipeline for this repository's stacks.

    \b
    Pull request: plan base and head of every stack offline (no credentials), post `mbops diff` as one
      comment per stack (updated in place), fail on mandatory policy findings.
    Main branch: `mbops up --yes` each stack against the shared backend (MBOPS_BACKEND) with OIDC credentials;
      one concurrency group per stack; prod stacks after dev, behind the prod environment's approval.

    Writes .github/workflows/mbops.yml (GitHub) or .gitlab-ci.yml (GitLab) under --output; an existing file is
    kept unless --force (exit 2). The header of the file lists the CI variables and secrets to set.

    \b
    Examples:
      mbops ci init --provider github --cloud aws -f stacks/dev.yaml -f stacks/prod.yaml
      mbops ci init --provider gitlab --cloud gcp -f ../my-repo/stack.yaml --output ../my-repo
    """
    from mbops import __version__
    from mbops.errors import ConfigError

    stacks = resolve_stacks(stack_files, cloud, output)
    command = " ".join(["mbops ci init", f"--provider {provider}", f"--cloud {cloud}",
                        *(f"-f {s.file}" for s in stacks if s.file)])  # fmt: skip
    relative, text = pipeline(provider, cloud, stacks, branch=branch, pip_spec=pip_spec or f"mbops=={__version__}",
                              command=command)  # fmt: skip
    target = output / relative
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; use --force to overwrite it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {target} ({provider}, {cloud}; stacks: {', '.join(s.name for s in stacks)})")
    click.echo("Next: set the CI variables listed at the top of the file; see docs/ci.md for the cloud side "
               "(state bucket, secrets key, OIDC trust, deploy role: `mbops permissions`).")  # fmt: skip
    if pip_spec is None:
        click.echo(f"CI installs mbops with `pip install mbops=={__version__}`: where your package index does not "
                   f"have it, run again with --pip-spec (a wheel URL or git+https://<your mbops repo>@<tag>).")

