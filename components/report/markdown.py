"""The report's first screen as Markdown, for the Kubeflow Pipelines UI.

The KFP UI renders an output artifact of type `system.Markdown` in the run's
Visualizations tab (frontend/src/components/viewers/MetricsVisualizations.tsx),
so a reader sees the verdict, one row per head and the failing gated slices
without opening the HTML report. Built from the same summary as report.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from components.report import formats
from components.report.changes import sentences
from components.report.summary import headline, new_head_sentence, overall_gate_row

TEMPLATE = """\
# {{ heading }}

{% for line in lines %}- {{ line | cell }}
{% endfor %}{% if changes %}
**What changed since the baseline**

{% for line in changes %}- {{ line | cell }}
{% endfor %}{% endif %}
| head | gate metric | candidate | baseline | change [interval] | lift over naive | result |
|---|---|---|---|---|---|---|
{% for head in heads %}| {{ head.name | cell }} | {{ head.metric | cell }} \
| {{ head.candidate | number(decimals=head.d) }} | {{ head.baseline | number(decimals=head.d) }} \
| {{ head.change | signed(head.d) }}{% if head.interval %} \
[{{ head.interval | interval(head.d) }}]{% endif %} \
| {{ head.lift | percent }} | {{ "pass" if head.passed else "**FAIL**" }} |
{% endfor %}
{% if failing %}
## Failing slices

| head | slice | examples | candidate | baseline | change | why |
|---|---|---|---|---|---|---|
{% for row in failing %}| {{ row.head | cell }} | {{ row.slice | cell }} | {{ row.examples | count }} \
| {{ row.candidate | number(decimals=row.d) }} | {{ row.baseline | number(decimals=row.d) }} \
| {{ row.change | signed(row.d) }} | {{ row.why | cell }} |
{% endfor %}{% endif %}
Full report: `{{ report | code }}`
"""


def _cell(value: Any) -> str:
    """Data in a table cell: no line breaks, pipes escaped, Markdown's markup characters escaped."""
    text = " ".join(str(value).split())
    for character in "\\|*_`[]<>#":
        text = text.replace(character, "\\" + character)
    return text


def _code(value: Any) -> str:
    """Text inside a code span: shown verbatim, so a path's underscores stay copyable; no backticks or breaks."""
    return " ".join(str(value).split()).replace("`", "'")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(
        number=formats.metric,
        count=formats.count,
        signed=formats.signed,
        interval=formats.interval,
        percent=formats.lift,
        cell=_cell,
        code=_code,
    )
    return environment


def render_markdown(summary: Mapping[str, Any], report_location: str) -> str:
    heads, failing = [], []
    for head in summary["heads"]:
        overall = overall_gate_row(head) or {}
        heads.append(
            {
                "name": head["name"],
                "metric": head["gate"]["metric"],
                "candidate": overall.get("candidate"),
                "baseline": overall.get("baseline"),
                "change": overall.get("change"),
                "interval": overall.get("interval"),
                "lift": overall.get("lift"),
                "passed": head["passed"],
                "d": formats.row_decimals(overall),
            }
        )
        for row in head["gate_rows"]:
            if row["failures"]:
                failing.append(
                    {**row, "head": head["name"], "why": "; ".join(row["failures"]), "d": formats.row_decimals(row)}
                )
    heading, lines = headline(summary)
    return (
        _environment()
        .from_string(TEMPLATE)
        .render(
            heading=heading,
            lines=lines,
            changes=(sentences(summary["changes"]) if summary.get("changes") else []) + new_head_sentence(summary),
            heads=heads,
            failing=failing,
            report=report_location,
        )
    )
