"""Reading planned inputs: dotted paths, unknowns, booleans-as-strings, tags, JSON documents, CIDRs and ports.

Inputs are camelCase as the provider sees them. A value the engine cannot know before deploy is
``"[computed]"`` and a Pulumi secret is ``"[secret]"`` (the planned-graph contract); rules treat an unknown as
"cannot tell" and never report it as a violation unless the rule says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
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


# --- networks -----------------------------------------------------------------------------------------------
ANYWHERE = frozenset({"0.0.0.0/0", "::/0", "0.0.0.0", "*", "any", "internet"})


def open_to_internet(source: Any) -> bool:
    """True for a source range meaning "anyone": 0.0.0.0/0, ::/0, ``*``, Azure's ``Internet``/``Any``."""
    return isinstance(source, str) and source.strip().lower() in ANYWHERE


def port_ranges(value: Any) -> Iterator[tuple[int, int]]:
    """Port ranges from ``"22"``, ``"1000-2000"``, ``"*"``, ints or lists of those (``*`` = every port)."""
    for entry in as_list(value):
        if isinstance(entry, bool):
            continue
        if isinstance(entry, int | float):
            yield int(entry), int(entry)
            continue
        if not isinstance(entry, str) or not known(entry):
            continue
        text = entry.strip()
        if text in ("*", "", "any", "Any"):
            yield 0, 65535
            continue
        match = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", text)
        if match:
            low = int(match.group(1))
            yield low, int(match.group(2) or low)


def ports_in(ranges: list[tuple[int, int]], ports: Mapping[int, str]) -> list[int]:
    """The watched ports that fall in any of ``ranges``, sorted."""
    return sorted(p for p in ports if any(lo <= p <= hi for lo, hi in ranges))


# --- names and values that carry credentials ----------------------------------------------------------------
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|CONN(ECTION)?_?STR"
    r"|(^|_)KEY$|(^|_)DSN$|^DATABASE_URL$",
    re.IGNORECASE,
)
# Names that point at a secret rather than hold one: SECRETS_PREFIX, DB_SECRET_ARN, KEY_VAULT_URI, ...
REFERENCE_NAME = re.compile(
    r"_(ARN|NAMES?|IDS?|REF|PATH|FILE|URI|PREFIX|STORE|VERSION|ENDPOINT|REGION|VAULT|LOCATION)$",
    re.IGNORECASE,
)
ALWAYS_SECRET = frozenset({"DATABASE_URL"})
CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^/\s@\"']+@", re.IGNORECASE)
SECRET_REFERENCE = re.compile(
    r"^(arn:aws[a-z-]*:(secretsmanager|ssm|kms):|projects/[^/]+/secrets/|https://[^/]+\.vault\.azure\.net/"
    r"|@Microsoft\.KeyVault\(|secretref:|\$\{|\$\()",
    re.IGNORECASE,
)


def secret_like_name(name: str) -> bool:
    """True when a variable or output name says it holds a credential (and is not a pointer to one)."""
    upper = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper().replace("-", "_")
    if upper in ALWAYS_SECRET:
        return True
    return bool(SECRET_NAME.search(upper)) and not REFERENCE_NAME.search(upper)


def plaintext_credential(name: str, value: Any, *, secrets_visible: bool) -> str | None:
    """Why a plain (non-secret-store) env var or output leaks a credential, or None when it does not."""
    if value is None or value == "":
        return None
    if secrets_visible and value == SECRET:
        return f"{name} is a Pulumi secret written into a plaintext setting (visible to whoever reads it)"
    if isinstance(value, str) and CREDENTIAL_URL.search(value):
        return f"{name} holds a URL with an embedded password"
    if secret_like_name(name):
        if isinstance(value, str) and SECRET_REFERENCE.search(value):
            return None
        shown = "a value computed at deploy time" if value in (UNKNOWN, SECRET) else "a literal value"
        return f"{name} looks like a credential and is set to {shown} instead of a secret-store reference"
    return None
