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
