"""Run the policy rules on a planned graph (filled in by the policies work)."""

from __future__ import annotations

from typing import Any


def evaluate(graph: dict[str, Any], stack: Any) -> list[dict[str, Any]]:
    return []
