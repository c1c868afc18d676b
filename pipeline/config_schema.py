"""Writes the config files' JSON Schema for editors: `make config-schema`.

Each shipped config names it on its first line (`# yaml-language-server:
$schema=pipeline-config.schema.json`), so an editor with the YAML language
server completes keys, shows each one's description and flags a misspelt
one. A test fails when the file is older than the models
(pipeline/config_file.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pipeline.config_file import REPO_ROOT, json_schema

SCHEMA_FILE = REPO_ROOT / "configs" / "pipeline-config.schema.json"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    SCHEMA_FILE.write_text(schema_text())
    print(f"wrote {SCHEMA_FILE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
