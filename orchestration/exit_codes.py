"""What a command's exit status means, for the scripts and schedulers that call it.

One set for every command a user runs (the pipeline, compile, submit,
report, serving): a cron job or a CI step tells a pushed model from a blocked
one, and both from a run that never got to decide.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    PUSHED = 0  # the run finished and the model is served (or the command did what was asked)
    FAILED = 1  # the run broke: an error in a component, the output root held by another run, ...
    BAD_INPUT = 2  # the config, the command line or the data was refused before or while running
    BLOCKED = 3  # the run finished and the gate blocked the model: nothing was pushed


MEANINGS = {
    ExitCode.PUSHED: "pushed (or the command succeeded)",
    ExitCode.FAILED: "the run failed (see the log it names)",
    ExitCode.BAD_INPUT: "bad config, command line or data (the message says what and where)",
    ExitCode.BLOCKED: "the gate blocked the model; nothing was pushed (the report says why)",
}
