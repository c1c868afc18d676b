"""Span files that cannot be read stop the main job with one plain message, as a user runs it.

The command line in a process of its own, on copies of the fixture spans with
real TFX components: the terminal names the span folder, the file and the
fix, shows no traceback (that goes to the log file it names), nothing is
trained or pushed, and a version already in serving stays byte for byte as it was.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.exit_codes import ExitCode
from pipeline.config import REPO_ROOT
from tests.e2e.fixture_runs import rolling_config_file, snapshot
from tests.e2e.test_bad_data_stops_the_run import change_rows, executed_components
from tests.helpers import rewrite_span

pytestmark = pytest.mark.e2e


def config_file(tmp_path: Path, data: Path) -> Path:
    return rolling_config_file(tmp_path, data, tmp_path / "out")


def main_job(config: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "orchestration.run_local", "--config", str(config), *options]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def served_version(out: Path) -> dict[str, str]:
    """A version already in serving (what a model server loads today); returns its bytes' fingerprints."""
    version = out / "serving" / "1700000000"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"the model served before this run")
    (version / "variables" / "variables.index").write_bytes(b"\x00\x01")
    return snapshot(out / "serving")


def cut_in_half(span: Path) -> tuple[str, str]:
    shard = span / "part-00001-of-00002.tfrecord.gz"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return shard.name, "gzip-compressed TFRecord file"


def not_a_tfrecord(span: Path) -> tuple[str, str]:
    (span / "flights-2024-02.csv").write_text("year,month,carrier,origin,dest\n2024,2,AA,JFK,LAX\n")
    return "flights-2024-02.csv", "TFRecord file"


@pytest.mark.parametrize("spoil", [cut_in_half, not_a_tfrecord], ids=["a shard cut in half", "a CSV file"])
def test_an_unreadable_span_file_is_named_with_its_span_and_the_fix(tmp_path, flights_fixture_dir, spoil):
    data = tmp_path / "data"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", data / f"span-{span}")
    name, kind = spoil(data / "span-2")
    served = served_version(tmp_path / "out")

    done = main_job(config_file(tmp_path, data))
    terminal = done.stdout + done.stderr
    assert done.returncode == ExitCode.BAD_INPUT, terminal
    assert f"SpanFileError: span-2/{name} (split eval, under {data}) is not a complete {kind}" in terminal, terminal
    assert "move it out of the span folder" in terminal
    assert "Traceback" not in terminal, terminal
    log = next(line.split(" in ", 1)[1].strip() for line in terminal.splitlines() if "full traceback is in" in line)
    assert "Traceback" in Path(log).read_text() and "Not a valid TFRecord" in Path(log).read_text()
    ran = executed_components(tmp_path / "out" / "metadata.sqlite")
    assert "ImportExampleGen" in ran and not ran & {"Transform", "Trainer", "Evaluator", "Pusher"}
    assert snapshot(tmp_path / "out" / "serving") == served  # byte for byte what was served before


def test_a_data_anomaly_stops_the_command_with_the_feature_named_and_no_traceback(tmp_path, flights_fixture_dir):
    data = tmp_path / "data"
    shutil.copytree(flights_fixture_dir / "span-1", data / "span-1")
    rewrite_span(flights_fixture_dir / "span-2", data / "span-2", change_rows("distance", b"1400 mi"))
    served = served_version(tmp_path / "out")

    done = main_job(config_file(tmp_path, data))
    terminal = done.stdout + done.stderr
    assert done.returncode == ExitCode.BAD_INPUT, terminal
    assert "error: the run failed: DataAnomalyError:" in terminal, terminal
    assert "span-2/* (split eval): feature 'distance': " in terminal, terminal
    assert "update the curated schema." in terminal
    assert "Traceback" not in terminal, terminal
    ran = executed_components(tmp_path / "out" / "metadata.sqlite")
    assert "ExampleGate" in ran and not ran & {"Transform", "Trainer", "Evaluator", "Pusher"}
    assert snapshot(tmp_path / "out" / "serving") == served


def test_an_empty_span_folder_stops_the_run_before_it_starts(tmp_path, flights_fixture_dir):
    data = tmp_path / "data"
    shutil.copytree(flights_fixture_dir / "span-1", data / "span-1")
    (data / "span-2").mkdir()  # the newest span: a month whose files have not arrived

    done = main_job(config_file(tmp_path, data))
    terminal = done.stdout + done.stderr
    assert done.returncode == ExitCode.BAD_INPUT, terminal
    assert f"error: train on span 1; evaluate on span 2: span-2/ under {data} holds no file." in terminal, terminal
    assert "Traceback" not in terminal
    assert not (tmp_path / "out" / "metadata.sqlite").exists()  # nothing ran


def test_a_pinned_span_folder_that_is_missing_stops_the_run_before_it_starts(tmp_path, flights_fixture_dir):
    data = tmp_path / "data"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", data / f"span-{span}")

    done = main_job(config_file(tmp_path, data), "--train-spans", "1", "--eval-span", "3")
    terminal = done.stdout + done.stderr
    assert done.returncode == ExitCode.BAD_INPUT, terminal
    assert f"error: train on span 1; evaluate on span 3: span(s) [3] are not under {data} (found [1, 2])." in terminal
    assert "Add the span folder(s), or pick spans that are there" in terminal
    assert "Traceback" not in terminal
    assert not (tmp_path / "out" / "metadata.sqlite").exists()  # nothing ran
