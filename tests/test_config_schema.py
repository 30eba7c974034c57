"""The config's JSON Schema: committed as the code makes it, every key described, the shipped config valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from c360.cli import main
from c360.config_schema import SCHEMA_FILE, config_schema, schema_text, undescribed


def test_the_committed_schema_is_the_one_the_code_makes(project_root: Path) -> None:
    committed = (project_root / SCHEMA_FILE).read_text()
    assert committed == schema_text(), f"{SCHEMA_FILE} is stale: write it anew with `c360 config-schema > {SCHEMA_FILE}`"


def test_every_key_has_a_description() -> None:
    assert undescribed(config_schema()) == []


def test_keys_appear_by_their_yaml_spelling_with_factory_defaults() -> None:
    schema = config_schema()
    source = schema["$defs"]["SourceConfig"]["properties"]
    assert "schema" in source and "schema_ddl" not in source
    assert "config_path" not in schema["properties"]
    stitching = schema["$defs"]["SilverSettings"]["properties"]["stitching"]
    assert stitching["default"] == {"email": 4, "phone": 4, "login_id": 3, "loyalty_id": 3, "social_handle": 3}


def test_the_shipped_configs_validate_and_point_editors_at_the_schema(project_root: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads((project_root / SCHEMA_FILE).read_text()))
    for path in sorted((project_root / "conf").glob("*.yaml")):
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=c360.schema.json"), path.name
        validator.validate(yaml.safe_load(text))


def test_the_schema_rejects_a_misspelt_key(project_root: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads((project_root / SCHEMA_FILE).read_text()))
    doc = yaml.safe_load((project_root / "conf" / "demo.yaml").read_text())
    doc["sources"][0]["fields"]["emial"] = "email"
    with pytest.raises(jsonschema.ValidationError, match="emial"):
        validator.validate(doc)


def test_the_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-schema"]) == 0
    assert capsys.readouterr().out == schema_text()
