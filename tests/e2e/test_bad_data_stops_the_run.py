"""Bad input stops the run before Transform and Trainer, naming span and feature."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.example_gate import DataAnomalyError
from pipeline.config import load_config
from pipeline.run_local import run_pipeline

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("flights_fixture.yaml")


def rewrite_span(source: Path, target: Path, change) -> None:
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.gz")):
        with tf.io.TFRecordWriter(str(target / path.name), options="GZIP") as writer:
            for i, record in enumerate(tf.data.TFRecordDataset(str(path), compression_type="GZIP")):
                example = tf.train.Example.FromString(record.numpy())
                change(i, example)
                writer.write(example.SerializeToString())


def unknown_destinations(i: int, example: tf.train.Example) -> None:
    """A flood of unknown destinations (one flight in ten): more than the schema's 1% allowance for new routes."""
    if i % 10 == 3:
        example.features.feature["dest"].bytes_list.value[:] = [b"XXX"]


def executed_components(metadata_path: str) -> set[str]:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    store = metadata_store.MetadataStore(connection)
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
