"""Local network: the loopback interface. Every local service listens on 127.0.0.1 only; nothing to create."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from mbops.components.base import MbopsComponent
from mbops.components.local.provider import LOOPBACK
from mbops.components.spec import NetworkSpec
from mbops.components.wiring import BuildContext, Built


@dataclass(kw_only=True)
class NetworkArgs:
    spec: NetworkSpec = field(default_factory=NetworkSpec)
    tags: dict[str, str] = field(default_factory=dict)


class Network(MbopsComponent):
    """A record of the loopback network (no children). Outputs: ``host`` (127.0.0.1)."""

    kind = "network"

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local", name, args.spec, args.tags, opts)
        self.host = LOOPBACK
        self.finish({"host": LOOPBACK})


def build(ctx: BuildContext) -> Built:
    """The loopback network: everything listens on 127.0.0.1."""
    return Built(component=Network(ctx.name, NetworkArgs(spec=ctx.spec, tags=dict(ctx.stack.tags))))
