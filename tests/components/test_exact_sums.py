"""Keyed exact sums against exact rational arithmetic: the same value rounded once, in any split and
merge order, for terms of any magnitude (subnormal to 1e200), with non-finite terms kept apart."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from components.gate.exact_sums import ExactSums


def terms(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.standard_normal(n) * np.exp(rng.uniform(-300, 300, n))
    values[:5] = 5e-324  # the smallest subnormal
    values[5:10] = -3e200
    values[10:15] = 1.0 + 2.0**-52  # sums that a float accumulator would round
    return values


def test_each_keys_sum_is_the_exact_sum_rounded_once_whatever_the_split_and_merge_order():
    rng = np.random.default_rng(3)
    values, keys = terms(rng, 30_000), rng.integers(0, 7, 30_000)
    expected = {key: float(sum(Fraction(v) for v in values[keys == key])) for key in range(7)}
    for parts in (1, 2, 9):
        order = rng.permutation(len(values))
        pieces = []
        for chunk in np.array_split(order, parts):
            piece = ExactSums()
            for sub in np.array_split(chunk, 3):
                piece.add(keys[sub], values[sub])
            pieces.append(piece)
        total = pieces.pop()
        for piece in reversed(pieces):
            total.merge(piece)
        assert {key: total.value(key) for key in range(7)} == expected
    assert total.value(99) == 0.0
    assert len(total) == 7


def test_cancelling_terms_sum_to_exactly_zero_and_tiny_remainders_survive():
    sums = ExactSums()
    sums.add(np.zeros(4, dtype=np.int64), np.array([1e200, 1e-300, -1e200, 1e-300]))
    assert sums.value(0) == 2e-300  # a float sum in this order gives 1e-300


def test_a_non_finite_term_makes_its_key_non_finite_and_leaves_the_others_alone():
    sums = ExactSums()
    sums.add(np.array([0, 0, 1, 2, 2]), np.array([1.0, math.inf, 2.0, math.inf, -math.inf]))
    other = ExactSums()
    other.add(np.array([0, 1]), np.array([5.0, 3.0]))
    sums.merge(other)
    assert sums.value(0) == math.inf and sums.value(1) == 5.0 and math.isnan(sums.value(2))
    keys, values = sums.items_in(0, 2)
    assert keys.tolist() == [0, 1] and values.tolist() == [math.inf, 5.0]


def test_keys_and_terms_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="2 keys for 3 terms"):
        ExactSums().add(np.array([0, 1]), np.array([1.0, 2.0, 3.0]))
