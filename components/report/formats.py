"""How the report writes numbers: one place for the HTML, the Markdown and the terminal.

Metrics with a fixed four decimals (so a column lines up and 0.7 and 0.70001
do not look alike), changes signed, counts as integers with thousands
separators (27,020, never 2.702e+04), a missing value as an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MISSING = "–"
METRIC_DECIMALS = 4


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(value: float | None) -> str:
    """An example count: 27,020."""
    return MISSING if _missing(value) else f"{round(value):,}"


def metric(value: float | None, name: str = "") -> str:
    """A metric value; a count-like metric (example_count, weighted_example_count) as a count."""
    if _missing(value):
        return MISSING
    if name.endswith("example_count"):
        return count(value)
    return f"{value:,.{METRIC_DECIMALS}f}"


def signed(value: float | None) -> str:
    """A change: +0.0123, −0.0045."""
    return MISSING if _missing(value) else f"{value:+,.{METRIC_DECIMALS}f}"


def interval(bounds: Sequence[float] | None) -> str:
    """A change's interval: −0.0123 to +0.0045 (empty without one)."""
    return "" if not bounds else f"{signed(bounds[0])} to {signed(bounds[1])}"


def lift(value: float | None) -> str:
    """Lift over the naive predictor, relative: +12.3%."""
    return MISSING if _missing(value) else f"{value:+.1%}"


def percent(value: float | None) -> str:
    """A confidence level: 95%."""
    return MISSING if _missing(value) else f"{value:.0%}"


def share(value: float | None) -> str:
    """A share of rows: 23.4%."""
    return MISSING if _missing(value) else f"{value:.1%}"
