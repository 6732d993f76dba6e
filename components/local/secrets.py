"""Local secret store: a JSON file with mode 0600 in the stack's state folder.

It holds the app's secret environment: ``app.secret_env`` (read from the deployer's environment at deploy
time) and the wired secrets (``DATABASE_URL``, ``REDIS_URL``), as a cloud secret store would. The app
process reads it when it starts; its ``version`` output changes whenever the content does, which is what
restarts the app — the values themselves never become plaintext inputs of anything else.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from mbops.components.base import MbopsComponent
from mbops.components.local.provider import LocalProvider, private_file
from mbops.components.spec import SecretsSpec
from mbops.components.wiring import BuildContext, Built
from mbops.host import remove_tree


def read_secrets(path: str | Path) -> dict[str, str]:
    """The secrets file's values (empty when it does not exist)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    return {str(k): str(v) for k, v in data.items()}


class SecretsFileProvider(LocalProvider):
    """A 0600 JSON file of NAME -> value."""

    required = ("path",)
    optional = ("values",)
    computed = ("version", "count", "status")
    secret_outputs = ("values",)
    replace_keys = ("path",)
    path_keys = ("path",)
    healthy_status = "present"

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props["path"]), outs=self._write(props, secrets.token_hex(8)))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        same = olds.get("values") == news.get("values") and olds.get("path") == news.get("path")
        return UpdateResult(outs=self._write(news, olds["version"] if same else secrets.token_hex(8)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        remove_tree(props["path"])  # a copy of secrets kept elsewhere, not data

    def problems(self, outs: dict[str, Any]) -> list[str]:
        path = Path(outs["path"])
        if not path.is_file():
            return [f"secrets file {path} is missing"]
        if path.stat().st_mode & 0o077:
            return [f"secrets file {path} is readable by other users (mode {path.stat().st_mode & 0o777:o})"]
        return []

    def _write(self, props: dict[str, Any], version: str) -> dict[str, Any]:
        values = {str(k): str(v) for k, v in (props.get("values") or {}).items()}
        private_file(props["path"], json.dumps(values, indent=1, sort_keys=True).encode())
        return {**props, "version": version, "count": len(values), "status": self.healthy_status}


class SecretsFile(Resource, module="mbops", name="SecretsFile"):
    """A local secrets file (see SecretsFileProvider)."""

    path: pulumi.Output[str]
    version: pulumi.Output[str]
    count: pulumi.Output[int]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["values"])
        )
        super().__init__(
            SecretsFileProvider(), name, {**props, **dict.fromkeys(SecretsFileProvider.computed)}, opts
        )


@dataclass(kw_only=True)
class SecretsArgs:
    spec: SecretsSpec = field(default_factory=SecretsSpec)
    stack_dir: Path
    values: Any  # Input[dict[str, str]]: every value is handled as a secret
    tags: dict[str, str] = field(default_factory=dict)


class Secrets(MbopsComponent):
    """The stack's secret store on this machine. Children: ``file``. Outputs: ``path``, ``version``."""

    kind = "secrets"

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        self.file = SecretsFile(
            f"{name}-file",
            self.args(
                "file", path=str(args.stack_dir / "secrets.json"), values=pulumi.Output.secret(args.values)
            ),
            opts=self.opts(),
        )
        self.path = self.file.path
        self.version = self.file.version
        self.finish({"path": self.path, "version": self.version})


def build(ctx: BuildContext) -> Built:
    """The 0600 secrets file with every secret the app gets (built last, after the kinds that make them)."""
    values = {name: value for built in ctx.built.values() for name, value in built.secrets.items()}
    values.update(ctx.app_secrets)
    store = Secrets(
        ctx.name, SecretsArgs(spec=ctx.spec, stack_dir=ctx.foundation.folder, values=values,
                              tags=dict(ctx.stack.tags)),
    )  # fmt: skip
    return Built(component=store, outputs={"secrets_store": store.path})
