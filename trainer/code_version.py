"""Which code a model was trained with: the checkout's commit, or the one an image was built from.

Standard library only: `make image` (host Python) reads the commit with it to
stamp the image, and the Trainer reads it back in the image.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CODE_VERSION_VARIABLE = "MHP_CODE_VERSION"  # set in an image (Dockerfile), where no git checkout is at hand


def git_describe(where: Path | None = None) -> str | None:
    """`git describe` of the checkout holding `where` (this code by default), -dirty with uncommitted
    changes; None outside a git checkout or without git."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=where or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return described or None


def commit() -> str | None:
    """$MHP_CODE_VERSION where set (an image), else `git describe` of this code's checkout."""
    return os.environ.get(CODE_VERSION_VARIABLE) or git_describe()
