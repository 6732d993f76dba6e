"""The Pulumi program: a resolved stack becomes its cloud's components, wired together, and stack outputs.

The same program runs under the embedded engine (``mbops preview``/``up`` without the CLI), the Automation
API (inline program) and ``pulumi up`` in this repo (``__main__.py``). Each cloud's wiring lives in
``components/<cloud>/stack.py`` as ``build(stack) -> dict of outputs``; this module only dispatches, so a
one-cloud run imports one cloud's provider SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pulumi

from mbops.stacks.config import Stack


def build(stack: Stack) -> dict[str, object]:
    """Create the stack's components and return its outputs (not yet exported)."""
    module = importlib.import_module(f"mbops.components.{stack.cloud}.stack")
    return module.build(stack)


def make_program(stack: Stack) -> Callable[[], None]:
    """A Pulumi program function for ``stack``: builds it and exports its outputs."""

    def program() -> None:
        for key, value in build(stack).items():
            pulumi.export(key, value)

    return program
