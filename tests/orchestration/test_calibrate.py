"""calibrate's arithmetic: the spread table and the suggested allowance."""

from __future__ import annotations

import math
import statistics

import pytest

from orchestration.calibrate import SPREAD_TO_ALLOWANCE, suggestions, table, yaml_snippet


def test_suggestions_are_two_root_two_spreads_overall_and_on_the_noisiest_gated_slice():
    spread = {
        ("late", "overall"): [0.66, 0.67, 0.65],
        ("late", "origin=EWR"): [0.60, 0.68, 0.64],
        ("late", "origin=JFK"): [0.62, 0.63, 0.64],
        ("late", "origin=LGA"): [0.62],  # one seed: no spread
    }
    suggested = suggestions(spread)
    assert suggested["late"]["max_regression"] == pytest.approx(2 * math.sqrt(2) * 0.01)
    assert suggested["late"]["slice_max_regression"] == pytest.approx(
        2 * math.sqrt(2) * statistics.stdev([0.60, 0.68, 0.64])
    )
    assert pytest.approx(2.828, abs=1e-3) == SPREAD_TO_ALLOWANCE
    assert "late: {max_regression: 0.02828, slice_max_regression: 0.1131}" in yaml_snippet(suggested, 3)
    assert len(table(spread)) == 5
