"""Any CSV -> TFRecord span folders, typed by the data set's curated schema.

    python -m converters.csv_spans --csv FILE --schema schemas/X/schema.pbtxt \
        --span-column year --out DIR [--shards 2]

Each column the schema lists becomes a feature of the schema's type (INT,
FLOAT, BYTES); other columns are dropped; empty cells and NA are left out of
the Example. Rows go to `DIR/span-<value of the span column>/`. This is how a
new data set enters the pipeline without code: a CSV, a schema, a config.
With `--csv palmerpenguins` the CSV shipped in that package is used.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from console.run_log import command_output
from contracts.spans import DEFAULT_SPAN_DIR, span_folder
from converters import tfrecords


def schema_types(schema_path: Path) -> dict[str, str]:
    from pipeline.config_file import load_schema_names

    return load_schema_names(schema_path)


def packaged_csv(package: str, name: str) -> Path:
    """A CSV shipped inside an installed package (read, not imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _records(rows: pd.DataFrame, types: dict[str, str]) -> Iterator[bytes]:
    columns = [c for c in rows.columns if c in types]
    by_type = {kind: [c for c in columns if types[c] == kind] for kind in ("INT", "FLOAT", "BYTES")}
    for values in rows[columns].itertuples(index=False, name=None):
        row = dict(zip(columns, values, strict=True))
        yield tfrecords.to_example(row, ints=by_type["INT"], floats=by_type["FLOAT"], strings=by_type["BYTES"])


def convert(csv_path: Path, schema_path: Path, span_column: str, out_dir: Path, shards: int = 2) -> dict[str, int]:
    """Writes one span folder per value of `span_column`; returns rows per span."""
    types = schema_types(schema_path)
    rows = pd.read_csv(csv_path)
    if span_column not in rows.columns:
        raise ValueError(f"--span-column {span_column!r} is not a column of {csv_path}: {list(rows.columns)}")
    unknown = sorted(set(types) - set(rows.columns))
    if unknown:
        raise ValueError(f"{csv_path} lacks the schema's features {unknown}")
    counts = {}
    for span, span_rows in rows.groupby(span_column, sort=True):
        tfrecords.write_span(_records(span_rows, types), out_dir / span_folder(DEFAULT_SPAN_DIR, span), shards)
        counts[str(span)] = len(span_rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True, help="a CSV file, or 'palmerpenguins' for that package's")
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--span-column", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shards", type=int, default=2)
    args = parser.parse_args(argv)
    with command_output("csv_spans") as terminal:
        try:
            csv_path = (
                packaged_csv("palmerpenguins", "penguins.csv") if args.csv == "palmerpenguins" else Path(args.csv)
            )
            counts = convert(csv_path, args.schema, args.span_column, args.out, args.shards)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err} (details: {terminal.log_path})", file=sys.stderr)
            return 2
        print(f"wrote {sum(counts.values())} rows in {len(counts)} spans under {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
