"""Documents built from many values (container definitions, user data) that a preview can still read.

A JSON or text document made from Outputs is unknown in a preview as soon as one value is (the image's digest
before it is built, a name AWS generates): the whole document shows as ``[computed]`` and policy rules cannot
read it. ``readable_in_preview`` stands each unknown value in for the placeholder ``[computed]`` — in a preview
only, so no deployment ever sees it — and keeps everything known as it is. An unknown value is one that
changes in this deployment, so the document changes too: the preview's update is real, only its text is
partly a placeholder.
"""

from __future__ import annotations

from typing import Any

import pulumi

PLACEHOLDER = "[computed]"


async def _true() -> bool:
    return True


def _readable(value: pulumi.Output[Any]) -> pulumi.Output[Any]:
    async def get() -> Any:
        return (await value.future()) if await value.is_known() else PLACEHOLDER

    return pulumi.Output(value.resources(), get(), _true(), value.is_secret())


def readable_in_preview(structure: Any) -> Any:
    """``structure`` (dicts, lists, values, Outputs) with each Output leaf known in a preview (unknown ones as
    ``[computed]``); unchanged outside a preview."""
    if not pulumi.runtime.is_dry_run():
        return structure
    if isinstance(structure, dict):
        return {k: readable_in_preview(v) for k, v in structure.items()}
    if isinstance(structure, list | tuple):
        return [readable_in_preview(v) for v in structure]
    if isinstance(structure, pulumi.Output):
        return _readable(structure)
    return structure
