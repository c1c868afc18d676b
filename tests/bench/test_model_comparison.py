"""The model comparison's scoring: one function for every model, checked against definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.model_comparison import auc, score
from components.gate import naive


def pairwise_auc(labels, scores) -> float:
    """The definition: the share of (positive, negative) pairs ranked right, ties counting half."""
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0
        for (p, lp), (n, ln) in itertools.product(zip(scores, labels, strict=True), repeat=2)
        if lp == 1 and ln == 0
    ]
    return float(np.mean(pairs))


def test_auc_by_ranks_matches_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60) + 0.3 * labels, 1)  # rounded: many ties
    assert auc(labels, scores) == pytest.approx(pairwise_auc(labels, scores))
    assert auc(labels, np.zeros(60)) == pytest.approx(0.5)  # a constant ranks nothing


def test_scores_of_a_constant_agree_with_the_gate_naive_predictor():
    rng = np.random.default_rng(2)
    classes = ("a", "b", "c")
    labels = rng.integers(0, 3, 200).astype(np.float64)
    predictor = naive.fit("multiclass", "SparseCategoricalCrossentropy", labels, classes)
    constant = np.tile(np.asarray(predictor.value), (200, 1))
    for metric in ("SparseCategoricalCrossentropy", "SparseCategoricalAccuracy"):
        assert score(metric, labels, constant) == pytest.approx(naive.score(predictor, metric, labels))
    values = rng.normal(10, 3, 200)
    median = naive.fit("regression", "MeanAbsoluteError", values)
    assert score("MeanAbsoluteError", values, np.full(200, median.value[0])) == pytest.approx(
        naive.score(median, "MeanAbsoluteError", values)
    )
