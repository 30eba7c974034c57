"""`c360 register`: views pinned to the last completed run's versions, re-pointed when a run completes;
`latest` views read the tables as they stand; an entry of another place is never taken over (delta-spark)."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import SparkSession

from c360.catalog import register_tables, repoint
from c360.config import CatalogSettings
from c360.errors import C360Error
from c360.storage import TableStore

SCHEMA = "c360_catalog_test"


def _completed(store: TableStore, spark: SparkSession, version: int) -> None:
    """A gold run's row saying it finished with gold.sales at `version`."""
    summary = json.dumps({"finished": {"versions": {"gold.sales": version}, "txn": version}})
    runs = spark.createDataFrame([(f"r{version}", summary)], "run_id string, summary string")
    store.append(runs.selectExpr("*", "current_timestamp() AS finished_at"), "gold._runs")


def _count(spark: SparkSession, name: str) -> int:
    return spark.sql(f"SELECT count(*) FROM {name}").first()[0]


def test_views_follow_completed_runs(stores: dict[str, TableStore], spark: SparkSession) -> None:
    store = stores["delta-spark"]
    settings = CatalogSettings(schema=SCHEMA)
    store.append(spark.createDataFrame([(1, "a")], "id long, name string"), "gold.sales")
    _completed(store, spark, 0)
    store.append(spark.createDataFrame([(2, "b")], "id long, name string"), "gold.sales")  # a run in progress
    try:
        assert register_tables(spark, store, settings) == {f"`{SCHEMA}`.`sales`": "created"}
        assert _count(spark, f"{SCHEMA}.sales") == 1, "the version the last completed run left"
        assert register_tables(spark, store, settings) == {f"`{SCHEMA}`.`sales`": "exists"}
        _completed(store, spark, 1)
        assert repoint(spark, store, settings) == {f"`{SCHEMA}`.`sales`": "repointed"}
        assert _count(spark, f"{SCHEMA}.sales") == 2
        latest = CatalogSettings(schema=f"{SCHEMA}_latest")
        store.append(spark.createDataFrame([(3, "c")], "id long, name string"), "gold.sales")
        register_tables(spark, store, latest, latest=True)
        assert _count(spark, f"{SCHEMA}_latest.sales") == 3
        assert repoint(spark, store, latest) == {}, "latest views are never pinned"
    finally:
        for schema in (SCHEMA, f"{SCHEMA}_latest"):
            spark.sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_entries_of_earlier_versions_and_other_places(stores: dict[str, TableStore], spark: SparkSession,
                                                     tmp_path) -> None:
    store = stores["delta-spark"]
    settings = CatalogSettings(schema=SCHEMA)
    store.append(spark.createDataFrame([(1, "a")], "id long, name string"), "gold.sales")
    try:
        spark.sql(f"CREATE SCHEMA {SCHEMA}")
        spark.sql(f"CREATE TABLE {SCHEMA}.sales USING DELTA LOCATION '{store.path('gold.sales')}'")
        assert register_tables(spark, store, settings) == {f"`{SCHEMA}`.`sales`": "replaced"}
        assert _count(spark, f"{SCHEMA}.sales") == 1 and store.read("gold.sales").count() == 1, "files stay"
        elsewhere = tmp_path / "elsewhere"
        spark.createDataFrame([(9, "z")], "id long, name string").write.format("delta").save(str(elsewhere))
        spark.sql(f"CREATE OR REPLACE VIEW {SCHEMA}.sales AS SELECT * FROM delta.`{elsewhere}`")
        with pytest.raises(C360Error, match=r"already exists and reads .*elsewhere, not .*gold/sales"):
            register_tables(spark, store, settings)
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
