"""The example gate: real TFDV anomalies in, a message naming span and feature out."""

from __future__ import annotations

import pytest
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tfx.types import artifact_utils, standard_artifacts
from tfx_bsl.coders import example_coder

from components.example_gate import ANOMALIES_FILE, DataAnomalyError, check_anomalies
from tests.helpers import span_examples

SPANS = '{"splits": [{"name": "train_1", "pattern": "span-1/*"}, {"name": "eval", "pattern": "span-2/*"}]}'


def anomalies_artifact(tmp_path, schema, examples_by_split) -> standard_artifacts.ExampleAnomalies:
    """An ExampleAnomalies artifact laid out as ExampleValidator writes it."""
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path / "anomalies")
    artifact.split_names = artifact_utils.encode_split_names(list(examples_by_split))
    for split, examples in examples_by_split.items():
        batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch([e.SerializeToString() for e in examples])
        stats = stats_impl.generate_statistics_in_memory(batch, tfdv.StatsOptions())
        anomalies = tfdv.validate_statistics(stats, schema)
        split_dir = tmp_path / "anomalies" / f"Split-{split}"
        split_dir.mkdir(parents=True)
        (split_dir / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
    return artifact


@pytest.fixture(scope="module")
def schema(flights_schema_path):
    return tfdv.load_schema_text(str(flights_schema_path))


def test_clean_spans_pass(tmp_path, schema, flights_fixture_dir):
    artifact = anomalies_artifact(
        tmp_path,
        schema,
        {
            "train_1": span_examples(flights_fixture_dir / "span-1", limit=60),
            "eval": span_examples(flights_fixture_dir / "span-2", limit=60),
        },
    )
    check_anomalies(artifact, SPANS)  # raises on any anomaly


def test_an_anomaly_stops_the_run_naming_span_feature_and_problem(tmp_path, schema, flights_fixture_dir):
    broken = span_examples(flights_fixture_dir / "span-2", limit=60)
    broken[5].features.feature["carrier"].bytes_list.value[:] = [b"ZZ"]
    artifact = anomalies_artifact(
        tmp_path,
        schema,
        {
            "train_1": span_examples(flights_fixture_dir / "span-1", limit=60),
            "eval": broken,
        },
    )
    with pytest.raises(DataAnomalyError) as error:
        check_anomalies(artifact, SPANS)
    message = str(error.value)
    assert "span-2/* (split eval): feature 'carrier': Unexpected string values" in message
    assert "ZZ" in message
    assert "span-1" not in message
    assert "update the curated schema" in message


def test_an_empty_span_is_named(tmp_path, schema, flights_fixture_dir):
    artifact = anomalies_artifact(
        tmp_path, schema, {"train_1": span_examples(flights_fixture_dir / "span-1", limit=60)}
    )
    # An empty span: statistics of zero examples, as StatisticsGen writes them.
    empty = tfdv.validate_statistics(_empty_statistics(), schema)
    split_dir = tmp_path / "anomalies" / "Split-eval"
    split_dir.mkdir(parents=True)
    (split_dir / ANOMALIES_FILE).write_bytes(empty.SerializeToString())
    artifact.split_names = artifact_utils.encode_split_names(["train_1", "eval"])
    with pytest.raises(DataAnomalyError, match=r"span-2/\* \(split eval\): whole span: no examples"):
        check_anomalies(artifact, SPANS)


def _empty_statistics():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.datasets.add(num_examples=0)
    return stats
