"""What changed in the data: TFDV's drift comparators on statistics that TFDV computed from real spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.report.drift import JENSEN_SHANNON, L_INFINITY, STATS_FILE, data_changes, window_splits
from pipeline.config import DEFAULT_CONFIG, REPO_ROOT, load_config
from tests.helpers import rewrite_span

SCHEMA = REPO_ROOT / "schemas" / "flights" / "schema.pbtxt"


def statistics_artifact(folder: Path, splits: dict[str, Path]) -> str:
    """A StatisticsGen-shaped folder (Split-<name>/FeatureStats.pb) of TFDV's statistics of each span."""
    import tensorflow_data_validation as tfdv

    for split, span in splits.items():
        stats = tfdv.generate_statistics_from_tfrecord(data_location=str(span / "*.gz"))
        (folder / f"Split-{split}").mkdir(parents=True)
        (folder / f"Split-{split}" / STATS_FILE).write_bytes(stats.SerializeToString())
    return str(folder)


def lengthen_distance(i, example) -> None:
    values = example.features.feature["distance"].float_list.value
    values[:] = [v + 3000.0 for v in values]  # every flight 3,000 miles longer: a distribution moved away


@pytest.fixture(scope="module")
def view():
    return load_config(DEFAULT_CONFIG).evaluation_plan()


def test_a_shifted_feature_tops_the_table_and_labels_get_their_rates(tmp_path, flights_fixture_dir, view):
    rewrite_span(flights_fixture_dir / "span-2", tmp_path / "shifted", lengthen_distance)
    as_is = statistics_artifact(
        tmp_path / "as-is", {"train_1": flights_fixture_dir / "span-1", "eval": flights_fixture_dir / "span-2"}
    )
    shifted = statistics_artifact(
        tmp_path / "stats", {"train_1": flights_fixture_dir / "span-1", "eval": tmp_path / "shifted"}
    )
    assert window_splits(shifted) == ["train_1", "eval"]

    before = data_changes(as_is, str(SCHEMA), ["train_1", "eval"], view.inputs, view.heads)
    after = data_changes(shifted, str(SCHEMA), ["train_1", "eval"], view.inputs, view.heads)
    assert before["features"][0]["feature"] != "distance"
    top = after["features"][0]
    assert top["feature"] == "distance" and top["measure"] == JENSEN_SHANNON
    assert top["distance"] > 5 * next(r["distance"] for r in before["features"] if r["feature"] == "distance")
    assert next(r for r in after["features"] if r["feature"] == "carrier")["measure"] == L_INFINITY
    assert {r["feature"] for r in after["features"]} == set(view.inputs)

    labels = {label["head"]: label for label in after["labels"]}
    late = labels["late"]["rates"]
    assert 0 < late["train_1"]["mean"] < 1 and late["train_1"]["labelled"] > 200
    shares = labels["delay_band"]["rates"]["eval"]["shares"]
    assert len(shares) == 4 and abs(sum(shares) - 1) < 1e-9


def test_splits_are_in_time_order_with_the_evaluation_split_last(tmp_path):
    for split in ("eval", "train_10", "train_2", "train_1"):
        (tmp_path / f"Split-{split}").mkdir()
    assert window_splits(str(tmp_path)) == ["train_1", "train_2", "train_10", "eval"]
