"""The linkage backends every backend test runs on, and the stored test model rendered for each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360.config import parse_config
from c360.silver import model as model_store
from c360.silver.linkage.backends.base import LinkageBackend
from c360.silver.linkage.backends.duckdb import DuckDBBackend
from c360.silver.linkage.backends.spark import SparkBackend
from c360.silver.linkage.portable import for_dialect
from c360.silver.linkage.spec import ModelSpec, build

DATA = Path(__file__).parent.parent / "data"
BACKENDS = ("spark", "duckdb")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, spark: SparkSession, tmp_path: Path) -> Iterator[LinkageBackend]:
    made = SparkBackend(spark) if request.param == "spark" else DuckDBBackend(spark, 2, "1GB", scratch=str(tmp_path))
    with made:
        yield made


def stored_spec(project_root: Path) -> ModelSpec:
    """The spec the stored test model was trained for: the demo config with the fields it names present."""
    model = model_store.latest(DATA)
    assert model is not None
    present = set(model.metadata()["spec_detail"]["fields"])
    path = project_root / "conf" / "demo.yaml"
    config = parse_config(yaml.safe_load(path.read_text()), path)
    fill = {field: 1.0 if field in present else 0.0 for field in
            ("first_name", "last_name", "date_of_birth", "email", "phone", "street", "city", "postcode", "company",
             "social_handle")}
    return build(fill, config)


@pytest.fixture
def stored_model(backend: LinkageBackend, project_root: Path) -> dict:
    """The stored test model's Splink settings in the SQL of `backend`."""
    model = model_store.latest(DATA)
    assert model is not None
    return for_dialect(model.load(), stored_spec(project_root), backend.dialect)
