"""Monthly cost estimate of a planned graph (filled in by the cost work)."""

from __future__ import annotations

from typing import Any


def estimate(graph: dict[str, Any], stack: Any) -> dict[str, Any]:
    return {}
