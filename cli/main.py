"""The ``mbops`` command: a group with one module per subcommand, imported only when it runs."""

from __future__ import annotations

import gc
import importlib
import sys

import click

from mbops import __version__
from mbops.cli.errors import MbopsGroup

# name -> (module, attribute, one-line help); modules load lazily so `mbops --help` imports no provider SDK.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("mbops.cli.deploy", "up", "Deploy a stack: locally on the embedded engine, or to a cloud with Pulumi."),
    "build": ("mbops.cli.build", "build", "Build the app's image from its Dockerfile (app.build), without deploying."),
    "preview": ("mbops.cli.preview", "preview", "Show what a stack would create, with policy results and cost."),
    "destroy": ("mbops.cli.deploy", "destroy", "Delete a stack's resources (data kept unless --delete-data)."),
    "refresh": ("mbops.cli.deploy", "refresh", "Compare a stack's state with what really runs; report drift."),
    "outputs": ("mbops.cli.deploy", "outputs", "Print a deployed stack's outputs (endpoint, database, bucket, ...)."),
    "stacks": ("mbops.cli.deploy", "stacks", "List deployed stacks with cloud, profile, resources, last update."),
    "status": ("mbops.cli.observe", "status", "Show each component's health: process, port, health path, disk."),
    "logs": ("mbops.cli.observe", "logs", "Print a stack's logs with timestamps, or where its cloud keeps them."),
    "profiles": ("mbops.cli.profiles", "profiles", "List the stack profiles, or show what one makes on a cloud."),
    "policy": ("mbops.cli.policy", "policy", "Check a stack against the policy rules (offline)."),
    "cost": ("mbops.cli.cost", "cost", "Estimate a stack's monthly cost from the shipped price catalog."),
    "prices": ("mbops.cli.cost", "prices", "Manage the price catalog (refresh from the clouds' price lists)."),
    "compare": ("mbops.cli.compare", "compare", "Compare one profile across clouds: resources, cost, policy, gaps."),
    "diagram": ("mbops.cli.diagram", "diagram", "Draw a stack's components and connections (Mermaid, SVG, PNG)."),
    "doctor": ("mbops.cli.doctor", "doctor", "Report which tools and credentials are present and what they enable."),
    "diff": ("mbops.cli.diff", "diff", "Compare two planned graphs: resources, cost delta, policy findings."),
    "ci": ("mbops.cli.ci", "ci", "Write a CI pipeline: plan diffs on pull requests, deploy on merge."),
    "permissions": ("mbops.cli.permissions", "permissions", "Print the least-privilege deployer policy a stack needs."),
    "bootstrap": ("mbops.cli.bootstrap", "bootstrap", "Create CI's state bucket, secrets key and OIDC deploy role."),
}


class LazyGroup(MbopsGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)  # a broken import fails loudly, never "no such command"

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="mbops")
def cli() -> None:
    """mbops: the backend of a mobile app on AWS, GCP, Azure or this machine, from one stack definition.

    \b
    Pick a profile (saas, managed, custom) and a cloud:
      mbops up                                        # the local backend on this machine
      mbops preview --cloud aws --profile managed     # what AWS would get, offline
      mbops preview --cloud gcp --env prod --json     # the planned graph, for machines

    Exit codes: 0 ok, 1 deploy failed, 2 bad input, 3 policy violation, 4 missing tool.
    """


def main() -> None:
    # A command lives for seconds: reference counting frees its memory, and the cyclic collector's passes
    # over the provider SDKs' millions of objects would only cost time (a quarter of a plan).
    gc.disable()
    try:
        sys.exit(cli.main(prog_name="mbops", standalone_mode=True))
    except KeyboardInterrupt:  # before the engine had a step in flight (it exits 130 itself otherwise)
        sys.exit(130)
