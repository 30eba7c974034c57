"""Config validation: good files load with paths resolved; bad files fail naming the file and key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from c360.config import load_config
from c360.errors import ConfigError

SOURCE = {"name": "crm", "kind": "person", "format": "csv", "path": "landing/*.csv", "id": "contact_id",
          "fields": {"email": "e_mail", "street": "concat_ws(' ', street_number, address_1)",
                     "identifiers": {"customer_no": "cust_no"}}}


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "conf" / "c360.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return path


def error_of(tmp_path: Path, doc: object) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_demo_config_loads(project_root: Path) -> None:
    config = load_config(project_root / "conf" / "demo.yaml")
    assert config.warehouse == str((project_root / "demo" / "warehouse").resolve())
    assert {s.kind for s in config.sources} == {"person", "interaction", "reference", "deletions"}
    assert config.source("crm_contacts").fields.mapped()["street"].startswith("concat_ws")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"warehouse": "../wh", "sources": [SOURCE]}))
    assert config.warehouse == str((tmp_path / "wh").resolve())
    assert config.sources[0].path == str((tmp_path / "conf" / "landing" / "*.csv").resolve())
    assert config.engine == "auto" and config.spark.master == "local[*]"
    assert config.sources[0].fields.identifiers == {"customer_no": "cust_no"}


def test_uri_warehouse_is_kept(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, {"warehouse": "s3://bucket/c360"})).warehouse == "s3://bucket/c360"


@pytest.mark.parametrize(("doc", "expected"), [
    ({"warehouse": "w", "emial": 1}, "c360.yaml: emial: unknown key"),
    ({"sources": []}, "c360.yaml: warehouse: required key is missing"),
    ({"warehouse": "w", "engine": "duckdb"}, "engine: Input should be 'auto', 'delta-rs' or 'delta-spark'"),
    ({"warehouse": "w", "sources": [{**SOURCE, "fields": {"emial": "x"}}]},
     "sources[0] (crm).fields.emial: unknown key"),
    ({"warehouse": "w", "sources": [{k: v for k, v in SOURCE.items() if k != "id"}]},
     "sources[0] (crm).id: required key is missing"),
    ({"warehouse": "w", "sources": [SOURCE, SOURCE]}, "source name 'crm' is used twice"),
    ({"warehouse": "w", "sources": [{**SOURCE, "kind": "interaction"}]},
     "sources[0] (crm): an interaction source needs 'updated_at'"),
    ({"warehouse": "w", "sources": [{**SOURCE, "fields": {"amount": "x"}}]},
     "person sources cannot map interaction fields: amount"),
    ({"warehouse": "w", "sources": [{**SOURCE, "format": "jdbc"}]}, "format 'jdbc' needs a 'jdbc' block"),
    ({"warehouse": "w", "sources": [{**SOURCE, "path": None, "format": "jdbc",
                                     "jdbc": {"url": "jdbc:postgresql://h/db", "table": "t",
                                              "properties": {"password": "x"}}}]},
     "credentials belong in user_env/password_env"),
    ({"warehouse": "w", "sources": [{**SOURCE, "name": "Bad-Name"}]}, "sources[0] (Bad-Name).name"),
    ({"warehouse": "w", "spark": {"shuffle_partitions": 0}}, "spark.shuffle_partitions"),
    ({"warehouse": "w", "sources": [{**SOURCE, "fields": {"identifiers": {"Bad Id": "x"}}}]},
     "sources[0] (crm).fields.identifiers: identifier name 'Bad Id'"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("warehouse: [unclosed\n", "not valid YAML"),
])
def test_bad_config_names_file_and_key(tmp_path: Path, doc: object, expected: str) -> None:
    assert expected in error_of(tmp_path, doc)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_source_lookup_lists_known(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"warehouse": "w", "sources": [SOURCE]}))
    with pytest.raises(ConfigError, match="no source named 'shop' \\(known: crm\\)"):
        config.source("shop")


def test_deleted_applies_to_person_sources_only(tmp_path: Path) -> None:
    events = {**SOURCE, "kind": "interaction", "updated_at": "ts", "fields": {}, "deleted": "status = 'x'"}
    assert "deleted applies to person sources only" in error_of(tmp_path, {"warehouse": "wh", "sources": [events]})


def test_a_deletions_source_names_a_person_source_and_maps_no_fields(tmp_path: Path) -> None:
    stones = {"name": "crm_deleted", "kind": "deletions", "of": "crm", "format": "csv", "path": "d/*.csv", "id": "contact_id"}
    config = load_config(write(tmp_path, {"warehouse": "wh", "sources": [SOURCE, stones]}))
    assert config.source("crm_deleted").of == "crm"
    assert "'crm' is not a person source" in error_of(
        tmp_path, {"warehouse": "wh", "sources": [{**SOURCE, "kind": "reference", "fields": {}}, stones]})
    assert "names the person source it deletes from" in error_of(
        tmp_path, {"warehouse": "wh", "sources": [SOURCE, {**stones, "of": None}]})
    assert "record ids only" in error_of(
        tmp_path, {"warehouse": "wh", "sources": [SOURCE, {**stones, "fields": {"email": "e"}}]})
