"""The Markdown first screen: one row per head, failing slices, data kept inside its table cell."""

from __future__ import annotations

from components.report.markdown import render_markdown


def summary(slice_name: str, failures: list[str]) -> dict:
    row = {"slice": "overall", "examples": 1200.0, "candidate": 0.61, "baseline": 0.65, "change": -0.04}
    row |= {"interval": (-0.06, -0.02), "lift": 0.031, "failures": []}
    bad = {**row, "slice": slice_name, "examples": 12345.0, "failures": failures}
    head = {"name": "late", "gate": {"metric": "AUC", "key": "auc"}, "higher_is_better": True}
    head |= {"passed": not failures, "gate_rows": [row, bad]}
    return {"verdict": "blocked", "blessed": False, "reasons": failures, "heads": [head]}


def test_a_failing_slice_is_listed_with_its_reason_and_counts():
    """One line per failed head first; every number of a row with the decimals its interval's width
    needs (0.04 wide: three)."""
    text = render_markdown(summary("origin=JFK", ["AUC fell by 0.04"]), "/r/report.html")
    assert text.startswith(
        "# Blocked: not pushed\n\n- late: auc 0.610 (change -0.040 \\[-0.060 to -0.020\\]) "
        "1 of 1 gated slices failed, the worst origin=JFK (-0.040)\n"
    ), text
    assert "| late | AUC | 0.610 | 0.650 | -0.040 [-0.060 to -0.020] | +3.1% | **FAIL** |" in text
    assert "| late | origin=JFK | 12,345 | 0.610 | 0.650 | -0.040 | AUC fell by 0.04 |" in text
    assert text.rstrip().endswith("Full report: `/r/report.html`")


def test_data_cannot_break_out_of_its_cell():
    text = render_markdown(summary("carrier=A|B\n# <img src=x>", ["bad"]), "/r")
    (line,) = [line for line in text.splitlines() if line.startswith("| late | carrier")]
    assert "carrier=A\\|B \\# \\<img src=x\\>" in line
    assert line.count(" | ") == 6  # seven cells, none added by the data
