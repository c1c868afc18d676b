"""Two runs' reports side by side: each head and each gated slice, for "what did this change do".

Built from the two runs' summary.json (what each run's report said), so the
comparison shows exactly the numbers each run was judged on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.gate.metrics import OVERALL


def _gate_rows(head: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {row["slice"]: row for row in head["gate_rows"]}


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def compare_summaries(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """Per head (in the second run's order, then heads only the first has): the gate metric of both runs on
    the overall slice and on each gated slice, and the difference (second minus first)."""
    heads_a = {head["name"]: head for head in first["heads"]}
    heads_b = {head["name"]: head for head in second["heads"]}
    names = [*heads_b, *(name for name in heads_a if name not in heads_b)]
    heads = []
    for name in names:
        a, b = heads_a.get(name), heads_b.get(name)
        rows_a = _gate_rows(a) if a else {}
        rows_b = _gate_rows(b) if b else {}
        slices = [OVERALL, *sorted((set(rows_a) | set(rows_b)) - {OVERALL})]
        rows = []
        for where in slices:
            value_a = rows_a.get(where, {}).get("candidate")
            value_b = rows_b.get(where, {}).get("candidate")
            rows.append(
                {
                    "slice": where,
                    "first": value_a,
                    "second": value_b,
                    "difference": _difference(value_a, value_b),
                    "first_passed": rows_a[where]["passed"] if where in rows_a else None,
                    "second_passed": rows_b[where]["passed"] if where in rows_b else None,
                }
            )
        heads.append(
            {
                "name": name,
                "metric": (b or a)["gate"]["key"],
                "same_metric": not (a and b) or a["gate"]["key"] == b["gate"]["key"],
                "first_passed": a["passed"] if a else None,
                "second_passed": b["passed"] if b else None,
                "rows": rows,
            }
        )
    return {
        "first": {"verdict": first["verdict"], "identity": dict(first["identity"]), "reasons": list(first["reasons"])},
        "second": {
            "verdict": second["verdict"],
            "identity": dict(second["identity"]),
            "reasons": list(second["reasons"]),
        },
        "heads": heads,
    }
