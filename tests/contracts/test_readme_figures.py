"""Every measured figure the README quotes is one bench/RESULTS.md records (with its date and commit), so
the two cannot drift apart: durations, rates, ratios and metric values."""

from __future__ import annotations

import re

from pipeline.config import REPO_ROOT

FIGURES = (
    r"\b\d+ min \d+ s\b",  # 3 min 32 s
    r"(?<![\d:])\b\d+ s\b",  # 183 s (not a clock time)
    r"\b\d{1,3}(?:,\d{3})+ rows/s",  # 232,315 rows/s
    r"\b\d+(?:\.\d+)?x\b",  # 4.4x
    r"(?<![:\d])\b\d+\.\d{3,}\b",  # metric values: 26.0714 (not the seconds of a clock time)
)


def figures(text: str) -> set[str]:
    return {match.group(0) for pattern in FIGURES for match in re.finditer(pattern, text)}


def test_every_figure_in_the_readme_is_recorded_in_the_results():
    readme = (REPO_ROOT / "README.md").read_text()
    results = (REPO_ROOT / "bench" / "RESULTS.md").read_text()
    found = figures(readme)
    assert len(found) >= 5  # the check sees the figures: the sample run's time and metrics at least
    missing = sorted(figure for figure in found if figure not in results)
    assert not missing, f"README figures that bench/RESULTS.md does not record: {missing}"


def test_the_figure_patterns_find_what_they_should():
    assert figures("took 3 min 32 s, 183 s of pipeline, at 02:43:36 s; 232,315 rows/s, 4.4x, MAE 26.0714") == {
        "3 min 32 s",
        "32 s",
        "183 s",
        "232,315 rows/s",
        "4.4x",
        "26.0714",
    }
