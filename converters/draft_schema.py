"""Draft a schema and a config from a CSV, with TFDV's own inference, for a person to curate.

    python -m converters.draft_schema --csv FILE --name NAME --label COLUMN [--label ...] \
        --span-column COLUMN [--schema-out schemas/NAME/schema.pbtxt] [--config-out configs/NAME.yaml]
    (make schema CSV=FILE NAME=NAME LABELS="a b" SPAN=COLUMN)

TFDV computes the CSV's statistics and infers the schema from them: each
column's type, a domain for string columns with few values, and presence
(how often a column is filled). The labels are marked absent at serving
(the SERVING environment), as the pipeline's serving signature expects. The
config names every other column as a feature (strings categorical, numbers
numeric; the span column is left out: it says when, not what), one head per
label (a string label with two values is binary, with more multiclass; a
0/1 number binary; any other number regression), and a gate per head whose
thresholds are only a start: `make calibrate` measures the noise they must
allow for. Read both files, tighten the schema's ranges and domains, then
write the spans with `mhp spans` and run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

from console.run_log import command_output
from converters.csv_spans import packaged_csv

SERVING, TRAINING = "SERVING", "TRAINING"


def infer(frame: pd.DataFrame, labels: Sequence[str]):
    """TFDV's statistics of the rows and the schema it infers, the labels kept out of SERVING."""
    import tensorflow_data_validation as tfdv

    statistics = tfdv.generate_statistics_from_dataframe(frame)
    schema = tfdv.infer_schema(statistics)
    schema.default_environment.extend([TRAINING, SERVING])
    for label in labels:
        tfdv.get_feature(schema, label).not_in_environment.append(SERVING)
    return statistics, schema


def string_values(schema, column: str) -> list[str]:
    """The values of a string column's inferred domain (empty when TFDV inferred none)."""
    import tensorflow_data_validation as tfdv

    feature = tfdv.get_feature(schema, column)
    if feature.HasField("domain"):
        return list(tfdv.get_domain(schema, column).value)
    return list(feature.string_domain.value) if feature.HasField("string_domain") else []


def head_for(frame: pd.DataFrame, schema, label: str) -> dict:
    """A head for a label column, with a first gate: a floor (a ceiling for errors) and an allowance."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    name = label.lower().replace(" ", "_")
    kind_of = tfdv.get_feature(schema, label).type
    values = frame[label].dropna()
    if kind_of == schema_pb2.BYTES:
        classes = sorted(string_values(schema, label)) or sorted(map(str, values.unique()))
        if len(classes) == 2:
            return {
                "name": name,
                "label": label,
                "kind": "binary",
                "classes": classes,
                "metrics": ["AUC", "BinaryAccuracy", "CalibrationPlot"],
                "gate": {"metric": "AUC", "at_least": 0.6, "max_regression": 0.05},
            }
        return {
            "name": name,
            "label": label,
            "kind": "multiclass",
            "classes": classes,
            "metrics": ["SparseCategoricalAccuracy", "MultiClassConfusionMatrixPlot"],
            "gate": {"metric": "SparseCategoricalAccuracy", "at_least": 0.5, "max_regression": 0.05},
        }
    if set(values.unique()) <= {0, 1}:
        return {
            "name": name,
            "label": label,
            "kind": "binary",
            "metrics": ["AUC", "BinaryAccuracy", "CalibrationPlot"],
            "gate": {"metric": "AUC", "at_least": 0.6, "max_regression": 0.05},
        }
    spread = float(values.std()) if len(values) > 1 else 1.0
    return {
        "name": name,
        "label": label,
        "kind": "regression",
        "metrics": ["MeanAbsoluteError", "MeanPrediction"],
        # A constant's MAE is about 0.8 standard deviations: the ceiling asks for no worse than one.
        "gate": {"metric": "MeanAbsoluteError", "at_most": round(spread, 3), "max_regression": round(spread / 10, 3)},
    }


def config_template(name: str, frame: pd.DataFrame, schema, labels: Sequence[str], span_column: str, data_root: str):
    """The config as data: data, features, heads, a slice per categorical feature, a small trainer."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    features = []
    for feature in schema.feature:
        if feature.name in labels or feature.name == span_column:
            continue
        kind = "categorical" if feature.type == schema_pb2.BYTES else "numeric"
        features.append({"name": feature.name, "kind": kind})
    categorical = [f["name"] for f in features if f["kind"] == "categorical"]
    return {
        "name": name,
        "schema": f"schemas/{name}/schema.pbtxt",
        "data": {"root": data_root, "train_window": 2},
        "features": features,
        "heads": [head_for(frame, schema, label) for label in labels],
        "slices": [{"features": [column]} for column in categorical[:1]],
        "evaluation": {"min_slice_examples": 20},
        "trainer": {"batch_size": 32, "train_steps": 300, "eval_steps": 3, "learning_rate": 0.01},
        "beam_args": ["--direct_num_workers=1"],
        "output_root": f"out/pipelines/{name}",
    }


HEADER = """\
# yaml-language-server: $schema=pipeline-config.schema.json
# Drafted by `mhp schema` from {csv}: every column a feature, one head per label, first gates.
# Curate it: the features worth having, each head's metrics and gate (`make calibrate` measures the
# seed-to-seed noise the allowances must cover), the slices to gate on, the trainer's size.
"""


def draft(
    csv_path: Path,
    name: str,
    labels: Sequence[str],
    span_column: str,
    schema_out: Path,
    config_out: Path,
    data_root: str,
) -> None:
    import tensorflow_data_validation as tfdv

    frame = pd.read_csv(csv_path)
    missing = [column for column in [*labels, span_column] if column not in frame.columns]
    if missing:
        raise ValueError(f"{csv_path} has no column(s) {missing}; its columns: {list(frame.columns)}")
    _, schema = infer(frame, labels)
    schema_out.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(schema_out))
    config = config_template(name, frame, schema, labels, span_column, data_root)
    config["schema"] = str(schema_out)
    config_out.parent.mkdir(parents=True, exist_ok=True)
    config_out.write_text(HEADER.format(csv=csv_path.name) + yaml.safe_dump(config, sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, required=True, help="a CSV file, or 'palmerpenguins' for that package's")
    parser.add_argument("--name", required=True, help="the data set's name: schemas/NAME/, configs/NAME.yaml")
    parser.add_argument("--label", action="append", required=True, help="a label column (one per head)")
    parser.add_argument("--span-column", required=True, help="the column whose values are the spans")
    parser.add_argument("--schema-out", type=Path, help="default: schemas/NAME/schema.pbtxt")
    parser.add_argument("--config-out", type=Path, help="default: configs/NAME.yaml")
    parser.add_argument("--data-root", help="where `mhp spans` writes the spans (default: out/data/NAME)")
    args = parser.parse_args(argv)
    schema_out = args.schema_out or Path("schemas") / args.name / "schema.pbtxt"
    config_out = args.config_out or Path("configs") / f"{args.name}.yaml"
    data_root = args.data_root or f"out/data/{args.name}"
    csv_path = packaged_csv("palmerpenguins", "penguins.csv") if str(args.csv) == "palmerpenguins" else args.csv
    with command_output("schema") as terminal:
        try:
            draft(
                csv_path,
                args.name,
                args.label,
                args.span_column,
                schema_out,
                config_out,
                data_root,
            )
        except (OSError, ValueError) as error:
            print(f"error: {error} (details: {terminal.log_path})", file=sys.stderr)
            return 2
        print(f"drafted {schema_out} and {config_out}: curate both, then")
        print(f"  mhp spans --csv {args.csv} --schema {schema_out} --span-column {args.span_column} --out {data_root}")
        print(f"  make run CONFIG={config_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
