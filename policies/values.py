"""Reading planned inputs: dotted paths, unknowns, booleans-as-strings, enum words, tags, JSON documents.

Inputs are camelCase as the provider sees them. A value the engine cannot know before deploy is
``"[computed]"`` and a Pulumi secret is ``"[secret]"`` (the planned-graph contract). Whether an unknown is
acceptable depends on the field: an id or a reference is fine, a security setting is a finding that it cannot be
verified (``model.unverified``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

UNKNOWN = "[computed]"
SECRET = "[secret]"

_MISSING = object()


def known(value: Any) -> bool:
    """True for a value the plan knows (not ``[computed]``)."""
    return not (isinstance(value, str) and value == UNKNOWN)


def get(data: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path (``settings.ipConfiguration.sslMode``); ``default`` when absent.

    An unknown container on the way yields ``[computed]``: the value may exist once it is known.
    """
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return default
        elif not known(value):
            return UNKNOWN
        else:
            return default
    return default if value is None else value


def flag(value: Any) -> bool | None:
    """A provider boolean (``True``, ``"true"``, ``"1"``...) as True/False; None when absent or unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on", "enabled"):
            return True
        if lowered in ("false", "0", "no", "off", "disabled"):
            return False
    if isinstance(value, int | float):
        return bool(value)
    return None


def word(value: Any, default: str = "") -> str:
    """An enum value compared the way the provider accepts it, in any case: ``"Inbound"``, ``"INGRESS"``,
    ``"Tcp"`` -> ``"inbound"``, ``"ingress"``, ``"tcp"``; ``default`` when it is not a string."""
    return value.strip().lower() if isinstance(value, str) else default


def number(value: Any) -> float | None:
    """A number (int, float or numeric string); None when absent, unknown or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def items(value: Any) -> list[Any]:
    """A list input as a list (absent or unknown: empty)."""
    return list(value) if isinstance(value, list | tuple) else []


def document(value: Any) -> Any:
    """A JSON document given as a string (IAM policies, container definitions) or parsed; None if unknown."""
    if isinstance(value, Mapping | list):
        return value
    if not isinstance(value, str) or not known(value) or value == SECRET:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def as_list(value: Any) -> list[Any]:
    """IAM-style "one or many": a scalar becomes a one-item list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def key_values(value: Any) -> dict[str, Any] | None:
    """Tags/labels as a dict from a mapping or a list of ``{key, value}`` (auto scaling groups); None if unknown."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for entry in value:
            if isinstance(entry, Mapping) and "key" in entry:
                out[str(entry["key"])] = entry.get("value")
        return out
    return None
