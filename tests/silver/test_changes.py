"""What an incremental silver run takes: the records of bronze runs the last run had not read, or every
record and why (settings, sources, a rewritten or vacuumed bronze table), on both engines."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.silver.changes import BASE_TABLES, changed_ids, plan
from c360.storage import TableStore

TABLE = "bronze.crm"


def land(store: TableStore, spark: SparkSession, run: str, ids: list[str]) -> None:
    store.append(spark.createDataFrame([(i, run) for i in ids], "_record_id string, _run_id string"), TABLE)


def ready(store: TableStore, spark: SparkSession) -> None:
    for table in BASE_TABLES["person"]:
        store.append(spark.createDataFrame([("x",)], "record_key string"), table)


def test_records_of_later_bronze_runs_are_the_changes(store: TableStore, spark: SparkSession) -> None:
    ready(store, spark)
    land(store, spark, "r1", ["a", "b"])
    last = {"bronze_versions": {TABLE: 0}, "settings_fingerprint": "s"}
    land(store, spark, "r2", ["b", "c"])
    found = plan(store, last, "s", {TABLE: 1}, full_refresh=False)
    assert found.incremental and found.since == {TABLE: ("r1",)}
    assert sorted(r._record_id for r in changed_ids(store, TABLE, found.since[TABLE]).collect()) == ["b", "c"]
    store.compact(TABLE)
    assert plan(store, last, "s", {TABLE: 2}, full_refresh=False).incremental, "a compaction is no change"
    assert not plan(store, last, "other", {TABLE: 2}, full_refresh=False).incremental
    assert plan(store, last, "s", {TABLE: 2, "bronze.new": 0}, False).since == {TABLE: ("r1",), "bronze.new": ()}, \
        "a source whose first rows landed since: every row of it is new"
    assert plan(store, last, "s", {}, False).why == "the person sources changed since the last run"
    assert plan(store, last, "s", {TABLE: 2}, full_refresh=True).why == "--full-refresh"
    store.vacuum(TABLE, retention_hours=0)
    gone = plan(store, last, "s", {TABLE: 2}, full_refresh=False)
    assert not gone.incremental and gone.why.startswith(f"{TABLE} at version 0 can no longer be read"), gone.why


def test_a_rewritten_bronze_table_means_every_record(store: TableStore, spark: SparkSession) -> None:
    ready(store, spark)
    land(store, spark, "r1", ["a"])
    store.overwrite(spark.createDataFrame([("a", "r9")], "_record_id string, _run_id string"), TABLE)
    found = plan(store, {"bronze_versions": {TABLE: 0}, "settings_fingerprint": "s"}, "s", {TABLE: 1}, False)
    assert not found.incremental and "was rewritten after the last run" in found.why
