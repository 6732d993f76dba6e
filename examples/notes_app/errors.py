"""Errors that become HTTP answers, and how an error is told in one line."""

from __future__ import annotations


class ApiError(Exception):
    """Answered as ``{"error": message[, "field": field]}`` with ``status`` (and ``Connection: close`` if asked)."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        if close:
            self.headers["Connection"] = "close"


class ClientGone(Exception):
    """The client closed the connection before sending the whole request; nobody is left to answer."""


def one_line(exc: BaseException, limit: int = 500) -> str:
    """An error's text on one line, for the log or stderr (several SDKs put codes and hints on lines of their own)."""
    return " ".join(str(exc).split())[:limit]
