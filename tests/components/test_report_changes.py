"""What changed between two training records: settings key by key, code, window, rows; said plainly."""

from __future__ import annotations

import numpy as np

from components.report.changes import flatten, sentences, setting_changes, what_changed
from trainer.training_record import build_record, rows_digest

SETTINGS = {
    "features": [{"name": "carrier", "kind": "categorical"}],
    "heads": [{"name": "late", "loss": "", "loss_weight": None}],
    "trainer": {"train_steps": 1500, "learning_rate": 0.001, "hidden_units": [64, 32]},
}
WINDOW = {"train_1": "span-9", "train_2": "span-10", "eval": "span-11"}


def record(settings=SETTINGS, rows=100, digest="a" * 16):
    return build_record(settings, rows, digest)


def test_settings_flatten_to_dotted_keys_with_entries_named():
    assert flatten(SETTINGS) == {
        "features[carrier].kind": "categorical",
        "heads[late].loss": "",
        "heads[late].loss_weight": None,
        "trainer.train_steps": 1500,
        "trainer.learning_rate": 0.001,
        "trainer.hidden_units": [64, 32],
    }


def test_a_changed_added_and_removed_setting_are_each_listed_old_to_new():
    other = {
        **SETTINGS,
        "heads": [{"name": "late", "loss": "binary_focal_crossentropy", "loss_weight": None}],
        "features": [],
        "trainer": {**SETTINGS["trainer"], "train_steps": 150, "ema_momentum": 0.99},
    }
    assert setting_changes(SETTINGS, other) == [
        {"setting": "features", "baseline": None, "candidate": []},
        {"setting": "features[carrier].kind", "baseline": "categorical", "candidate": None},
        {"setting": "heads[late].loss", "baseline": "", "candidate": "binary_focal_crossentropy"},
        {"setting": "trainer.ema_momentum", "baseline": None, "candidate": 0.99},
        {"setting": "trainer.train_steps", "baseline": 1500, "candidate": 150},
    ]


def test_new_rows_with_the_same_settings_and_code_say_only_the_data_changed():
    later = {"train_1": "span-10", "train_2": "span-11", "eval": "span-12"}
    changes = what_changed(record(rows=120, digest="b" * 16), record(), later, WINDOW)
    assert changes["only_data"] and changes["window_changed"] and changes["rows_changed"]
    assert sentences(changes) == [
        "Only the data changed: the same training settings and code.",
        "Training window: span-9, span-10 -> span-10, span-11",
    ]
    eleven = {f"train_{i}": f"span-{i}" for i in range(1, 12)} | {"eval": "span-12"}
    assert what_changed(record(), record(), eleven, WINDOW)["window"]["candidate"] == [
        f"span-{i}" for i in range(1, 12)
    ]


def test_the_same_record_changes_nothing_and_a_missing_record_is_said_to_be_missing():
    same = what_changed(record(), record(), WINDOW, WINDOW)
    assert same["nothing"] and not same["only_data"] and same["settings"] == []
    assert sentences(same)[0].startswith("Nothing changed")
    unknown = what_changed(record(), None, WINDOW, None)
    assert not unknown["known"] and unknown["missing"] == ["baseline"]
    assert sentences(unknown) == [
        "What changed is not known: the baseline model carries no training record (trained before records)."
    ]
    no_window = what_changed(record(), record(digest="c" * 16), WINDOW, None)
    assert no_window["window_changed"] is None
    assert "Training window of the baseline: not recorded (no decision record of its run)." in sentences(no_window)


def test_the_rows_digest_is_the_rows_and_not_their_layout():
    columns = {"b": np.array([1.0, 2.0], np.float32), "a": np.array([3, 4])}
    assert rows_digest(columns) == rows_digest(dict(reversed(columns.items())))
    assert rows_digest(columns) != rows_digest({**columns, "a": np.array([3, 5])})
    assert record()["id"] != record(digest="d" * 16)["id"] and record()["id"] == record()["id"]
