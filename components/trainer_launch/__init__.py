"""The Trainer's executor: trains in its own process, or launches a multi-worker job and waits for it."""
