"""Appends the GPU-only pins (CUDA wheels) to requirements.lock as `#gpu:` lines.

One lock file serves every install: the CPU runtime reads the plain lines
(pip and uv skip comments); the GPU image extracts the `#gpu:` lines with
`sed -n 's/^#gpu: //p'` and installs them, hash-checked, on top.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

GPU_PREFIX = "#gpu: "
_ENTRY = re.compile(r"^([A-Za-z0-9_.\-]+)==")


def split_entries(compiled: str) -> list[list[str]]:
    """Groups a compiled requirements text into entries (pin line + hash lines)."""
    entries: list[list[str]] = []
    for line in compiled.splitlines():
        if _ENTRY.match(line):
            entries.append([line])
        elif entries and line.startswith("    --hash"):
            entries[-1].append(line)
    return entries


def gpu_section(gpu_compiled: str, cpu_lock: str) -> str:
    """The entries of the GPU resolution that the CPU lock lacks, as `#gpu:` lines."""
    cpu_names = {m.group(1).lower() for m in map(_ENTRY.match, cpu_lock.splitlines()) if m}
    lines = ["", "# GPU image only (tensorflow[and-cuda]); extracted by the Dockerfile's gpu stage."]
    for entry in split_entries(gpu_compiled):
        if _ENTRY.match(entry[0]).group(1).lower() not in cpu_names:
            lines += [GPU_PREFIX + line for line in entry]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Usage: python -m tooling.lockfile GPU_COMPILED LOCK  (appends to LOCK)."""
    gpu_compiled, lock = Path(argv[0]).read_text(), Path(argv[1])
    text = lock.read_text()
    lock.write_text(text.split("\n# GPU image only")[0].rstrip("\n") + "\n" + gpu_section(gpu_compiled, text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
