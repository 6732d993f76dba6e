"""The repo as a Pulumi project: ``pulumi up -s <stack>`` runs the same program as ``mbops up``.

The stack comes from Pulumi config (``pulumi config set mbops:<key> <value>``), resolved exactly as the
``mbops`` CLI resolves its flags:

    mbops:stackFile    a stack file (YAML); the keys below win over its fields
    mbops:profile      saas | managed | custom          (default managed)
    mbops:cloud        aws | gcp | azure | local        (default local)
    mbops:environment  dev | prod                       (default dev)
    mbops:region       the cloud's region               (default per cloud)
    mbops:name         the stack's name                 (default: the Pulumi stack name, see below)
    mbops:secretEnv    (secret) JSON {NAME: value} for the app's secret_env, used when the variable the stack
                       file names is not set in the environment; `mbops up` writes it.

A Pulumi stack named like the ones `mbops up` creates, ``<name>.<cloud>`` (e.g. ``managed-dev.aws``), gives
the default name and cloud, so ``pulumi up -s managed-dev.aws`` acts on the stack ``mbops up --cloud aws``
made (same default backend); a plain valid name (``shop``) gives the name; otherwise it is <profile>-<env>.

Install mbops into the Python that Pulumi runs first (``pip install -e .`` in this repo).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

STACK = re.compile(r"^(?P<name>[a-z][a-z0-9-]{1,30}[a-z0-9])(?:\.(?P<cloud>aws|gcp|azure|local))?$")


def stack_from_config(get: Callable[[str], str | None], pulumi_stack: str) -> Any:
    """Resolve the mbops Stack from config values (``get("profile")`` -> value or None)."""
    from mbops.stacks.config import read_stack_file, resolve

    stack_file = get("stackFile")
    parsed = read_stack_file(Path(stack_file).expanduser()) if stack_file else None
    name, cloud = get("name"), get("cloud")
    # `mbops up` names its Pulumi stacks <name>.<cloud>: the same stack here runs the same program.
    named = STACK.match(pulumi_stack)
    if named and not (parsed and parsed.name):
        name = name or named["name"]
    if named and not (parsed and parsed.cloud):
        cloud = cloud or named["cloud"]
    return resolve(
        parsed, source=stack_file or "Pulumi config (mbops:*)", profile=get("profile"), cloud=cloud,
        environment=get("environment"), region=get("region"), name=name,
    )  # fmt: skip


def fill_secret_env(stack: Any, stored: Mapping[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Set each secret_env variable missing from ``environ`` from the stored values; return their names."""
    filled = []
    for name, source in stack.app.secret_env.items():
        variable = source.removeprefix("env:")
        if variable not in environ and name in stored:
            environ[variable] = stored[name]
            filled.append(variable)
    return filled


def main() -> None:
    import pulumi

    from mbops.errors import MbopsError
    from mbops.stacks.program import make_program

    config = pulumi.Config("mbops")
    try:
        stack = stack_from_config(config.get, pulumi.get_stack())
    except MbopsError as exc:
        raise pulumi.RunError(str(exc)) from None
    # A secret in config; read plainly here because the components resolve `env:VAR` at program time and
    # keep the values as Pulumi secrets in the cloud's secret store.
    stored = config.get("secretEnv")
    if stored:
        fill_secret_env(stack, json.loads(stored), os.environ)
    make_program(stack)()  # builds the stack and exports its outputs


if __name__ == "__main__":
    main()
