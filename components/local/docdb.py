"""Local document database: a SQLite file (``DOCUMENT_DB_URL``) and a table name (``DOCUMENT_TABLE``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from mbops.components.base import MbopsComponent
from mbops.components.local.database import SqliteFile
from mbops.components.spec import DocDbSpec

TABLE = "documents"


@dataclass(kw_only=True)
class DocDbArgs:
    spec: DocDbSpec = field(default_factory=DocDbSpec)
    stack_dir: Path
    tags: dict[str, str] = field(default_factory=dict)


class DocDb(MbopsComponent):
    """The stack's document database on this machine.

    Children: ``file``. Outputs: ``url``, ``path``, ``table``.

    The file is kept on destroy unless ``--delete-data`` is given, like the PITR-protected cloud tables.
    """

    kind = "docdb"

    def __init__(self, name: str, args: DocDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        self.file = SqliteFile(
            f"{name}-file",
            self.args("file", path=str(args.stack_dir / "docdb.sqlite"), table=TABLE),
            opts=self.opts(),
        )
        self.url = self.file.url
        self.path = self.file.path
        self.table = TABLE
        self.finish({"url": self.url, "path": self.path, "table": TABLE})
