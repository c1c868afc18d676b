"""Nothing written for others to read holds a credential from the environment, and neither the
reports nor the compiled Kubeflow file hold a path of this machine.

The fixture sequence runs with a fake token in its environment (tests/e2e/conftest.py); its killed attempt
is the main job's command line, whose terminal output and log file are read here with the reports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from components.report.component import HTML_FILE, JSON_FILE
from orchestration.kfp_package import VERTEX_SUFFIX
from orchestration.kubeflow import compile_pipeline
from pipeline.config import REPO_ROOT, load_config
from tests.e2e.fixture_runs import FAKE_TOKEN, FAKE_TOKEN_VARIABLE

pytestmark = pytest.mark.e2e  # runs the fixture pipeline's sequence of runs

FLIGHTS = REPO_ROOT / "configs" / "flights.yaml"


def test_reports_terminal_output_and_logs_hold_no_token(runs):
    config, _, _, _ = runs["clean"]
    read = {runs["killed log"]: runs["killed log"].read_text()}
    for log in sorted(Path(config.output_root, "logs").glob("*.log")):
        read[log] = log.read_text()
    assert len(read) >= 2, read.keys()  # the terminal output and the run's own log file
    for name in ("first", "corrupted", "clean", "rerun"):
        report = Path(runs[name][1].report)
        for path in (report / JSON_FILE, report / HTML_FILE):
            read[path] = path.read_text()
    assert "Pipeline flights-fixture" in read[runs["killed log"]] or "Spans:" in read[runs["killed log"]]
    for path, text in read.items():
        assert FAKE_TOKEN not in text, path
        assert FAKE_TOKEN_VARIABLE not in text, path


def test_reports_name_no_path_of_this_machine(runs):
    config, _, _, _ = runs["clean"]
    local = (str(Path(config.output_root).parent), str(REPO_ROOT), str(Path.home()))
    for name in ("first", "corrupted", "clean", "rerun"):
        report = Path(runs[name][1].report)
        for path in (report / JSON_FILE, report / HTML_FILE):
            text = path.read_text()
            for machine_path in local:
                assert machine_path not in text, (path, machine_path)
    identity = json.loads((Path(runs["clean"][1].report) / JSON_FILE).read_text())["identity"]
    assert identity["model"].startswith("<pipeline root>/Trainer/model/"), identity
    assert identity["pushed to"].startswith("<serving dir>/"), identity


def test_the_compiled_kubeflow_file_holds_no_token_and_no_local_path(runs, tmp_path):
    assert os.environ.get(FAKE_TOKEN_VARIABLE) == FAKE_TOKEN  # compiled with the credential in the environment
    output = compile_pipeline(load_config(FLIGHTS), tmp_path / "flights.yaml")
    text = output.read_text() + output.with_suffix(VERTEX_SUFFIX).read_text()  # both packages
    json.loads(output.with_suffix(VERTEX_SUFFIX).read_text())
    for secret_or_local in (FAKE_TOKEN, str(REPO_ROOT), str(Path.home()), str(tmp_path)):
        assert secret_or_local not in text, secret_or_local
