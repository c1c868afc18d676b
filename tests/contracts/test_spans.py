"""The window rule (contracts/spans.py): newest span evaluated, the ones before it trained on."""

from __future__ import annotations

import json

import pytest

from contracts.spans import (
    SpanError,
    Window,
    input_config_json,
    list_spans,
    parse_span,
    resolve_window,
    span_folder,
)


def test_folder_names_round_trip_and_other_names_are_ignored():
    assert span_folder("span-{span}", 12) == "span-12"
    assert parse_span("span-{span}", "span-12") == 12
    assert parse_span("span-{span}", "span-12/") == 12  # object storage lists folders with a slash
    assert parse_span("month_{span}_v1", "month_7_v1") == 7
    for other in ("span-", "span-1a", "notes", "span-12.tmp", "xspan-1"):
        assert parse_span("span-{span}", other) is None, other


def test_the_newest_span_in_a_real_folder_is_evaluated_and_the_window_before_it_trained_on(tmp_path):
    for span in (3, 4, 5, 6, 7, 13):
        (tmp_path / f"span-{span}").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "span-99.txt").write_text("not a span folder")
    present = list_spans(str(tmp_path), "span-{span}")
    assert present == [3, 4, 5, 6, 7, 13]
    assert resolve_window(present, 3) == Window(train=(5, 6, 7), evaluate=13)
    (tmp_path / "span-14").mkdir()  # a new span arrives: the window moves with no other change
    assert resolve_window(list_spans(str(tmp_path), "span-{span}"), 3) == Window(train=(6, 7, 13), evaluate=14)


def test_too_few_spans_and_a_missing_root_are_explained(tmp_path):
    with pytest.raises(SpanError, match=r"needs 4 span folders; found 2 \(\[1, 2\]\)"):
        resolve_window([1, 2], 3)
    with pytest.raises(SpanError, match="does not exist"):
        list_spans(str(tmp_path / "nowhere"), "span-{span}")


def test_a_pinned_window_is_checked_against_the_folders_and_the_window_size():
    pinned = Window.from_json('{"train_spans": [2, 3], "eval_span": 5}')
    assert resolve_window([1, 2, 3, 4, 5, 6], 2, pinned) == pinned
    with pytest.raises(SpanError, match=r"span\(s\) \[5\] are not under the data root"):
        resolve_window([1, 2, 3, 4], 2, pinned)
    with pytest.raises(SpanError, match="trains on 3 span"):
        resolve_window([1, 2, 3, 4, 5], 3, pinned)
    for bad in ("[1, 2]", '{"train_spans": [2], "eval_span": 2}', "not json"):
        with pytest.raises(SpanError):
            Window.from_json(bad)
    assert Window.from_json(pinned.to_json()) == pinned


def test_input_config_names_splits_by_position_and_patterns_by_span():
    text = input_config_json(Window(train=(9, 10), evaluate=12), "span-{span}")
    assert json.loads(text)["splits"] == [
        {"name": "train_1", "pattern": "span-9/*"},
        {"name": "train_2", "pattern": "span-10/*"},
        {"name": "eval", "pattern": "span-12/*"},
    ]
