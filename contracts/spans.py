"""Span folders and the window a run trains and evaluates on.

One place for the span folder format (`data.span_dir`, e.g. `span-{span}`)
and for the window rule: the newest span present under the data root is
evaluated, and the `window` spans before it are trained on; or a window
named explicitly (the config's fixed spans, a command-line override, a
Kubeflow run parameter) is checked against the folders present. The local
runner and the Kubeflow `SpanWindow` component both call `resolve_window`
when a run starts, so a new span folder is picked up by the next run with no
change to the config, the command, the schedule or the compiled pipeline.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence

DEFAULT_SPAN_DIR = "span-{span}"  # data.span_dir's default, and what the converters write
TRAIN_SPLIT_PREFIX = "train_"
EVAL_SPLIT = "eval"


class SpanError(ValueError):
    """The spans under the data root cannot make the window; the message says what is there and what to do."""


@dataclasses.dataclass(frozen=True)
class Window:
    """The spans of one run: training spans oldest first, then the evaluation span."""

    train: tuple[int, ...]
    evaluate: int

    def describe(self) -> str:
        listed = ", ".join(str(s) for s in self.train)
        return f"train on span{'s' if len(self.train) > 1 else ''} {listed}; evaluate on span {self.evaluate}"

    def to_json(self) -> str:
        return json.dumps({"train_spans": list(self.train), "eval_span": self.evaluate}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Window:
        """The run parameter's form, {"train_spans": [9, 10, 11], "eval_span": 12}."""
        try:
            raw = json.loads(text)
            window = cls(train=tuple(int(s) for s in raw["train_spans"]), evaluate=int(raw["eval_span"]))
        except (ValueError, TypeError, KeyError) as err:
            raise SpanError(
                f'window {text!r}: expected JSON like {{"train_spans": [9, 10, 11], "eval_span": 12}} ({err})'
            ) from None
        if not window.train or window.evaluate in window.train or len(set(window.train)) != len(window.train):
            raise SpanError(f"window {text!r}: name distinct training spans and an evaluation span not among them")
        return window


def train_split_names(count: int) -> list[str]:
    """train_1 .. train_<count>, oldest span first.

    Split names are positions in the window, not span numbers, so that the
    spans can move at run time while the compiled Transform, Trainer and
    Evaluator keep referring to the same splits.
    """
    return [f"{TRAIN_SPLIT_PREFIX}{i}" for i in range(1, count + 1)]


def span_folder(span_dir: str, span: int) -> str:
    """The folder name of one span, e.g. span-12."""
    return span_dir.format(span=span)


def parse_span(span_dir: str, name: str) -> int | None:
    """The span number of a folder name written by `span_folder`, or None for any other name."""
    prefix, _, suffix = span_dir.partition("{span}")
    match = re.fullmatch(re.escape(prefix) + r"(\d+)" + re.escape(suffix), name.rstrip("/"))
    return int(match.group(1)) if match else None


def spans_present(names: Iterable[str], span_dir: str) -> list[int]:
    """The span numbers among folder names, in increasing order."""
    return sorted({span for name in names if (span := parse_span(span_dir, name)) is not None})


def list_spans(data_root: str, span_dir: str) -> list[int]:
    """Span numbers of the span folders under a local or gs:// data root."""
    from tfx.dsl.io import fileio

    if not fileio.isdir(data_root):
        raise SpanError(f"data root {data_root} does not exist; put one folder per span there ({span_dir}/)")
    return spans_present(fileio.listdir(data_root), span_dir)


def check_not_empty(data_root: str, span_dir: str, window: Window) -> None:
    """Raises SpanError naming the window's span folders that hold no file (ExampleGen's driver would
    stop later with "does not match any files", naming neither the span nor what to do)."""
    from tfx.dsl.io import fileio

    empty = [
        span
        for span in (*window.train, window.evaluate)
        if not fileio.glob(f"{data_root.rstrip('/')}/{span_folder(span_dir, span)}/*")
    ]
    if empty:
        folders = ", ".join(f"{span_folder(span_dir, span)}/" for span in empty)
        raise SpanError(
            f"{window.describe()}: {folders} under {data_root} hold{'s' if len(empty) == 1 else ''} no file. "
            "Put the span's TFRecord files there, or remove the empty folder (the newest span with files is "
            "then evaluated)"
        )


def resolve_window(
    present: Sequence[int], size: int, requested: Window | None = None, where: str = "the data root"
) -> Window:
    """The requested window, checked against the spans present (under `where`, for the message); or the newest
    span and the `size` before it."""
    present = sorted(present)
    if requested is not None:
        if len(requested.train) != size:
            raise SpanError(
                f"{requested.describe()}: the pipeline trains on {size} span(s), not {len(requested.train)}; "
                "change data.train_window (or data.train_spans) in the config to change the window size"
            )
        missing = [s for s in (*requested.train, requested.evaluate) if s not in present]
        if missing:
            raise SpanError(
                f"{requested.describe()}: span(s) {missing} are not under {where} (found {present}). Add the span "
                "folder(s), or pick spans that are there (--train-spans and --eval-span, or data.train_spans and "
                "data.eval_span in the config)"
            )
        return requested
    if len(present) < size + 1:
        raise SpanError(
            f"a window of {size} training span(s) plus the evaluation span needs {size + 1} span folders; "
            f"found {len(present)} ({present}). Add span folders or lower data.train_window"
        )
    return Window(train=tuple(present[-size - 1 : -1]), evaluate=present[-1])


def input_config_json(window: Window, span_dir: str) -> str:
    """ExampleGen's Input proto as JSON: one split per span, train_1..train_k then eval."""
    names = [*train_split_names(len(window.train)), EVAL_SPLIT]
    spans = [*window.train, window.evaluate]
    splits = [{"name": n, "pattern": f"{span_folder(span_dir, s)}/*"} for n, s in zip(names, spans, strict=True)]
    return json.dumps({"splits": splits}, sort_keys=True)


def split_folders(input_config_text: str) -> dict[str, str]:
    """Split name -> the span folder it reads ("train_1" -> "span-9"), from ExampleGen's input config as
    JSON (input_config_json's form, or the proto's JSON): how a report names a split to a reader."""
    splits = json.loads(input_config_text).get("splits", []) if input_config_text else []
    return {split["name"]: split["pattern"].rstrip("*").rstrip("/") for split in splits}
