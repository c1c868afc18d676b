"""The per-head report: what each head scored, where it regressed, and why the model was or was not pushed."""
