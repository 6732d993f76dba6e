"""Turn MbopsError into a clean message and the documented exit code (never a traceback)."""

from __future__ import annotations

import click

from mbops.errors import MbopsError


class CliError(click.ClickException):
    """A ClickException that carries mbops's exit code."""

    def __init__(self, error: MbopsError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class MbopsGroup(click.Group):
    """A click group whose commands report MbopsError as ``Error: ...`` with its exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MbopsError as exc:
            raise CliError(exc) from None
