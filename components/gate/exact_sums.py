"""Keyed sums of floats, kept exactly, so that an accumulator merged in any order gives the same bits.

A Beam combiner's accumulators are added to and merged in an order that depends
on bundling and on the runner; float addition is not associative, so a running
float sum would change in its last bits with the machine's load. Every finite
double is an integer times a power of two, so each sum here is held as a Python
integer with a binary exponent (`mantissa * 2**exponent`), and rounded to a
float only when read. Its size is bounded: the integer spans the exponents of
the terms plus log2 of their count, not the count.

Adding a block is vectorized: each term is split into its 53-bit integer
mantissa and exponent; terms are grouped by key and by a 16-bit band of the
exponent, where the mantissa shifted within its band (two halves, 42 and 41
bits) sums in int64 without overflow for up to 2**21 terms; only one Python
integer operation per (key, band) remains.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

_MANTISSA_BITS = 53
_LOW_BITS = 26  # the mantissa's low half; the high half keeps the sign
_BAND_BITS = 16
_LOWEST_EXPONENT = -1074  # the smallest subnormal double is 2**-1074: every double is a multiple of it
_MOST_TERMS_PER_PASS = 1 << 20  # each half shifted within a band is below 2**42: 2**20 of them fit int64


class ExactSums:
    """Sums of float terms per integer key, exact; `value(key)` is the sum rounded once to a float.

    A term that is infinite or NaN makes its key's sum infinite or NaN (kept apart, as float addition
    of those is the same in any order)."""

    __slots__ = ("exponents", "mantissas", "not_finite")

    def __init__(self) -> None:
        self.mantissas: dict[int, int] = {}
        self.exponents: dict[int, int] = {}
        self.not_finite: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.mantissas.keys() | self.not_finite.keys())

    def add(self, keys: np.ndarray, terms: np.ndarray) -> None:
        """Add each term to its key's sum (arrays of one shape; keys non-negative integers)."""
        keys = np.asarray(keys, dtype=np.int64).ravel()
        terms = np.asarray(terms, dtype=np.float64).ravel()
        if keys.shape != terms.shape:
            raise ValueError(f"{keys.size} keys for {terms.size} terms")
        finite = np.isfinite(terms)
        if not finite.all():
            for key, term in zip(keys[~finite].tolist(), terms[~finite].tolist(), strict=True):
                self.not_finite[key] = self.not_finite.get(key, 0.0) + term
            keys, terms = keys[finite], terms[finite]
        nonzero = terms != 0.0
        keys, terms = keys[nonzero], terms[nonzero]
        for start in range(0, terms.size, _MOST_TERMS_PER_PASS):
            self._add_finite(keys[start : start + _MOST_TERMS_PER_PASS], terms[start : start + _MOST_TERMS_PER_PASS])

    def _add_finite(self, keys: np.ndarray, terms: np.ndarray) -> None:
        fraction, exponent = np.frexp(terms)  # term = fraction * 2**exponent, 0.5 <= |fraction| < 1
        mantissa = np.ldexp(fraction, _MANTISSA_BITS).astype(np.int64)  # exact: 53 bits
        shift = exponent.astype(np.int64) - _MANTISSA_BITS - _LOWEST_EXPONENT  # term = mantissa * 2**(shift + lowest)
        subnormal = shift < 0  # then the mantissa's low bits are zeros: shifting them out is exact
        mantissa[subnormal] >>= -shift[subnormal]
        shift[subnormal] = 0
        band, within = np.divmod(shift, _BAND_BITS)
        high = (mantissa >> _LOW_BITS) << within  # below 2**(27 + 15) in magnitude
        low = (mantissa & ((1 << _LOW_BITS) - 1)) << within  # below 2**(26 + 15)
        group = keys * 4096 + band  # bands run 0..(2098 // 16)
        order = np.argsort(group, kind="stable")
        group, high, low = group[order], high[order], low[order]
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
        high_sums = np.add.reduceat(high, starts).tolist()
        low_sums = np.add.reduceat(low, starts).tolist()
        for first, high_sum, low_sum in zip(group[starts].tolist(), high_sums, low_sums, strict=True):
            key, band_index = divmod(first, 4096)
            self._add_integer(key, (high_sum << _LOW_BITS) + low_sum, band_index * _BAND_BITS + _LOWEST_EXPONENT)

    def _add_integer(self, key: int, mantissa: int, exponent: int) -> None:
        if key not in self.mantissas:
            self.mantissas[key], self.exponents[key] = mantissa, exponent
            return
        held = self.exponents[key]
        if exponent < held:
            self.mantissas[key] = (self.mantissas[key] << (held - exponent)) + mantissa
            self.exponents[key] = exponent
        else:
            self.mantissas[key] += mantissa << (exponent - held)

    def merge(self, other: ExactSums) -> None:
        for key, mantissa in other.mantissas.items():
            self._add_integer(key, mantissa, other.exponents[key])
        for key, term in other.not_finite.items():
            self.not_finite[key] = self.not_finite.get(key, 0.0) + term

    def value(self, key: int) -> float:
        """The sum of the key's terms, rounded once (0.0 for a key never added to)."""
        if key in self.not_finite:
            return self.not_finite[key]
        mantissa = self.mantissas.get(key, 0)
        exponent = self.exponents.get(key, 0)
        try:
            if exponent >= 0:
                return float(mantissa << exponent)
            return mantissa / (1 << -exponent)  # Python's int division rounds correctly
        except OverflowError:  # beyond the largest double, as a float sum would have gone
            return math.copysign(math.inf, mantissa)

    def values(self, keys: Iterable[int]) -> np.ndarray:
        return np.array([self.value(key) for key in keys], dtype=np.float64)

    def items_in(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """The keys in [low, high) that were added to, ascending, and their sums."""
        keys = sorted(k for k in self.mantissas.keys() | self.not_finite.keys() if low <= k < high)
        return np.array(keys, dtype=np.int64), self.values(keys)
