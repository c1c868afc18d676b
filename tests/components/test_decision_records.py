"""The gate's decision records: written atomically, one per decision, read back in time order."""

from __future__ import annotations

import datetime
import json

from components.gate.decision_records import decision_record, read_records, write_record
from components.report.history import read_history


def decisions(blessed: bool, candidate: float, baseline: float | None) -> dict:
    rows = [
        {"slice": "overall", "candidate": candidate, "baseline": baseline},
        {"slice": "carrier:UA", "candidate": 0.1, "baseline": 0.2},
    ]
    return {"blessed": blessed, "heads": [{"head": "late", "metric": "auc", "passed": blessed, "rows": rows}]}


def at(minute: int) -> datetime.datetime:
    return datetime.datetime(2026, 12, 4, 12, minute, tzinfo=datetime.UTC)


def test_records_are_read_back_oldest_first_with_the_overall_gate_metric(tmp_path):
    later = decision_record(decisions(False, 0.61, 0.70), "m2", "m1", "root/HeadGate/blessing/9", at(30))
    first = decision_record(decisions(True, 0.70, None), "m1", None, "root/HeadGate/blessing/4", at(5))
    for record in (later, first):
        write_record(str(tmp_path), record)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # nothing half-written left
    assert read_records(str(tmp_path)) == [first, later]
    history = read_history(str(tmp_path), ["late", "a_removed_head"])
    assert [(p["run"], p["candidate"], p["baseline"], p["passed"], p["pushed"]) for p in history["late"]] == [
        ("2026-12-04T12:05:00+00:00", 0.70, None, True, True),
        ("2026-12-04T12:30:00+00:00", 0.61, 0.70, False, False),
    ]
    assert history["a_removed_head"] == []


def test_two_decisions_in_the_same_second_are_two_records(tmp_path):
    for blessing in ("root/a/blessing/1", "root/b/blessing/2"):
        write_record(str(tmp_path), decision_record(decisions(True, 0.7, None), "m", None, blessing, at(1)))
    assert len(read_records(str(tmp_path))) == 2


def test_a_record_that_cannot_be_read_is_named_and_skipped(tmp_path, caplog):
    good = decision_record(decisions(True, 0.7, None), "m1", None, "root/blessing/1", at(1))
    write_record(str(tmp_path), good)
    (tmp_path / "20261204T120200Z-truncated.json").write_text('{"format": 1, "heads": [')
    (tmp_path / "20261204T120300Z-other.json").write_text(json.dumps({"format": 99, "heads": []}))
    (tmp_path / ".tmp-20261204T120400Z-being-written.json").write_text("{")
    with caplog.at_level("WARNING"):
        assert read_records(str(tmp_path)) == [good]
    assert "20261204T120200Z-truncated.json, which cannot be read" in caplog.text
    assert "20261204T120300Z-other.json, which cannot be read (not a decision record of format 1)" in caplog.text
    assert "being-written" not in caplog.text  # a record being written is not a broken one


def test_no_folder_yet_is_no_history(tmp_path):
    assert read_records(str(tmp_path / "absent")) == []
