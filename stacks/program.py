"""The Pulumi program: a resolved stack, built by the stack wiring, with its outputs exported.

The same program runs under the embedded engine (``mbops preview``/``up`` without the CLI), the Automation
API (inline program) and ``pulumi up`` in this repo (``__main__.py``). After a run, ``program.result`` holds
what the wiring built (outputs and gaps) for the engine to report.
"""

from __future__ import annotations

from dataclasses import dataclass

from mbops.stacks.config import Stack
from mbops.stacks.wiring import BuildResult, build, exported


@dataclass
class StackProgram:
    """A Pulumi program function for one stack; ``release_data`` makes its data resources deletable."""

    stack: Stack
    release_data: bool = False
    result: BuildResult | None = None

    def __call__(self) -> None:
        self.result = build(self.stack, release_data=self.release_data)
        exported(self.result.outputs)


def make_program(stack: Stack, *, release_data: bool = False) -> StackProgram:
    """The program for ``stack``: builds it and exports its outputs (``release_data``: see ``StackInfo``)."""
    return StackProgram(stack, release_data=release_data)
