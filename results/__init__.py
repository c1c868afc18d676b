"""Reading finished runs: ML Metadata, a run's outcome, the report command."""
