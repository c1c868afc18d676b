"""`make portable-check`'s verdict: what counts as the same result on two runners.

The check itself (two fixture pipelines, one through Beam's Job API) runs in
`make portable-check`; here its comparison, on decisions and metric tables
as the check reads them from the two runs.
"""

from __future__ import annotations

import pytest

from orchestration.portable_check import compare, portable_beam_args


def decisions(blessed: bool, late_passed: bool = True) -> dict:
    return {
        "blessed": blessed,
        "heads": [{"head": "late", "passed": late_passed}, {"head": "delay_band", "passed": True}],
    }


METRICS = {
    ("overall", "late", "auc", "candidate", "value"): 0.7123456789,
    ("overall", "late", "auc", "candidate", "standard error"): 0.0123,
    ("carrier=UA", "delay_band", "categorical_crossentropy", "diff", "value"): 0.0,
    ("carrier=HA", "cancelled", "auc", "candidate", "value"): float("nan"),  # one class in the slice
}


def test_the_same_results_within_float_summation_noise_agree():
    other = dict(METRICS)
    other[("overall", "late", "auc", "candidate", "value")] *= 1 + 1e-9  # another bundle order's last bits
    assert compare(decisions(True), decisions(True), (METRICS, other)) == []


@pytest.mark.parametrize(
    ("portable", "change", "complaint"),
    [
        (decisions(False, late_passed=False), None, "verdict: DirectRunner blessed=True, portable blessed=False"),
        (decisions(True, late_passed=False), None, "heads passed"),
        (decisions(True), ("overall", "late", "auc", "candidate", "value"), "overall / late / auc / candidate / value"),
        (decisions(True), ("carrier=UA", "delay_band", "categorical_crossentropy", "diff", "value"), "diff / value"),
    ],
)
def test_a_different_verdict_or_metric_is_named(portable, change, complaint):
    other = dict(METRICS)
    if change is not None:
        other[change] += 1e-4
    problems = compare(decisions(True), portable, (METRICS, other))
    assert any(complaint in problem for problem in problems), problems


def test_undefined_on_one_runner_only_is_named():
    other = dict(METRICS)
    other[("carrier=HA", "cancelled", "auc", "candidate", "value")] = 0.5
    problems = compare(decisions(True), decisions(True), (METRICS, other))
    assert problems == ["carrier=HA / cancelled / auc / candidate / value: DirectRunner nan, portable 0.5"]


def test_a_slice_missing_on_one_runner_is_named():
    other = {k: v for k, v in METRICS.items() if k[0] == "overall"}
    problems = compare(decisions(True), decisions(True), (METRICS, other))
    assert problems and "other metrics or slices" in problems[0]


def test_the_portable_arguments_name_both_services_and_the_image():
    args = portable_beam_args(8099, 50000)
    assert "--runner=PortableRunner" in args and "--job_endpoint=localhost:8099" in args
    assert "--environment_type=EXTERNAL" in args and "--environment_config=localhost:50000" in args
    assert any(a.startswith("--sdk_container_image=") for a in args)  # TFX then stages no tfx_ephemeral sdist
