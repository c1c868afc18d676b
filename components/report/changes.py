"""What changed between the baseline and the candidate: settings, code, training window, training rows.

A reviewer's first question about a blocked model. Both models carry their
training record (trainer/training_record.py: the Trainer's configuration as
the run recorded it, the code version, a digest of the training rows); the
window each was trained on comes from this run's spans and, for the
baseline, from the gate's record of the run that trained it
(components/gate/decision_records.py). Compared here, key by key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contracts.spans import EVAL_SPLIT

UNKNOWN = "unknown"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys; a list of named entries (heads, features) keyed by their names."""
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and value
        and all(isinstance(item, Mapping) and "name" in item for item in value)
    ):
        flat = {}
        for item in value:
            rest = {k: v for k, v in item.items() if k != "name"}
            flat.update(flatten(rest, f"{prefix}[{item['name']}]"))
        return flat
    if isinstance(value, list | tuple):
        return {prefix: list(value)}
    return {prefix: value}


def setting_changes(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every setting whose value differs, added or removed, in key order: {setting, baseline, candidate}."""
    old, new = flatten(baseline), flatten(candidate)
    return [
        {"setting": key, "baseline": old.get(key), "candidate": new.get(key)}
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def training_spans(window: Mapping[str, str] | None) -> list[str]:
    """The span folders a window trained on, oldest first (train_1, train_2, ..., train_10)."""
    trains = [(split, folder) for split, folder in (window or {}).items() if split != EVAL_SPLIT]
    return [folder for _, folder in sorted(trains, key=lambda item: int(item[0].rsplit("_", 1)[-1]))]


def code_text(code: Mapping[str, Any] | None) -> str:
    if not code:
        return UNKNOWN
    parts = [f"package {code['package']}" if code.get("package") else "", f"commit {code.get('commit') or UNKNOWN}"]
    return ", ".join(part for part in parts if part)


def what_changed(
    candidate_record: Mapping[str, Any] | None,
    baseline_record: Mapping[str, Any] | None,
    candidate_window: Mapping[str, str] | None,
    baseline_window: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The comparison for the report's first screen (None-free where a side is unknown: it says so)."""
    known = candidate_record is not None and baseline_record is not None
    settings = setting_changes(baseline_record["settings"], candidate_record["settings"]) if known else []
    code = (
        {"baseline": code_text(baseline_record.get("code")), "candidate": code_text(candidate_record.get("code"))}
        if known
        else None
    )
    windows = {
        "baseline": training_spans(baseline_window) if baseline_window else None,
        "candidate": training_spans(candidate_window) if candidate_window else None,
    }
    rows = {"baseline": baseline_record["data"], "candidate": candidate_record["data"]} if known else None
    code_changed = bool(code and code["baseline"] != code["candidate"])
    window_changed = None if None in windows.values() else windows["baseline"] != windows["candidate"]
    rows_changed = bool(rows and rows["baseline"].get("train_digest") != rows["candidate"].get("train_digest"))
    return {
        "known": known,
        "missing": [
            side for side, record in (("baseline", baseline_record), ("candidate", candidate_record)) if record is None
        ],
        "settings": settings,
        "code": code,
        "code_changed": code_changed,
        "window": windows,
        "window_changed": window_changed,
        "rows": rows,
        "rows_changed": rows_changed,
        "only_data": known and not settings and not code_changed and (rows_changed or bool(window_changed)),
        "nothing": known and not settings and not code_changed and not rows_changed and not window_changed,
    }


def sentences(changes: Mapping[str, Any]) -> list[str]:
    """The comparison in a few plain sentences (the terminal, the Markdown, the HTML's summary line)."""
    if not changes["known"]:
        missing = " and ".join(changes["missing"])
        return [f"What changed is not known: the {missing} model carries no training record (trained before records)."]
    lines = []
    if changes["only_data"]:
        lines.append("Only the data changed: the same training settings and code.")
    elif changes["nothing"]:
        lines.append("Nothing changed: the same settings, code and training rows (a retrain of the same model).")
    for change in changes["settings"]:
        lines.append(f"Setting {change['setting']}: {_value(change['baseline'])} -> {_value(change['candidate'])}")
    if changes["code_changed"]:
        lines.append(f"Code: {changes['code']['baseline']} -> {changes['code']['candidate']}")
    window = changes["window"]
    if changes["window_changed"]:
        lines.append(f"Training window: {', '.join(window['baseline'])} -> {', '.join(window['candidate'])}")
    elif changes["window_changed"] is None:
        lines.append("Training window of the baseline: not recorded (no decision record of its run).")
    rows = changes["rows"]
    if changes["rows_changed"] and not changes["window_changed"]:
        lines.append(
            f"Training rows: {rows['baseline']['train_rows']:,} -> {rows['candidate']['train_rows']:,}"
            " (other rows in the same window)"
        )
    return lines


def _value(value: Any) -> str:
    return "(none)" if value is None else str(value)
