"""Where a local stack keeps its working files and data, who its services run as, and where its app runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from mbops.components.local.process import APP_USER, CACHE_USER, service_user
from mbops.components.wiring import BuildContext, Built
from mbops.host import data_root, state_dir


@dataclass(frozen=True)
class LocalContext:
    """``folder``: ``<state folder>/<stack>/`` (logs, pid files, secrets); ``data``: where the app's files and
    SQLite databases live (the same folder, or as root ``/var/lib/mbops/data/<stack>-<key>``, which the app's
    unprivileged user can reach); ``app_cwd``: the app's working directory (``app.workdir``, the stack file's
    folder, or the current directory); ``app_user`` / ``cache_user``: the OS users of the app and Redis (None:
    the current user; as root: ``mbops-app`` / ``mbops-cache``)."""

    folder: Path
    app_cwd: Path
    data: Path
    app_user: str | None = None
    cache_user: str | None = None

    @property
    def storage_dir(self) -> Path:
        return self.data / "storage"

    @property
    def sqlite_dir(self) -> Path:
        return self.data / "sqlite"


def build(ctx: BuildContext) -> Built:
    """The state folder comes from the Pulumi config ``mbops:stateDir`` that the engine sets, else
    ``MBOPS_STATE_DIR``, else ``~/.mbops/state``."""
    from mbops.components.local.app import check_command

    workdir = ctx.stack.app.workdir  # absolute once resolved (stacks/config.py)
    app_cwd = Path(workdir) if workdir else ctx.stack.source_dir or Path.cwd()
    check_command(ctx.stack.app.command, app_cwd, source=ctx.stack.source)  # before anything is created
    root = state_dir(pulumi.Config("mbops").get("stateDir"))
    return Built(component=LocalContext(
        folder=root / ctx.stack.name, app_cwd=app_cwd, data=data_root(root, ctx.stack.name),
        app_user=service_user(APP_USER), cache_user=service_user(CACHE_USER),
    ))  # fmt: skip
