"""One small warehouse after bronze and silver, built once and copied for each steward test that writes to it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360 import pipeline
from c360.config import C360Config
from c360.session import EngineChoice
from c360.storage import TableStore, open_store
from tests.privacy.people import landed_warehouse

SOURCES = ("crm_contacts", "shop_customers", "loyalty_members")


@dataclass(frozen=True)
class Silvered:
    """A warehouse of its own over the shared landing files, after bronze and silver on delta-rs."""

    config: C360Config
    store: TableStore
    spark: SparkSession

    def ctx(self, full_refresh: bool = False) -> pipeline.RunContext:
        return pipeline.RunContext(self.config, self.spark, self.store, EngineChoice(self.store.engine, "test"),
                                   pipeline.new_run_id(), full_refresh=full_refresh)


@pytest.fixture(scope="session")
def silvered_template(project_root: Path, tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> Silvered:
    root = tmp_path_factory.mktemp("steward")
    config, store = landed_warehouse(project_root, root, "delta-rs", spark, SOURCES, people=40)
    built = Silvered(config, store, spark)
    for stage in ("bronze", "silver"):
        pipeline.run(built.ctx(), stage)
    return built


@pytest.fixture
def silvered(silvered_template: Silvered, tmp_path: Path, spark: SparkSession) -> Silvered:
    """A copy of the template's warehouse (its landing files shared, read only)."""
    warehouse = tmp_path / "warehouse"
    shutil.copytree(silvered_template.config.warehouse, warehouse)
    config = silvered_template.config.model_copy(update={"warehouse": str(warehouse)})
    return Silvered(config, open_store(spark, "delta-rs", str(warehouse)), spark)
