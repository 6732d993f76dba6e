"""The options every stack command shares, resolved once into a ``StackRef`` (the command's context object).

Stack options (which stack): ``-f/--stack-file``, ``-p/--profile``, ``-c/--cloud``, ``-e/--env``, ``-r/--region``,
``-n/--name``. State options (where it is recorded): ``--engine``, ``--state-dir``, ``--backend``. Each reads an
``MBOPS_*`` variable; an invalid value from a variable is reported with the variable's name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

PROFILES = ("saas", "managed", "custom")
CLOUDS = ("local", "aws", "gcp", "azure")
ENVIRONMENTS = ("dev", "prod")
ENGINES = ("embedded", "pulumi")

STACK_KEYS = ("stack_file", "profile", "cloud", "environment", "region", "name", "gcp_project")
STATE_KEYS = ("engine", "state_dir", "backend")


class Choice(click.Choice):
    """A choice that names the environment variable when the bad value came from one."""

    def fail(self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None) -> Any:
        envvar = _env_source(param, ctx)
        if envvar:
            raise click.BadParameter(f"{message} (from {envvar})", ctx=ctx, param=param)
        return super().fail(message, param, ctx)


def _env_source(param: click.Parameter | None, ctx: click.Context | None) -> str | None:
    """The variable a parameter's value came from, when it came from one."""
    if param is None or ctx is None or param.name is None or not isinstance(param, click.Option):
        return None
    if ctx.get_parameter_source(param.name) != ParameterSource.ENVIRONMENT:
        return None
    return param.envvar if isinstance(param.envvar, str) else None


@dataclass
class StackRef:
    """A command's stack, as its options name it: resolved once (``stack``), with its target (``target``)."""

    stack_file: Path | None = None
    profile: str | None = None
    cloud: str | None = None
    environment: str | None = None
    region: str | None = None
    name: str | None = None
    gcp_project: str | None = None
    engine: str | None = None
    state_dir: Path | None = None
    backend: str | None = None
    labels: dict[str, str] | None = None  # option -> how the user gave it ("--region" or "MBOPS_REGION")
    _stack: Any = None

    @property
    def stack(self) -> Any:
        """The resolved stack (a ConfigError names the file, the field or the flag/variable).

        Without an environment (flag, variable or stack file), a deployed stack keeps the environment it was
        deployed with: a prod stack never turns into a dev one by omission.
        """
        if self._stack is None:
            from mbops.stacks.config import read_stack_file

            parsed = read_stack_file(self.stack_file) if self.stack_file else None
            stack = self._resolve(parsed, self.environment)
            if self.environment is None and not (parsed and parsed.environment):
                recorded = self._target_for(stack.cloud).recorded(stack)
                if recorded is not None and recorded.environment != stack.environment:
                    stack = self._resolve(parsed, recorded.environment)
            self._stack = stack
        return self._stack

    def _resolve(self, parsed: Any, environment: str | None) -> Any:
        from mbops.stacks.config import resolve

        return resolve(
            parsed, source=str(self.stack_file) if self.stack_file else "flags", labels=self.labels,
            profile=self.profile, cloud=self.cloud, environment=environment, region=self.region, name=self.name,
            gcp_project=self.gcp_project,
        )  # fmt: skip

    def _target_for(self, cloud: str, engine: str | None = None) -> Any:
        from mbops.engine.targets import target_for

        return target_for(cloud, engine=engine or self.engine, state_dir=self.state_dir, backend=self.backend)

    def target(self, engine: str | None = None) -> Any:
        """Where the stack's commands run (``engine`` overrides ``--engine`` and the default for its cloud)."""
        return self._target_for(self.stack.cloud, engine)


def _stack_options() -> list[Callable[[Any], Any]]:
    return [
        click.option("--stack-file", "-f", type=click.Path(path_type=Path, dir_okay=False), envvar="MBOPS_STACK_FILE",
                     help="Stack file (YAML). Flags given here win over its fields. [env: MBOPS_STACK_FILE]"),
        click.option("--profile", "-p", type=Choice(PROFILES), envvar="MBOPS_PROFILE",
                     help="Stack profile. [default: managed] [env: MBOPS_PROFILE]"),
        click.option("--cloud", "-c", type=Choice(CLOUDS), envvar="MBOPS_CLOUD",
                     help="Where the stack runs: this machine or a cloud. [default: local] [env: MBOPS_CLOUD]"),
        click.option("--env", "-e", "environment", type=Choice(ENVIRONMENTS), envvar="MBOPS_ENV",
                     help="Environment: prod adds HA, deletion protection, longer backups. "
                          "[default: dev, or what the stack was deployed as] [env: MBOPS_ENV]"),
        click.option("--region", "-r", envvar="MBOPS_REGION",
                     help="Cloud region. [default: per cloud] [env: MBOPS_REGION]"),
        click.option("--name", "-n", envvar="MBOPS_STACK",
                     help="Stack name. [default: <profile>-<env>] [env: MBOPS_STACK]"),
        click.option("--gcp-project", metavar="ID",
                     help="GCP: the project to deploy to. [default: the stack file's gcp_project, else "
                          "GOOGLE_CLOUD_PROJECT, else <name>-<env> with a warning]"),
    ]  # fmt: skip


def _state_options() -> list[Callable[[Any], Any]]:
    return [
        click.option("--engine", type=Choice(ENGINES), envvar="MBOPS_ENGINE",
                     help="embedded: this machine's engine (deploys the local cloud, plans every cloud offline); "
                          "pulumi: the Pulumi CLI through the Automation API. "
                          "[default: embedded for local, pulumi for clouds] [env: MBOPS_ENGINE]"),
        click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), envvar="MBOPS_STATE_DIR",
                     help="State folder of the embedded engine. [default: ~/.mbops/state] [env: MBOPS_STATE_DIR]"),
        click.option("--backend", envvar="MBOPS_BACKEND", metavar="URL",
                     help="Pulumi state backend: file://, s3://, gs://, azblob:// or Pulumi Cloud. "
                          "[default: file://~/.mbops/pulumi-state] [env: MBOPS_BACKEND]"),
    ]  # fmt: skip


def stack_options(func: Callable[..., Any] | None = None, *, state: bool = False) -> Any:
    """Add the stack options (and with ``state=True`` the state options); the command gets ``ref: StackRef``.

    The StackRef is also the Click context object (``click.get_current_context().obj``).
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        keys = (*STACK_KEYS, *(STATE_KEYS if state else ()))

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            values = {key: kwargs.pop(key, None) for key in keys}
            ref = StackRef(**values, labels=_labels(ctx))
            ctx.obj = ref
            return command(*args, ref=ref, **kwargs)

        options = [*_stack_options(), *(_state_options() if state else [])]
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate(func) if func is not None else decorate


def state_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The state options alone (``mbops stacks``): the command gets ``engine``, ``state_dir``, ``backend``."""
    for option in reversed(_state_options()):
        func = option(func)
    return func


def _labels(ctx: click.Context) -> dict[str, str]:
    """How each stack option was given: its variable's name when it came from the environment."""
    labels: dict[str, str] = {}
    for param in ctx.command.params:
        if isinstance(param, click.Option) and param.name in STACK_KEYS:
            flag = max(param.opts, key=len)
            labels[param.name] = _env_source(param, ctx) or flag
    return labels
