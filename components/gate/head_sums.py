"""A head's metrics on one slice from sums whose size does not grow with the slice's rows.

The Evaluator's combiner keeps, per slice, at most `BLOCK_ROWS` rows (weight,
label, each model's prediction) and folds each full block into exact sums
(exact_sums.py), keyed by what they sum:

- per model and ratio metric, sum(w a) and sum(w b) (paired_stats.RATIO_TERMS
  gives each example's a and b), so every ratio metric is exact;
- for the gate metric, when it is a ratio, the second moments sum(w^2 u u')
  of u = (a_c, b_c, a_b, b_b): the paired influences' variance is a quadratic
  form in them, exact up to the float rounding of the terms;
- for AUC, each model's fine-bin weights per class and, for the gate, the joint
  coarse cells' moments (auc_bins.py): the AUC within its stated quantization
  bound and DeLong's standard error within a fraction of a percent;
- the calibration buckets' and the confusion matrix's weighted counts.

The definitions are those of paired_stats.py, which computes the same from
every row and stays the reference the tests hold this to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from components.gate import auc_bins, paired_stats
from components.gate.exact_sums import ExactSums

BLOCK_ROWS = 4096  # rows held per slice before they are folded into the sums
CALIBRATION_BUCKETS = 20  # the report's calibration scatter: one point per 0.05 of predicted probability
_SECTION = 1 << 24  # each kind of sum gets its own range of keys


class HeadSums:
    """One slice's accumulator: the example count, at most a block of rows not yet folded (as tuples,
    and as arrays once Beam compacts them: arrays pickle fast), and the exact sums.

    A slice whose rows never fill a block is never folded: its metrics come from its rows, exactly
    (`RowsReader`); whether a slice is folded depends only on its row count, not on how Beam split it."""

    __slots__ = ("arrays", "compacted", "count", "folded", "pending", "sums")

    def __init__(self) -> None:
        self.count = 0  # every example of the slice, weighted 0 or not (TFMA's example_count)
        self.pending: list[tuple[float, ...]] = []  # rows with a non-zero weight, not yet folded
        self.arrays: list[np.ndarray] = []  # compacted pending rows
        self.compacted = 0  # rows in `arrays`
        self.sums = ExactSums()
        self.folded = False

    def held(self) -> int:
        """Rows held, not yet folded."""
        return len(self.pending) + self.compacted

    def compact(self) -> None:
        if self.pending:
            self.arrays.append(np.asarray(self.pending, dtype=np.float64))
            self.compacted += len(self.pending)
            self.pending = []

    def take_rows(self, width: int) -> np.ndarray:
        """The held rows as one matrix (`width` columns), no longer held."""
        self.compact()
        rows = np.concatenate(self.arrays) if self.arrays else np.zeros((0, width))
        self.arrays, self.compacted = [], 0
        return rows

    def merge(self, other: HeadSums) -> None:
        self.count += other.count
        self.pending.extend(other.pending)
        self.arrays.extend(other.arrays)
        self.compacted += other.compacted
        self.sums.merge(other.sums)
        self.folded |= other.folded


class SumsLayout:
    """Which sums one head needs and where each is kept: `fold` adds a block of rows to them; the
    readers (`ratio`, `paired_ratio`, `auc`, `paired_auc`, `calibration`, `confusion`) compute from them."""

    def __init__(
        self,
        kind: str,
        metrics: Sequence[str],
        gate_metric: str | None,
        classes: int,
        model_count: int,
        pairs: Sequence[tuple[int, int]],
    ):
        self.kind = kind
        self.ratio_metrics = sorted({m for m in metrics if m in paired_stats.RATIO_METRICS})
        self.auc_models = model_count if "AUC" in metrics or gate_metric == "AUC" else 0
        self.calibrated = "CalibrationPlot" in metrics
        self.confused = "MultiClassConfusionMatrixPlot" in metrics
        self.gate_metric = gate_metric
        self.classes = classes
        self.model_count = model_count
        self.pairs = list(pairs) if gate_metric else []
        self.prediction_width = classes if kind == "multiclass" else 1
        self.width = 2 + self.prediction_width * model_count  # weight, label, each model's prediction

    # --- keys: one integer per sum; a section per kind of sum ---------------------------------------

    WEIGHT, ROWS = 0, 1

    def class_rows_key(self, positive: bool) -> int:
        """The count of rows (weight not 0) whose label is positive, or negative."""
        return 2 + int(positive)

    def not_finite_key(self, model: int) -> int:
        """NaN when a model's score was not finite on some row (its AUC is then NaN)."""
        return 8 + model

    def ratio_key(self, model: int, metric: str, part: int) -> int:
        return _SECTION + (model * len(self.ratio_metrics) + self.ratio_metrics.index(metric)) * 2 + part

    def moment_key(self, pair: int, index: int) -> int:
        return 2 * _SECTION + pair * 10 + index

    def calibration_key(self, model: int, bucket: int, part: int) -> int:
        return 3 * _SECTION + (model * CALIBRATION_BUCKETS + bucket) * 3 + part

    def confusion_key(self, model: int, actual: int, predicted: int) -> int:
        return 4 * _SECTION + (model * self.classes + actual) * self.classes + predicted

    def fine_key(self, model: int, positive: bool) -> int:
        """The first key of a model's fine bins for one class (FINE_BINS keys from there)."""
        return (5 + model * 2 + int(positive)) * _SECTION

    def cell_key(self, pair: int, positive: bool) -> int:
        """The first key of a pair's joint cells for one class (COARSE_BINS^2 cells, 6 moments each)."""
        return (5 + 2 * self.model_count + pair * 2 + int(positive)) * _SECTION * 8

    def predictions(self, rows: np.ndarray, model: int) -> np.ndarray:
        start = 2 + model * self.prediction_width
        block = rows[:, start : start + self.prediction_width]
        return block if self.kind == "multiclass" else block[:, 0]

    # --- folding a block of rows into the sums ------------------------------------------------------

    def fold(self, accumulator: HeadSums) -> None:
        """Add the pending rows to the sums (one vectorized pass per block) and drop them."""
        if not accumulator.held():
            return
        rows = accumulator.take_rows(self.width)
        accumulator.folded = True
        weights, labels = rows[:, 0], rows[:, 1]
        keys: list[np.ndarray] = []
        terms: list[np.ndarray] = []

        def add(key, values):
            keys.append(np.broadcast_to(np.asarray(key, dtype=np.int64), np.shape(values)).ravel())
            terms.append(np.asarray(values, dtype=np.float64).ravel())

        add(self.WEIGHT, weights)  # each term, not a block's rounded sum: blocks depend on Beam's bundles
        add(self.ROWS, np.ones(len(rows)))

        ratio_terms = {}
        for model in range(self.model_count):
            predictions = self.predictions(rows, model)
            for metric in self.ratio_metrics:
                a, b = paired_stats.RATIO_TERMS[metric](labels, predictions)
                ratio_terms[model, metric] = (a, b)
                add(self.ratio_key(model, metric, 0), weights * a)
                add(self.ratio_key(model, metric, 1), weights * b)
            if self.calibrated:
                bucket = np.clip((predictions * CALIBRATION_BUCKETS).astype(int), 0, CALIBRATION_BUCKETS - 1)
                for part, values in enumerate((weights, weights * predictions, weights * labels)):
                    add(self.calibration_key(model, 0, part) + 3 * bucket, values)
            if self.confused:
                actual = labels.astype(int)
                known = (actual >= 0) & (actual < self.classes)
                predicted = np.argmax(predictions, axis=1)
                add(self.confusion_key(model, 0, 0) + (actual * self.classes + predicted)[known], weights[known])
        if self.gate_metric in paired_stats.RATIO_METRICS:
            for pair, (c, b) in enumerate(self.pairs):
                u = [*ratio_terms[c, self.gate_metric], *ratio_terms[b, self.gate_metric]]
                w2 = weights * weights
                for index, (i, j) in enumerate(_MOMENT_INDICES):
                    add(self.moment_key(pair, index), w2 * u[i] * u[j])
        if self.auc_models:
            self._fold_auc(rows, weights, labels, add)
        accumulator.sums.add(np.concatenate(keys), np.concatenate(terms))

    def _fold_auc(self, rows, weights, labels, add) -> None:
        positive = labels > paired_stats.THRESHOLD
        add(self.class_rows_key(True), positive.astype(float))
        add(self.class_rows_key(False), (~positive).astype(float))
        positions = []
        for model in range(self.auc_models):
            scores = self.predictions(rows, model)
            fine, position = auc_bins.fine_position(scores)
            positions.append((fine, position))
            add(self.fine_key(model, True) + fine[positive], weights[positive])
            add(self.fine_key(model, False) + fine[~positive], weights[~positive])
            not_finite = scores[~np.isfinite(scores)]
            add(np.full(len(not_finite), self.not_finite_key(model)), not_finite * 0)  # NaN: inf * 0 too
        w2 = weights * weights
        for pair, (c, b) in enumerate(self.pairs if self.gate_metric == "AUC" else []):
            cells, moments = auc_bins.cell_terms(positions[c][1], positions[b][1], positions[c][0], positions[b][0])
            for is_positive in (True, False):
                mask = positive == is_positive
                first = self.cell_key(pair, is_positive) + cells[mask] * auc_bins.CELL_MOMENTS
                add(first[:, None] + np.arange(auc_bins.CELL_MOMENTS), moments[mask] * w2[mask, None])

    # --- reading the sums ---------------------------------------------------------------------------

    def weight(self, sums: ExactSums) -> float:
        return sums.value(self.WEIGHT)

    def rows(self, sums: ExactSums) -> int:
        return int(sums.value(self.ROWS))

    def ratio(self, sums: ExactSums, model: int, metric: str) -> float:
        numerator, denominator = (sums.value(self.ratio_key(model, metric, part)) for part in (0, 1))
        if denominator == 0.0:
            return math.nan
        value = numerator / denominator
        return math.sqrt(value) if metric == "RootMeanSquaredError" else value

    def _influence_coefficients(self, sums: ExactSums, model: int) -> tuple[float, float]:
        """(g_a, g_b): the example's influence on the gate ratio is g_a a + g_b b (paired_stats' linearization)."""
        metric = self.gate_metric
        numerator, denominator = (sums.value(self.ratio_key(model, metric, part)) for part in (0, 1))
        if denominator == 0.0:
            return 0.0, 0.0
        ratio = numerator / denominator
        scale = self.weight(sums) / denominator
        if metric == "RootMeanSquaredError":
            root = math.sqrt(ratio)
            if root == 0:
                return 0.0, 0.0
            scale /= 2 * root
        return scale, -ratio * scale

    def paired_ratio(self, sums: ExactSums, pair: int) -> paired_stats.Change:
        """The candidate-minus-baseline change of the ratio gate metric and its standard error."""
        c, b = self.pairs[pair]
        value = self.ratio(sums, c, self.gate_metric) - self.ratio(sums, b, self.gate_metric)
        moment = {index: sums.value(self.moment_key(pair, k)) for k, index in enumerate(_MOMENT_INDICES)}
        g_c, g_b = self._influence_coefficients(sums, c), self._influence_coefficients(sums, b)

        def form(left: tuple[float, float], offset_left: int, right: tuple[float, float], offset_right: int) -> float:
            total = 0.0
            for i in range(2):
                for j in range(2):
                    x, y = offset_left + i, offset_right + j
                    total += left[i] * moment[(x, y) if x <= y else (y, x)] * right[j]
            return total

        squares = (form(g_c, 0, g_c, 0) + form(g_b, 2, g_b, 2)) - 2 * form(g_c, 0, g_b, 2)
        n, total = self.rows(sums), self.weight(sums)
        if n < 2 or total == 0.0:
            return paired_stats.Change(value, math.nan, max(n - 1, 0))
        variance = n / (n - 1) * max(squares, 0.0) / total**2
        return paired_stats.Change(value, math.sqrt(variance), n - 1)

    def fine_counts(self, sums: ExactSums, model: int, positive: bool) -> np.ndarray:
        first = self.fine_key(model, positive)
        keys, values = sums.items_in(first, first + auc_bins.FINE_BINS)
        counts = np.zeros(auc_bins.FINE_BINS)
        counts[keys - first] = values
        return counts

    def auc(self, sums: ExactSums, model: int, counts: dict[bool, np.ndarray] | None = None) -> float:
        """A model's binned AUC (`counts`: its fine counts by class, when already read)."""
        if math.isnan(sums.value(self.not_finite_key(model))):
            return math.nan
        counts = counts or {positive: self.fine_counts(sums, model, positive) for positive in (True, False)}
        return auc_bins.auc(counts[True], counts[False])

    def _cells(self, sums: ExactSums, pair: int, positive: bool) -> tuple[np.ndarray, np.ndarray]:
        """A pair's occupied joint cells for one class, ascending, and their six moments (one row each)."""
        first = self.cell_key(pair, positive)
        keys, values = sums.items_in(first, first + auc_bins.COARSE_BINS**2 * auc_bins.CELL_MOMENTS)
        cells, moment = np.divmod(keys - first, auc_bins.CELL_MOMENTS)
        occupied = np.unique(cells)
        moments = np.zeros((len(occupied), auc_bins.CELL_MOMENTS))
        moments[np.searchsorted(occupied, cells), moment] = values
        return occupied, moments

    def paired_auc(self, sums: ExactSums, pair: int) -> paired_stats.Change:
        """The candidate-minus-baseline AUC change and DeLong's standard error (auc_bins.py)."""
        c, b = self.pairs[pair]
        fine = {model: {p: self.fine_counts(sums, model, p) for p in (True, False)} for model in (c, b)}
        change = self.auc(sums, c, fine[c]) - self.auc(sums, b, fine[b])
        counts = {positive: int(sums.value(self.class_rows_key(positive))) for positive in (True, False)}
        degrees = min(counts.values()) - 1
        if math.isnan(change) or degrees < 1:
            return paired_stats.Change(change, math.nan, max(degrees, 0))
        variance = 0.0
        for positive in (True, False):
            cells, moments = self._cells(sums, pair, positive)
            squares = auc_bins.paired_sum_of_squares(
                cells,
                moments,
                fine[c][not positive],
                fine[b][not positive],
                positive,
                change,
            )
            weight = float(np.sum(fine[c][positive]))
            n = counts[positive]
            variance += n / (n - 1) * max(squares, 0.0) / weight**2
        return paired_stats.Change(change, math.sqrt(variance), degrees)

    def paired_change(self, sums: ExactSums, pair: int) -> paired_stats.Change:
        return self.paired_auc(sums, pair) if self.gate_metric == "AUC" else self.paired_ratio(sums, pair)

    def calibration(self, sums: ExactSums, model: int) -> list[tuple[float, float, float, float, float]]:
        """paired_stats.calibration_buckets' (low, high, weight, sum w*p, sum w*y) from the sums."""
        return [
            (
                bucket / CALIBRATION_BUCKETS,
                (bucket + 1) / CALIBRATION_BUCKETS,
                *(sums.value(self.calibration_key(model, bucket, part)) for part in range(3)),
            )
            for bucket in range(CALIBRATION_BUCKETS)
        ]

    def confusion(self, sums: ExactSums, model: int) -> np.ndarray:
        """Weighted counts of (actual class, predicted class = argmax)."""
        keys = [self.confusion_key(model, a, p) for a in range(self.classes) for p in range(self.classes)]
        return sums.values(keys).reshape(self.classes, self.classes)


# The upper triangle of u u' for u = (a_c, b_c, a_b, b_b): the ten distinct second moments.
_MOMENT_INDICES = [(i, j) for i in range(4) for j in range(i, 4)]


class RowsReader:
    """A slice's metrics from all its rows (fewer than a block), exactly as paired_stats defines them;
    the rows in canonical order, so the bits do not depend on how they were split and merged."""

    def __init__(self, layout: SumsLayout, rows: np.ndarray):
        self._layout = layout
        self._rows = paired_stats.canonical(np.asarray(rows, dtype=np.float64).reshape(-1, layout.width))
        self._weights, self._labels = self._rows[:, 0], self._rows[:, 1]

    def weight(self) -> float:
        return paired_stats.weighted_sum(self._weights)

    def rows(self) -> int:
        return int(np.count_nonzero(self._weights))

    def value(self, metric: str, model: int) -> float:
        return paired_stats.value(metric, self._labels, self._layout.predictions(self._rows, model), self._weights)

    def change(self, pair: int) -> paired_stats.Change:
        candidate, baseline = (self._layout.predictions(self._rows, model) for model in self._layout.pairs[pair])
        return paired_stats.paired_change(self._layout.gate_metric, self._labels, candidate, baseline, self._weights)

    def calibration(self, model: int) -> list[tuple[float, float, float, float, float]]:
        predictions = self._layout.predictions(self._rows, model)
        return paired_stats.calibration_buckets(self._labels, predictions, self._weights, CALIBRATION_BUCKETS)

    def confusion(self, model: int) -> np.ndarray:
        predictions = self._layout.predictions(self._rows, model)
        return paired_stats.confusion_matrix(self._labels, predictions, self._weights, self._layout.classes)


class SumsReader:
    """A folded slice's metrics from its sums (the same methods as `RowsReader`)."""

    def __init__(self, layout: SumsLayout, sums: ExactSums):
        self._layout, self._sums = layout, sums

    def weight(self) -> float:
        return self._layout.weight(self._sums)

    def rows(self) -> int:
        return self._layout.rows(self._sums)

    def value(self, metric: str, model: int) -> float:
        if metric == "AUC":
            return self._layout.auc(self._sums, model)
        return self._layout.ratio(self._sums, model, metric)

    def change(self, pair: int) -> paired_stats.Change:
        return self._layout.paired_change(self._sums, pair)

    def calibration(self, model: int) -> list[tuple[float, float, float, float, float]]:
        return self._layout.calibration(self._sums, model)

    def confusion(self, model: int) -> np.ndarray:
        return self._layout.confusion(self._sums, model)


def reader(layout: SumsLayout, accumulator: HeadSums, block_rows: int = BLOCK_ROWS) -> RowsReader | SumsReader:
    """The slice's metrics: exact from its rows while they fit one block, else from its sums (folding the
    rest)."""
    if accumulator.folded or accumulator.held() >= block_rows:
        layout.fold(accumulator)
        return SumsReader(layout, accumulator.sums)
    return RowsReader(layout, accumulator.take_rows(layout.width))
