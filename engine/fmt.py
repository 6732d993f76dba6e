"""Numbers as a person writes them in the reports: ``2,000,000`` (never ``2e+06``), ``$1,234.50``, ``3 resources``."""

from __future__ import annotations

from decimal import Decimal


def number(value: float | int | None) -> str:
    """``2,000,000``, ``0.05``, ``1,234.5``: thousands separators, no exponent, no trailing zeros."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{Decimal(repr(float(value))):,f}"  # repr keeps the shortest exact digits; ``,f`` never uses exponents
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: float | None) -> str:
    """``$1,234.50`` (always two decimals), ``n/a`` when unknown."""
    return "n/a" if value is None else f"${value:,.2f}"


def count(n: int, noun: str = "resource") -> str:
    """``1 resource``, ``2 resources``, ``1,200 resources``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def span(low: float | int | None, high: float | int | None, noun: str) -> str:
    """``2 tasks``, ``1 to 3 tasks``: a planned minimum and maximum."""
    if low is None and high is None:
        return f"? {noun}s"
    if high is None or low == high:
        value = low if low is not None else high
        return f"{number(value)} {noun}{'' if value == 1 else 's'}"
    if low is None:
        return f"up to {number(high)} {noun}s"
    return f"{number(low)} to {number(high)} {noun}s"
