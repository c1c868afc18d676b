"""The head gate's rules and the naive predictor, on hand-made metrics (no TFX needed)."""

from __future__ import annotations

import numpy as np
import pytest

from components.gate import decide, naive
from components.gate.metrics import BASELINE, CANDIDATE, Estimate, change_key
from trainer.specs import Gate, HeadSpec


def spec(kind: str = "binary", metric: str = "AUC", **gate) -> HeadSpec:
    """Head `late`, gated on `metric` (by default: AUC at least 0.6, a 0.02 allowed fall, a 1% lift)."""
    settings = {"at_least": 0.6, "max_regression": 0.02, "min_lift": 0.01} | gate
    classes = ("on_time", "late", "very_late") if kind == "multiclass" else ()
    return HeadSpec(
        name="late", label="late", kind=kind, metrics=(metric,), gate=Gate(metric, **settings), classes=classes
    )


HEAD = spec()


def table(candidate, baseline=None, diff=None, se=None, count=1000.0, where="overall", key="auc"):
    values = {
        ("late", key, CANDIDATE, False): Estimate(candidate),
        ("late", "weighted_example_count", CANDIDATE, False): Estimate(count),
    }
    if baseline is not None:
        values[("late", key, BASELINE, False)] = Estimate(baseline)
        values[("late", change_key(key), CANDIDATE, False)] = Estimate(diff, se, 999 if se is not None else None)
    return {where: values}


def run(metrics, naive_score=0.5, gated=(), head=HEAD):
    return decide.decide_head(head, metrics, {"overall": naive_score}, "the base rate", list(gated), 100, 0.95)


def test_a_drop_within_the_noise_passes():
    # -0.03 is beyond the allowed 0.02, but the 95% interval (-0.03 +- 1.96 * 0.01) reaches -0.010.
    decision = run(table(0.67, 0.70, -0.03, se=0.01))
    assert decision.passed, decision.reasons
    low, high = decision.rows[0].interval
    assert low == pytest.approx(-0.03 - 1.962 * 0.01, abs=1e-4) and high == pytest.approx(
        -0.03 + 1.962 * 0.01, abs=1e-4
    )


def test_a_drop_beyond_the_noise_fails_with_interval_and_rule():
    decision = run(table(0.60, 0.70, -0.10, se=0.01))
    assert not decision.passed
    (reason,) = decision.reasons
    assert "changed by -0.1" in reason and "95% interval" in reason and "at most 0.02" in reason


def test_without_a_standard_error_the_point_change_decides_and_says_so():
    decision = run(table(0.67, 0.70, -0.03, se=None))
    assert not decision.passed and "no interval" in decision.reasons[0]


def test_value_floor_still_blocks():
    decision = run(table(0.55))
    assert not decision.passed and "must be at least 0.6" in decision.reasons[0]


def test_a_head_no_better_than_naive_fails_with_the_lift_sentence():
    head = spec("multiclass", "SparseCategoricalAccuracy", at_least=0.5)
    decision = run(table(0.6421, key=head.gate_key), naive_score=0.6403, head=head)
    assert not decision.passed
    (reason,) = decision.reasons
    assert "naive predictor" in reason and "+0.28%" in reason and "at least 1%" in reason
    assert decision.rows[0].lift == pytest.approx((0.6421 - 0.6403) / 0.6403)


def test_lower_is_better_lift_and_change():
    head = spec("regression", "MeanAbsoluteError", at_least=None, at_most=45.0, max_regression=2.0)
    key = head.gate_key
    decision = run(table(26.84, 26.0, 0.84, se=0.2, key=key), naive_score=29.72, head=head)
    assert decision.passed, decision.reasons
    assert decision.rows[0].lift == pytest.approx((29.72 - 26.84) / 29.72)
    assert not run(table(30.0, 26.0, 4.0, se=0.2, key=key), naive_score=29.72, head=head).passed


def test_a_small_slice_never_gates():
    metrics = table(0.70) | table(0.30, count=20.0, where="origin=LGA")
    decision = run(metrics, gated=["origin=LGA"])
    assert decision.passed
    assert decision.rows[1].too_small and decision.rows[1].failures == []
    big = table(0.70) | table(0.30, count=500.0, where="origin=LGA")
    assert not run(big, gated=["origin=LGA"]).passed


def test_a_gated_slice_gets_its_own_allowance():
    # JFK falls by 0.064 (interval -0.084..-0.044): beyond the overall allowance 0.02, inside the slice one 0.065.
    metrics = table(0.70, 0.70, 0.0, se=0.001) | table(0.679, 0.743, -0.064, se=0.01, count=9000.0, where="origin=JFK")
    loose_on_slices = spec(slice_max_regression=0.065)
    assert run(metrics, gated=["origin=JFK"], head=loose_on_slices).passed
    (reason,) = run(metrics, gated=["origin=JFK"]).reasons  # no slice allowance: the overall one applies
    assert "origin=JFK" in reason and "at most 0.02" in reason
    # The overall slice keeps the tighter allowance.
    overall_drop = table(0.66, 0.70, -0.04, se=0.001)
    (reason,) = run(overall_drop, head=loose_on_slices).reasons
    assert "slice overall" in reason and "at most 0.02" in reason


@pytest.mark.parametrize(
    ("kind", "metric", "train", "evaluate", "expected"),
    [
        ("regression", "MeanAbsoluteError", [1, 2, 3, 10], [2.5, 4.5], 1.0),  # median 2.5
        ("regression", "MeanSquaredError", [1, 2, 3, 10], [4.0, 6.0], 2.0),  # mean 4: errors 0 and 2
        ("binary", "AUC", [0, 1, 1], [0, 1], 0.5),
        ("binary", "BinaryAccuracy", [0, 0, 1], [0, 0, 0, 1], 0.75),  # always "0"
        ("binary", "BinaryCrossentropy", [0, 1], [1], -np.log(0.5)),
        ("multiclass", "SparseCategoricalAccuracy", [0, 2, 2, 1], [2, 2, 0, 1, 2], 0.6),
        ("multiclass", "SparseCategoricalCrossentropy", [0, 0, 1, 1], [0, 1], -np.log(0.5)),
    ],
)
def test_naive_predictor_scores(kind, metric, train, evaluate, expected):
    predictor = naive.fit(kind, metric, np.array(train, dtype=float), classes=("a", "b", "c"))
    assert naive.score(predictor, metric, np.array(evaluate, dtype=float)) == pytest.approx(expected)


def column(rows: list[list]) -> naive.Column:
    """A Column from per-row value lists, as a split's parse would give them: [] is a missing value."""
    present = np.array([bool(r) for r in rows], dtype=bool)
    firsts = [r[0] if r else None for r in rows]
    kinds = {type(v) for v in firsts if v is not None}
    if kinds <= {bytes, str}:
        values = np.array([v if v is not None else b"" for v in firsts], dtype=object)
    else:
        dtype = np.int64 if kinds <= {int} else np.float64
        values = np.array([v if v is not None else 0 for v in firsts], dtype=dtype)
    return naive.Column(values, present)


def test_labels_and_slices_from_raw_columns():
    labels, present = naive.label_array(column([[b"male"], [], [b"bogus"], [b"female"]]), ["female", "male"])
    assert labels.tolist() == [1.0, 0.0, 0.0, 0.0] and present.tolist() == [True, False, False, True]
    labels, present = naive.label_array(column([[1], [float("nan")], [], [0]]), [])
    assert labels.tolist() == [1.0, 0.0, 0.0, 0.0] and present.tolist() == [True, False, False, True]
    masks = naive.slice_masks({"origin": column([[b"JFK"], [b"EWR"], [b"JFK"], []])}, [["origin"]], 4)
    assert masks["origin=JFK"].tolist() == [True, False, True, False]
    assert masks["overall"].all() and set(masks) == {"overall", "origin=EWR", "origin=JFK"}
    crossed = {"origin": column([[b"JFK"], [b"EWR"], [b"JFK"], [b"JFK"]]), "hour": column([[7], [7], [], [9]])}
    masks = naive.slice_masks(crossed, [["origin", "hour"]], 4)
    assert list(masks) == ["overall", "origin=EWR, hour=7", "origin=JFK, hour=7", "origin=JFK, hour=9"]
    assert masks["origin=JFK, hour=9"].tolist() == [False, False, False, True]


def test_the_naive_multiclass_predictor_names_its_class():
    predictor = naive.fit("multiclass", "SparseCategoricalAccuracy", np.array([0, 2, 2, 1.0]), ("low", "mid", "high"))
    assert predictor.description == "the training class prior (most frequent: high, 0.5)"


def test_columns_are_read_as_a_row_by_row_parse_reads_them(flights_fixture_dir, tmp_path):
    """naive.read_columns parses in batches into arrays; on real span files, and on a file where a column
    is missing from some rows and from all of them, it gives what parsing each tf.Example gives (each
    row's first value, and whether it has one)."""
    import tensorflow as tf

    def row_by_row(folder, columns):
        values = {name: [] for name in columns}
        for path in sorted(folder.glob("*")):
            for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP").as_numpy_iterator():
                features = tf.train.Example.FromString(record).features.feature
                for name in columns:
                    kind = features[name].WhichOneof("kind") if name in features else None
                    values[name].append(list(getattr(features[name], kind).value) if kind else [])
        return values

    def as_read(columns: dict) -> dict:
        return {
            name: ([v for v, p in zip(c.values.tolist(), c.present.tolist(), strict=True) if p], c.present.tolist())
            for name, c in columns.items()
        }

    def as_parsed(columns: dict) -> dict:
        return {name: ([r[0] for r in rows if r], [bool(r) for r in rows]) for name, rows in columns.items()}

    columns = ["arr_delay", "late", "delay_band", "origin", "distance", "no_such_column"]
    span = flights_fixture_dir / "span-2"
    assert as_read(naive.read_columns(str(span), columns)) == as_parsed(row_by_row(span, columns))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    with tf.io.TFRecordWriter(str(mixed / "part-0.gz"), tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for row in range(10_000):  # more than one read batch; the label from row 9,000 on only
            example = tf.train.Example()
            if row >= 9_000:
                example.features.feature["late"].int64_list.value.append(row % 2)
            example.features.feature["origin"].bytes_list.value.append(b"JFK" if row % 3 else b"EWR")
            writer.write(example.SerializeToString())
    wanted = ["late", "origin", "gone"]
    assert as_read(naive.read_columns(str(mixed), wanted)) == as_parsed(row_by_row(mixed, wanted))
