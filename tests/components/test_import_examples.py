"""Which span file ImportExampleGen could not read, and why, in words (real TFRecord files)."""

from __future__ import annotations

import json
import shutil

import tensorflow as tf

from components.import_examples import unreadable_file, unreadable_span_files
from tests.helpers import write_records


def write_examples(path, count: int = 200) -> None:
    examples = [tf.train.Example() for _ in range(count)]
    for i, example in enumerate(examples):
        example.features.feature["x"].float_list.value.append(float(i))
    write_records(path, examples)


def test_complete_files_pass_and_a_cut_or_foreign_file_is_explained(tmp_path):
    whole, plain = tmp_path / "whole.tfrecord.gz", tmp_path / "plain.tfrecord"
    write_examples(whole)
    write_examples(plain)
    assert unreadable_file(str(whole)) is None and unreadable_file(str(plain)) is None

    cut = tmp_path / "cut.tfrecord.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    text = tmp_path / "notes.gz"
    text.write_text("a,b,c\n1,2,3\n")
    plain_cut = tmp_path / "plain_cut.tfrecord"
    plain_cut.write_bytes(plain.read_bytes()[:-7])
    for bad in (cut, text, plain_cut):
        assert unreadable_file(str(bad)), bad


def test_the_message_names_the_span_folder_the_file_the_split_and_the_fix(tmp_path):
    for span in (1, 2):
        (tmp_path / f"span-{span}").mkdir()
        write_examples(tmp_path / f"span-{span}" / "part-0.tfrecord.gz")
    whole = tmp_path / "span-2" / "part-0.tfrecord.gz"
    shutil.copy(whole, tmp_path / "span-2" / "part-1.tfrecord.gz")
    (tmp_path / "span-2" / "part-1.tfrecord.gz").write_bytes(whole.read_bytes()[:100])
    config = json.dumps(
        {"splits": [{"name": "train_1", "pattern": "span-1/*"}, {"name": "eval", "pattern": "span-2/*"}]}
    )
    (problem,) = unreadable_span_files(str(tmp_path), config)
    assert problem.startswith(f"span-2/part-1.tfrecord.gz (split eval, under {tmp_path}) is not a complete")
    assert "gzip-compressed TFRecord" in problem and "move it out of the span folder" in problem
    assert unreadable_span_files(str(tmp_path), config.replace("span-2", "span-1")) == []
