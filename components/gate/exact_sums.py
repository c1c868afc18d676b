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
_BANDS = 4096  # more than the (2098 // 16) bands a double's exponent spans


class ExactSums:
    """Sums of float terms per integer key, exact; `value(key)` is the sum rounded once to a float.

    Held as three arrays ordered by key: the keys, each sum's integer mantissa (Python integers in an
    object array) and its binary exponent, about 60 bytes a key. A term that is infinite or NaN makes its
    key's sum infinite or NaN (kept apart, as float addition of those is the same in any order)."""

    __slots__ = ("exponents", "keys", "mantissas", "not_finite")

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.mantissas = np.zeros(0, dtype=object)
        self.exponents = np.zeros(0, dtype=np.int64)
        self.not_finite: dict[int, float] = {}

    def __len__(self) -> int:
        return len(np.union1d(self.keys, np.array(list(self.not_finite), dtype=np.int64)))

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
            self._merge_arrays(
                *_block_sums(keys[start : start + _MOST_TERMS_PER_PASS], terms[start : start + _MOST_TERMS_PER_PASS])
            )

    def merge(self, other: ExactSums) -> None:
        self._merge_arrays(other.keys, other.mantissas, other.exponents)
        for key, term in other.not_finite.items():
            self.not_finite[key] = self.not_finite.get(key, 0.0) + term

    def _merge_arrays(self, keys: np.ndarray, mantissas: np.ndarray, exponents: np.ndarray) -> None:
        if len(keys) == 0:
            return
        union = np.union1d(self.keys, keys)
        exponent = np.full(len(union), np.iinfo(np.int64).max, dtype=np.int64)
        mine, theirs = np.searchsorted(union, self.keys), np.searchsorted(union, keys)
        exponent[mine] = self.exponents
        exponent[theirs] = np.minimum(exponent[theirs], exponents)
        mantissa = np.zeros(len(union), dtype=object)
        mantissa[mine] = self.mantissas << (self.exponents - exponent[mine]).astype(object)
        mantissa[theirs] += mantissas << (exponents - exponent[theirs]).astype(object)
        self.keys, self.mantissas, self.exponents = union, mantissa, exponent

    def value(self, key: int) -> float:
        """The sum of the key's terms, rounded once (0.0 for a key never added to)."""
        if key in self.not_finite:
            return self.not_finite[key]
        index = int(np.searchsorted(self.keys, key))
        if index == len(self.keys) or self.keys[index] != key:
            return 0.0
        return _rounded(self.mantissas[index], int(self.exponents[index]))

    def values(self, keys: Iterable[int]) -> np.ndarray:
        return np.array([self.value(key) for key in keys], dtype=np.float64)

    def items_in(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """The keys in [low, high) that were added to, ascending, and their sums."""
        first, last = np.searchsorted(self.keys, [low, high])
        keys = self.keys[first:last]
        values = [
            _rounded(m, e) for m, e in zip(self.mantissas[first:last], self.exponents[first:last].tolist(), strict=True)
        ]
        extra = sorted(k for k in self.not_finite if low <= k < high)
        if not extra:
            return keys, np.array(values, dtype=np.float64)
        found = dict(zip(keys.tolist(), values, strict=True)) | {k: self.not_finite[k] for k in extra}
        ordered = sorted(found)
        return np.array(ordered, dtype=np.int64), np.array([found[k] for k in ordered], dtype=np.float64)


def _rounded(mantissa: int, exponent: int) -> float:
    try:
        if exponent >= 0:
            return float(mantissa << exponent)
        return mantissa / (1 << -exponent)  # Python's int division rounds correctly
    except OverflowError:  # beyond the largest double, as a float sum would have gone
        return math.copysign(math.inf, mantissa)


def _block_sums(keys: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact sum of each key's terms: its keys ascending, integer mantissas and exponents."""
    if len(keys) == 0:
        return keys, np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    fraction, exponent = np.frexp(terms)  # term = fraction * 2**exponent, 0.5 <= |fraction| < 1
    mantissa = np.ldexp(fraction, _MANTISSA_BITS).astype(np.int64)  # exact: 53 bits
    shift = exponent.astype(np.int64) - _MANTISSA_BITS - _LOWEST_EXPONENT  # term = mantissa * 2**(shift + lowest)
    subnormal = shift < 0  # then the mantissa's low bits are zeros: shifting them out is exact
    mantissa[subnormal] >>= -shift[subnormal]
    shift[subnormal] = 0
    band, within = np.divmod(shift, _BAND_BITS)
    high = (mantissa >> _LOW_BITS) << within  # below 2**(27 + 15) in magnitude
    low = (mantissa & ((1 << _LOW_BITS) - 1)) << within  # below 2**(26 + 15)
    group = keys * _BANDS + band
    order = np.argsort(group, kind="stable")
    group, high, low = group[order], high[order], low[order]
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    group_keys, group_bands = np.divmod(group[starts], _BANDS)
    # Each (key, band) group's sum as a Python integer, then each key's groups over its lowest band.
    group_sums = (np.add.reduceat(high, starts).astype(object) << _LOW_BITS) + np.add.reduceat(low, starts).astype(
        object
    )
    key_starts = np.flatnonzero(np.concatenate([[True], group_keys[1:] != group_keys[:-1]]))
    lowest_band = group_bands[key_starts]
    offset = group_bands - np.repeat(lowest_band, np.diff(np.append(key_starts, len(group_keys))))
    mantissas = np.add.reduceat(group_sums << (offset * _BAND_BITS).astype(object), key_starts)
    return group_keys[key_starts], mantissas, lowest_band * _BAND_BITS + _LOWEST_EXPONENT
