"""Local document database: a SQLite file (``DOCUMENT_DB_URL``) and a table name (``DOCUMENT_TABLE``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from mbops.components.base import MbopsComponent
from mbops.components.local.database import SqliteFile, release
from mbops.components.spec import DocDbSpec
from mbops.components.wiring import BuildContext, Built

TABLE = "documents"


@dataclass(kw_only=True)
class DocDbArgs:
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    path: Path
    owner: str | None = None  # the app's OS user (as root)
    release_data: bool = False  # the file goes with a later delete, whichever engine deletes
    tags: dict[str, str] = field(default_factory=dict)


class DocDb(MbopsComponent):
    """The stack's document database on this machine.

    Children: ``file``. Outputs: ``url``, ``path``, ``table``.

    The file is kept on destroy unless ``--delete-data`` is given (or the stack was released for deletion), like
    the PITR-protected cloud tables.
    """

    kind = "docdb"

    def __init__(self, name: str, args: DocDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        self.file = SqliteFile(
            f"{name}-file",
            self.args("file", path=str(args.path), table=TABLE, owner=args.owner, **release(args.release_data)),
            opts=self.opts(),
        )
        self.url = self.file.url
        self.path = self.file.path
        self.table = TABLE
        self.finish({"url": self.url, "path": self.path, "table": TABLE})


def build(ctx: BuildContext) -> Built:
    """A SQLite document store (``DOCUMENT_DB_URL``, ``DOCUMENT_TABLE``); also the app's ``DATABASE_URL``
    when the stack has no database, so the same app runs on every profile."""
    doc = DocDb(
        f"{ctx.stack.name}-docdb",
        DocDbArgs(spec=ctx.spec, path=ctx.foundation.sqlite_dir / "docdb.sqlite", owner=ctx.foundation.app_user,
                  release_data=ctx.stack.release_data, tags=dict(ctx.stack.tags)),
    )
    return Built(
        component=doc, env={"DOCUMENT_DB_URL": doc.url, "DOCUMENT_TABLE": doc.table},
        secrets={} if "database" in ctx.built else {"DATABASE_URL": doc.url},
        outputs={"document_table": doc.table, "document_db_path": doc.path},
    )  # fmt: skip
