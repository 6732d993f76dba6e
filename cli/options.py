"""Options shared by the commands that act on a stack, and turning them into a resolved Stack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

PROFILES = ("saas", "managed", "custom")
CLOUDS = ("local", "aws", "gcp", "azure")
ENVIRONMENTS = ("dev", "prod")


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --stack-file, --profile, --cloud, --env, --region and --name (each with an MBOPS_* default)."""
    options = [
        click.option("--stack-file", "-f", type=click.Path(path_type=Path, dir_okay=False), envvar="MBOPS_STACK_FILE",
                     help="Stack file (YAML). Flags given here win over its fields. [env: MBOPS_STACK_FILE]"),
        click.option("--profile", "-p", type=click.Choice(PROFILES), envvar="MBOPS_PROFILE",
                     help="Stack profile. [default: managed] [env: MBOPS_PROFILE]"),
        click.option("--cloud", "-c", type=click.Choice(CLOUDS), envvar="MBOPS_CLOUD",
                     help="Where to deploy: this machine or a cloud. [default: local] [env: MBOPS_CLOUD]"),
        click.option("--env", "-e", "environment", type=click.Choice(ENVIRONMENTS), envvar="MBOPS_ENV",
                     help="Environment: prod adds HA, deletion protection, longer backups. "
                          "[default: dev] [env: MBOPS_ENV]"),
        click.option("--region", "-r", envvar="MBOPS_REGION",
                     help="Cloud region. [default: per cloud] [env: MBOPS_REGION]"),
        click.option("--name", "-n", envvar="MBOPS_STACK",
                     help="Stack name. [default: <profile>-<env>] [env: MBOPS_STACK]"),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def load_stack(
    stack_file: Path | None, profile: str | None, cloud: str | None, environment: str | None,
    region: str | None, name: str | None,
) -> Any:  # fmt: skip
    """Resolve the stack from the stack file (if any) and the flags; raises ConfigError on bad input."""
    from mbops.stacks.config import read_stack_file, resolve

    parsed = read_stack_file(stack_file) if stack_file else None
    return resolve(
        parsed, source=str(stack_file) if stack_file else "flags",
        profile=profile, cloud=cloud, environment=environment, region=region, name=name,
    )  # fmt: skip
