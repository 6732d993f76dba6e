"""Local object storage: a private directory, handed to the app as ``STORAGE_URL=file://<dir>``.

Deleting keeps the files unless the engine passes ``delete_data`` (``mbops destroy --delete-data``) or the
spec sets ``force_destroy`` (as a cloud bucket with force_destroy would be emptied). Versioning, lifecycle
and CORS have no local equivalent: the directory keeps the latest version of each file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.base import MbopsComponent
from mbops.components.local.provider import LocalProvider, disk_used
from mbops.components.spec import StorageSpec
from mbops.components.wiring import BuildContext, Built
from mbops.host import private_dir, remove_tree


class DirectoryProvider(LocalProvider):
    """A directory with mode 0700; an existing one is adopted with its files."""

    required = ("path",)
    optional = ("force_destroy",)
    computed = ("url", "status")
    replace_keys = ("path",)
    quiet_keys = ("force_destroy",)
    healthy_status = "present"

    def create(self, props: dict[str, Any]) -> CreateResult:
        private_dir(props["path"])
        return CreateResult(id_=str(props["path"]), outs=self._outs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        private_dir(news["path"])
        return UpdateResult(outs=self._outs(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("delete_data") or props.get("force_destroy"):
            remove_tree(props["path"])

    def probe(self, outs: dict[str, Any]) -> dict[str, Any]:
        return {**super().probe(outs), "disk_bytes": disk_used(outs["path"])}

    def problems(self, outs: dict[str, Any]) -> list[str]:
        return [] if Path(outs["path"]).is_dir() else [f"directory {outs['path']} is missing"]

    def gone(self, outs: dict[str, Any]) -> bool:
        return not Path(outs["path"]).is_dir()

    def data_paths(self, outs: dict[str, Any]) -> list[str]:
        return [] if outs.get("force_destroy") else [str(outs["path"])]

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        return {**props, "url": Path(props["path"]).as_uri(), "status": self.healthy_status}


class Directory(Resource, module="mbops", name="Directory"):
    """A local directory (see DirectoryProvider)."""

    path: pulumi.Output[str]
    url: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            DirectoryProvider(), name, {**props, **dict.fromkeys(DirectoryProvider.computed)}, opts
        )


@dataclass(kw_only=True)
class StorageArgs:
    spec: StorageSpec = field(default_factory=StorageSpec)
    stack_dir: Path
    tags: dict[str, str] = field(default_factory=dict)


class Storage(MbopsComponent):
    """The stack's file storage on this machine. Children: ``directory``. Outputs: ``path``, ``url``."""

    kind = "storage"

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        self.directory = Directory(
            f"{name}-directory",
            self.args(
                "directory", path=str(args.stack_dir / "storage"), force_destroy=args.spec.force_destroy
            ),
            opts=self.opts(),
        )
        self.path = self.directory.path
        self.url = self.directory.url
        self.finish({"path": self.path, "url": self.url})


def build(ctx: BuildContext) -> Built:
    """A private folder as the bucket (``STORAGE_URL=file://...``)."""
    files = Storage(ctx.name, StorageArgs(spec=ctx.spec, stack_dir=ctx.foundation.folder, tags=dict(ctx.stack.tags)))
    return Built(component=files, env={"STORAGE_URL": files.url}, outputs={"bucket": files.path})
