"""The curated flights schema: the fixture passes, broken data does not."""

from __future__ import annotations

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2

from converters import flights
from tests.helpers import set_value, span_examples


@pytest.fixture(scope="module")
def schema(flights_schema_path):
    return tfdv.load_schema_text(str(flights_schema_path))


def stats_of(examples: list[tf.train.Example]):
    """Statistics of in-memory examples, decoded as the pipeline decodes them."""
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.coders import example_coder

    decoder = example_coder.ExamplesToRecordBatchDecoder()
    batch = decoder.DecodeBatch([e.SerializeToString() for e in examples])
    return stats_impl.generate_statistics_in_memory(batch, tfdv.StatsOptions())


def anomalies_of(schema, examples, environment="TRAINING") -> dict[str, set[int]]:
    result = tfdv.validate_statistics(stats_of(examples), schema, environment=environment)
    return {name: {reason.type for reason in info.reason} for name, info in result.anomaly_info.items()}


def test_every_fixture_span_validates_with_zero_anomalies(schema, flights_fixture_dir):
    spans = sorted(flights_fixture_dir.glob("span-*"))
    assert len(spans) == 3
    for span in spans:
        assert anomalies_of(schema, span_examples(span)) == {}, span


def test_serving_environment_needs_no_labels(schema, flights_fixture_dir):
    examples = span_examples(flights_fixture_dir / "span-1")
    for example in examples:
        for label in (*flights.LABELS_FLOAT, *flights.LABELS_INT):
            if label in example.features.feature:
                del example.features.feature[label]
    assert anomalies_of(schema, examples, environment="SERVING") == {}
    # The same rows lack a required label in TRAINING.
    assert "cancelled" in anomalies_of(schema, examples, environment="TRAINING")


Reason = anomalies_pb2.AnomalyInfo


@pytest.mark.parametrize(
    ("feature", "bad_value", "expected_reason"),
    [
        ("carrier", b"ZZ", Reason.ENUM_TYPE_UNEXPECTED_STRING_VALUES),
        ("dest", b"<script>", Reason.ENUM_TYPE_UNEXPECTED_STRING_VALUES),
        ("month", 13, Reason.INT_TYPE_BIG_INT),
        ("arr_delay", float("nan"), Reason.FLOAT_TYPE_HAS_NAN),
        ("cancelled", 2, Reason.INT_TYPE_BIG_INT),
    ],
)
def test_a_bad_example_gets_the_expected_anomaly(schema, flights_fixture_dir, feature, bad_value, expected_reason):
    examples = span_examples(flights_fixture_dir / "span-1")[:50]
    broken = examples[7]
    set_value(broken.features.feature[feature], bad_value)
    found = anomalies_of(schema, examples)
    assert set(found) == {feature}, found
    assert expected_reason in found[feature]


def test_a_missing_required_feature_is_an_anomaly(schema, flights_fixture_dir):
    examples = span_examples(flights_fixture_dir / "span-1")[:50]
    del examples[3].features.feature["origin"]
    found = anomalies_of(schema, examples)
    assert set(found) == {"origin"}
    assert Reason.FEATURE_TYPE_LOW_FRACTION_PRESENT in found["origin"]


def test_a_feature_of_the_wrong_dtype_is_an_anomaly(schema, flights_fixture_dir):
    """A producer that starts writing distance as text (say "1400 mi")."""
    examples = span_examples(flights_fixture_dir / "span-1")[:50]
    for example in examples:
        miles = example.features.feature["distance"].float_list.value[0]
        example.features.feature["distance"].Clear()
        example.features.feature["distance"].bytes_list.value.append(f"{miles:.0f} mi".encode())
    found = anomalies_of(schema, examples)
    assert set(found) == {"distance"}
    assert Reason.UNEXPECTED_DATA_TYPE in found["distance"]


@pytest.mark.parametrize("label", ["arr_delay", "late", "delay_band"])
def test_a_head_whose_label_is_missing_on_every_row_is_an_anomaly(schema, flights_fixture_dir, label):
    """A label may be missing on some rows (cancelled flights have no arrival delay), never on most."""
    examples = span_examples(flights_fixture_dir / "span-1")[:50]
    for example in examples:
        del example.features.feature[label]
    found = anomalies_of(schema, examples)
    assert set(found) == {label}, found
    # Missing on a few rows only, as in every fixture span, it passes (the first test of this file).


def test_a_feature_the_schema_does_not_know_is_an_anomaly(schema, flights_fixture_dir):
    """Drift in the producer: a new column is not used silently, the schema has to be updated first."""
    examples = span_examples(flights_fixture_dir / "span-1")[:50]
    for example in examples:
        example.features.feature["gate_number"].int64_list.value.append(12)
    found = anomalies_of(schema, examples)
    assert found == {"gate_number": {Reason.SCHEMA_NEW_COLUMN}}, found


def test_a_new_route_is_tolerated_and_a_flood_of_unknown_destinations_is_not(schema, flights_fixture_dir):
    """The dest domain allows up to 1% of a span's flights to go to an airport it does not list."""
    examples = span_examples(flights_fixture_dir / "span-2")
    assert len(examples) > 200
    examples[5].features.feature["dest"].bytes_list.value[:] = [b"NEW"]  # one new route: under 1%
    assert anomalies_of(schema, examples) == {}
    for example in examples[::10]:  # one flight in ten to unknown airports
        example.features.feature["dest"].bytes_list.value[:] = [b"XXX"]
    assert anomalies_of(schema, examples) == {"dest": {Reason.ENUM_TYPE_UNEXPECTED_STRING_VALUES}}
