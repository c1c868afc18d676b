"""The pipeline definition: configuration, span windows, the TFMA EvalConfig and the TFX pipeline."""
