"""Contracts: the types the pipeline definition and the components both read (the evaluation plan, the span window)."""
