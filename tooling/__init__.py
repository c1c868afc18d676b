"""Host tooling: provisions the runtime and the lock file on a bare Python (not shipped in the image)."""
