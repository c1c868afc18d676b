"""AUC and DeLong's paired variance from binned scores: state whose size does not grow with the rows.

The exact weighted Mann-Whitney AUC needs every score. Here each probability
is binned on the logit scale, where a binary head's scores spread out:

- fine bins of 1/4096 logit give the AUC: pairs of a positive and a negative in
  one bin count as ties (half), so the AUC is off by at most half the weight
  of such pairs, `quantization_bound`, which is computed from the same counts
  and stated with every AUC (about 3e-5 on the flights heads);
- DeLong's variance needs each example's placement under both models, which
  a joint count of fine bins would hold in memory growing with the rows. It is
  taken from coarse cells instead (1/8 logit per model, a joint grid), with the
  first and second moments of each example's position inside its cell: within
  a coarse bin the placement is interpolated linearly between its edges' exact
  values, and the paired variance is then exact for those placements. The
  interpolation moves a placement by about f'h^2/8 (h = 1/8 logit), far below
  the spread of the paired placement differences the variance measures.

Probabilities below 1e-7 or above 1 - 1e-7 share the end bins (Keras clips
there too). A model's score that is not finite makes its AUC NaN.
"""

from __future__ import annotations

import math

import numpy as np

FINE_PER_LOGIT = 4096
FINE_PER_COARSE = 512  # a coarse cell is 1/8 logit
EPSILON = 1e-7
_LIMIT = math.log((1 - EPSILON) / EPSILON)
_OFFSET = math.ceil(_LIMIT * FINE_PER_LOGIT) + 1
FINE_BINS = 2 * _OFFSET + 1
COARSE_BINS = -(-FINE_BINS // FINE_PER_COARSE)
CELL_MOMENTS = 6  # of w^2: 1, t_c, t_b, t_c^2, t_b^2, t_c t_b (t: position inside the coarse bin, 0..1)


def fine_position(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each score's fine bin (0..FINE_BINS-1) and its position on the fine scale (a float in that bin)."""
    p = np.clip(np.nan_to_num(scores, nan=0.5), EPSILON, 1 - EPSILON)
    position = np.log(p / (1 - p)) * FINE_PER_LOGIT + _OFFSET
    return np.clip(np.floor(position).astype(np.int64), 0, FINE_BINS - 1), position


def cell_terms(position_c: np.ndarray, position_b: np.ndarray, fine_c: np.ndarray, fine_b: np.ndarray):
    """Each row's coarse cell (one index over the joint grid) and the six moment terms without w^2."""
    coarse_c, coarse_b = fine_c // FINE_PER_COARSE, fine_b // FINE_PER_COARSE
    t_c = (position_c - coarse_c * FINE_PER_COARSE) / FINE_PER_COARSE
    t_b = (position_b - coarse_b * FINE_PER_COARSE) / FINE_PER_COARSE
    cell = coarse_c * COARSE_BINS + coarse_b
    ones = np.ones_like(t_c)
    return cell, np.stack([ones, t_c, t_b, t_c * t_c, t_b * t_b, t_c * t_b], axis=1)


def _share_below(counts: np.ndarray) -> tuple[np.ndarray, float]:
    """For each fine bin, the share of the weight in the bins below it; and the total."""
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    total = cumulative[-1]
    return cumulative / total if total > 0 else cumulative, total


def auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The weighted AUC from each fine bin's positive and negative weight (ties in a bin count half)."""
    below, total_negative = _share_below(negatives)
    total_positive = float(np.sum(positives))
    if total_positive == 0.0 or total_negative == 0.0:
        return math.nan
    placements = below[:-1] + negatives / total_negative / 2
    return float(np.dot(positives, placements) / total_positive)


def quantization_bound(positives: np.ndarray, negatives: np.ndarray) -> float:
    """How far the binned AUC can be from the exact one: half the share of positive-negative pairs in one bin."""
    total = float(np.sum(positives)) * float(np.sum(negatives))
    return float(np.dot(positives, negatives)) / total / 2 if total > 0 else math.nan


def _edges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The other class's share below each coarse bin's lower and upper edge."""
    below, _ = _share_below(counts)
    edges = below[np.minimum(np.arange(COARSE_BINS + 1) * FINE_PER_COARSE, FINE_BINS)]
    return edges[:-1], edges[1:]


def _placement_lines(other_class: np.ndarray, positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per coarse bin, the placement at its lower edge and its rise across the bin: a positive's placement
    is the share of negatives below it; a negative's is the share of positives above it."""
    low, high = _edges(other_class)
    return (low, high - low) if positive else (1.0 - low, low - high)


def paired_sum_of_squares(
    cells: np.ndarray,
    moments: np.ndarray,
    other_class_c: np.ndarray,
    other_class_b: np.ndarray,
    positive: bool,
    change: float,
) -> float:
    """Sum over one class's examples of w^2 (placement_c - placement_b - change)^2, from its occupied
    coarse cells (`cells`: joint indices; `moments`: their six w^2 moments, one row per cell).

    Written so that a candidate identical to its baseline gives exactly 0: each cell's quadratic term is
    (x_cc + x_bb) - 2 x_cb, whose three parts are then the same float."""
    if len(cells) == 0:
        return 0.0
    alpha_c, beta_c = (part[cells // COARSE_BINS] for part in _placement_lines(other_class_c, positive))
    alpha_b, beta_b = (part[cells % COARSE_BINS] for part in _placement_lines(other_class_b, positive))
    s00, s_c, s_b, s_cc, s_bb, s_cb = moments.T
    a = alpha_c - alpha_b - change
    quadratic = ((beta_c * beta_c) * s_cc + (beta_b * beta_b) * s_bb) - 2 * ((beta_c * beta_b) * s_cb)
    linear = 2 * a * (beta_c * s_c - beta_b * s_b)
    return float(np.sum(a * a * s00 + linear + quadratic))
