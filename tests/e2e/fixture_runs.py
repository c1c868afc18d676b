"""Helpers for the fixture pipeline's sequence of runs (the `runs` fixture in conftest.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from tests.helpers import rewrite_span

CONFIG = Path(__file__).with_name("flights_fixture.yaml")  # configs/flights.yaml with a visible overlay
CORRUPTED_HEAD = "delay_band"
VERY_LATE = 2  # every row labelled "very late": a labelling bug in one head
# In the environment for the whole sequence, as a credential would be: nothing written for others may hold it.
FAKE_TOKEN_VARIABLE, FAKE_TOKEN = "MHP_EXAMPLE_API_TOKEN", "mhp-fake-token-7f3a9c"


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory` with the sha256 of its bytes."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def corrupt_labels(source: Path, target: Path, label: str, value: int) -> None:
    """Copies a span, setting one label to `value` wherever it is present."""

    def change(_: int, example) -> None:
        if label in example.features.feature:
            example.features.feature[label].int64_list.value[:] = [value]

    rewrite_span(source, target, change)


def rolling_config_file(folder: Path, data: Path, output_root: Path) -> Path:
    """The fixture config with a one-span rolling window over `data`, written as a user would write a
    config file (the newest span is evaluated, the one before it trained on)."""
    raw = yaml.safe_load(CONFIG.read_text())
    raw["data"].update(root=str(data), train_window=1, train_spans=None, eval_span=None)
    raw["output_root"] = str(output_root)
    path = folder / "rolling.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
