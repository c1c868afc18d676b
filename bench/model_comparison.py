"""Does sharing a backbone help? The multi-head model against one model per head, side by side.

    python -m bench.model_comparison [--config configs/flights.yaml] [--seeds 3]
                                     [--train-spans 1 2 ... 11 --eval-span 12]

On one training window and evaluation span (the config's unless given), in
one process, so that every model sees exactly the same rows:

- tf.Transform analyses the training spans with the pipeline's own
  `preprocessing_fn` (Beam's direct runner) and the resulting graph transforms
  both windows, as the Trainer and the serving signature do;
- the multi-head model (trainer/model.py with the config's trainer settings:
  architecture, batch size, step budget, learned loss weights), per seed;
- each head alone: the same architecture with only that head, the same batch
  size and number of steps, per seed;
- LightGBM per head on the raw features (numbers as they are, categories as
  categories; crosses left to the trees), tuned once per head: a small grid
  (LIGHTGBM_GRID: learning rate, leaves, least rows per leaf), each point
  trained on the window less its last span and early-stopped on that held-out
  span; the best point on the held-out gate metric is trained on the whole
  window for the rounds it stopped at, per seed (row and feature subsampling,
  so that the seed matters);
- the naive predictor (components/gate/naive.py), fitted on the training labels.

Every model's head is scored with the head's gate metric on the evaluation
span by the same numpy code (AUC exactly, by ranks), on the rows that have the
label. Prints a Markdown section for bench/RESULTS.md: mean and standard
deviation over seeds per head and model, and whether the multi-head model
wins, loses or ties against each other model within the seeds' noise. The neural models (an ensemble
where `trainer.ensemble_members` asks for one, single-head models too) are
fed as the Trainer feeds them (trainer/data.py: every row of the window, a new
seeded permutation each pass) but from the rows in file order rather than
sorted, so their numbers are close to, not equal to, a pipeline run's.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.config import DEFAULT_CONFIG, PipelineConfig
from trainer.specs import LOWER_IS_BETTER, HeadSpec, ModelSpecs

# LightGBM's small grid; each point early-stopped on the training window's last span.
LIGHTGBM_GRID = tuple(
    {"learning_rate": rate, "num_leaves": leaves, "min_data_in_leaf": least}
    for rate in (0.05, 0.1)
    for leaves in (15, 63)
    for least in (50, 400)
)
LIGHTGBM_MAX_ROUNDS = 2000
LIGHTGBM_PATIENCE = 50
MODELS = ("naive", "multi-head", "single-head", "LightGBM")
# Variants of the multi-head model (`--ablation`): what each training choice is worth.


def _with_trainer(**settings):
    return lambda specs: dataclasses.replace(specs, trainer=dataclasses.replace(specs.trainer, **settings))


def _with_head_loss(head_name: str, loss: str):
    return lambda specs: dataclasses.replace(
        specs, heads=tuple(dataclasses.replace(h, loss=loss) if h.name == head_name else h for h in specs.heads)
    )


VARIANTS = {
    "equal fixed weights": lambda specs: dataclasses.replace(
        specs, heads=tuple(dataclasses.replace(h, loss_weight=1.0) for h in specs.heads)
    ),
    "learned weights": lambda specs: dataclasses.replace(
        specs, heads=tuple(dataclasses.replace(h, loss_weight=None) for h in specs.heads)
    ),
    "weight averaging (EMA 0.99)": _with_trainer(ema_momentum=0.99),
    "EMA 0.995": _with_trainer(ema_momentum=0.995),
    "no EMA": _with_trainer(ema_momentum=0.0),
    "2x steps": lambda specs: _with_trainer(train_steps=2 * specs.trainer.train_steps)(specs),
    "focal loss on cancelled": _with_head_loss("cancelled", "binary_focal_crossentropy"),
    "learning rate / 3": lambda specs: _with_trainer(learning_rate=specs.trainer.learning_rate / 3)(specs),
    "learning rate / 3, EMA 0.995": lambda specs: _with_trainer(
        learning_rate=specs.trainer.learning_rate / 3, ema_momentum=0.995
    )(specs),
    "learning rate / 3, 2x steps": lambda specs: _with_trainer(
        learning_rate=specs.trainer.learning_rate / 3, train_steps=2 * specs.trainer.train_steps
    )(specs),
    # K models with seeds seed, seed + 1000, ... averaged: what trainer.ensemble_members exports.
    "one model": _with_trainer(ensemble_members=1),
    "ensemble of 3": _with_trainer(ensemble_members=3),
    "learning rate / 3, ensemble of 3": lambda specs: _with_trainer(
        learning_rate=specs.trainer.learning_rate / 3, ensemble_members=3
    )(specs),
}

_EPSILON = 1e-7  # Keras' clipping of probabilities in cross-entropies


# ---- scoring: one function for every model ---------------------------------------------------------------------


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney rank statistic (ties count half)."""
    from scipy.stats import rankdata

    positive = labels > 0.5
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def score(metric: str, labels: np.ndarray, predictions: np.ndarray) -> float:
    """The gate metric of `predictions` (label units, probability, or class probabilities) on `labels`."""
    if metric == "MeanAbsoluteError":
        return float(np.mean(np.abs(labels - predictions)))
    if metric == "MeanSquaredError":
        return float(np.mean((labels - predictions) ** 2))
    if metric == "RootMeanSquaredError":
        return float(math.sqrt(np.mean((labels - predictions) ** 2)))
    if metric == "AUC":
        return auc(labels, predictions)
    if metric == "BinaryAccuracy":
        return float(np.mean((predictions > 0.5) == (labels > 0.5)))
    if metric == "BinaryCrossentropy":
        p = np.clip(predictions, _EPSILON, 1 - _EPSILON)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    if metric == "SparseCategoricalAccuracy":
        return float(np.mean(np.argmax(predictions, axis=1) == labels.astype(np.int64)))
    if metric == "SparseCategoricalCrossentropy":
        chosen = predictions[np.arange(len(labels)), labels.astype(np.int64)]
        return float(-np.mean(np.log(np.clip(chosen, _EPSILON, 1.0))))
    raise ValueError(f"no score for gate metric {metric!r}")


# ---- data: transformed once, raw kept for the trees --------------------------------------------------------------


@dataclasses.dataclass
class Window:
    """One set of rows: transformed columns (model inputs, labels, weights) and raw feature columns."""

    transformed: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]
    span: np.ndarray  # the span each row came from

    def rows(self, keep: np.ndarray) -> Window:
        """The rows where `keep` is true."""
        transformed = {k: v[keep] for k, v in self.transformed.items()}
        return Window(transformed, {k: v[keep] for k, v in self.raw.items()}, self.span[keep])

    def labelled(self, head: HeadSpec) -> np.ndarray:
        return self.transformed[head.weight_key] > 0

    def labels(self, head: HeadSpec) -> np.ndarray:
        return self.transformed[head.label_key][self.labelled(head)]


def span_patterns(config: PipelineConfig, spans: Sequence[int]) -> list[str]:
    return [str(Path(config.data.root) / config.data.span_dir.format(span=s) / "*") for s in spans]


def analyse(config: PipelineConfig, spans: Sequence[int], output_dir: str) -> None:
    """tf.Transform's analysis of the training spans with the pipeline's preprocessing_fn."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx_bsl.public import tfxio

    from trainer.preprocessing import preprocessing_fn

    schema = text_format.Parse(Path(config.schema_path).read_text(), schema_pb2.Schema())
    source = tfxio.TFExampleRecord(file_pattern=span_patterns(config, spans), schema=schema)
    fn = functools.partial(preprocessing_fn, custom_config=config.model.training_dict())
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(Path(output_dir) / "tmp")):
        raw = pipeline | "Read" >> source.BeamSource()
        transform_fn = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    # The raw schema too, as TFX's Transform writes it (trainer/label_units.py parses probes with it).
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(schema), str(Path(output_dir) / tft.TFTransformOutput.RAW_METADATA_DIR)
    )


def _dense(value, default) -> np.ndarray:
    import tensorflow as tf

    if isinstance(value, tf.SparseTensor):
        if value.dtype.is_integer and isinstance(default, float):  # integers, NaN where missing
            value = tf.sparse.map_values(tf.cast, value, tf.float64)
        value = tf.sparse.to_dense(tf.sparse.reset_shape(value, [value.dense_shape[0], 1]), default_value=default)
    array = value.numpy()
    return array.reshape(array.shape[0], -1)[:, 0] if array.ndim > 1 else array


def load_window(config: PipelineConfig, spans: Sequence[int], tf_transform_output) -> Window:
    """Every row of `spans`, transformed by the graph and raw (numbers with NaN, strings with '')."""
    import tensorflow as tf

    raw_spec = tf_transform_output.raw_feature_spec()
    keys = [f.transformed for f in config.model.features]
    for head in config.model.heads:
        keys += [head.label_key, head.weight_key, head.training_label_key]
    raw_names = sorted({name for f in config.model.features for name in f.raw_keys})
    transformed: dict[str, list] = {key: [] for key in dict.fromkeys(keys)}
    raw: dict[str, list] = {name: [] for name in raw_names}
    span_of_rows = []
    for span, pattern in zip(spans, span_patterns(config, spans), strict=True):
        files = sorted(str(p) for p in Path(pattern).parent.glob("*"))
        for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8192):
            parsed = tf.io.parse_example(batch, raw_spec)
            outputs = tf_transform_output.transform_raw_features(dict(parsed), drop_unused_features=True)
            for key in transformed:
                transformed[key].append(_dense(outputs[key], 0))
            for name in raw_names:
                text = raw_spec[name].dtype == tf.string
                raw[name].append(_dense(parsed[name], b"" if text else np.nan))
            span_of_rows.append(np.full(len(batch), span))
    return Window(
        transformed={k: np.concatenate(v) for k, v in transformed.items()},
        raw={k: np.concatenate(v) for k, v in raw.items()},
        span=np.concatenate(span_of_rows),
    )


# ---- models ------------------------------------------------------------------------------------------------------


def neural_predictions(
    specs: ModelSpecs,
    heads: Sequence[HeadSpec],
    train: Window,
    evaluation: Window,
    cardinalities: dict[str, int],
    scaling: dict[str, tuple[float, float]],
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Trains trainer/model.py on `heads` with the config's settings; predictions in label units, and the
    first member's learned weights. An ensemble (`trainer.ensemble_members`) averages its members'
    predictions, as the exported model does."""
    from trainer.model import member_seed

    members = [
        _one_model(specs, heads, train, evaluation, cardinalities, scaling, member_seed(seed, k))
        for k in range(specs.trainer.ensemble_members)
    ]
    averaged = {head.name: np.mean([member[0][head.name] for member in members], axis=0) for head in heads}
    return averaged, members[0][1]


def _one_model(
    specs: ModelSpecs,
    heads: Sequence[HeadSpec],
    train: Window,
    evaluation: Window,
    cardinalities: dict[str, int],
    scaling: dict[str, tuple[float, float]],
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    import tf_keras as keras

    from trainer import data
    from trainer.model import build_model, learned_weights

    settings = specs.trainer
    keras.utils.set_random_seed(seed)
    # The Trainer's own order: every row of the window, a new seeded permutation each pass.
    dataset = data.seeded_batches(train.transformed, settings.batch_size, seed).map(
        lambda batch: data.split_batch(batch, specs.features, heads)
    )
    model = build_model(specs.features, heads, cardinalities, settings)
    model.fit(dataset, steps_per_epoch=settings.train_steps, epochs=1, verbose=0)
    inputs = {f.transformed: evaluation.transformed[f.transformed] for f in specs.features}
    outputs = model.predict(inputs, batch_size=8192, verbose=0)
    predictions = {}
    for head in heads:
        value = np.asarray(outputs[head.name])
        if head.kind == "regression":
            mean, std = scaling[head.name]
            value = value[:, 0] * std + mean
        elif head.kind == "binary":
            value = value[:, 0]
        predictions[head.name] = value
    return predictions, learned_weights(model)


def _category(value) -> str:
    """A raw categorical value as text; '' where it is missing."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return "" if math.isnan(value) else str(int(value))
    return str(value)


def _frame(window: Window, specs: ModelSpecs, categories: dict[str, list] | None = None):
    import pandas as pd

    columns = {}
    for feature in specs.features:
        if feature.kind == "cross":
            continue  # the trees find interactions themselves
        values = window.raw[feature.name]
        if feature.kind == "categorical":
            text = [_category(v) for v in values]
            known = categories[feature.name] if categories else sorted(set(text) - {""})
            columns[feature.name] = pd.Categorical(text, categories=known)
        else:
            columns[feature.name] = values.astype(np.float64)
    frame = pd.DataFrame(columns)
    return frame, {name: list(frame[name].cat.categories) for name in frame if frame[name].dtype == "category"}


def _lightgbm_params(head: HeadSpec, seed: int, setting: dict) -> dict:
    objective = {
        "regression": "l1" if head.gate.metric == "MeanAbsoluteError" else "l2",
        "binary": "binary",
        "multiclass": "multiclass",
    }[head.kind]
    params = {
        "objective": objective,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": seed,
        "num_threads": 2,
        "verbose": -1,
        **setting,
    }
    if head.kind == "multiclass":
        params["num_class"] = len(head.classes)
    return params


@dataclasses.dataclass(frozen=True)
class TreeSetting:
    """LightGBM's chosen setting for one head: the grid point and the rounds early stopping kept."""

    setting: dict
    rounds: int
    held_out_score: float

    def describe(self) -> str:
        grid = ", ".join(f"{k} {v}" for k, v in self.setting.items())
        return f"{grid}, {self.rounds} rounds"


def tune_lightgbm(specs: ModelSpecs, head: HeadSpec, train: Window, seed: int) -> TreeSetting:
    """Every point of LIGHTGBM_GRID trained on the window less its last span, early stopping on that
    held-out span (its own loss, patience LIGHTGBM_PATIENCE); the point whose held-out gate metric is
    best wins, with the rounds it stopped at."""
    import lightgbm

    held_out_span = int(train.span.max())
    fit, held = train.rows(train.span != held_out_span), train.rows(train.span == held_out_span)
    fit_frame, categories = _frame(fit, specs)
    held_frame, _ = _frame(held, specs, categories)
    fit_rows, held_rows = fit.labelled(head), held.labelled(head)
    lower = head.gate.metric in LOWER_IS_BETTER
    best: TreeSetting | None = None
    for setting in LIGHTGBM_GRID:
        data = lightgbm.Dataset(fit_frame[fit_rows], label=fit.labels(head))
        valid = lightgbm.Dataset(held_frame[held_rows], label=held.labels(head), reference=data)
        booster = lightgbm.train(
            _lightgbm_params(head, seed, setting),
            data,
            num_boost_round=LIGHTGBM_MAX_ROUNDS,
            valid_sets=[valid],
            callbacks=[lightgbm.early_stopping(LIGHTGBM_PATIENCE, verbose=False)],
        )
        rounds = booster.best_iteration or LIGHTGBM_MAX_ROUNDS
        found = score(head.gate.metric, held.labels(head), booster.predict(held_frame[held_rows], num_iteration=rounds))
        if best is None or (found < best.held_out_score if lower else found > best.held_out_score):
            best = TreeSetting(setting, rounds, found)
    return best


def lightgbm_predictions(
    specs: ModelSpecs, head: HeadSpec, train: Window, evaluation: Window, seed: int, tuned: TreeSetting
) -> np.ndarray:
    """One LightGBM model for one head with the tuned setting, trained on every labelled row of the
    window (the held-out span included) for the tuned number of rounds."""
    import lightgbm

    train_frame, categories = _frame(train, specs)
    eval_frame, _ = _frame(evaluation, specs, categories)
    rows = train.labelled(head)
    data = lightgbm.Dataset(train_frame[rows], label=train.labels(head))
    booster = lightgbm.train(_lightgbm_params(head, seed, tuned.setting), data, num_boost_round=tuned.rounds)
    return booster.predict(eval_frame)


def naive_score(head: HeadSpec, train: Window, evaluation: Window) -> float:
    from components.gate import naive

    predictor = naive.fit(head.kind, head.gate.metric, train.labels(head), head.classes)
    return naive.score(predictor, head.gate.metric, evaluation.labels(head))


# ---- the comparison ----------------------------------------------------------------------------------------------


def compare(
    config: PipelineConfig,
    seeds: Sequence[int],
    work: str,
    variants: Sequence[str] = (),
    baselines: bool = True,
) -> tuple[dict, dict, dict]:
    """(head, model) -> gate metric per seed; the multi-head model's learned weights per seed; and
    LightGBM's tuned setting per head. `variants`: names in VARIANTS; `baselines`: also single-head and
    LightGBM per seed."""
    import tensorflow_transform as tft

    from trainer import label_units
    from trainer.run import cardinalities

    specs, data = config.model, config.data
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[bench-model {time.monotonic() - started:6.0f} s] {message}", flush=True)

    progress(f"tf.Transform analysis of spans {list(data.train_spans)} ...")
    analyse(config, data.train_spans, work)
    output = tft.TFTransformOutput(work)
    train = load_window(config, data.train_spans, output)
    evaluation = load_window(config, [data.eval_span], output)
    sizes = cardinalities(specs, output)
    scaling = label_units.label_scaling(output, specs.heads)
    progress(
        f"{len(train.transformed[specs.heads[0].weight_key])} training rows, "
        f"{len(evaluation.transformed[specs.heads[0].weight_key])} evaluation rows"
    )

    results: dict[tuple[str, str], list[float]] = {}

    def record(head: HeadSpec, model: str, predictions: np.ndarray) -> None:
        rows = evaluation.labelled(head)
        results.setdefault((head.name, model), []).append(
            score(head.gate.metric, evaluation.labels(head), predictions[rows])
        )

    for head in specs.heads:
        results[(head.name, "naive")] = [naive_score(head, train, evaluation)]
    trees: dict[str, TreeSetting] = {}
    for head in specs.heads if baselines else ():
        progress(f"LightGBM for {head.name}: {len(LIGHTGBM_GRID)} settings, early stopping on the last span ...")
        trees[head.name] = tune_lightgbm(specs, head, train, seeds[0])
    weights: dict[str, list[float]] = {}
    for seed in seeds:
        progress(f"seed {seed}: multi-head model ...")
        predictions, learned = neural_predictions(specs, specs.heads, train, evaluation, sizes, scaling, seed)
        for head in specs.heads:
            record(head, "multi-head", predictions[head.name])
        for name, value in learned.items():
            weights.setdefault(name, []).append(value)
        for variant in variants:
            progress(f"seed {seed}: multi-head model, {variant} ...")
            changed = VARIANTS[variant](specs)
            averaged, _ = neural_predictions(changed, changed.heads, train, evaluation, sizes, scaling, seed)
            for head in specs.heads:
                record(head, f"multi-head, {variant}", averaged[head.name])
        for head in specs.heads if baselines else ():
            progress(f"seed {seed}: {head.name} alone, and LightGBM ...")
            alone, _ = neural_predictions(specs, (head,), train, evaluation, sizes, scaling, seed)
            record(head, "single-head", alone[head.name])
            record(head, "LightGBM", lightgbm_predictions(specs, head, train, evaluation, seed, trees[head.name]))
    progress("done")
    return results, weights, trees


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def verdict(mine: list[float], other: list[float], lower_is_better: bool) -> str:
    """Wins, loses or ties within the noise: the difference of the means against twice its standard error
    over seeds (sqrt(sd_a^2 / n_a + sd_b^2 / n_b)); a model with one value has no spread and adds none."""
    gain = statistics.fmean(mine) - statistics.fmean(other)
    gain = -gain if lower_is_better else gain
    variance = sum(statistics.variance(v) / len(v) for v in (mine, other) if len(v) > 1)
    noise = 2 * math.sqrt(variance)
    word = "ties" if abs(gain) <= noise else ("wins" if gain > 0 else "loses")
    return f"{word} ({gain:+.4f} ± {noise:.4f})"


def markdown(config: PipelineConfig, seeds: Sequence[int], results: dict, weights: dict, trees: dict) -> str:
    data = config.data
    models = [m for m in MODELS if (config.model.heads[0].name, m) in results]  # without --no-baselines: all
    others = [m for m in models if m not in ("naive", "multi-head")]
    lines = [
        f"### Train on spans {list(data.train_spans)}, evaluate on span {data.eval_span} "
        f"({len(seeds)} seeds: {', '.join(map(str, seeds))}; mean ± sd over seeds)",
        "",
        "| head | gate metric | " + " | ".join(models) + "".join(f" | multi-head vs {m}" for m in others) + " |",
        "|---|---|" + "---|" * (len(models) + len(others)),
    ]
    for head in config.model.heads:
        metric = head.gate.metric
        lower = metric in LOWER_IS_BETTER
        cells = " | ".join(_cell(results[(head.name, m)]) for m in models)
        verdicts = "".join(
            f" | {verdict(results[(head.name, 'multi-head')], results[(head.name, m)], lower)}" for m in others
        )
        lines.append(f"| {head.name} | {metric} ({'lower' if lower else 'higher'} is better) | {cells}{verdicts} |")
    lines += [
        "",
        "Wins / loses / ties: the difference of the means (positive: the multi-head model is better) against"
        " twice its standard error over seeds.",
    ]
    if trees:
        lines += ["", "LightGBM's setting per head (the grid point best on the held-out last training span):"]
        lines += [f"- {name}: {tree.describe()} (held-out {tree.held_out_score:.4f})" for name, tree in trees.items()]
    variants = sorted({m for (_, m) in results if m.startswith("multi-head, ")})
    if variants:
        lines += [
            "",
            "Variants of the multi-head model (the first column is the model as configured):",
            "",
            "| head | multi-head | " + " | ".join(v.removeprefix("multi-head, ") for v in variants) + " |",
            "|---|---|" + "---|" * len(variants),
        ]
        for head in config.model.heads:
            cells = " | ".join(_cell(results[(head.name, m)]) for m in ["multi-head", *variants])
            lines.append(f"| {head.name} | {cells} |")
    if weights:
        learned = ", ".join(f"{name} {_cell(values)}" for name, values in weights.items())
        lines += ["", f"Learned loss weights of the multi-head model (exp(-s) per head): {learned}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seeds", type=int, default=3, help="trainings per model (at least 2 for a spread)")
    parser.add_argument("--train-spans", type=int, nargs="+", help="training window (default: the config's)")
    parser.add_argument("--eval-span", type=int, help="evaluation span (default: the config's)")
    parser.add_argument("--ablation", action="store_true", help="also train every variant of the multi-head model")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=[], help="also train these variants")
    parser.add_argument("--no-baselines", action="store_true", help="skip single-head and LightGBM")
    parser.set_defaults(output_root=None)  # the bench writes nothing under the config's output root
    args = parser.parse_args(argv)
    if args.seeds < 1:
        print("error: --seeds: at least 1", file=sys.stderr)
        return 2
    from orchestration.run_local import command_line_overrides, load_for_command

    config = load_for_command(args.config, command_line_overrides(args))
    if config is None:
        return 2
    seeds = [config.model.trainer.seed + i for i in range(args.seeds)]
    with tempfile.TemporaryDirectory(prefix="bench-model-") as work:
        variants = list(VARIANTS) if args.ablation else args.variants
        results, weights, trees = compare(config, seeds, work, variants, baselines=not args.no_baselines)
    print(markdown(config, seeds, results, weights, trees))
    return 0


if __name__ == "__main__":
    sys.exit(main())
