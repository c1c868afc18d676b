"""Config loading: the shipped configs load; bad ones fail naming field and fix."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
FLIGHTS = REPO / "configs" / "flights.yaml"
FIXTURE = REPO / "tests" / "e2e" / "flights_fixture.yaml"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(FLIGHTS.read_text())


def test_shipped_configs_load():
    config = load_config(FLIGHTS)
    assert [h.name for h in config.model.heads] == ["arrival_delay", "late", "cancelled", "delay_band"]
    assert {h.kind for h in config.model.heads} == {"regression", "binary", "multiclass"}
    assert config.data.root == str(REPO / "out" / "data" / "flights")
    assert config.slices[0].features == ("origin",) and config.slices[0].gated
    assert load_config(FIXTURE).data.train_spans == (1,)


def test_the_full_year_config_is_the_shipped_one_on_eleven_months():
    shipped, year = load_config(FLIGHTS), load_config(REPO / "configs" / "flights-full-year.yaml")
    assert differences(shipped, year) == {  # source: the file read; the rest: where its outputs go
        "name",
        "source",
        "data.train_window",
        "output_root",
        "kubeflow",
    }
    changed = {k for k, v in year.kubeflow.model_dump().items() if shipped.kubeflow.model_dump()[k] != v}
    assert changed == {"pipeline_root", "serving_dir"}
    assert year.data.train_window == 11 and year.name == "flights-full-year"
    assert year.serving_dir != shipped.serving_dir and year.metadata_path != shipped.metadata_path


def mutate(raw: dict, change) -> dict:
    bad = copy.deepcopy(raw)
    change(bad)
    return bad


@pytest.mark.parametrize(
    ("change", "field", "fix"),
    [
        (lambda c: c["heads"][0].update(kind="ranking"), "heads[0].kind", "use one of regression, binary"),
        (lambda c: c["heads"][1].update(label="arrival"), "heads[1].label", "not a feature of the schema"),
        (
            lambda c: c["features"].append({"name": "tailnum", "kind": "categorical"}),
            "features[17]",
            "not a feature of the schema",
        ),
        (
            lambda c: c["heads"][1]["gate"].update(metric="Precision"),
            "heads[1].gate.metric",
            "gate on a quality metric this head computes",
        ),
        (lambda c: c["heads"][2].update(name="late"), "heads[2].name", "duplicate head name"),
        (
            lambda c: c["slices"].append({"features": ["airline"]}),
            "slices[3].features",
            "slice on a feature of the schema",
        ),
        (
            lambda c: c["heads"][0]["gate"].update(at_least=1.0),
            "heads[0].gate",
            "exactly one value threshold",
        ),
        (lambda c: c["heads"][3].update(classes=["a", "b"]), "heads[3].classes", "3+ class names"),
        (
            lambda c: c["heads"][0]["gate"].update(metric="CalibrationPlot"),
            "heads[0].gate.metric",
            "gate on a quality metric this head computes",
        ),
        (
            lambda c: c["heads"][0]["gate"].pop("at_most") and c["heads"][0]["gate"].update(at_least=1.0),
            "heads[0].gate.at_least",
            "give a ceiling with at_most",
        ),
        (lambda c: c["heads"][0]["gate"].update(min_lift=1.5), "heads[0].gate.min_lift", "in [0, 1)"),
        (
            lambda c: (
                c["heads"][0]["gate"].pop("max_regression") and c["heads"][0]["gate"].update(slice_max_regression=1)
            ),
            "heads[0].gate.slice_max_regression",
            "comes with max_regression",
        ),
        (lambda c: c["evaluation"].update(confidence=1.2), "evaluation.confidence", "confidence level"),
        (
            lambda c: c["data"].update(train_window=None, train_spans=[10, 11], eval_span=11),
            "data.eval_span",
            "not in train_spans",
        ),
        (lambda c: c["data"].update(train_spans=[10, 11], eval_span=12), "data.train_window", "not both"),
        (lambda c: c["data"].update(train_window=0), "data.train_window", "at least 1"),
        (lambda c: c["data"].update(prepare="nycflights"), "data.prepare", "a data set this project writes itself"),
        (lambda c: c["data"].pop("train_window"), "data", "set train_window"),
        (lambda c: c["data"].update(train_window=None, eval_span=12), "data", "or both train_spans and eval_span"),
        (lambda c: c["trainer"].update(batch_size=0), "trainer.batch_size", "must be > 0"),
        (lambda c: c["trainer"].update(ema_momentum=1.0), "trainer.ema_momentum", "in [0, 1)"),
        (lambda c: c["trainer"].update(batchsize=10), "trainer.batchsize", "did you mean 'batch_size'?"),
        (lambda c: c["heads"][0].update(loss_weight="heavy"), "heads[0].loss_weight", "expected float"),
        (lambda c: c["heads"][0].update(loss_weight=0), "heads[0].loss_weight", "leave it out to learn"),
        (lambda c: c["heads"][0].update(huber_delta=-1), "heads[0].huber_delta", "standard deviations"),
        (lambda c: c["heads"][1].update(huber_delta=1.5), "heads[1].huber_delta", "only a head with loss: huber"),
        (lambda c: c.pop("heads"), "heads", "this field is required"),
        (lambda c: c["heads"][0].update(label="carrier"), "heads[0].label", "cannot also be a model input"),
        (lambda c: c["heads"][1]["metrics"].append("AUC"), "heads[1].metrics", "listed twice"),
    ],
)
def test_bad_config_is_rejected_with_field_and_fix(raw, change, field, fix):
    with pytest.raises(ConfigError) as error:
        parse_config(mutate(raw, change), "flights.yaml")
    message = str(error.value)
    assert error.value.field == field, message
    assert message.startswith(f"flights.yaml: {field}: ")
    assert fix in message


def test_missing_file_and_bad_yaml_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="fix the YAML syntax"):
        load_config(broken)


def test_model_specs_round_trip_through_custom_config():
    from trainer.specs import ModelSpecs

    specs = load_config(FLIGHTS).model
    assert ModelSpecs.from_dict(specs.to_dict()) == specs


def test_a_gate_change_leaves_the_training_config_alone(raw):
    """Transform and Trainer get training_dict(): a new threshold must not void their cache."""
    before = parse_config(raw, "flights.yaml").model.training_dict()
    raw["heads"][3]["gate"]["at_most"] = 0.9
    raw["heads"][3]["metrics"].remove("SparseCategoricalAccuracy")
    after = parse_config(raw, "flights.yaml").model
    assert after.training_dict() == before
    assert after.heads[3].gate.at_most == 0.9


def test_a_trainer_only_change_leaves_transforms_config_alone_and_a_feature_change_does_not(raw):
    """Transform gets transform_dict(): what its preprocessing_fn reads, so a retrain with another seed,
    step count, learning rate or loss reuses it from the cache (tests/e2e/test_penguins_pipeline.py runs it)."""
    before = parse_config(raw, "flights.yaml").model
    raw["trainer"].update(seed=7, train_steps=1501, learning_rate=0.01, ema_momentum=0.5)
    raw["heads"][0].update(loss="mse", loss_weight=2.0)
    after = parse_config(raw, "flights.yaml").model
    assert after.transform_dict() == before.transform_dict()
    assert after.training_dict() != before.training_dict()
    raw["features"][5]["buckets"] = 7
    assert parse_config(raw, "flights.yaml").model.transform_dict() != before.transform_dict()


def test_transforms_config_reads_back_as_the_features_and_heads():
    from trainer.specs import ModelSpecs

    specs = load_config(FLIGHTS).model
    back = ModelSpecs.from_dict(specs.transform_dict())
    assert back.features == specs.features
    assert [(h.name, h.label, h.kind, h.classes, h.label_key) for h in back.heads] == [
        (h.name, h.label, h.kind, h.classes, h.label_key) for h in specs.heads
    ]


@pytest.mark.parametrize(
    ("change", "field", "suggestion"),
    [
        (lambda c: c.update(heds=[]), "heds", "heads"),
        (lambda c: c["data"].update(train_span=[1]), "data.train_span", "train_spans"),
        (lambda c: c["features"][0].update(bucket=3), "features[0].bucket", "buckets"),
        (lambda c: c["heads"][0].update(loss_wieght=2.0), "heads[0].loss_wieght", "loss_weight"),
        (lambda c: c["heads"][0]["gate"].update(max_regresion=2.0), "heads[0].gate.max_regresion", "max_regression"),
        (lambda c: c["slices"][0].update(gate=True), "slices[0].gate", "gated"),
        (lambda c: c["evaluation"].update(min_slice_example=5), "evaluation.min_slice_example", "min_slice_examples"),
        (lambda c: c["trainer"].update(sed=3), "trainer.sed", "seed"),
        (lambda c: c["kubeflow"].update(imagee="x"), "kubeflow.imagee", "image"),
        (lambda c: c["kubeflow"]["trainer"].update(acelerator="T4"), "kubeflow.trainer.acelerator", "accelerator"),
    ],
)
def test_an_unknown_key_at_any_level_is_rejected_with_the_closest_known_key(raw, change, field, suggestion):
    with pytest.raises(ConfigError) as error:
        parse_config(mutate(raw, change), "flights.yaml")
    assert error.value.field == field, str(error.value)
    assert f"did you mean '{suggestion}'?" in str(error.value)


def test_command_line_overrides_obey_the_same_rules():
    from orchestration.run_local import main

    fixed = {"train_window": None, "train_spans": [10, 11]}
    config = load_config(FLIGHTS, {"data": {**fixed, "eval_span": 12}})
    assert config.data.train_spans == (10, 11) and config.data.eval_span == 12 and config.data.window_size == 2
    with pytest.raises(ConfigError, match=r"with command-line overrides\): data.eval_span: 11 -- .*not in train_spans"):
        load_config(FLIGHTS, {"data": {**fixed, "eval_span": 11}})
    # refused before anything runs
    assert main(["--config", str(FLIGHTS), "--train-spans", "10", "11", "--eval-span", "10"]) == 2
    with pytest.raises(SystemExit) as half_a_window:
        main(["--config", str(FLIGHTS), "--eval-span", "10"])
    assert half_a_window.value.code == 2


def test_loss_weights_are_learned_unless_a_head_fixes_one(raw):
    learned = parse_config(raw, "flights.yaml")
    assert all(head.loss_weight is None for head in learned.model.heads)
    assert learned.model.heads[0].huber_delta == 1.0
    fixed = parse_config(mutate(raw, lambda c: c["heads"][0].update(loss_weight=0.5, huber_delta=2.0)), "f.yaml")
    assert fixed.model.heads[0].loss_weight == 0.5 and fixed.model.heads[0].huber_delta == 2.0
    assert fixed.model.heads[1].loss_weight is None


def differences(a, b, path: str = "") -> set[str]:
    """The paths (e.g. `model.heads[late].gate.at_least`) where two loaded configs differ."""
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return {
            d
            for f in dataclasses.fields(a)
            for d in differences(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
        }
    named = isinstance(a, tuple) and a and all(hasattr(item, "name") for item in (*a, *b))
    if named and [item.name for item in a] == [item.name for item in b]:
        return {d for x, y in zip(a, b, strict=True) for d in differences(x, y, f"{path}[{x.name}]")}
    return set() if a == b else {path.lstrip(".")}


def test_the_end_to_end_config_is_the_shipped_one_with_only_its_overlay_changed():
    """The e2e tests run the shipped features, heads, metrics, gate metrics, change rule and slices."""
    shipped, fixture = load_config(FLIGHTS), load_config(FIXTURE)
    overlay = {
        "name",
        "source",
        "output_root",
        "beam_args",
        "min_slice_examples",
        *(f"data.{field}" for field in ("root", "prepare", "train_window", "train_spans", "eval_span")),
        *(
            f"model.trainer.{field}"
            for field in ("batch_size", "train_steps", "eval_steps", "ema_momentum", "ensemble_members")
        ),
        *(f"model.heads[{head.name}].gate.min_lift" for head in shipped.model.heads),
        "model.heads[late].gate.at_least",
        "model.heads[cancelled].gate.at_least",
    }
    assert differences(shipped, fixture) == overlay
    assert fixture.slices == shipped.slices  # origin x carrier included


def test_a_config_with_a_base_changes_only_what_it_states(tmp_path):
    variant = tmp_path / "variant.yaml"
    variant.write_text(
        "base: configs/flights.yaml\n"
        "name: flights-small\n"
        "heads: [{name: late, gate: {max_regression: 0.05}}]\n"
        "trainer: {train_steps: 10}\n"
    )
    shipped, changed = load_config(FLIGHTS), load_config(variant)
    assert differences(shipped, changed) == {
        "name",
        "source",
        "model.heads[late].gate.max_regression",
        "model.trainer.train_steps",
    }
    assert changed.model.heads[1].gate.metric == "AUC" and changed.model.trainer.batch_size == 256
    assert changed.output_root == shipped.output_root  # stated in the base, so inherited
    assert changed.source == str(variant)  # the file it came from; its errors name both files:
    variant.write_text(variant.read_text() + "trainer: {train_steps: 0}\n")
    with pytest.raises(ConfigError, match=r"variant.yaml \(on configs/flights.yaml\): trainer.train_steps: 0 -- "):
        load_config(variant)


@pytest.mark.parametrize(
    ("text", "field", "fix"),
    [
        (
            "base: configs/flights.yaml\nheads: [{name: lat, gate: {max_regression: 0.05}}]\n",
            "heads[name=lat]",
            "no entry of that name to change; the names are: arrival_delay, late, cancelled, delay_band",
        ),
        (
            "base: configs/flights.yaml\nheads: [{name: late, gate: {max_regresion: 0.05}}]\n",
            "heads[1].gate.max_regresion",
            "did you mean 'max_regression'?",
        ),
        ("base: [configs/flights.yaml]\n", "base", "the path of the config this one changes"),
        ("base: tests/e2e/flights_fixture.yaml\n", "base", "without a base of its own"),
        ("base: configs/nope.yaml\n", "(file)", "no such config file"),
    ],
)
def test_a_bad_base_or_change_names_the_field(tmp_path, text, field, fix):
    variant = tmp_path / "variant.yaml"
    variant.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(variant)
    assert error.value.field == field, str(error.value)
    assert fix in str(error.value)


def test_one_column_feeds_several_features(raw):
    raw["features"].append({"name": "distance_band", "column": "distance", "kind": "bucketized", "buckets": 5})
    features = {f.name: f for f in parse_config(raw, "flights.yaml").model.features}
    assert features["distance"].raw_keys == features["distance_band"].raw_keys == ("distance",)
    assert features["distance_band"].transformed == "distance_band_xf"
    assert parse_config(raw, "flights.yaml").evaluation_plan().inputs.count("distance") == 1


@pytest.mark.parametrize(
    ("feature", "field", "fix"),
    [
        ({"name": "d2", "column": "distnce", "kind": "numeric"}, "features[17].column", "not a feature of the schema"),
        ({"name": "c2", "column": "carrier", "kind": "numeric"}, "features[17].kind", "carrier is a string feature"),
        (
            {"name": "x", "column": "origin", "kind": "cross", "of": ["origin", "dest"], "buckets": 8},
            "features[17].column",
            "a cross names the columns it reads in `of`",
        ),
        (
            {"name": "distance", "column": "temp", "kind": "numeric"},
            "features[17].name",
            "feature names must be unique",
        ),
        ({"name": "late2", "column": "late", "kind": "numeric"}, "heads[1].label", "cannot also be a model input"),
    ],
)
def test_a_bad_column_is_rejected_with_field_and_fix(raw, feature, field, fix):
    raw["features"].append(feature)
    with pytest.raises(ConfigError) as error:
        parse_config(raw, "flights.yaml")
    assert error.value.field == field, str(error.value)
    assert fix in str(error.value)


def test_class_names_written_as_yaml_numbers_are_read_as_text(raw):
    """A label holding 0, 1, 2 lists its classes as YAML numbers; the head's classes are the same names as text."""
    raw["heads"][3]["classes"] = [0, 1, 2, 3]
    assert parse_config(raw, "flights.yaml").model.heads[3].classes == ("0", "1", "2", "3")
    raw["heads"][3]["classes"] = [0, True, 2, 3]
    with pytest.raises(ConfigError, match=r"flights.yaml: heads\[3\]\.classes\[1\]: True -- expected str"):
        parse_config(raw, "flights.yaml")
