"""Validate request input; every failure names the offending field."""

from __future__ import annotations

import json
from typing import Any

TITLE_MAX = 200
BODY_MAX = 100_000
LIMIT_DEFAULT = 50
LIMIT_MAX = 100


class ValidationError(ValueError):
    """Bad client input; ``field`` is the offending field (None for the body as a whole)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def parse_note(raw: bytes) -> tuple[str, str]:
    """Return ``(title, body)`` from a JSON request body; ``body`` defaults to an empty string."""
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError('request body must be a JSON object like {"title": "...", "body": "..."}')
    unknown = sorted(set(data) - {"title", "body"})
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}: only 'title' and 'body' are accepted", unknown[0]
        )
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
        raise ValidationError(f"'title' must be a non-blank string of 1 to {TITLE_MAX} characters", "title")
    body = data.get("body", "")
    if not isinstance(body, str) or len(body) > BODY_MAX:
        raise ValidationError(f"'body' must be a string of at most {BODY_MAX} characters", "body")
    return title, body


def parse_limit(values: list[str] | None) -> int:
    """Return the ``limit`` query parameter (default :data:`LIMIT_DEFAULT`, range 1..:data:`LIMIT_MAX`)."""
    if not values:
        return LIMIT_DEFAULT
    raw = values[-1]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LIMIT_MAX:
        raise ValidationError(f"'limit' must be an integer between 1 and {LIMIT_MAX}", "limit")
    return int(raw)


def parse_note_id(raw: str) -> int | None:
    """Return the note id from a URL segment, or None when it cannot be a note id."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None
