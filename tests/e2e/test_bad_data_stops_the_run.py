"""Bad input stops the run before Transform and Trainer, naming span and feature."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from components.example_gate import DataAnomalyError
from orchestration.run_local import run_pipeline
from pipeline.config import load_config
from results.metadata import open_store
from tests.helpers import rewrite_span, set_value

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("flights_fixture.yaml")


def unknown_destinations(i: int, example: tf.train.Example) -> None:
    """A flood of unknown destinations (one flight in ten): more than the schema's 1% allowance for new routes."""
    if i % 10 == 3:
        example.features.feature["dest"].bytes_list.value[:] = [b"XXX"]


def executed_components(metadata_path: str) -> set[str]:
    store = open_store(metadata_path)
    types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    return {types[e.type_id] for e in store.get_executions()}


def test_out_of_domain_category_stops_before_transform(tmp_path, flights_fixture_dir):
    root = tmp_path / "data"
    shutil.copytree(flights_fixture_dir / "span-1", root / "span-1")
    rewrite_span(flights_fixture_dir / "span-2", root / "span-2", unknown_destinations)
    config = load_config(CONFIG).with_output_root(tmp_path / "out").with_data(root=root)

    with pytest.raises(DataAnomalyError) as error:
        run_pipeline(config)
    message = str(error.value)
    assert "span-2/* (split eval): feature 'dest': Unexpected string values" in message
    assert "XXX" in message
    ran = executed_components(config.metadata_path)
    assert {"ImportExampleGen", "StatisticsGen", "ExampleValidator", "ExampleGate"} <= ran
    assert not ran & {"Transform", "Trainer", "Evaluator", "Pusher"}
    assert not Path(config.serving_dir).exists()


def change_rows(name: str, value, every: int = 1):
    def change(i: int, example: tf.train.Example) -> None:
        if i % every == 0:
            set_value(example.features.feature[name], value)

    return change


def drop(name: str, only_row: int | None = None):
    def change(i: int, example: tf.train.Example) -> None:
        if (only_row is None or i == only_row) and name in example.features.feature:
            del example.features.feature[name]

    return change


def add_feature(i: int, example: tf.train.Example) -> None:
    set_value(example.features.feature["gate_number"], 12)


# (span rewritten, change, feature named in the message): each stops the run at the ExampleGate.
BAD_DATA = {
    "wrong type": (2, change_rows("distance", b"1400 mi"), "distance"),
    "required feature missing": (2, drop("origin", only_row=3), "origin"),
    "category outside the domain": (2, change_rows("carrier", b"ZZ", every=5), "carrier"),
    "numeric value out of range": (2, change_rows("distance", 99999.0, every=7), "distance"),
    "NaN label": (2, change_rows("arr_delay", float("nan"), every=50), "arr_delay"),
    "a head's label missing on every training row": (1, drop("late"), "late"),
    "a feature the schema does not know": (2, add_feature, "gate_number"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_each_kind_of_bad_data_stops_before_transform_naming_span_and_feature(tmp_path, flights_fixture_dir, case):
    span, change, feature = BAD_DATA[case]
    root = tmp_path / "data"
    for other in {1, 2} - {span}:
        shutil.copytree(flights_fixture_dir / f"span-{other}", root / f"span-{other}")
    rewrite_span(flights_fixture_dir / f"span-{span}", root / f"span-{span}", change)
    config = load_config(CONFIG).with_output_root(tmp_path / "out").with_data(root=root)

    with pytest.raises(DataAnomalyError) as error:
        run_pipeline(config)
    split = "eval" if span == 2 else "train_1"
    assert f"span-{span}/* (split {split}): feature '{feature}': " in str(error.value), str(error.value)
    assert str(error.value).rstrip().endswith("if the change is intended, update the curated schema.")
    ran = executed_components(config.metadata_path)
    assert not ran & {"Transform", "Trainer", "Evaluator", "Pusher"}
    assert not Path(config.serving_dir).exists()
