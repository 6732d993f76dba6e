"""Where a local stack keeps its working files, and where its app runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from mbops.components.wiring import BuildContext, Built
from mbops.host import state_dir


@dataclass(frozen=True)
class LocalContext:
    """``folder``: ``<state folder>/<stack>/`` (logs, pid files, data, secrets); ``app_cwd``: the app's
    working directory (the stack file's folder, or the current directory)."""

    folder: Path
    app_cwd: Path


def build(ctx: BuildContext) -> Built:
    """The state folder comes from the Pulumi config ``mbops:stateDir`` that the engine sets, else
    ``MBOPS_STATE_DIR``, else ``~/.mbops/state``."""
    from mbops.components.local.app import check_command

    app_cwd = ctx.stack.source_dir or Path.cwd()
    check_command(ctx.stack.app.command, app_cwd, source=ctx.stack.source)  # before anything is created
    folder = state_dir(pulumi.Config("mbops").get("stateDir")) / ctx.stack.name
    return Built(component=LocalContext(folder=folder, app_cwd=app_cwd))
