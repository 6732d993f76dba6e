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


def parse_json(raw: bytes) -> Any:
    """Decode a UTF-8 JSON document; every way it can be malformed is a :class:`ValidationError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"request body is not valid JSON: not UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ValidationError("request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and integers longer than sys.get_int_max_str_digits()
        raise ValidationError(f"request body is not valid JSON: {exc}") from None


def check_text(value: str, field: str) -> str:
    """Refuse strings no database stores faithfully: NUL characters and lone surrogates (``"\\ud800"``)."""
    if "\x00" in value:
        raise ValidationError(f"'{field}' must not contain NUL characters (\\u0000)", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"'{field}' is not valid Unicode: lone surrogate {value[exc.start]!a} at character {exc.start}", field
        ) from None
    return value


def parse_note(raw: bytes) -> tuple[str, str]:
    """Return ``(title, body)`` from a JSON request body; ``body`` defaults to an empty string."""
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ValidationError('request body must be a JSON object like {"title": "...", "body": "..."}')
    unknown = sorted(set(data) - {"title", "body"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}: only 'title' and 'body' are accepted", unknown[0])
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
        raise ValidationError(f"'title' must be a non-blank string of 1 to {TITLE_MAX} characters", "title")
    body = data.get("body", "")
    if not isinstance(body, str) or len(body) > BODY_MAX:
        raise ValidationError(f"'body' must be a string of at most {BODY_MAX} characters", "body")
    return check_text(title, "title"), check_text(body, "body")


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
