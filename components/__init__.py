"""Custom TFX components (the example gate, the per-head report)."""
