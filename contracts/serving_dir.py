"""The serving directory's layout: what the Pusher writes and the serving command and baselines read.

A complete version is a numeric folder (`<unix time>`); a copy in progress
is hidden under PARTIAL_PREFIX; a rolled-back version is moved under
ROLLED_BACK_DIR and its ModelBlessing marked with ROLLED_BACK_PROPERTY. The
directory is a local path or an object-storage URI (contracts/storage.py).
"""

from __future__ import annotations

from contracts import storage

PARTIAL_PREFIX = ".partial-"
ROLLED_BACK_DIR = ".rolled-back"  # versions withdrawn by `python -m orchestration.serving rollback`
ROLLED_BACK_PROPERTY = "rolled_back"  # set on the withdrawn version's ModelBlessing (never a baseline again)
ROLLED_BACK_LOG = "log.jsonl"  # under ROLLED_BACK_DIR: one line per rollback


def is_version_name(name: str) -> bool:
    """A complete pushed version: a numeric folder name (partial copies are hidden)."""
    return name.isdigit()


def pushed_versions(base: str) -> list[str]:
    """Complete versions under `base` (a path or a URI), oldest first."""
    if not storage.is_dir(base):
        return []
    names = [name for name in storage.list_names(base) if is_version_name(name)]
    return [storage.join(base, name) for name in sorted(names, key=int) if storage.is_dir(storage.join(base, name))]
