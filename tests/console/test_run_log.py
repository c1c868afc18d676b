"""The terminal's side of the run log: one line per record, the traceback left to the log file."""

from __future__ import annotations

import logging
import sys

from console.run_log import TerminalFilter, TerminalFormatter


def record_with_traceback(level: int = logging.ERROR, name: str = "tfx.orchestration") -> logging.LogRecord:
    try:
        raise ValueError("Not a valid TFRecord. Fewer than 195 bytes")
    except ValueError:
        return logging.LogRecord(name, level, __file__, 1, "Execution %d failed.", (1,), sys.exc_info())


def test_an_error_with_a_traceback_is_one_line_on_the_terminal_and_whole_in_the_log():
    record = record_with_traceback()
    terminal = TerminalFormatter("%(levelname)s: %(message)s").format(record)
    assert terminal == "ERROR: Execution 1 failed. (traceback in the log)"
    log = logging.Formatter("%(levelname)s: %(message)s").format(record)  # the log file's handler, after it
    assert "Traceback (most recent call last)" in log and "Fewer than 195 bytes" in log


def test_library_errors_reach_the_terminal_and_known_noise_does_not():
    keep = TerminalFilter()
    assert keep.filter(record_with_traceback())
    noise = logging.LogRecord("absl", logging.WARNING, __file__, 1, "Fallback to non-ZetaSQL", (), None)
    assert not keep.filter(noise)
    assert not keep.filter(logging.LogRecord("orchestration.progress", logging.ERROR, __file__, 1, "own", (), None))


def test_a_short_command_prints_only_its_own_lines_and_logs_the_libraries(tmp_path):
    """`python -m converters.csv_spans` (a README command): TensorFlow's C++ start-up lines go to its log."""
    import subprocess
    import sys

    from console.run_log import COMMAND_LOG_ROOT

    before = set((COMMAND_LOG_ROOT / "logs").glob("csv_spans-*.log"))
    command = [sys.executable, "-m", "converters.csv_spans", "--csv", "palmerpenguins", "--span-column", "year"]
    command += ["--schema", "schemas/penguins/schema.pbtxt", "--out", str(tmp_path / "spans")]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=COMMAND_LOG_ROOT.parent)
    assert done.stdout.splitlines() == [
        f"wrote 344 rows in 3 spans under {tmp_path / 'spans'}: {{'2007': 110, '2008': 114, '2009': 120}}"
    ]
    assert done.stderr == ""
    (log,) = set((COMMAND_LOG_ROOT / "logs").glob("csv_spans-*.log")) - before
    assert "cudart_stub" in log.read_text() or "absl" in log.read_text()  # where the start-up lines went


def test_a_short_command_called_in_python_keeps_its_prints_with_the_caller(tmp_path, capsys):
    """Called from Python with sys.stdout captured (capsys, redirect_stdout): the prints stay with the caller;
    what writes to the descriptor itself (TensorFlow's C++ lines) still goes to the log."""
    import os

    from console.run_log import command_output

    with command_output("probe", log_root=tmp_path):
        print("the command's own line")
        os.write(1, b"a library's line on descriptor 1\n")
    assert capsys.readouterr().out == "the command's own line\n"
    (log,) = (tmp_path / "logs").glob("probe-*.log")
    assert "a library's line on descriptor 1" in log.read_text()
