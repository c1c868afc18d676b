"""The flights conversion: counts, exact values, missing labels, determinism."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import tensorflow as tf

from converters import flights
from tests.helpers import span_examples


@pytest.fixture(scope="module")
def source_rows() -> list[dict[str, str]]:
    """The source CSV read independently of the converter (plain csv module)."""
    with (
        zipfile.ZipFile(flights.source_dir() / "flights.csv.zip") as archive,
        archive.open("flights.csv") as handle,
    ):
        return list(csv.DictReader(io.TextIOWrapper(handle)))


@pytest.fixture(scope="module")
def february(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("flights")
    flights.convert(out, fraction=1.0, shards=2, months=[2])
    return out


def value(example: tf.train.Example, name: str):
    feature = example.features.feature[name]
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value)
    assert len(values) == 1, (name, values)
    return values[0]


def test_row_count_per_span_equals_the_source(february, source_rows):
    expected = Counter(int(row["month"]) for row in source_rows)
    assert len(span_examples(february / "span-2")) == expected[2] == 24951
    shards = sorted(p.name for p in (february / "span-2").iterdir())
    assert shards == ["part-00000-of-00002.tfrecord.gz", "part-00001-of-00002.tfrecord.gz"]


def test_first_row_parsed_back_with_exact_values(february, source_rows):
    first_source = next(row for row in source_rows if row["month"] == "2")
    first = span_examples(february / "span-2", limit=1)[0]  # the first row of shard 0
    assert value(first, "carrier") == first_source["carrier"].encode()
    assert value(first, "origin") == first_source["origin"].encode()
    assert value(first, "dest") == first_source["dest"].encode()
    assert value(first, "month") == 2
    assert value(first, "day") == int(first_source["day"])
    assert value(first, "sched_dep_hour") == int(first_source["sched_dep_time"]) // 100
    assert value(first, "sched_dep_minute") == int(first_source["sched_dep_time"]) % 100
    assert value(first, "distance") == pytest.approx(float(first_source["distance"]))
    assert value(first, "arr_delay") == pytest.approx(float(first_source["arr_delay"]))
    assert value(first, "cancelled") == 0
    # 2013-02-01 was a Friday.
    assert value(first, "day_of_week") == 4
    # No leaking columns.
    for leak in ("dep_time", "dep_delay", "arr_time", "air_time"):
        assert leak not in first.features.feature


def test_missing_labels_are_left_out(february, source_rows):
    examples = span_examples(february / "span-2")
    cancelled = [e for e in examples if value(e, "cancelled") == 1]
    source_cancelled = [r for r in source_rows if r["month"] == "2" and r["dep_time"] == "NA"]
    assert len(cancelled) == len(source_cancelled) > 0
    for example in cancelled:
        assert "arr_delay" not in example.features.feature
        assert "late" not in example.features.feature
        assert value(example, "delay_band") == flights.DELAY_BANDS.index("cancelled")
    diverted = [e for e in examples if value(e, "cancelled") == 0 and "arr_delay" not in e.features.feature]
    source_diverted = [r for r in source_rows if r["month"] == "2" and r["dep_time"] != "NA" and r["arr_delay"] == "NA"]
    assert len(diverted) == len(source_diverted) > 0
    for example in diverted:
        assert "delay_band" not in example.features.feature and "late" not in example.features.feature
    flown = [e for e in examples if "arr_delay" in e.features.feature]
    for example in flown[:500]:
        delay = value(example, "arr_delay")
        assert value(example, "late") == int(delay >= 15)
        assert value(example, "delay_band") == (0 if delay < 15 else 1 if delay < 60 else 2)


def test_second_conversion_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    flights.convert(first, fraction=0.02, shards=3, months=[5, 6])
    flights.convert(second, fraction=0.02, shards=3, months=[5, 6])
    files = sorted(p.relative_to(first) for p in first.rglob("*.gz"))
    assert len(files) == 6
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes()
    assert not list(first.glob(".partial-*"))


def test_fraction_is_deterministic_and_proportional(tmp_path):
    counts = flights.convert(tmp_path, fraction=0.1, shards=2, months=[3])
    assert counts == flights.convert(tmp_path, fraction=0.1, shards=2, months=[3])
    assert 2700 < counts[3] < 3100  # March has 28,834 flights


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fraction": 0.0}, "--fraction must be in"),
        ({"shards": 0}, "--shards must be at least 1"),
        ({"months": [13]}, "month 13 is not in 1..12"),
    ],
)
def test_bad_options_are_rejected(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        flights.convert(tmp_path, **{"fraction": 0.01, **kwargs})


def test_committed_fixture_matches_a_fresh_conversion(tmp_path):
    """tests/fixtures/flights is what `make fixtures` writes; keep them in step."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "flights"
    flights.convert(tmp_path, fraction=0.01, shards=2, months=[1, 2, 3])
    committed = sorted(p.relative_to(fixture) for p in fixture.rglob("*.gz"))
    assert committed == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.gz"))
    for relative in committed:
        assert (fixture / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative


def test_the_main_job_writes_only_missing_flights_spans_and_only_when_the_config_says_so(tmp_path):
    """A span folder that is there is never replaced: a user's data is not overwritten by the embedded set."""
    from orchestration.run_local import ensure_flights_data
    from pipeline.config import REPO_ROOT, load_config

    root = tmp_path / "data"
    (root / "span-1").mkdir(parents=True)
    (root / "span-1" / "mine.tfrecord.gz").write_bytes(b"the user's own span")
    shipped = load_config(REPO_ROOT / "configs" / "flights.yaml").with_data(
        root=root, train_window=None, train_spans=(1,), eval_span=3
    )
    assert shipped.data.prepare == "flights"

    ensure_flights_data(shipped.with_data(prepare=None))
    assert sorted(p.name for p in root.iterdir()) == ["span-1"]  # without data.prepare nothing is written

    ensure_flights_data(shipped)
    assert sorted(p.name for p in root.iterdir()) == ["span-1", "span-3"]
    assert [p.name for p in (root / "span-1").iterdir()] == ["mine.tfrecord.gz"]
    assert (root / "span-1" / "mine.tfrecord.gz").read_bytes() == b"the user's own span"
    assert list((root / "span-3").glob("*.gz"))
