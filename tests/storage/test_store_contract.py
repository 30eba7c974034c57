"""The TableStore contract, run against both engines (delta-rs always, delta-spark where its jars are)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.config import LockSettings
from c360.errors import C360Error, TableNotFoundError
from c360.lock import holding, store_for
from c360.lock.lease import Lease, LockLost
from c360.storage import MergeSpec, TableStore, Txn
from c360.storage.base import COMMENT_OPERATIONS
from tests.scan import files_holding

SCHEMA = "id long, name string, score int"
CDF = {"delta.enableChangeDataFeed": "true"}


def rows(spark: SparkSession, data: list[tuple], schema: str = SCHEMA):
    return spark.createDataFrame(data, schema)


def assert_rows(actual, expected) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)


def test_append_creates_then_adds(store: TableStore, spark: SparkSession) -> None:
    first = store.append(rows(spark, [(1, "a", 10), (2, "b", 20)]), "silver.people")
    assert first.version == 0 and not first.skipped
    second = store.append(rows(spark, [(3, "c", 30)]), "silver.people")
    assert second.version == 1
    assert_rows(store.read("silver.people"), rows(spark, [(1, "a", 10), (2, "b", 20), (3, "c", 30)]))
    assert store.version("silver.people") == 1
    assert store.exists("silver.people") and not store.exists("silver.nothing")


def test_read_missing_table_names_it(store: TableStore) -> None:
    with pytest.raises(TableNotFoundError, match="silver.absent"):
        store.read("silver.absent")


def test_bad_table_name_is_rejected(store: TableStore) -> None:
    with pytest.raises(C360Error, match="layer.table"):
        store.path("../etc")


def test_types_round_trip(store: TableStore, spark: SparkSession) -> None:
    schema = ("id long, at timestamp, day date, amount decimal(12,2), tags array<string>, "
              "attrs map<string,string>, addr struct<city:string,zip:string>, ok boolean, ratio double")
    data = [(1, dt.datetime(2024, 3, 1, 12, 30, 15, 123456), dt.date(1980, 2, 29), None, ["x", "y"],
             {"k": "v"}, ("Berlin", "10115"), True, 0.5)]
    df = spark.createDataFrame(data, schema).withColumn("amount", F.lit("12.34").cast("decimal(12,2)"))
    store.append(df, "gold.types")
    read = store.read("gold.types")
    assert read.schema.simpleString() == df.schema.simpleString()
    assert read.collect() == df.collect()  # one row: compared as is (chispa cannot sort map columns)


def test_empty_dataframe_creates_empty_table(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, []), "bronze.empty")
    read = store.read("bronze.empty")
    assert read.count() == 0
    assert read.columns == ["id", "name", "score"]


def test_append_adds_new_columns_and_nulls_old_rows(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "bronze.evolve")
    store.append(spark.createDataFrame([(2, "b", 20, "new")], SCHEMA + ", extra string"), "bronze.evolve")
    store.append(spark.createDataFrame([(3, "c")], "id long, name string"), "bronze.evolve")
    expected = spark.createDataFrame(
        [(1, "a", 10, None), (2, "b", 20, "new"), (3, "c", None, None)], SCHEMA + ", extra string"
    )
    assert_rows(store.read("bronze.evolve"), expected)


def test_append_widens_and_rejects_incompatible_types(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "bronze.types")
    store.append(spark.createDataFrame([(2, "b", 7)], "id int, name string, score short"), "bronze.types")
    assert store.read("bronze.types").schema["id"].dataType.simpleString() == "bigint"
    with pytest.raises(C360Error, match="'score'.*int in the table but.*struct"):
        store.append(spark.createDataFrame([(3, "c", (1,))], "id long, name string, score struct<x:int>"),
                     "bronze.types")
    assert store.read("bronze.types").count() == 2


def test_overwrite_replaces_rows_and_schema_and_keeps_history(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "gold.snap")
    store.overwrite(spark.createDataFrame([("x", 1.5)], "key string, value double"), "gold.snap")
    assert_rows(store.read("gold.snap"), spark.createDataFrame([("x", 1.5)], "key string, value double"))
    assert_rows(store.read("gold.snap", version=0), rows(spark, [(1, "a", 10)]))
    assert [c.version for c in store.history("gold.snap")] == [1, 0]


def test_overwrite_of_itself_reads_the_old_snapshot(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10), (2, "b", 20)]), "gold.self")
    store.overwrite(store.read("gold.self").withColumn("score", F.col("score") + 1), "gold.self")
    assert_rows(store.read("gold.self"), rows(spark, [(1, "a", 11), (2, "b", 21)]))


def test_merge_upserts(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10), (2, "b", 20)]), "gold.m")
    store.merge(rows(spark, [(2, "B", 25), (3, "c", 30)]), "gold.m", MergeSpec(keys=("id",)))
    assert_rows(store.read("gold.m"), rows(spark, [(1, "a", 10), (2, "B", 25), (3, "c", 30)]))


def test_merge_creates_missing_table(store: TableStore, spark: SparkSession) -> None:
    store.merge(rows(spark, [(1, "a", 10)]), "gold.fresh", MergeSpec(keys=("id",)))
    assert_rows(store.read("gold.fresh"), rows(spark, [(1, "a", 10)]))


def test_merge_clauses(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10), (2, "b", 20), (3, "c", 30), (4, "d", 40)]), "gold.mc")
    spec = MergeSpec(
        keys=("id",),
        update={"score": "s.score", "name": "t.name"},
        update_condition="s.score > t.score",
        delete_condition="s.score < 0",
        delete_not_matched_by_source="t.id = 4",
        insert=True,
    )
    source = rows(spark, [(1, "z", 5), (2, "z", 99), (3, "z", -1), (5, "e", 50)])
    store.merge(source, "gold.mc", spec)
    # 1: not newer, kept; 2: updated score only; 3: deleted; 4: gone from source and matches; 5: inserted
    assert_rows(store.read("gold.mc"), rows(spark, [(1, "a", 10), (2, "b", 99), (5, "e", 50)]))


def test_merge_adds_new_source_columns(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "gold.mevo")
    source = spark.createDataFrame([(1, "a", 11, "x"), (2, "b", 20, "y")], SCHEMA + ", extra string")
    store.merge(source, "gold.mevo", MergeSpec(keys=("id",)))
    assert_rows(store.read("gold.mevo"), source)


def test_merge_matches_nullable_keys_null_safely(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, None, 10), (1, "b", 20)]), "gold.mnull")
    spec = MergeSpec(keys=("id", "name"), nullable_keys=("name",))
    store.merge(rows(spark, [(1, None, 11), (2, None, 30)]), "gold.mnull", spec)
    assert_rows(store.read("gold.mnull"), rows(spark, [(1, None, 11), (1, "b", 20), (2, None, 30)]))


def test_delete_by_predicate(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10), (2, "b", 20), (3, "c", 30)]), "gold.d")
    store.delete("gold.d", "score >= 20")
    assert_rows(store.read("gold.d"), rows(spark, [(1, "a", 10)]))


def test_row_count_follows_every_kind_of_write(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [], SCHEMA), "gold.n")
    assert store.row_count("gold.n") == 0
    store.append(rows(spark, [(1, "a", 10), (2, "b", 20)]), "gold.n")
    store.append(rows(spark, [(3, "c", 30)]), "gold.n")
    assert store.row_count("gold.n") == 3
    store.merge(rows(spark, [(3, "c", 31), (4, "d", 40)]), "gold.n", MergeSpec(keys=("id",)))
    store.delete("gold.n", "id = 1")
    assert store.row_count("gold.n") == store.read("gold.n").count() == 3
    store.overwrite(rows(spark, [(9, "z", 90)]), "gold.n")
    assert store.row_count("gold.n") == 1
    with pytest.raises(TableNotFoundError, match="gold.absent"):
        store.row_count("gold.absent")


def test_retried_writes_are_applied_once(store: TableStore, spark: SparkSession) -> None:
    run = Txn("c360:test-run", 7)
    assert not store.append(rows(spark, [(1, "a", 10)]), "bronze.idem", txn=run).skipped
    retry = store.append(rows(spark, [(1, "a", 10)]), "bronze.idem", txn=run)
    assert retry.skipped and retry.version == 0
    assert store.read("bronze.idem").count() == 1
    assert store.txn_version("bronze.idem", "c360:test-run") == 7

    merge = Txn("c360:merge", 1)
    source = spark.createDataFrame([(1, "a", 1)], SCHEMA)
    spec = MergeSpec(keys=("id",), update={"score": "t.score + s.score"}, insert=False)
    store.merge(source, "bronze.idem", spec, txn=merge)
    assert store.merge(source, "bronze.idem", spec, txn=merge).skipped
    assert store.read("bronze.idem").first()["score"] == 11

    older = store.append(rows(spark, [(9, "old", 0)]), "bronze.idem", txn=Txn("c360:test-run", 6))
    assert older.skipped
    store.delete("bronze.idem", "id = 1", txn=Txn("c360:delete", 1))
    assert store.delete("bronze.idem", "id = 1", txn=Txn("c360:delete", 1)).skipped
    assert store.read("bronze.idem").count() == 0


def test_history_is_newest_first_with_operations(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "gold.h")
    store.merge(rows(spark, [(1, "b", 11)]), "gold.h", MergeSpec(keys=("id",)))
    store.delete("gold.h", "id = 1")
    history = store.history("gold.h")
    assert [c.version for c in history][:3] == [store.version("gold.h"), store.version("gold.h") - 1,
                                               store.version("gold.h") - 2]
    assert history[0].operation == "DELETE" and history[1].operation == "MERGE"
    assert store.history("gold.h", limit=1)[0].operation == "DELETE"


def test_vacuum_removes_only_unreferenced_files(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "gold.v")
    store.overwrite(rows(spark, [(2, "b", 20)]), "gold.v")
    planned = store.vacuum("gold.v", retention_hours=0, dry_run=True)
    assert planned and all(p.endswith(".parquet") for p in planned)
    assert store.vacuum("gold.v", retention_hours=0) == planned
    assert store.vacuum("gold.v", retention_hours=0, dry_run=True) == []
    assert_rows(store.read("gold.v"), rows(spark, [(2, "b", 20)]))


def test_vacuum_keeps_files_within_retention(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "gold.keep")
    store.overwrite(rows(spark, [(2, "b", 20)]), "gold.keep")
    assert store.vacuum("gold.keep", retention_hours=168) == []
    assert store.read("gold.keep", version=0).count() == 1


def test_compaction_rewrites_small_files_and_changes_no_data(store: TableStore, spark: SparkSession) -> None:
    for i in range(3):
        store.append(rows(spark, [(i, "x", i)]), "silver.small", properties=CDF if i == 0 else None)
    done = store.compact("silver.small")
    assert done["files_removed"] >= 3 and done["files_added"] == 1, done
    compacted = store.version("silver.small")
    assert compacted == 3
    assert_rows(store.read("silver.small"), rows(spark, [(0, "x", 0), (1, "x", 1), (2, "x", 2)]))
    assert store.changes("silver.small", compacted).count() == 0, "no data changed"
    assert store.compact("silver.small", ("id",))["files_added"] == 1
    assert store.read("silver.small", version=1).count() == 2


def test_change_data_feed(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10), (2, "b", 20)]), "silver.cdf", properties=CDF)
    merged = store.merge(rows(spark, [(2, "B", 21)]), "silver.cdf", MergeSpec(keys=("id",))).version
    deleted = store.delete("silver.cdf", "id = 1").version
    assert (merged, deleted) == (1, 2)
    changes = store.changes("silver.cdf", starting_version=1)
    got = {(r["id"], r["_change_type"], r["_commit_version"]) for r in changes.collect()}
    assert got == {(2, "update_preimage", 1), (2, "update_postimage", 1), (1, "delete", 2)}
    inserts = store.changes("silver.cdf", 0, 0).select("id", "_change_type").collect()
    assert sorted((r["id"], r["_change_type"]) for r in inserts) == [(1, "insert"), (2, "insert")]


def test_change_data_feed_on_an_existing_table(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "silver.late_cdf")
    assert store.properties("silver.late_cdf").get("delta.enableChangeDataFeed") != "true"
    assert store.set_properties("silver.late_cdf", CDF) is True
    assert store.properties("silver.late_cdf")["delta.enableChangeDataFeed"] == "true"
    version = store.version("silver.late_cdf")
    assert store.set_properties("silver.late_cdf", CDF) is False and store.version("silver.late_cdf") == version
    store.merge(rows(spark, [(1, "A", 11)]), "silver.late_cdf", MergeSpec(keys=("id",)))
    got = {r["_change_type"] for r in store.changes("silver.late_cdf", version + 1).collect()}
    assert got == {"update_preimage", "update_postimage"}


def test_restore_brings_back_an_earlier_version(store: TableStore, spark: SparkSession) -> None:
    store.overwrite(rows(spark, [(1, "a", 10)]), "silver.undo")
    store.merge(rows(spark, [(1, "A", 11), (2, "b", 20)]), "silver.undo", MergeSpec(keys=("id",)))
    assert store.restore("silver.undo", 0) is True
    assert sorted(tuple(r) for r in store.read("silver.undo").collect()) == [(1, "a", 10)]
    assert store.version("silver.undo") == 2 and store.history("silver.undo", 1)[0].operation == "RESTORE"
    assert store.restore("silver.undo", 2) is False, "already at that version: no commit"


def test_list_tables(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "bronze.one")
    store.append(rows(spark, [(1, "a", 10)]), "gold.two")
    assert store.list_tables() == ["bronze.one", "gold.two"]
    assert store.list_tables("gold") == ["gold.two"]


def test_paths_with_spaces_and_non_ascii(spark: SparkSession, tmp_path, request: pytest.FixtureRequest,
                                         store: TableStore) -> None:
    from c360.storage import open_store

    spaced = open_store(spark, store.engine, str(tmp_path / "my wärehouse+1"))
    spaced.append(rows(spark, [(1, "a", 10)]), "bronze.t")
    spaced.overwrite(rows(spark, [(2, "b", 20)]), "bronze.t")
    assert_rows(spaced.read("bronze.t"), rows(spark, [(2, "b", 20)]))
    assert spaced.vacuum("bronze.t", retention_hours=0, dry_run=True)
    spaced.vacuum("bronze.t", retention_hours=0)
    assert_rows(spaced.read("bronze.t"), rows(spark, [(2, "b", 20)]))
    assert spaced.list_tables() == ["bronze.t"]


def test_column_descriptions_are_written_once_and_kept_by_later_writes(store: TableStore, spark: SparkSession) -> None:
    store.append(rows(spark, [(1, "a", 10)]), "gold.described", properties=CDF)
    comments = {"id": "The person's id.", "name": "Name as written, with 'quotes' and a \\ backslash.",
                "absent": "a column the table lacks is passed over"}
    assert store.describe_columns("gold.described", comments) == ["id", "name"]
    version = store.version("gold.described")
    assert store.describe_columns("gold.described", comments) == []  # in place: no commit
    assert store.version("gold.described") == version
    store.merge(rows(spark, [(1, "b", 11), (2, "c", 20)]), "gold.described", MergeSpec(keys=("id",)))
    store.append(rows(spark, [(3, "d", 30)]), "gold.described")
    assert store.column_comments("gold.described") == {"id": comments["id"], "name": comments["name"], "score": None}
    if store.engine == "delta-spark":  # Delta's connector shows it to Spark (DESCRIBE, a catalog) as well
        assert store.read("gold.described").schema["name"].metadata.get("comment") == comments["name"]
    operations = [c.operation for c in store.history("gold.described")]
    # delta-spark alters both columns in one commit, delta-rs one column per commit
    assert sum(o in COMMENT_OPERATIONS for o in operations) == (1 if store.engine == "delta-spark" else 2), operations


PEOPLE = "record_key string, email string, updated_at timestamp"


def _people(spark: SparkSession, emails: list[str]):
    at = dt.datetime(2026, 1, 1)
    return spark.createDataFrame([(f"crm:{i}", e, at) for i, e in enumerate(emails)], PEOPLE)


def test_tables_keep_statistics_of_non_personal_columns_only(store: TableStore, spark: SparkSession, warehouse: str) -> None:
    store.append(_people(spark, ["ann@example.com", "bob@example.com"]), "silver.stats", properties=CDF)
    assert store.properties("silver.stats")["delta.dataSkippingStatsColumns"] == "record_key,updated_at"
    store.merge(_people(spark, ["cid@example.com"]), "silver.stats", MergeSpec(keys=("record_key",)))
    assert files_holding(f"{warehouse}/silver/stats/_delta_log", ["@example.com"]) == {}


def test_delete_keys_leaves_no_value_in_the_log_and_purge_leaves_none_anywhere(
        store: TableStore, spark: SparkSession, warehouse: str) -> None:
    store.append(_people(spark, ["ann@example.com", "bob@example.com", "cid@example.com"]), "silver.gone",
                 properties=CDF)
    store.merge(_people(spark, ["ann@example.com", "bob@example.net"]), "silver.gone", MergeSpec(keys=("record_key",)))
    keys = spark.createDataFrame([("crm:1",), ("crm:1",)], "record_key string")
    before = store.version("silver.gone")
    assert store.delete_keys("silver.gone", keys).version == before + 1
    assert sorted(r["record_key"] for r in store.read("silver.gone").collect()) == ["crm:0", "crm:2"]
    assert store.delete_keys("silver.gone", keys.limit(0)).version == before + 1  # no keys: no commit
    commit = f"{before + 1:020d}.json"
    assert "crm:1" not in (Path(warehouse) / "silver/gone/_delta_log" / commit).read_text()
    assert files_holding(f"{warehouse}/silver/gone", ["bob@example"])  # older versions and the feed still hold it
    done = store.purge("silver.gone")
    assert done["files_removed"] > 0 and done["log_entries_removed"] > 0
    assert files_holding(f"{warehouse}/silver/gone", ["bob@example", "crm:1"]) == {}
    assert sorted(r["email"] for r in store.read("silver.gone").collect()) == ["ann@example.com", "cid@example.com"]
    store.append(_people(spark, ["dan@example.com"]).withColumn("record_key", F.lit("crm:9")), "silver.gone")
    assert store.read("silver.gone").count() == 3 and store.history("silver.gone")[0].operation == "WRITE"


def _last_commit_info(store: TableStore, table: str) -> dict:
    """The newest commit's commitInfo, with the user metadata delta-spark keeps as one JSON string unpacked."""
    log = sorted((Path(store.path(table)) / "_delta_log").glob("*.json"))[-1]
    info = next(json.loads(line)["commitInfo"] for line in log.read_text().splitlines() if '"commitInfo"' in line)
    return {**info, **json.loads(info.get("userMetadata") or "{}")}


def test_commits_carry_the_lock_epoch_and_a_writer_that_lost_the_lock_commits_nothing(
        store: TableStore, spark: SparkSession) -> None:
    with holding(store.warehouse, "run", "r1", LockSettings(lease_seconds=0.6), store) as lease:
        store.append(rows(spark, [(1, "a", 10)]), "silver.fenced")
        assert _last_commit_info(store, "silver.fenced")["c360.lock_epoch"] == str(lease.epoch)
        lease._stop.set()  # paused past its lease: another writer takes the lock over  # noqa: SLF001
        time.sleep(1.0)
        Lease(store_for(store.warehouse), "run", "r2", 30).acquire(0)
        with pytest.raises(LockLost, match="r1 lost the warehouse lock"):
            store.append(rows(spark, [(2, "b", 20)]), "silver.fenced")
        with pytest.raises(LockLost):
            store.set_properties("silver.fenced", CDF)
    assert store.version("silver.fenced") == 0 and store.fence is None
    store.append(rows(spark, [(2, "b", 20)]), "silver.fenced")  # without a lock, as a test or a notebook writes
    assert "c360.lock_epoch" not in _last_commit_info(store, "silver.fenced")
