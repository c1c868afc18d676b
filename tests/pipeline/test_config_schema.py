"""The JSON Schema editors read: current with the models, named by each shipped config, and it knows every key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config_schema import SCHEMA_FILE, schema_text

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))


def test_the_schema_file_is_current_with_the_models():
    assert SCHEMA_FILE.read_text() == schema_text(), "run `make config-schema` and commit the file"


@pytest.mark.parametrize("config", SHIPPED, ids=lambda path: path.name)
def test_each_shipped_config_names_the_schema_for_editors(config):
    first_line = config.read_text().splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema={SCHEMA_FILE.name}"
    assert (config.parent / SCHEMA_FILE.name).is_file()


def unknown_keys(value: Any, node: dict, defs: dict, path: str = "") -> list[str]:
    """The keys of `value` the schema does not define, as an editor would flag them (keys only)."""
    if "$ref" in node:
        return unknown_keys(value, defs[node["$ref"].rsplit("/", 1)[-1]], defs, path)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        return unknown_keys(value, options[0], defs, path) if value is not None and len(options) == 1 else []
    if isinstance(value, dict) and "properties" in node:
        assert node.get("additionalProperties") is False, path  # what makes an editor flag a misspelling
        found = [f"{path}.{key}" for key in value if key not in node["properties"]]
        for key, item in value.items():
            if key in node["properties"]:
                found += unknown_keys(item, node["properties"][key], defs, f"{path}.{key}")
        return found
    if isinstance(value, list) and "items" in node:
        return [key for i, item in enumerate(value) for key in unknown_keys(item, node["items"], defs, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize("config", SHIPPED, ids=lambda path: path.name)
def test_the_schema_knows_every_key_of_the_shipped_configs(config):
    schema = json.loads(SCHEMA_FILE.read_text())
    assert unknown_keys(yaml.safe_load(config.read_text()), schema, schema["$defs"]) == []


def test_the_schema_flags_a_misspelt_key():
    schema = json.loads(SCHEMA_FILE.read_text())
    raw = yaml.safe_load((REPO / "configs" / "flights.yaml").read_text())
    raw["heads"][0]["gate"]["max_regresion"] = 1.0
    raw["trainer"]["batchsize"] = 1
    assert unknown_keys(raw, schema, schema["$defs"]) == [".heads[0].gate.max_regresion", ".trainer.batchsize"]


def test_only_a_config_without_a_base_must_state_every_top_level_key():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["if"] == {"required": ["base"]} and "name" in schema["else"]["required"]
    assert "required" not in schema
