"""The serving directory's layout: what the Pusher writes and the serving command and baselines read.

A complete version is a numeric folder (`<unix time>`); a copy in progress
is hidden under PARTIAL_PREFIX; a rolled-back version is moved under
ROLLED_BACK_DIR and its ModelBlessing marked with ROLLED_BACK_PROPERTY.
"""

from __future__ import annotations

from pathlib import Path

PARTIAL_PREFIX = ".partial-"
ROLLED_BACK_DIR = ".rolled-back"  # versions withdrawn by `python -m orchestration.serving rollback`
ROLLED_BACK_PROPERTY = "rolled_back"  # set on the withdrawn version's ModelBlessing (never a baseline again)


def is_version_name(name: str) -> bool:
    """A complete pushed version: a numeric folder name (partial copies are hidden)."""
    return name.isdigit()


def pushed_versions(base: Path) -> list[Path]:
    """Complete versions, oldest first."""
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.is_dir() and is_version_name(p.name)), key=lambda p: int(p.name))
