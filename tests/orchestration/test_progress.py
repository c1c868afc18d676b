"""The progress lines a local run prints, from snapshots of ML Metadata (pure; the e2e tests read real ones)."""

from orchestration.progress import CACHED, COMPLETE, FAILED, RUNNING, ProgressLines, Step, format_duration


def test_durations_read_as_a_person_would_say_them():
    assert format_duration(7.4) == "7 s"
    assert format_duration(65) == "1 min 05 s"
    assert format_duration(3720) == "1 h 02 min"


def test_each_component_gets_a_start_line_with_last_time_and_an_end_line_with_its_duration():
    lines = ProgressLines(previous={"Evaluator": 130.0}, heartbeat=30)
    assert lines.update([Step("Evaluator", RUNNING, 1000.0, 1000.0)], now=1001.0) == [
        _at(1000.0, "Evaluator started; last time 2 min 10 s")
    ]
    assert lines.update([Step("Evaluator", RUNNING, 1000.0, 1000.0)], now=1010.0) == []  # no news
    assert lines.update([Step("Evaluator", RUNNING, 1000.0, 1000.0)], now=1031.0) == [
        _at(1031.0, "Evaluator running for 31 s; last time 2 min 10 s")
    ]
    assert lines.update([Step("Evaluator", COMPLETE, 1000.0, 1095.0)], now=1096.0) == [
        _at(1095.0, "Evaluator finished in 1 min 35 s")
    ]
    assert lines.update([Step("Evaluator", COMPLETE, 1000.0, 1095.0)], now=1200.0) == []  # said once


def test_a_component_seen_only_once_done_cached_or_failed_still_gets_its_line():
    lines = ProgressLines(previous={}, heartbeat=30)
    steps = [
        Step("ImportExampleGen", CACHED, 1000.0, 1000.5),
        Step("ExampleGate", COMPLETE, 1001.0, 1001.2),
        Step("Trainer", FAILED, 1002.0, 1014.0),
    ]
    assert lines.update(steps, now=1020.0) == [
        _at(1000.5, "ImportExampleGen reused from the cache"),
        _at(1001.2, "ExampleGate finished in 0 s"),
        _at(1014.0, "Trainer FAILED after 12 s"),
    ]


def _at(epoch: float, text: str) -> str:
    import time

    return f"{time.strftime('%H:%M:%S', time.localtime(epoch))}  {text}"
