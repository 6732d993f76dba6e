"""Values of the app's secrets (``app.secret_env``: ``NAME -> env:VAR``), read when the program runs.

A value is always returned as a Pulumi secret. A missing one never fails a preview: the plan gets a secret
placeholder and a warning; a deployment (not a dry run) stops with a ConfigError saying what to set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pulumi

from mbops.errors import ConfigError

PLACEHOLDER = "[unset]"


def secret_env_value(
    secret_env: Mapping[str, str], name: str, *, wanted_by: str | None = None
) -> pulumi.Output[str]:
    """The value of app secret ``name`` as a Pulumi secret, from the environment variable its source names."""
    source = secret_env.get(name)
    where = f"{wanted_by}: " if wanted_by else ""
    if source is None:
        problem = (
            f"{where}app.secret_env has no {name}; add `{name}: env:<VARIABLE>` to the stack's app.secret_env"
            f" and set that variable where mbops runs"
        )
    else:
        variable = source.removeprefix("env:")
        value = os.environ.get(variable)
        if value:
            return pulumi.Output.secret(value)
        problem = f"{where}app.secret_env.{name}: environment variable {variable} is not set (or empty)"
    if pulumi.runtime.is_dry_run():
        pulumi.log.warn(f"{problem}; the plan uses a placeholder")
        return pulumi.Output.secret(PLACEHOLDER)
    raise ConfigError(problem)
