"""``mbops bootstrap`` on both engines: plan the repository's stacks, derive the deploy role's policy, then plan
the bootstrap program offline (embedded engine) or deploy it with the Pulumi CLI (Automation API).

The bootstrap's own state lives on this machine (``file://$MBOPS_HOME/bootstrap/state``): it creates the shared
backend, so it cannot be stored in it. It holds no secret, but Pulumi wants a secrets provider for every
stack: the passphrase one (``PULUMI_CONFIG_PASSPHRASE``), never ``MBOPS_SECRETS_PROVIDER`` (the key it names is
what the bootstrap creates).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mbops.engine.embedded import ProgramError, run_program
from mbops.engine.permissions import AWS_MANAGED_POLICY_LIMIT, DeployerPolicy, aws_policy_size, deployer_policy
from mbops.engine.permissions import split_policy as split_aws_policy
from mbops.errors import ConfigError, MbopsError
from mbops.stacks.bootstrap import CI_OUTPUT, PROJECT, BootstrapProgram, BootstrapSpec
from mbops.stacks.config import Stack

# What each cloud's CI settings are, in the order the generated pipelines list them (cli/ci.py VARIABLES).
CI_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws": ("MBOPS_BACKEND", "MBOPS_SECRETS_PROVIDER", "AWS_DEPLOY_ROLE_ARN"),
    "gcp": ("MBOPS_BACKEND", "MBOPS_SECRETS_PROVIDER", "GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_DEPLOY_SERVICE_ACCOUNT"),
    "azure": ("MBOPS_BACKEND", "AZURE_STORAGE_ACCOUNT", "MBOPS_SECRETS_PROVIDER", "AZURE_CLIENT_ID",
              "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"),
}  # fmt: skip
AZURE_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --- the repository's stacks ----------------------------------------------------------------------------------


def resolve_stacks(stack_files: Sequence[Path], cloud: str) -> list[Stack]:
    """The stacks CI deploys (each file validated; none: the default stack of ``cloud``, as ``ci init`` makes)."""
    from mbops.stacks.config import read_stack_file, resolve

    stacks = []
    for path in stack_files or (None,):
        parsed = read_stack_file(path) if path else None
        if parsed is not None and parsed.cloud and parsed.cloud != cloud:
            raise ConfigError(f"{path}: cloud: the stack file says '{parsed.cloud}', --cloud says '{cloud}'")
        stacks.append(resolve(parsed, source=str(path) if path else "flags", cloud=cloud))
    names = [s.name for s in stacks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--stack-file: two files name the same stack: {', '.join(twice)}")
    return stacks


def stack_environments(stacks: Sequence[Stack]) -> tuple[str, ...]:
    """The environments the deploy jobs name (``mbops ci init`` makes one job per stack, named after its
    environment): the OIDC subjects the deploy role trusts on GitHub."""
    return tuple(sorted({s.environment for s in stacks}, key=lambda e: (e != "dev", e)))


def stacks_project(stacks: Sequence[Stack]) -> str | None:
    """The one GCP project the stack files name (None when none does); two different projects are an error."""
    projects = sorted({s.gcp_project for s in stacks if s.gcp_project})
    if len(projects) > 1:
        raise ConfigError(f"--stack-file: the stacks deploy to {len(projects)} GCP projects ({', '.join(projects)}); "
                          "bootstrap each project on its own (-f with the stacks of one project)")  # fmt: skip
    return projects[0] if projects else None


def plan_stacks(stacks: Sequence[Stack]) -> list[dict[str, Any]]:
    """Each stack's planned graph (no policy, no cost: only the resource types matter here)."""
    from mbops.engine.plan import plan

    return [plan(stack, with_policy=False, with_cost=False) for stack in stacks]


# --- the deploy role's documents ------------------------------------------------------------------------------


@dataclass
class StackPolicies:
    """The PolicySource of a bootstrap: ``deployer_policy`` of the planned stacks, where the program applies it.

    AWS: the IAM policy as one document when a managed policy can hold it, else ``split_policy``'s parts.
    ``result`` keeps the last DeployerPolicy (its notes are for the user).
    """

    graphs: list[dict[str, Any]]
    result: DeployerPolicy | None = None

    def __call__(self, *, scope: str, backend: str, secrets_provider: str) -> list[dict[str, Any]]:
        cloud = self.graphs[0]["cloud"]
        policy = deployer_policy(
            self.graphs, account=scope if cloud == "aws" else "*", subscription=scope, backend=backend,
            secrets_provider=secrets_provider,
        )  # fmt: skip
        self.result = policy
        if cloud == "aws" and aws_policy_size(policy.document) > AWS_MANAGED_POLICY_LIMIT:
            return split_aws_policy(policy.document)
        return [policy.document]

    def assignable_roles(self) -> tuple[str, ...] | None:
        """The role definition GUIDs the stacks' Azure role assignments name (None: one is computed)."""
        found = set()
        for graph in self.graphs:
            for res in graph["resources"]:
                if res["type"] == AZURE_ROLE_ASSIGNMENT and res.get("op") != "delete":
                    role = str(res["inputs"].get("roleDefinitionId") or "").rstrip("/").rsplit("/", 1)[-1]
                    if not _GUID.match(role):
                        return None
                    found.add(role.lower())
        return tuple(sorted(found))


# --- plan -----------------------------------------------------------------------------------------------------

# Rules about an app's stack that have nothing to judge in a bootstrap: advisory here, with the reason (the way a
# stack file lowers a rule under policy.advisory). Every security rule stays as it is.
APP_RULES = {
    "monitoring-on": "a bootstrap runs no service to alarm on (a bucket, a key and IAM); the cloud's audit log "
    "(CloudTrail, Cloud Audit Logs, the Activity Log) records every use of them",
}


def lowered(findings: list[dict[str, Any]], reasons: Mapping[str, str]) -> list[dict[str, Any]]:
    """``findings`` with the rules in ``reasons`` made advisory (with their reason), mandatory ones first."""
    out = [{**f, "enforcement": "advisory", "reason": reasons[f["rule"]]} if f["rule"] in reasons else f
           for f in findings]  # fmt: skip
    return sorted(out, key=lambda f: f["enforcement"] != "mandatory")


@dataclass(frozen=True)
class _Header:
    """What ``graph_of`` reads from a stack, for the bootstrap's planned graph."""

    name: str
    cloud: str
    region: str
    profile: str = "bootstrap"
    environment: str = "prod"  # it guards every prod deploy: the prod rules apply


@dataclass
class BootstrapPlan:
    """The bootstrap's planned graph and what the program resolved on the way."""

    graph: dict[str, Any]
    documents: list[dict[str, Any]]
    policy: DeployerPolicy
    scope: str
    placeholders: dict[str, str] = field(default_factory=dict)
    assignable_roles: tuple[str, ...] | None = ()  # Azure: the roles the deploy identity may assign


def plan_bootstrap(spec: BootstrapSpec, source: StackPolicies) -> BootstrapPlan:
    """The bootstrap's planned graph (embedded engine, no credentials), with the policy rules' findings."""
    from mbops.engine.plan import Planner, graph_of
    from mbops.policies.check import evaluate

    program, planner = BootstrapProgram(spec, source), Planner(spec.region)
    try:
        record = run_program(program, planner, project=PROJECT, stack=spec.stack_name, dry_run=True)
    except ProgramError as exc:
        if isinstance(exc.cause, MbopsError):
            raise exc.cause from None
        raise MbopsError(f"the {spec.cloud} bootstrap program failed: {exc}") from exc
    header = _Header(name=spec.stack_name, cloud=spec.cloud, region=spec.region)
    graph = graph_of(header, record, invented=planner.invented)  # type: ignore[arg-type]  # duck-typed stack
    graph["policy"] = lowered(evaluate(graph), APP_RULES)
    if source.result is None:  # the program always asks for the documents: a bug if it did not
        raise MbopsError(f"the {spec.cloud} bootstrap program did not ask for the deploy role's policy")
    return BootstrapPlan(graph=graph, documents=program.documents, policy=source.result, scope=program.scope,
                         placeholders=dict(planner.invented), assignable_roles=source.assignable_roles())  # fmt: skip


def ci_settings(cloud: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The CI variables from a bootstrap's outputs (``ciSettings``), in the pipelines' order."""
    settings = outputs.get(CI_OUTPUT) or {}
    return {name: settings.get(name) for name in CI_SETTINGS[cloud]}


# --- deploy ---------------------------------------------------------------------------------------------------


def bootstrap_home(env: Mapping[str, str] | None = None) -> Path:
    """Where bootstraps keep their state and workspaces: ``$MBOPS_HOME/bootstrap``."""
    from mbops.engine.automation import mbops_home

    return mbops_home(env) / "bootstrap"


def provider_config(spec: BootstrapSpec) -> dict[str, str]:
    """The cloud provider's config for the bootstrap stack."""
    if spec.cloud == "aws":
        return {"aws:region": spec.region}
    if spec.cloud == "gcp":
        return {"gcp:project": spec.gcp_project or "", "gcp:region": spec.region}
    config = {"azure-native:location": spec.region}
    if spec.subscription_id:
        config["azure-native:subscriptionId"] = spec.subscription_id
    return config


def deploy_bootstrap(
    spec: BootstrapSpec, source: StackPolicies, *, yes: bool, echo: Callable[[str], None] = print,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Deploy the bootstrap with the Pulumi CLI; returns {"stack", "backend", "outputs", "changes", ...}.

    Without ``yes`` a person confirms the preview (no terminal: a ConfigError asks for --yes)."""
    from pulumi import automation as auto

    from mbops.engine import automation as pulumi_engine

    env = dict(os.environ if env is None else env)
    command = pulumi_engine.pulumi_command(f"mbops bootstrap --cloud {spec.cloud}")
    if not yes and not pulumi_engine.is_interactive(env):
        raise ConfigError(
            f"--yes: `mbops bootstrap --cloud {spec.cloud}` creates real resources and there is "
            "no terminal to confirm on (CI or a pipe); pass --yes, or --preview to see the plan"
        )
    home = bootstrap_home(env)
    backend = f"file://{home / 'state'}"
    # The bootstrap's state is encrypted with a passphrase, whatever MBOPS_SECRETS_PROVIDER says (see above).
    secrets = pulumi_engine.secrets_provider(backend, {k: v for k, v in env.items() if k != "MBOPS_SECRETS_PROVIDER"})
    work_dir = home / "work" / spec.stack_name
    for folder in (work_dir, home / "state"):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = auto.ProjectSettings(
        name=PROJECT, runtime="python", main=str(work_dir), backend=auto.ProjectBackend(url=backend),
        description="mbops bootstrap: the state backend, secrets key and CI deploy role (managed by mbops)",
    )  # fmt: skip
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), project_settings=settings, secrets_provider=secrets, pulumi_command=command,
        env_vars={"PULUMI_BACKEND_URL": backend, "PULUMI_SKIP_UPDATE_CHECK": "true",
                  **pulumi_engine.runtime_env(command, env)},
    )  # fmt: skip
    errors: list[BaseException] = []
    program = BootstrapProgram(spec, source)

    def guarded() -> None:
        try:
            program()
        except BaseException as exc:
            errors.append(exc)
            raise

    output: list[str] = []

    def stream(line: str) -> None:
        output.append(line)
        echo(line)

    common = {"color": "never", "on_output": stream, "on_error": stream}
    try:
        stack = auto.create_or_select_stack(spec.stack_name, project_name=PROJECT, program=guarded, opts=opts)
        stack.set_all_config({k: auto.ConfigValue(value=v) for k, v in provider_config(spec).items()})
        base = {"stack": spec.stack_name, "backend": backend}
        if not yes:
            preview = stack.preview(**common)
            if not _confirm(f"Create the CI resources of {spec.repository} on {spec.cloud}?"):
                return {**base, "result": "cancelled", "changes": dict(preview.change_summary or {}), "outputs": {}}
        up = stack.up(**common)
    except auto.CommandError as exc:
        raise pulumi_engine.translate_failure(
            exc, output, action="up", stack_name=spec.stack_name, backend=backend, program_errors=errors
        ) from None
    return {**base, **pulumi_engine.summary_of(up.summary),
            "outputs": pulumi_engine.plain_outputs(up.outputs)}  # fmt: skip


def _confirm(question: str) -> bool:
    import click

    return click.confirm(question, default=False)
