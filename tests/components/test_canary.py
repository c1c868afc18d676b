"""The serving canary, in a fresh process, on real SavedModels and real gzipped TFRecords."""

from __future__ import annotations

import tensorflow as tf

from components.gate.canary import run_canary
from tests.helpers import write_records
from trainer.specs import HeadSpec

HEADS = [
    HeadSpec(name="delay", label="delay_label", kind="regression", metrics=(), gate=None),
    HeadSpec(name="band", label="band_label", kind="multiclass", metrics=(), gate=None, classes=("a", "b", "c")),
]


def write_split(folder, rows: int = 40) -> str:
    folder.mkdir()
    examples = [tf.train.Example() for _ in range(rows)]
    for i, example in enumerate(examples):
        example.features.feature["x"].float_list.value.append(float(i))
        example.features.feature["delay_label"].float_list.value.append(2.0 * i)
        example.features.feature["band_label"].int64_list.value.append(i % 3)
    write_records(folder / "part-0.gz", examples)
    return str(folder)


def save_model(path, *, nan: bool = False, needs_label: bool = False, band_width: int = 3) -> str:
    """A serving signature over serialized examples, as the Trainer exports one (tiny)."""
    spec = {"x": tf.io.FixedLenFeature([1], tf.float32)}
    if needs_label:
        spec["delay_label"] = tf.io.FixedLenFeature([1], tf.float32)

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            x = tf.io.parse_example(examples, spec)["x"]
            delay = x * 2.0 if not nan else x / 0.0 * 0.0  # 0/0: NaN
            return {"delay": delay, "band": tf.nn.softmax(tf.tile(x, [1, band_width]))}

    model = Model()
    tf.saved_model.save(model, str(path), signatures={"serving_default": model.serve})
    return str(path)


def test_a_sound_model_passes_with_the_labels_stripped(tmp_path):
    result = run_canary(save_model(tmp_path / "model"), write_split(tmp_path / "eval"), HEADS)
    assert result["passed"] and result["examples"] == 40 and result["reasons"] == [], result
    assert result["batch_ms"] > 0


def test_nan_a_wrong_shape_and_a_label_in_the_serving_input_each_fail_with_a_reason(tmp_path):
    split = write_split(tmp_path / "eval")
    nan = run_canary(save_model(tmp_path / "nan", nan=True), split, HEADS)
    assert not nan["passed"] and nan["reasons"] == [
        "serving canary: head delay answered 40 non-finite value(s) (NaN or infinity)"
    ]
    narrow = run_canary(save_model(tmp_path / "narrow", band_width=2), split, HEADS)
    assert narrow["reasons"] == ["serving canary: head band answered shape [40, 2] for 40 examples; expected [40, 3]"]
    label = run_canary(save_model(tmp_path / "label", needs_label=True), split, HEADS)
    assert not label["passed"] and label["reasons"][0].startswith("serving canary: the model did not answer (")
    missing = run_canary(str(tmp_path / "nowhere"), split, HEADS)
    assert not missing["passed"] and "did not answer" in missing["reasons"][0]


def test_a_failed_canary_is_said_right_under_the_verdict():
    from components.report.render import text_summary

    reason = "serving canary: head delay answered 40 non-finite value(s) (NaN or infinity)"
    summary = {"verdict": "blocked", "canary": {"passed": False, "reasons": [reason]}, "heads": []}
    assert text_summary(summary) == ["Verdict: BLOCKED", f"  FAIL  {reason}"]
