"""Plausible answers to provider functions (invokes) for plans made without a cloud account.

Each cloud keeps its answers in ``components/<cloud>/invokes.py`` as ``ANSWERS: dict[token, Answer]``; only
functions the components call are answered, and anything else fails loudly so a new invoke is noticed.
Answers depend on the stack's region so plans read like the real thing (zones ``<region>a``, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

PLAN_ACCOUNT_ID = "123456789012"

Answer = Callable[[dict[str, Any], str], dict[str, Any]]


def answer(token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
    """The planned answer to provider function ``token`` (``<package>:<module>:<function>``)."""
    package = token.split(":", 1)[0]
    cloud = {"azure-native": "azure"}.get(package, package)
    try:
        answers: dict[str, Answer] = importlib.import_module(f"mbops.components.{cloud}.invokes").ANSWERS
        return answers[token](args, region)
    except (ModuleNotFoundError, KeyError):
        raise NotImplementedError(f"the embedded planner has no answer for provider function {token}") from None
