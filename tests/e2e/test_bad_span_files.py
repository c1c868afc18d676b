"""Span files that cannot be read stop the main job with one plain message, as a user runs it.

The command line in a process of its own, on copies of the fixture spans with
real TFX components: the terminal names the span folder, the file and the
fix, shows no traceback (that goes to the log file it names), and nothing is
trained or pushed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import REPO_ROOT
from tests.e2e.test_bad_data_stops_the_run import executed_components

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("flights_fixture.yaml")


def config_file(tmp_path: Path, data: Path) -> Path:
    raw = yaml.safe_load(CONFIG.read_text())
    raw["data"] = {"root": str(data), "train_window": 1}
    raw["output_root"] = str(tmp_path / "out")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def main_job(config: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline.run_local", "--config", str(config)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_a_shard_cut_in_half_is_named_with_its_span_and_the_fix(tmp_path, flights_fixture_dir):
    data = tmp_path / "data"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", data / f"span-{span}")
    shard = data / "span-2" / "part-00001-of-00002.tfrecord.gz"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])

    done = main_job(config_file(tmp_path, data))
    terminal = done.stdout + done.stderr
    assert done.returncode == 1, terminal
    assert (
        f"SpanFileError: span-2/part-00001-of-00002.tfrecord.gz (split eval, under {data}) is not a complete"
        " gzip-compressed TFRecord file" in terminal
    ), terminal
    assert "move it out of the span folder" in terminal
    assert "Traceback" not in terminal, terminal
    log = next(line.split(" in ", 1)[1].strip() for line in terminal.splitlines() if "full traceback is in" in line)
    assert "Traceback" in Path(log).read_text() and "Not a valid TFRecord" in Path(log).read_text()
    ran = executed_components(tmp_path / "out" / "metadata.sqlite")
    assert "ImportExampleGen" in ran and not ran & {"Transform", "Trainer", "Evaluator", "Pusher"}
    assert not (tmp_path / "out" / "serving").exists()


def test_an_empty_span_folder_stops_the_run_before_it_starts(tmp_path, flights_fixture_dir):
    data = tmp_path / "data"
    shutil.copytree(flights_fixture_dir / "span-1", data / "span-1")
    (data / "span-2").mkdir()  # the newest span: a month whose files have not arrived

    done = main_job(config_file(tmp_path, data))
    terminal = done.stdout + done.stderr
    assert done.returncode == 2, terminal
    assert f"error: train on span 1; evaluate on span 2: span-2/ under {data} holds no file." in terminal, terminal
    assert "Traceback" not in terminal
    assert not (tmp_path / "out" / "metadata.sqlite").exists()  # nothing ran
