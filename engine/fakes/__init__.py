"""Plausible answers to provider functions (invokes) for plans made without a cloud account.

Each cloud keeps its answers in ``engine/fakes/<cloud>.py``: ``ANSWERS`` (token -> answer) for the functions its
components call (anything else fails loudly, so a new invoke is noticed), and ``INVENTED`` (token -> the fields
of that answer the planner makes up, and what each stands for: an account id, an AMI, a project number, zones,
a tenant). The planned graph lists every invented value it contains under ``placeholders``, so nothing made up
reads as real. Answers depend on the stack's region so plans read like the real thing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PLAN_ACCOUNT_ID = "123456789012"

Answer = Callable[[dict[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class Placeholder:
    """A value the planner made up (``value``) and what it stands for (``stands_for``)."""

    value: str
    stands_for: str


def _module(token: str) -> Any:
    package = token.split(":", 1)[0]
    cloud = {"azure-native": "azure"}.get(package, package)
    try:
        return importlib.import_module(f"mbops.engine.fakes.{cloud}")
    except ModuleNotFoundError:
        return None


def answer(token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
    """The planned answer to provider function ``token`` (``<package>:<module>:<function>``)."""
    module = _module(token)
    if module is None or token not in module.ANSWERS:
        raise NotImplementedError(f"the embedded planner has no answer for provider function {token}")
    return module.ANSWERS[token](args, region)


def invented(token: str, result: Mapping[str, Any]) -> list[Placeholder]:
    """The made-up values in ``result``, the answer to ``token``."""
    module = _module(token)
    fields: Mapping[str, str] = getattr(module, "INVENTED", {}).get(token, {}) if module else {}
    found: list[Placeholder] = []
    for key, stands_for in fields.items():
        value = result.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item:
                found.append(Placeholder(item, stands_for))
    return found
