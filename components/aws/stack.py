"""The AWS wiring of a stack: which components a profile uses, how they connect, and the stack outputs."""

from __future__ import annotations

from typing import Any

from mbops.stacks.config import Stack


def build(stack: Stack) -> dict[str, Any]:
    """Create the stack's AWS components, wire them together, and return the stack outputs."""
    from mbops.components.aws.network import Network, NetworkArgs
    from mbops.components.aws.storage import Storage, StorageArgs

    name, tags = stack.name, stack.tags
    outputs: dict[str, Any] = {}
    network = None
    if stack.has("network"):
        network = Network(f"{name}-net", NetworkArgs(spec=stack.spec("network"), app_port=stack.app.port, tags=tags))
        outputs["vpc_id"] = network.vpc_id
    if stack.has("storage"):
        storage = Storage(f"{name}-files", StorageArgs(spec=stack.spec("storage"), tags=tags))
        outputs["bucket"] = storage.bucket_name
    del network
    return outputs
