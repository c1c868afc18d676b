"""ImportExampleGen's executor, saying which span file it could not read.

TFX's executor reads every span file with Beam's ReadFromTFRecord. A shard
cut short or a file in another format stops it with Beam's traceback ending
in e.g. `ValueError: Not a valid TFRecord. Fewer than 195 bytes`, which names
neither the span nor the file. When the import fails, this executor reads
each file of the splits again on its own (compression by file name, as Beam
does) and raises SpanFileError naming the span folder, the file, what is
wrong and what to do; a failure with every file readable is re-raised as it
was. Nothing is read twice on a run that succeeds.
"""

from __future__ import annotations

import json
import os

from tfx.components.example_gen.import_example_gen import executor as tfx_import
from tfx.types import standard_component_specs


class SpanFileError(ValueError):
    """A span file cannot be read as TFRecords; the message names the file and the fix."""


def unreadable_file(path: str) -> str | None:
    """Why Beam's TFRecord reader fails on `path` (compression by file name), or None when it reads it whole.

    The same reader as the import (Beam's `_TFRecordUtil.read_record`, pinned in the lock): TensorFlow's
    own reader takes a gzip stream cut short inside a record's header for a clean end of file.
    """
    import zlib

    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.io.tfrecordio import _TFRecordUtil

    try:
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
            while _TFRecordUtil.read_record(handle) is not None:
                pass
    except (ValueError, OSError, EOFError, zlib.error) as err:
        first_line = str(err).splitlines()[0].split(": b'")[0] if str(err) else type(err).__name__
        return first_line if len(first_line) <= 120 else first_line[:117] + "..."
    return None


def unreadable_span_files(input_base: str, input_config: str) -> list[str]:
    """One plain sentence per unreadable file of the Input config's splits (span folder patterns)."""
    from tfx.dsl.io import fileio

    problems = []
    for split in json.loads(input_config)["splits"]:
        for path in sorted(fileio.glob(os.path.join(input_base, split["pattern"]))):
            why = unreadable_file(path)
            if why is None:
                continue
            folder, name = os.path.basename(os.path.dirname(path)), os.path.basename(path)
            kind = "gzip-compressed TFRecord file (its name ends in .gz)" if path.endswith(".gz") else "TFRecord file"
            problems.append(
                f"{folder}/{name} (split {split['name']}, under {input_base}) is not a complete {kind}: {why}. "
                "It is cut short or in another format: write it again, or move it out of the span folder, "
                "then run again"
            )
    return problems


class Executor(tfx_import.Executor):
    """TFX's ImportExampleGen executor; a file it cannot read is named in a SpanFileError."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX's name)
        try:
            super().Do(input_dict, output_dict, exec_properties)
        except Exception as err:
            problems = unreadable_span_files(
                exec_properties[standard_component_specs.INPUT_BASE_KEY],
                exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
            )
            if problems:
                raise SpanFileError("; ".join(problems)) from err
            raise
