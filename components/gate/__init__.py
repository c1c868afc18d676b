"""The per-head gate: TFMA's metrics and intervals plus the naive predictor decide the blessing."""
