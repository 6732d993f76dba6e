"""Local object storage: a private directory, handed to the app as ``STORAGE_URL=file://<dir>``.

Deleting keeps the files unless ``delete_data`` is set — by the engine (``mbops destroy --delete-data``) or as
an input of a stack released for deletion (``release_data``) — or the spec sets ``force_destroy`` (as a cloud
bucket with force_destroy would be emptied). Versioning, lifecycle and CORS have no local equivalent: the
directory keeps the latest version of each file. As root, the folder belongs to the app's user (``owner``).
A new path moves the existing folder there (its files come along) instead of starting empty.
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
from mbops.host import chown_tree, private_dir, remove_tree


class DirectoryProvider(LocalProvider):
    """A directory with mode 0700; an existing one is adopted with its files."""

    required = ("path",)
    optional = ("force_destroy", "owner")
    record_keys = ("delete_data",)
    computed = ("url", "status")
    replace_keys = ()
    quiet_keys = ("force_destroy",)
    path_keys = ("path",)
    healthy_status = "present"

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._make(props)
        return CreateResult(id_=str(props["path"]), outs=self._outs(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.recording_only(olds, news):
            return self.recorded(olds, news)
        old, new = Path(olds["path"]), Path(news["path"])
        if old != new and old.is_dir() and not new.exists():
            move_into(old, new)
        self._make(news)
        return UpdateResult(outs=self._outs(news))

    @staticmethod
    def _make(props: dict[str, Any]) -> None:
        folder = private_dir(props["path"], owner=props.get("owner"))
        if props.get("owner"):
            chown_tree(folder, props["owner"])

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
        return [] if outs.get("force_destroy") or outs.get("delete_data") else [str(outs["path"])]

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


def move_into(old: Path, new: Path) -> None:
    """Move ``old`` to ``new`` (a rename on one file system; a copy then delete across two)."""
    import shutil

    new.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(old), str(new))


@dataclass(kw_only=True)
class StorageArgs:
    spec: StorageSpec = field(default_factory=StorageSpec)
    path: Path
    owner: str | None = None  # the app's OS user (as root)
    release_data: bool = False  # the files go with a later delete, whichever engine deletes
    tags: dict[str, str] = field(default_factory=dict)


class Storage(MbopsComponent):
    """The stack's file storage on this machine. Children: ``directory``. Outputs: ``path``, ``url``."""

    kind = "storage"

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        props: dict[str, Any] = {"path": str(args.path), "force_destroy": args.spec.force_destroy, "owner": args.owner}
        if args.release_data:
            props["delete_data"] = True
        self.directory = Directory(f"{name}-directory", self.args("directory", **props), opts=self.opts())
        self.path = self.directory.path
        self.url = self.directory.url
        self.finish({"path": self.path, "url": self.url})


def build(ctx: BuildContext) -> Built:
    """A private folder as the bucket (``STORAGE_URL=file://...``)."""
    local = ctx.foundation
    files = Storage(ctx.name, StorageArgs(
        spec=ctx.spec, path=local.storage_dir, owner=local.app_user, release_data=ctx.stack.release_data,
        tags=dict(ctx.stack.tags),
    ))  # fmt: skip
    return Built(component=files, env={"STORAGE_URL": files.url}, outputs={"bucket": files.path})
