"""Shared test fixtures: paths of the committed fixture data and schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def flights_fixture_dir() -> Path:
    """Three monthly spans of about 270 rows each (`make fixtures`)."""
    return REPO_ROOT / "tests" / "fixtures" / "flights"


@pytest.fixture(scope="session")
def flights_schema_path() -> Path:
    return REPO_ROOT / "schemas" / "flights" / "schema.pbtxt"


SHARED_RUNS_GROUP = "flights-runs"  # every test of the fixture pipeline's shared run sequence (tests/e2e/conftest.py)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For pytest-xdist's `--dist loadgroup` (`make test` runs two workers): a module's tests go to one
    worker, so its module-scoped fixtures (a trained model, a pipeline run) are built once, and every test
    of the shared run sequence goes to one worker, so that sequence runs once."""
    for item in items:
        group = SHARED_RUNS_GROUP if "runs" in item.fixturenames else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
