"""How the report writes numbers: one place for the HTML, the Markdown and the terminal.

A metric with an interval (a gate row: candidate, baseline, change and the
change's interval) is written with the decimals that give the interval's
width two significant digits (`decimals_for`), the same for every number of
the row: +2.12 to +2.50, -0.115 to -0.099. Without an interval, four
decimals (so a column lines up and 0.7 and 0.70001 do not look alike).
Changes signed, counts as integers with thousands separators (27,020, never
2.702e+04), a missing value as an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "–"
METRIC_DECIMALS = 4
WIDTH_DIGITS = 2  # significant digits of an interval's width
MAX_DECIMALS = 6


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def decimals_for(bounds: Sequence[float] | None) -> int:
    """The decimals that write an interval's width with WIDTH_DIGITS significant digits (METRIC_DECIMALS
    without an interval, or for a zero or non-finite width)."""
    if not bounds or _missing(bounds[0]) or _missing(bounds[1]):
        return METRIC_DECIMALS
    width = abs(bounds[1] - bounds[0])
    if width == 0 or not math.isfinite(width):
        return METRIC_DECIMALS
    return max(0, min(MAX_DECIMALS, WIDTH_DIGITS - 1 - math.floor(math.log10(width))))


def count(value: float | None) -> str:
    """An example count: 27,020."""
    return MISSING if _missing(value) else f"{round(value):,}"


def metric(value: float | None, name: str = "", decimals: int = METRIC_DECIMALS) -> str:
    """A metric value; a count-like metric (example_count, weighted_example_count) as a count."""
    if _missing(value):
        return MISSING
    if name.endswith("example_count"):
        return count(value)
    return f"{value:,.{decimals}f}"


def signed(value: float | None, decimals: int = METRIC_DECIMALS) -> str:
    """A change: +0.0123, -0.0045."""
    return MISSING if _missing(value) else f"{value:+,.{decimals}f}"


def interval(bounds: Sequence[float] | None, decimals: int | None = None) -> str:
    """A change's interval, by default with its own decimals (decimals_for): -0.0123 to +0.0045 (empty
    without one)."""
    if not bounds:
        return ""
    places = decimals_for(bounds) if decimals is None else decimals
    return f"{signed(bounds[0], places)} to {signed(bounds[1], places)}"


def row_decimals(row: Mapping[str, Any] | None) -> int:
    """The decimals of every number of a gate row: from its interval (decimals_for)."""
    return decimals_for((row or {}).get("interval"))


def lift(value: float | None) -> str:
    """Lift over the naive predictor, relative: +12.3%."""
    return MISSING if _missing(value) else f"{value:+.1%}"


def percent(value: float | None) -> str:
    """A confidence level: 95%."""
    return MISSING if _missing(value) else f"{value:.0%}"


def share(value: float | None) -> str:
    """A share of rows: 23.4%."""
    return MISSING if _missing(value) else f"{value:.1%}"
