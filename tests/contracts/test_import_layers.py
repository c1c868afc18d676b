"""Imports go downward only: console, trainer < contracts < components < pipeline < the commands.

The contract types (the evaluation plan, the span window) sit below the
components that read them, and the pipeline definition above both, so no
module reaches up into the layer that uses it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Each package and the project packages it may import (besides itself).
ALLOWED = {
    "console": set(),
    "trainer": set(),
    "contracts": {"trainer"},
    "components": {"trainer", "contracts"},
    "pipeline": {"trainer", "contracts", "components"},
    "converters": {"console", "contracts", "pipeline"},
    "results": {"console", "trainer", "contracts", "components", "pipeline"},
}
PROJECT = {*ALLOWED, "orchestration", "tooling", "container", "bench", "tests"}


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[0] for name in names} & PROJECT
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    climbing = {
        str(path.relative_to(REPO)): sorted(project_imports(path) - ALLOWED[package] - {package})
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert {module: up for module, up in climbing.items() if up} == {}


def test_the_check_sees_an_import_that_climbs(tmp_path):
    module = tmp_path / "climbs.py"
    module.write_text("import os\n\ndef late():\n    from pipeline.config import load_config\n")
    assert project_imports(module) == {"pipeline"}
